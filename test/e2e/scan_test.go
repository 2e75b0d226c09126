package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanBinary runs `rampart scan` as a user would over the committed
// corpora: a clean directory exits 0, a malicious one exits 1 with a valid
// SARIF log naming every file, and a file that is not there exits 2.
func TestScanBinary(t *testing.T) {
	root := repoRoot(t)
	benign := filepath.Join(root, "internal", "modelscan", "pickle", "testdata", "benign")
	malicious := filepath.Join(root, "internal", "modelscan", "pickle", "testdata", "malicious")

	out, errOut, code := rampart(t, "scan", "--format", "json", benign)
	if code != 0 {
		t.Fatalf("benign corpus: exit %d: %s %s", code, out, errOut)
	}
	var rep struct {
		Results []struct {
			Verdict string `json:"verdict"`
			SHA256  string `json:"sha256"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Results) == 0 {
		t.Fatalf("json report: %v", err)
	}
	for _, r := range rep.Results {
		if r.Verdict != "CLEAN" || len(r.SHA256) != 64 {
			t.Fatalf("benign result %+v", r)
		}
	}

	sarif := filepath.Join(t.TempDir(), "scan.sarif")
	_, errOut, code = rampart(t, "scan", "--format", "sarif", "-o", sarif, malicious)
	if code != 1 {
		t.Fatalf("malicious corpus: exit %d, want 1: %s", code, errOut)
	}
	b, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("not a SARIF 2.1.0 log: %v", err)
	}
	ents, _ := os.ReadDir(malicious)
	errors := 0
	for _, r := range log.Runs[0].Results {
		if r.Level == "error" {
			errors++
		}
	}
	if errors < len(ents)/2 {
		t.Fatalf("%d error-level results for %d malicious files", errors, len(ents))
	}

	_, errOut, code = rampart(t, "scan", filepath.Join(root, "does-not-exist.pt"))
	if code != 2 || !strings.Contains(errOut, "does-not-exist") {
		t.Fatalf("missing file: exit %d, %s", code, errOut)
	}
}
