package cli

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// scriptMagic starts a file that scriptAnalyzer judges: a small format of
// the tests' own whose lines tell the analyzer what to report, so the
// command's plumbing (walking, ordering, budgets, output, exit status) is
// tested against a real engine without depending on the model analyzers.
const scriptMagic = "RAMPART-TEST\n"

// scriptAnalyzer understands one command per line:
//
//	verdict V [CALLABLE]  a finding with verdict V (clean, suspicious, unscannable, unsafe)
//	allow MODULE NAME     UNSAFE-free check of the policy: SUSPICIOUS unless the policy allows it
//	read                  read the whole file in 4 KiB steps, charging the budget
//	sleep D               wait D or until the context ends
//	barrier N             wait until N files are being analyzed at once
type scriptAnalyzer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	arrived int
}

func newScriptAnalyzer() *scriptAnalyzer {
	a := &scriptAnalyzer{}
	a.cond = sync.NewCond(&a.mu)
	return a
}

func (a *scriptAnalyzer) Name() string { return "script" }

func (a *scriptAnalyzer) Match(head []byte) bool { return bytes.HasPrefix(head, []byte(scriptMagic)) }

func (a *scriptAnalyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	body, err := io.ReadAll(io.NewSectionReader(in.R, 0, min(in.Size, 1<<16)))
	if err != nil {
		return nil, err
	}
	var fs []modelscan.Finding
	sc := bufio.NewScanner(bytes.NewReader(body[len(scriptMagic):]))
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) == 0 {
			continue
		}
		switch w[0] {
		case "verdict":
			v := map[string]modelscan.Verdict{"clean": modelscan.Clean, "suspicious": modelscan.Suspicious,
				"unscannable": modelscan.Unscannable, "unsafe": modelscan.Unsafe}[w[1]]
			f := modelscan.Finding{Verdict: v, Severity: rampart.SeverityHigh, Rule: "script." + w[1], Message: "scripted " + w[1], Offset: 13}
			if len(w) > 2 {
				f.Callable = w[2]
			}
			fs = append(fs, f)
		case "allow":
			if !in.Policy().Allows(w[1], w[2]) {
				fs = append(fs, modelscan.Finding{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium,
					Rule: "script.not-allowed", Message: "not on the allowlist", Callable: w[1] + "." + w[2], Offset: -1})
			}
		case "read":
			buf := make([]byte, 4096)
			for off := int64(0); off < in.Size; off += int64(len(buf)) {
				n, err := in.R.ReadAt(buf, off)
				if err != nil && !errors.Is(err, io.EOF) {
					return fs, err
				}
				if err := in.Charge(int64(n)); err != nil {
					return fs, err
				}
			}
		case "sleep":
			d, _ := time.ParseDuration(w[1])
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return fs, ctx.Err()
			}
		case "barrier":
			var n int
			fmt.Sscan(w[1], &n)
			a.mu.Lock()
			a.arrived++
			a.cond.Broadcast()
			deadline := time.AfterFunc(5*time.Second, func() { a.mu.Lock(); a.cond.Broadcast(); a.mu.Unlock() })
			start := time.Now()
			for a.arrived < n && time.Since(start) < 5*time.Second {
				a.cond.Wait()
			}
			ok := a.arrived >= n
			a.mu.Unlock()
			deadline.Stop()
			if !ok {
				fs = append(fs, modelscan.Finding{Verdict: modelscan.Unsafe, Rule: "script.barrier", Message: "files were not scanned in parallel", Offset: -1})
			}
		}
	}
	return fs, nil
}

// runScan runs "rampart scan ARGS" through a root command configured like
// Run's, over the script analyzer, and returns stdout, stderr and the exit
// status.
func runScan(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	a := newScriptAnalyzer()
	return runScanWith(t, func() []modelscan.Analyzer { return []modelscan.Analyzer{a} }, args...)
}

func runScanWith(t *testing.T, analyzers func() []modelscan.Analyzer, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	root := &cobra.Command{Use: "rampart", SilenceUsage: true, SilenceErrors: true}
	root.SetArgs(append([]string{"scan"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return Usage("%v", err) })
	root.AddCommand(newScanCmdWith(env, analyzers))
	err := root.ExecuteContext(t.Context())
	if err != nil && !errors.As(err, new(*ExitError)) && isUsageErr(err) {
		err = &ExitError{Status: 2, Err: err}
	}
	code := ExitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

// writeScript writes a script-format file and returns its path.
func writeScript(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(scriptMagic+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type scanJSON struct {
	Tool struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"tool"`
	Results []struct {
		Path     string `json:"path"`
		Format   string `json:"format"`
		Verdict  string `json:"verdict"`
		Findings []struct {
			Verdict  string `json:"verdict"`
			Rule     string `json:"rule"`
			Callable string `json:"callable"`
		} `json:"findings"`
	} `json:"results"`
	Summary struct {
		Files, Clean, Suspicious, Unscannable, Unsafe, Errors int
		Verdict                                               string
	} `json:"summary"`
	Errors []struct{ Path, Error string } `json:"errors"`
}

func decodeScanJSON(t *testing.T, s string) scanJSON {
	t.Helper()
	var out scanJSON
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", s)
	}
	return out
}

func verdicts(r scanJSON) string {
	var parts []string
	for _, res := range r.Results {
		parts = append(parts, filepath.Base(res.Path)+"="+res.Verdict)
	}
	return strings.Join(parts, " ")
}

func TestScanExitStatus(t *testing.T) {
	dir := t.TempDir()
	clean := writeScript(t, dir, "clean.bin", "verdict clean")
	clean2 := writeScript(t, dir, "clean2.bin")
	unsafe := writeScript(t, dir, "unsafe.bin", "verdict unsafe posix.system")
	suspicious := writeScript(t, dir, "suspicious.bin", "verdict suspicious mylib.Thing")
	unscannable := writeScript(t, dir, "unscannable.bin", "verdict unscannable")
	unknown := filepath.Join(dir, "unknown.txt")
	os.WriteFile(unknown, []byte("just some text"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	emptyDir := filepath.Join(dir, "emptydir")
	os.Mkdir(emptyDir, 0o755)
	badPolicy := filepath.Join(dir, "bad-policy.yaml")
	os.WriteFile(badPolicy, []byte("allow: [os]\n"), 0o644)
	unknownKey := filepath.Join(dir, "unknown-key.yaml")
	os.WriteFile(unknownKey, []byte("deny: [a.b]\n"), 0o644)
	missing := filepath.Join(dir, "missing.pt")

	for _, tc := range []struct {
		name   string
		args   []string
		want   int
		stderr string // substring
	}{
		{"clean", []string{clean}, 0, ""},
		{"two clean", []string{clean, clean2}, 0, ""},
		{"unsafe", []string{unsafe}, 1, ""},
		{"suspicious", []string{suspicious}, 1, ""},
		{"unscannable", []string{unscannable}, 1, ""},
		{"unknown format", []string{unknown}, 1, ""},
		{"empty file", []string{empty}, 1, ""},
		{"one bad among clean", []string{clean, unsafe, clean2}, 1, ""},
		{"no args", nil, 2, "requires at least 1 arg"},
		{"missing path", []string{missing}, 2, "missing.pt"},
		{"missing beats findings", []string{unsafe, missing}, 2, "could not be scanned"},
		{"empty dir", []string{emptyDir}, 2, "nothing to scan"},
		{"bad format", []string{"--format", "xml", clean}, 2, "--format"},
		{"bad workers", []string{"--workers", "0", clean}, 2, "--workers"},
		{"bad max-bytes", []string{"--max-bytes", "lots", clean}, 2, "max-bytes"},
		{"negative timeout", []string{"--timeout", "-1s", clean}, 2, "--timeout"},
		{"unknown flag", []string{"--frobnicate", clean}, 2, "unknown flag"},
		{"bad policy", []string{"--policy", badPolicy, clean}, 2, "--policy"},
		{"policy unknown key", []string{"--policy", unknownKey, clean}, 2, "deny"},
		{"missing policy", []string{"--policy", filepath.Join(dir, "nope.yaml"), clean}, 2, "--policy"},
		{"unwritable output", []string{"-o", filepath.Join(dir, "no", "such", "dir", "out.json"), clean}, 2, "-o"},
		{"read error", []string{"/proc/self/mem"}, 2, "mem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runScan(t, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.stderr)
			}
		})
	}
}

func TestScanUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode; TestScanExitStatus/read_error covers read failures")
	}
	dir := t.TempDir()
	p := writeScript(t, dir, "locked.bin", "verdict clean")
	os.Chmod(p, 0)
	writeScript(t, dir, "ok.bin", "verdict clean")
	stdout, stderr, code := runScan(t, "--format", "json", dir)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, stdout, stderr)
	}
	out := decodeScanJSON(t, stdout)
	if len(out.Errors) != 1 || filepath.Base(out.Errors[0].Path) != "locked.bin" || verdicts(out) != "ok.bin=CLEAN" {
		t.Errorf("report = %+v", out)
	}
}

func TestScanFormats(t *testing.T) {
	dir := t.TempDir()
	clean := writeScript(t, dir, "a-clean.bin", "verdict clean")
	unsafe := writeScript(t, dir, "b-unsafe.bin", "verdict unsafe posix.system")

	t.Run("table", func(t *testing.T) {
		stdout, stderr, code := runScan(t, clean, unsafe)
		if code != 1 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"VERDICT", "a-clean.bin", "CLEAN", "b-unsafe.bin", "UNSAFE", "script.unsafe", "posix.system", "@13",
			"2 files: 1 clean, 0 suspicious, 0 unscannable, 1 unsafe"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
		if strings.ContainsRune(stdout, 0x1b) {
			t.Error("colour codes in output that is not a terminal")
		}
		if stderr != "" {
			t.Errorf("stderr = %q; the table already carries the summary", stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		stdout, stderr, code := runScan(t, "--format", "json", clean, unsafe)
		if code != 1 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		out := decodeScanJSON(t, stdout)
		if out.Tool.Name != "rampart" || out.Tool.Version == "" {
			t.Errorf("tool = %+v", out.Tool)
		}
		if verdicts(out) != "a-clean.bin=CLEAN b-unsafe.bin=UNSAFE" || out.Results[1].Findings[0].Callable != "posix.system" ||
			out.Results[1].Format != "script" {
			t.Errorf("results = %+v", out.Results)
		}
		if out.Summary.Files != 2 || out.Summary.Clean != 1 || out.Summary.Unsafe != 1 || out.Summary.Verdict != "UNSAFE" {
			t.Errorf("summary = %+v", out.Summary)
		}
		if !strings.Contains(stderr, "1 unsafe") {
			t.Errorf("stderr %q lacks the summary", stderr)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		stdout, stderr, code := runScan(t, "--format", "sarif", clean, unsafe)
		if code != 1 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		var log struct {
			Schema  string `json:"$schema"`
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Name  string
						Rules []struct{ ID string }
					}
				}
				Results []struct {
					RuleID    string
					Level     string
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string }
							Region           *struct{ ByteOffset int64 }
						}
					}
					Properties map[string]any
				}
			}
		}
		if err := json.Unmarshal([]byte(stdout), &log); err != nil {
			t.Fatal(err)
		}
		if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif") || len(log.Runs) != 1 {
			t.Fatalf("header = %q %q, %d runs", log.Version, log.Schema, len(log.Runs))
		}
		run := log.Runs[0]
		if run.Tool.Driver.Name != "rampart" || len(run.Tool.Driver.Rules) != 2 || len(run.Results) != 2 {
			t.Fatalf("run = %+v", run)
		}
		var unsafeRes = run.Results[1]
		if unsafeRes.RuleID != "script.unsafe" || unsafeRes.Level != "error" || unsafeRes.Properties["callable"] != "posix.system" ||
			unsafeRes.Properties["verdict"] != "UNSAFE" {
			t.Errorf("result = %+v", unsafeRes)
		}
		loc := unsafeRes.Locations[0].PhysicalLocation
		if !strings.HasSuffix(loc.ArtifactLocation.URI, "b-unsafe.bin") || loc.Region == nil || loc.Region.ByteOffset != 13 {
			t.Errorf("location = %+v", loc)
		}
	})
}

func TestScanOutputFile(t *testing.T) {
	dir := t.TempDir()
	clean := writeScript(t, dir, "in", "verdict clean")
	for _, format := range []string{"table", "json", "sarif"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(dir, "report."+format)
			stdout, stderr, code := runScan(t, "--format", format, "-o", out, clean)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want the report only in %s", stdout, out)
			}
			if !strings.Contains(stderr, "1 file: 1 clean") {
				t.Errorf("stderr = %q, want the summary", stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if format != "table" && !json.Valid(b) {
				t.Errorf("%s is not JSON:\n%s", out, b)
			}
			if format == "table" && !strings.Contains(string(b), "CLEAN") {
				t.Errorf("%s:\n%s", out, b)
			}
			if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
				t.Errorf("mode %v", st.Mode().Perm())
			}
		})
	}
	// Nothing is left behind next to the report.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("directory holds %d entries, want the input and three reports", len(entries))
	}
}

func TestScanDirectories(t *testing.T) {
	outside := t.TempDir()
	writeScript(t, outside, "elsewhere.bin", "verdict clean")
	dir := t.TempDir()
	writeScript(t, dir, "b/inner.bin", "verdict clean")
	writeScript(t, dir, "a.bin", "verdict clean")
	writeScript(t, dir, "c/d/deep.bin", "verdict unsafe builtins.eval")
	writeScript(t, dir, ".hidden", "verdict clean")
	os.Mkdir(filepath.Join(dir, "e-empty"), 0o755)
	if err := os.Symlink("a.bin", filepath.Join(dir, "link-in")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(outside, "elsewhere.bin"), filepath.Join(dir, "link-out"))
	os.Symlink("../../../etc", filepath.Join(dir, "link-up"))
	os.Symlink("nowhere", filepath.Join(dir, "link-dangling"))
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runScan(t, "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	out := decodeScanJSON(t, stdout)
	want := ".hidden=CLEAN a.bin=CLEAN inner.bin=CLEAN deep.bin=UNSAFE link-dangling=UNSCANNABLE link-in=CLEAN link-out=UNSCANNABLE link-up=UNSCANNABLE pipe=UNSCANNABLE"
	if got := verdicts(out); got != want {
		t.Errorf("verdicts\n got %s\nwant %s", got, want)
	}
	rules := map[string]string{}
	for _, r := range out.Results {
		rules[filepath.Base(r.Path)] = r.Findings[0].Rule
	}
	for name, rule := range map[string]string{"link-in": "scan.symlink", "link-out": "scan.symlink-outside",
		"link-up": "scan.symlink-outside", "link-dangling": "scan.symlink-dangling", "pipe": "scan.not-regular"} {
		if rules[name] != rule {
			t.Errorf("%s: rule %q, want %q", name, rules[name], rule)
		}
	}

	// A directory named through a link is walked; a file named through one
	// is scanned.
	link := filepath.Join(outside, "to-dir")
	os.Symlink(filepath.Join(dir, "b"), link)
	stdout, stderr, code = runScan(t, "--format", "json", link, filepath.Join(dir, "link-out"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if got := verdicts(decodeScanJSON(t, stdout)); got != "inner.bin=CLEAN link-out=CLEAN" {
		t.Errorf("verdicts %s", got)
	}
}

func TestScanPolicy(t *testing.T) {
	dir := t.TempDir()
	model := writeScript(t, dir, "model.bin", "allow mylib.layers Custom", "allow mylib.blocks Res")
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("allow:\n  - mylib.layers.Custom\n  - mylib.blocks.*\n"), 0o644)
	partial := filepath.Join(dir, "partial.yaml")
	os.WriteFile(partial, []byte("allow: [mylib.layers.Custom]\n"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no policy", nil, 1},
		{"policy allows both", []string{"--policy", policy}, 0},
		{"policy allows one", []string{"--policy", partial}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runScan(t, append(tc.args, "--format", "json", model)...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.want, stdout, stderr)
			}
		})
	}
}

func TestScanWorkersKeepInputOrder(t *testing.T) {
	dir := t.TempDir()
	// All four must be in the analyzer at once to pass the barrier (proof
	// that they run in parallel); then earlier files finish later.
	var args []string
	for i := range 4 {
		args = append(args, writeScript(t, dir, fmt.Sprintf("f%d.bin", i), "barrier 4", fmt.Sprintf("sleep %dms", (4-i)*30)))
	}
	unsafe := writeScript(t, dir, "u.bin", "verdict unsafe x.y")
	args = append([]string{"--workers", "4", "--format", "json", args[3], unsafe}, args[:3]...)
	stdout, stderr, code := runScan(t, args...)
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	out := decodeScanJSON(t, stdout)
	if got, want := verdicts(out), "f3.bin=CLEAN u.bin=UNSAFE f0.bin=CLEAN f1.bin=CLEAN f2.bin=CLEAN"; got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}

	// One worker keeps the order too, and must not wait on a barrier of 1.
	one := writeScript(t, dir, "one.bin", "barrier 1")
	stdout, stderr, code = runScan(t, "--workers", "1", "--format", "json", one, unsafe)
	if code != 1 || verdicts(decodeScanJSON(t, stdout)) != "one.bin=CLEAN u.bin=UNSAFE" {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestScanProgressNeverOnStdout(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	body := append([]byte(scriptMagic+"read\nverdict clean\n"), make([]byte, 1<<20)...)
	os.WriteFile(big, body, 0o644)
	small := writeScript(t, dir, "small.bin", "verdict clean")

	stdout, stderr, code := runScan(t, "--progress", "--format", "json", big, small)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if got := verdicts(decodeScanJSON(t, stdout)); got != "big.bin=CLEAN small.bin=CLEAN" {
		t.Errorf("verdicts %s", got)
	}
	if !strings.Contains(stderr, "scanning") || !strings.Contains(stderr, "1.0 MB") {
		t.Errorf("no progress bar on stderr: %q", stderr)
	}
	if strings.ContainsAny(stdout, "\r") || strings.Contains(stdout, "scanning") {
		t.Errorf("progress on stdout: %q", stdout)
	}

	// Without --progress a buffer (not a terminal) gets no bar.
	stdout, stderr, code = runScan(t, "--format", "json", big)
	if code != 0 || strings.Contains(stderr, "scanning") || strings.Contains(stdout, "scanning") {
		t.Errorf("exit %d, bar without a terminal or --progress:\nstdout %q\nstderr %q", code, stdout, stderr)
	}
}

func TestScanLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	os.WriteFile(big, append([]byte(scriptMagic+"read\n"), make([]byte, 64<<10)...), 0o644)
	slow := writeScript(t, dir, "slow.bin", "sleep 10s")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"max-bytes", []string{"--max-bytes", "16KiB", big}, "scan.budget"},
		{"timeout", []string{"--timeout", "50ms", slow}, "scan.timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runScan(t, append(tc.args, "--format", "json")...)
			if code != 1 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			out := decodeScanJSON(t, stdout)
			if out.Results[0].Verdict != "UNSCANNABLE" || out.Results[0].Findings[len(out.Results[0].Findings)-1].Rule != tc.want {
				t.Errorf("result = %+v, want UNSCANNABLE by %s", out.Results[0], tc.want)
			}
		})
	}
	// Under the limit the same file is clean.
	if _, stderr, code := runScan(t, "--max-bytes", "1MiB", big); code != 0 {
		t.Errorf("exit %d under the byte limit: %s", code, stderr)
	}
}

func TestScanInterrupted(t *testing.T) {
	dir := t.TempDir()
	slow := writeScript(t, dir, "slow.bin", "sleep 10s")
	later := writeScript(t, dir, "later.bin", "verdict clean")
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr}
	a := newScriptAnalyzer()
	cmd := newScanCmdWith(env, func() []modelscan.Analyzer { return []modelscan.Analyzer{a} })
	cmd.SetArgs([]string{"--workers", "1", "--format", "json", slow, later})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	// An interrupt (SIGINT through signal.NotifyContext) cancels the context.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	code := ExitCode(cmd.ExecuteContext(ctx), &stderr)
	if code != 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %s, want 2 promptly\n%s%s", code, time.Since(start), stdout.String(), stderr.String())
	}
	if out := decodeScanJSON(t, stdout.String()); len(out.Errors) != 2 {
		t.Errorf("errors = %+v, want both files unscanned", out.Errors)
	}
}

func TestScanHelp(t *testing.T) {
	stdout, _, code := runScan(t, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Exit status:", "0  every file is CLEAN", "1  at least one", "2  usage error",
		"--format", "--policy", "--max-bytes", "--timeout", "--workers", "--progress", "-o, --output", "rampart scan --format sarif"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestSizeValue(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1MiB": 1 << 20, "1M": 1 << 20, "1mb": 1 << 20,
		"64GiB": 64 << 30, "2 G": 2 << 30, "3KiB": 3072, "7B": 7, "1TiB": 1 << 40} {
		var s sizeValue
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "1.5G", "GiB", "9999999999TiB", "12 parsecs"} {
		var s sizeValue
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, s)
		}
	}
	for n, want := range map[int64]string{64 << 30: "64GiB", 1 << 20: "1MiB", 1000: "1000", 1536: "1536"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestScanRealAnalyzers runs the command as shipped (newScanCmd, the full
// analyzer table) over files built here, byte by byte.
func TestScanRealAnalyzers(t *testing.T) {
	dir := t.TempDir()
	npy := []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" +
		strings.Repeat(" ", 60) + "\n\x00\x00\xc0?\x00\x00 @")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("x.npy")
	w.Write(npy)
	zw.Close()
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(zb.Bytes())
	gw.Close()

	cases := []struct {
		name, file string
		want       string
	}{
		{"npy", write("weights.txt", npy), "CLEAN"},
		{"npz", write("arrays.bin", zb.Bytes()), "CLEAN"},
		{"gzip of npz", write("arrays.gz", gz.Bytes()), "CLEAN"},
		{"truncated npy", write("short.npy", npy[:len(npy)-3]), "UNSCANNABLE"},
		{"keras lambda", write("config.json", []byte(`{"class_name": "Sequential", "config": {"layers": [
			{"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}}]}}`)), "UNSAFE"},
		{"unknown", write("blob", []byte{0xde, 0xad, 0xbe, 0xef, 0}), "UNSCANNABLE"},
		{"pickle protocol 0 payload named .txt", write("notes.txt", []byte("cposix\nsystem\n(S'echo pwned'\ntR.")), "UNSAFE"},
		{"pickle protocol 2 dict", write("state.bin", []byte("\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.")), "CLEAN"},
		{"pickle in a zip", write("model.pt", zipOf(t, "archive/data.pkl", []byte("\x80\x02cbuiltins\neval\nq\x00X\x03\x00\x00\x001+1q\x01\x85R."))), "UNSAFE"},
		{"safetensors", write("model.safetensors", safetensorsOf(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)), "CLEAN"},
		{"safetensors offset past the end", write("bad.safetensors", safetensorsOf(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4)), "!CLEAN"},
		{"safetensors index escaping", write("model.safetensors.index.json", []byte(`{"metadata":{},"weight_map":{"w":"../../etc/passwd"}}`)), "!CLEAN"},
		{"readme", write("README.md", []byte("# A model\n\nWeights for a small classifier.\n")), "CLEAN"},
	}
	var args []string
	for _, tc := range cases {
		args = append(args, tc.file)
	}
	var stdout, stderr bytes.Buffer
	cmd := newScanCmd(&Env{Stdout: &stdout, Stderr: &stderr})
	cmd.SetArgs(append([]string{"--format", "json"}, args...))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	code := ExitCode(cmd.ExecuteContext(t.Context()), &stderr)
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := decodeScanJSON(t, stdout.String())
	if len(out.Results) != len(cases) {
		t.Fatalf("%d results for %d files", len(out.Results), len(cases))
	}
	for i, tc := range cases {
		got := out.Results[i].Verdict
		if tc.want == "!CLEAN" && got != "CLEAN" {
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %s (format %s, findings %+v), want %s", tc.name, got, out.Results[i].Format, out.Results[i].Findings, tc.want)
		}
	}
}

func zipOf(t *testing.T, name string, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// safetensorsOf builds a safetensors file: header length, header, data.
func safetensorsOf(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}
