package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// SARIFSchema is the $schema every SARIF log names.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Artifacts   []sarifArtifact   `json:"artifacts,omitempty"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifMessage   `json:"shortDescription"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConf  `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifArtifact struct {
	Location   sarifArtifactLocation `json:"location"`
	Length     int64                 `json:"length"`
	Properties map[string]any        `json:"properties,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

// sarifRegion always has startLine 1: model files are binary, but GitHub
// code scanning rejects results without a line. The standard allows a
// region to carry both text and binary properties.
type sarifRegion struct {
	StartLine  int    `json:"startLine"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation  `json:"physicalLocation"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          sarifProps        `json:"properties"`
}

type sarifProps struct {
	Verdict  string `json:"verdict"`
	Severity string `json:"severity"`
	Callable string `json:"callable,omitempty"`
	Member   string `json:"member,omitempty"`
	// Offset is within Member when Member is set, so it cannot be the
	// physical region's byteOffset; it is kept here instead.
	Offset int64  `json:"offset"`
	Format string `json:"format"`
}

// SARIFLevel maps a verdict to a SARIF result level: error for UNSAFE,
// warning for SUSPICIOUS and UNSCANNABLE, note otherwise.
func SARIFLevel(v modelscan.Verdict) string {
	switch v {
	case modelscan.Clean:
		return "note"
	case modelscan.Suspicious, modelscan.Unscannable:
		return "warning"
	}
	return "error"
}

// securitySeverity is GitHub code scanning's numeric rule severity.
var securitySeverity = map[rampart.Severity]string{
	rampart.SeverityInfo: "0.0", rampart.SeverityLow: "3.0", rampart.SeverityMedium: "5.5",
	rampart.SeverityHigh: "8.0", rampart.SeverityCritical: "9.5",
}

// WriteSARIF writes r as a SARIF 2.1.0 log with one run. Every finding is a
// result whose rule is the finding's Rule; a file without findings appears
// only in run.artifacts. The location is the file itself (a URI relative
// to BaseDir when the file lies under it, a file: URI otherwise); an
// archive member is a logical location, and the byte offset becomes the
// region's byteOffset only when it is an offset into the file itself. Files
// that could not be read are tool execution notifications, and the
// invocation is then unsuccessful.
func WriteSARIF(w io.Writer, r *Report) error {
	base := r.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	}
	type ruleAgg struct {
		worst    modelscan.Verdict
		severity rampart.Severity
	}
	rules := map[string]*ruleAgg{}
	for _, res := range r.Results {
		for _, f := range res.Findings {
			a := rules[f.Rule]
			if a == nil {
				a = &ruleAgg{worst: f.Verdict, severity: f.Severity}
				rules[f.Rule] = a
			}
			a.worst = max(a.worst, f.Verdict)
			a.severity = max(a.severity, f.Severity)
		}
	}
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	index := make(map[string]int, len(ids))
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: r.Tool.Name, InformationURI: InformationURI,
			Version: r.Tool.Version, Rules: make([]sarifRule, 0, len(ids))}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: len(r.Errors) == 0}},
		Results:     []sarifResult{},
	}
	for i, id := range ids {
		index[id] = i
		a := rules[id]
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   id,
			ShortDescription:     sarifMessage{Text: describeRule(id)},
			HelpURI:              docsURI + "#" + ruleAnchor(id),
			DefaultConfiguration: sarifRuleConf{Level: SARIFLevel(a.worst)},
			Properties: map[string]any{
				"tags":              []string{"security", "supply-chain"},
				"security-severity": securitySeverity[a.severity],
			},
		})
	}
	for _, res := range r.Results {
		uri := artifactURI(base, res.Path)
		run.Artifacts = append(run.Artifacts, sarifArtifact{
			Location: sarifArtifactLocation{URI: uri}, Length: res.Size,
			Properties: map[string]any{"verdict": res.Verdict.String(), "format": res.Format},
		})
		for _, f := range res.Findings {
			loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: uri},
				Region: &sarifRegion{StartLine: 1}}}
			if f.Member == "" && f.Offset >= 0 {
				off := f.Offset
				loc.PhysicalLocation.Region.ByteOffset = &off
			}
			if f.Member != "" {
				name := f.Member
				if i := strings.LastIndexAny(name, "/!"); i >= 0 && i+1 < len(name) {
					name = name[i+1:]
				}
				loc.LogicalLocations = []sarifLogicalLocation{{Name: name, FullyQualifiedName: f.Member, Kind: "member"}}
			}
			run.Results = append(run.Results, sarifResult{
				RuleID:    f.Rule,
				RuleIndex: index[f.Rule],
				Level:     SARIFLevel(f.Verdict),
				Message:   sarifMessage{Text: resultText(f)},
				Locations: []sarifLocation{loc},
				PartialFingerprints: map[string]string{
					"rampartFinding/v1": fingerprint(uri, f),
				},
				Properties: sarifProps{Verdict: f.Verdict.String(), Severity: f.Severity.String(), Callable: f.Callable,
					Member: f.Member, Offset: f.Offset, Format: res.Format},
			})
		}
	}
	for _, e := range r.Errors {
		run.Invocations[0].ToolExecutionNotifications = append(run.Invocations[0].ToolExecutionNotifications, sarifNotification{
			Level:   "error",
			Message: sarifMessage{Text: e.Path + ": " + e.Error},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: artifactURI(base, e.Path)}}}},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

// resultText is the message people see in a code-scanning UI.
func resultText(f modelscan.Finding) string {
	var b strings.Builder
	b.WriteString(f.Verdict.String())
	b.WriteString(": ")
	if f.Callable != "" {
		b.WriteString(f.Callable)
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	if f.Member != "" {
		b.WriteString(" (in ")
		b.WriteString(f.Member)
		if f.Offset >= 0 {
			b.WriteString(" at byte ")
			b.WriteString(strconv.FormatInt(f.Offset, 10))
		}
		b.WriteString(")")
	} else if f.Offset >= 0 {
		b.WriteString(" (at byte ")
		b.WriteString(strconv.FormatInt(f.Offset, 10))
		b.WriteString(")")
	}
	return b.String()
}

// fingerprint identifies a finding across runs so code-scanning tools can
// track it; it deliberately leaves out the message, which may be reworded.
func fingerprint(uri string, f modelscan.Finding) string {
	h := sha256.New()
	for _, s := range []string{uri, f.Member, f.Rule, f.Callable, strconv.FormatInt(f.Offset, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// describeRule turns "pickle.unsafe-callable" into "pickle: unsafe callable".
func describeRule(id string) string {
	a, b, ok := strings.Cut(id, ".")
	if !ok {
		return strings.ReplaceAll(id, "-", " ")
	}
	return a + ": " + strings.NewReplacer("-", " ", ".", " ", "_", " ").Replace(b)
}

// ruleAnchor is the docs/scan.md section for a rule: its analyzer's.
func ruleAnchor(id string) string {
	a, _, _ := strings.Cut(id, ".")
	return "analyzer-" + strings.ToLower(a)
}

// artifactURI is path as a URI reference: relative to base when path lies
// under it, otherwise an absolute file: URI.
func artifactURI(base, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if base != "" {
		if b, err := filepath.Abs(base); err == nil {
			if rel, err := filepath.Rel(b, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
				u := (&url.URL{Path: filepath.ToSlash(rel)}).EscapedPath()
				if first, _, _ := strings.Cut(u, "/"); strings.Contains(first, ":") {
					u = "./" + u // "a:b" would read as a URI with scheme "a"
				}
				return u
			}
		}
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letters
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
