package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sample is a report with every verdict, members, offsets, an unreadable
// file and hostile strings.
func sample() *Report {
	return &Report{
		Tool:    Tool{Name: "rampart", Version: "v1.2.3"},
		BaseDir: "/models",
		Results: []modelscan.Result{
			{Path: "/models/weights.safetensors", Format: "safetensors", Verdict: modelscan.Clean, Size: 4096, Findings: []modelscan.Finding{}},
			{Path: "/models/model.pt", Format: "zip", Verdict: modelscan.Unsafe, Size: 2048, Findings: []modelscan.Finding{
				{Verdict: modelscan.Unsafe, Severity: rampart.SeverityCritical, Rule: "pickle.unsafe-callable",
					Message: "calls a function that runs shell commands", Callable: "posix.system", Offset: 117, Member: "archive/data.pkl"},
				{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium, Rule: "pickle.unknown-callable",
					Message:  "callable is not on the allowlist of known-safe constructors used by mainstream machine-learning libraries",
					Callable: "mylib.layers.Custom", Offset: 240, Member: "archive/data.pkl"},
			}},
			{Path: "/models/sub dir/notes#1.txt", Format: "unknown", Verdict: modelscan.Unscannable, Size: 12, Findings: []modelscan.Finding{
				{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "scan.unknown-format",
					Message: "content matches no known model format", Offset: 0},
			}},
			{Path: "/elsewhere/evil.pkl", Format: "pickle", Verdict: modelscan.Suspicious, Size: 40, Findings: []modelscan.Finding{
				{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium, Rule: "pickle.unknown-callable",
					Message: "not allowlisted: \x1b[2Jcleared", Callable: "evil\x07mod.fn", Offset: -1},
			}},
		},
		Errors: []FileError{{Path: "/models/locked.bin", Error: "open /models/locked.bin: permission denied"}},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestGolden(t *testing.T) {
	empty := &Report{Tool: Tool{Name: "rampart", Version: "dev"}, BaseDir: "/models"}
	cases := []struct {
		name   string
		r      *Report
		format Format
		opt    Options
	}{
		{"table", sample(), FormatTable, Options{}},
		{"table-color", sample(), FormatTable, Options{Color: true}},
		{"json", sample(), FormatJSON, Options{}},
		{"sarif", sample(), FormatSARIF, Options{}},
		{"table-empty", empty, FormatTable, Options{}},
		{"json-empty", empty, FormatJSON, Options{}},
		{"sarif-empty", empty, FormatSARIF, Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.format, tc.r, tc.opt); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestTableNoControlCharacters(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample(), Options{}); err != nil {
		t.Fatal(err)
	}
	for i, c := range b.Bytes() {
		if c < 0x20 && c != '\n' {
			t.Fatalf("control byte %#x at %d in uncoloured table:\n%s", c, i, b.String())
		}
	}
	if !strings.Contains(b.String(), `\x1b[2Jcleared`) || !strings.Contains(b.String(), `evil\amod.fn`) {
		t.Errorf("hostile strings not shown escaped:\n%s", b.String())
	}
	// Colour only ever adds the verdict's own SGR codes.
	b.Reset()
	if err := WriteTable(&b, sample(), Options{Color: true}); err != nil {
		t.Fatal(err)
	}
	plain := b.String()
	for _, code := range []string{ansiReset, ansiRed, ansiYellow, ansiPurple, ansiGreen} {
		plain = strings.ReplaceAll(plain, code, "")
	}
	if strings.ContainsRune(plain, 0x1b) {
		t.Errorf("escape outside verdict colours:\n%q", plain)
	}
}

func TestTableRowsAligned(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample(), Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	width := -1
	for _, l := range lines {
		if !strings.HasPrefix(l, "│") && !strings.HasPrefix(l, "┌") && !strings.HasPrefix(l, "├") && !strings.HasPrefix(l, "└") {
			continue
		}
		n := len([]rune(l))
		if width < 0 {
			width = n
		} else if n != width {
			t.Errorf("line %q is %d runes wide, want %d", l, n, width)
		}
	}
	if width < 0 {
		t.Fatal("no table lines")
	}
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tool    Tool `json:"tool"`
		Results []struct {
			Path     string `json:"path"`
			Format   string `json:"format"`
			Size     int64  `json:"size"`
			Verdict  string `json:"verdict"`
			Findings []struct {
				Verdict  string `json:"verdict"`
				Severity string `json:"severity"`
				Rule     string `json:"rule"`
				Message  string `json:"message"`
				Callable string `json:"callable"`
				Offset   int64  `json:"offset"`
				Member   string `json:"member"`
			} `json:"findings"`
		} `json:"results"`
		Summary map[string]any `json:"summary"`
		Errors  []FileError    `json:"errors"`
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Fatal("more than one JSON value")
	}
	if got.Tool.Name != "rampart" || got.Tool.Version != "v1.2.3" {
		t.Errorf("tool = %+v", got.Tool)
	}
	if len(got.Results) != 4 || got.Results[1].Verdict != "UNSAFE" || got.Results[1].Findings[0].Callable != "posix.system" ||
		got.Results[1].Findings[0].Severity != "critical" || got.Results[1].Findings[0].Offset != 117 ||
		got.Results[1].Findings[0].Member != "archive/data.pkl" {
		t.Errorf("results = %+v", got.Results)
	}
	want := map[string]any{"files": 4.0, "clean": 1.0, "suspicious": 1.0, "unscannable": 1.0, "unsafe": 1.0, "errors": 1.0, "verdict": "UNSAFE"}
	for k, v := range want {
		if got.Summary[k] != v {
			t.Errorf("summary[%s] = %v, want %v", k, got.Summary[k], v)
		}
	}
	if len(got.Errors) != 1 || got.Errors[0].Path != "/models/locked.bin" {
		t.Errorf("errors = %+v", got.Errors)
	}
}

func compileSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-2.1.0-subset.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-subset.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-subset.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schema := compileSARIFSchema(t)
	for _, tc := range []struct {
		name string
		r    *Report
	}{
		{"sample", sample()},
		{"empty", &Report{Tool: Tool{Name: "rampart", Version: "dev"}}},
		{"relative paths", &Report{Tool: DefaultTool(), Results: []modelscan.Result{{Path: "a:b/c d.pkl", Format: "pickle",
			Verdict: modelscan.Unsafe, Findings: []modelscan.Finding{{Verdict: modelscan.Unsafe, Rule: "pickle.unsafe-callable", Message: "m", Offset: 3}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteSARIF(&b, tc.r); err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Fatalf("SARIF output fails the schema: %v\n%s", err, b.String())
			}
		})
	}
	// The schema must reject what the standard rejects, or this test proves nothing.
	for name, bad := range map[string]string{
		"no version":  `{"runs":[{"tool":{"driver":{"name":"x"}}}]}`,
		"bad version": `{"version":"2.0.0","runs":[{"tool":{"driver":{"name":"x"}}}]}`,
		"no driver":   `{"version":"2.1.0","runs":[{"tool":{}}]}`,
		"rule no id":  `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{"shortDescription":{"text":"t"}}]}}}]}`,
		"bad level":   `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"fatal","message":{"text":"m"}}]}]}`,
		"no message":  `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"r"}]}]}`,
		"empty region": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},
			"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{}}}]}]}]}`,
		"unknown property": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"severity":"high"}]}]}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(inst) == nil {
			t.Errorf("schema accepts invalid SARIF (%s)", name)
		}
	}
}

func TestSARIFSemantics(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "rampart" || run.Tool.Driver.Version != "v1.2.3" {
		t.Errorf("driver = %+v", run.Tool.Driver)
	}
	if run.Invocations[0].ExecutionSuccessful || len(run.Invocations[0].ToolExecutionNotifications) != 1 {
		t.Errorf("invocation = %+v, want unsuccessful with one notification", run.Invocations[0])
	}
	if len(run.Results) != 4 {
		t.Fatalf("%d results, want one per finding (4)", len(run.Results))
	}
	type want struct{ rule, level, uri, fqn string }
	wants := []want{
		{"pickle.unsafe-callable", "error", "model.pt", "archive/data.pkl"},
		{"pickle.unknown-callable", "warning", "model.pt", "archive/data.pkl"},
		{"scan.unknown-format", "warning", "sub%20dir/notes%231.txt", ""},
		{"pickle.unknown-callable", "warning", "file:///elsewhere/evil.pkl", ""},
	}
	for i, w := range wants {
		r := run.Results[i]
		loc := r.Locations[0]
		if r.RuleID != w.rule || r.Level != w.level || loc.PhysicalLocation.ArtifactLocation.URI != w.uri {
			t.Errorf("result %d = %s %s %s, want %+v", i, r.RuleID, r.Level, loc.PhysicalLocation.ArtifactLocation.URI, w)
		}
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleIndex %d names %s", i, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		if w.fqn != "" {
			if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName != w.fqn || loc.PhysicalLocation.Region.ByteOffset != nil {
				t.Errorf("result %d: member location = %+v", i, loc)
			}
		}
	}
	// An offset into the file itself is the physical region; one into a
	// member is not (it would point at the wrong bytes).
	if reg := run.Results[2].Locations[0].PhysicalLocation.Region; reg.ByteOffset == nil || *reg.ByteOffset != 0 {
		t.Errorf("unknown-format region = %+v, want byteOffset 0", reg)
	}
	for i, r := range run.Results {
		if reg := r.Locations[0].PhysicalLocation.Region; reg == nil || reg.StartLine != 1 {
			t.Errorf("result %d: region %+v, want startLine 1 for code scanning", i, reg)
		}
	}
	if run.Results[3].Locations[0].PhysicalLocation.Region.ByteOffset != nil {
		t.Error("unknown offset written as a byteOffset")
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "pickle.unknown-callable" && r.DefaultConfiguration.Level != "warning" {
			t.Errorf("rule %s level %s", r.ID, r.DefaultConfiguration.Level)
		}
		if r.ID == "pickle.unsafe-callable" && r.DefaultConfiguration.Level != "error" {
			t.Errorf("rule %s level %s", r.ID, r.DefaultConfiguration.Level)
		}
	}
	if len(run.Artifacts) != 4 {
		t.Errorf("%d artifacts, want every scanned file", len(run.Artifacts))
	}
}

func TestSARIFLevel(t *testing.T) {
	for v, want := range map[modelscan.Verdict]string{
		modelscan.Clean: "note", modelscan.Suspicious: "warning", modelscan.Unscannable: "warning",
		modelscan.Unsafe: "error", modelscan.Verdict(9): "error",
	} {
		if got := SARIFLevel(v); got != want {
			t.Errorf("SARIFLevel(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"table": FormatTable, "JSON": FormatJSON, "sarif": FormatSARIF} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "xml", "sarif2"} {
		if _, err := ParseFormat(in); err == nil {
			t.Errorf("ParseFormat(%q) accepted", in)
		}
	}
}

func TestColorFor(t *testing.T) {
	var b bytes.Buffer
	if ColorFor(&b) {
		t.Error("colour for a buffer")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ColorFor(f) {
		t.Error("colour for a regular file")
	}
	t.Setenv("NO_COLOR", "1")
	if ColorFor(os.Stdout) {
		t.Error("colour with NO_COLOR set")
	}
}

func TestWrapAndSanitize(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"two words here", 9, []string{"two words", "here"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"/models/sub/dir/file.bin", 12, []string{"/models/sub/", "dir/file.bin"}},
		{"archive/data.pkl!inner/x.pkl", 17, []string{"archive/data.pkl!", "inner/x.pkl"}},
		{"日本語のテキスト", 6, []string{"日本語", "のテキ", "スト"}},
	} {
		got := wrap(tc.in, tc.width)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"plain":       "plain",
		"a\x1bb":      `a\x1bb`,
		"bad\xffutf8": `bad\xffutf8`,
		"\u202eRTL":   `\u202eRTL`,
		"ok\uFFFD":    "ok\uFFFD",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
