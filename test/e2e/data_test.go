package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// python runs Debian's python3 with a script from the repository; tests
// that need scikit-learn skip without it (and fail in CI, where
// scripts/test.sh installs it).
func python(t *testing.T, args ...string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sklearn, scipy, numpy").Run(); err != nil {
		if inCI() {
			t.Fatalf("python3 with sklearn, scipy and numpy is required in CI: %v", err)
		}
		t.Skip("no python3 with sklearn, scipy and numpy")
	}
	cmd := exec.Command(py, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// auditJSON runs `rampart data audit --format json` and decodes it.
func auditJSON(t *testing.T, args ...string) (findings []map[string]any, code int) {
	t.Helper()
	out, errOut, code := rampart(t, append([]string{"data", "audit", "--format", "json"}, args...)...)
	if code == 2 {
		t.Fatalf("audit %v: exit 2: %s", args, errOut)
	}
	var res struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("audit %v: output is not JSON: %v\n%s", args, err, out)
	}
	return res.Findings, code
}

// TestDataAuditPlanted plants exact duplicates, near duplicates and
// conflicting labels in real data (scikit-learn's digits and breast
// cancer, which have none of their own) and requires the audit to find
// every planted row and to report no other row of those kinds.
func TestDataAuditPlanted(t *testing.T) {
	dir := t.TempDir()
	python(t, filepath.Join(repoRoot(t), "scripts", "data_eval_planted.py"), dir)
	var truth map[string]map[string][]int
	b, err := os.ReadFile(filepath.Join(dir, "planted_truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	for file, want := range truth {
		t.Run(file, func(t *testing.T) {
			findings, code := auditJSON(t, filepath.Join(dir, file), "--label", "label", "--skip", "label_noise,outlier")
			if code != 1 {
				t.Errorf("exit %d, want 1 (findings)", code)
			}
			got := map[string][]int{}
			for _, f := range findings {
				kind := f["kind"].(string)
				row, ok := f["row"].(float64)
				if !ok {
					continue
				}
				for _, k := range []string{"score", "reason"} {
					if _, ok := f[k]; !ok {
						t.Errorf("finding %v lacks %q", f, k)
					}
				}
				got[kind] = append(got[kind], int(row))
			}
			for kind, rows := range want {
				g := slices.Clone(got[kind])
				slices.Sort(g)
				missed, invented := diff(rows, g), diff(g, rows)
				t.Logf("%s: planted %d, found %d, missed %v, invented %v", kind, len(rows), len(g), missed, invented)
				if len(missed) > 0 || len(invented) > 0 {
					t.Errorf("%s: missed %v, invented %v", kind, missed, invented)
				}
			}
		})
	}
}

func diff(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestDataWorkflow runs profile, validate, drift and audit on real data
// and checks the drift test against scipy on the same files.
func TestDataWorkflow(t *testing.T) {
	dir := t.TempDir()
	python(t, "-c", fmt.Sprintf(`
import numpy as np
from sklearn.datasets import load_breast_cancer
d = load_breast_cancer()
X, y = d.data, d.target
rng = np.random.default_rng(3)
order = rng.permutation(len(X))
names = ["c%%d" %% j for j in range(X.shape[1])]
def write(path, rows, shift=None):
    with open(path, "w") as f:
        f.write(",".join(names) + ",label\n")
        for i in rows:
            x = X[i].copy()
            if shift is not None:
                x[0] *= shift
            f.write(",".join(repr(float(v)) for v in x) + ",%%s\n" %% ("malignant" if y[i] == 0 else "benign"))
write(%[1]q + "/train.csv", order[:350])
write(%[1]q + "/test.csv", order[350:])
write(%[1]q + "/shifted.csv", order[350:], shift=1.3)
`, dir))
	train, test, shifted := filepath.Join(dir, "train.csv"), filepath.Join(dir, "test.csv"), filepath.Join(dir, "shifted.csv")
	prof := filepath.Join(dir, "train.profile.json")

	out, errOut, code := rampart(t, "data", "profile", train, "--label", "label", "-o", prof)
	if code != 0 {
		t.Fatalf("profile: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "350 rows, 31 columns") {
		t.Errorf("profile summary: %s", out)
	}
	pb, _ := os.ReadFile(prof)
	if strings.Contains(string(pb), "malignant") == false {
		t.Errorf("profile lacks the class names")
	}

	// The training data conforms to its own profile.
	if _, errOut, code := rampart(t, "data", "validate", train, "--profile", prof); code != 0 {
		t.Errorf("validate train: exit %d: %s", code, errOut)
	}
	// A corrupted copy does not.
	bad := filepath.Join(dir, "bad.csv")
	tb, _ := os.ReadFile(test)
	lines := strings.Split(strings.TrimSpace(string(tb)), "\n")
	cells := strings.Split(lines[3], ",")
	cells[0] = "abc"        // type
	cells[1] = "1e9"        // out of range
	cells[2] = ""           // missing
	cells[30] = "uncertain" // unseen class
	lines[3] = strings.Join(cells, ",")
	lines[5] = strings.Join(strings.Split(lines[5], ",")[:10], ",") // ragged
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, errOut, code = rampart(t, "data", "validate", bad, "--profile", prof, "--format", "json")
	if code != 1 {
		t.Fatalf("validate bad: exit %d, want 1: %s %s", code, out, errOut)
	}
	var vres struct {
		Files []struct {
			Violations []struct {
				Column, Kind string
				Count        int
				Rows         []int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &vres); err != nil {
		t.Fatal(err)
	}
	found := map[string][]int{}
	for _, v := range vres.Files[0].Violations {
		found[v.Column+"/"+v.Kind] = v.Rows
	}
	for _, want := range []string{"c0/type", "c1/out_of_range", "c2/missing", "label/unseen_category", "/ragged"} {
		rows, ok := found[want]
		if !ok {
			t.Errorf("validate: no %s violation in %v", want, found)
			continue
		}
		wantRow := 2
		if want == "/ragged" {
			wantRow = 4
		}
		if !slices.Contains(rows, wantRow) {
			t.Errorf("validate: %s rows %v, want row %d", want, rows, wantRow)
		}
	}

	// Drift: statistics and p-values agree with scipy's ks_2samp on the
	// same files, and only the shifted column drifts.
	out, errOut, code = rampart(t, "data", "drift", train, shifted, "--label", "label", "--format", "json", "--html", filepath.Join(dir, "drift.html"))
	if code != 1 {
		t.Fatalf("drift train/shifted: exit %d, want 1: %s", code, errOut)
	}
	var dres struct {
		Columns []struct {
			Name      string
			Test      string
			Statistic float64
			PValue    float64 `json:"p_value"`
			Drift     bool
		}
	}
	if err := json.Unmarshal([]byte(out), &dres); err != nil {
		t.Fatal(err)
	}
	ref := python(t, "-c", fmt.Sprintf(`
import csv, json
from scipy.stats import ks_2samp
def cols(p):
    r = list(csv.reader(open(p)))
    return {h: [float(row[i]) for row in r[1:]] for i, h in enumerate(r[0]) if h != "label"}
a, b = cols(%q), cols(%q)
print(json.dumps({k: list(map(float, ks_2samp(a[k], b[k]))) for k in a}))
`, train, shifted))
	var scipy map[string][2]float64
	if err := json.Unmarshal([]byte(ref), &scipy); err != nil {
		t.Fatalf("scipy reference: %v\n%s", err, ref)
	}
	for _, c := range dres.Columns {
		if c.Name == "label" {
			if c.Test != "chi2" {
				t.Errorf("label tested with %s, want chi2", c.Test)
			}
			continue
		}
		s := scipy[c.Name]
		if d := c.Statistic - s[0]; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: KS statistic %v, scipy %v", c.Name, c.Statistic, s[0])
		}
		if d := c.PValue - s[1]; d > 1e-6 || d < -1e-6 {
			t.Errorf("%s: p-value %v, scipy %v", c.Name, c.PValue, s[1])
		}
		if c.Drift != (c.Name == "c0") {
			t.Errorf("%s: drift %v", c.Name, c.Drift)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "drift.html"))
	if err != nil || !strings.Contains(string(html), "<svg") || externalRef.Match(html) {
		t.Errorf("drift HTML missing, without plots, or not self-contained (err %v)", err)
	}
	// Against its own profile, the same split does not drift.
	if out, errOut, code := rampart(t, "data", "drift", prof, test); code != 0 {
		t.Errorf("drift profile/test: exit %d: %s %s", code, out, errOut)
	}

	// Merge: profiles of two shards equal the profile of the whole in
	// counts and moments.
	p1, p2, pm := filepath.Join(dir, "p1.json"), filepath.Join(dir, "p2.json"), filepath.Join(dir, "pm.json")
	rampart(t, "data", "profile", train, "--label", "label", "-o", p1)
	rampart(t, "data", "profile", test, "--label", "label", "-o", p2)
	if _, errOut, code := rampart(t, "data", "merge", p1, p2, "-o", pm); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, errOut)
	}
	pall := filepath.Join(dir, "pall.json")
	rampart(t, "data", "profile", train, test, "--label", "label", "-o", pall)
	var m, all struct {
		Rows    int
		Columns []struct {
			Name    string
			Count   int
			Moments struct{ Mean, M2 float64 }
		}
	}
	mb, _ := os.ReadFile(pm)
	ab, _ := os.ReadFile(pall)
	json.Unmarshal(mb, &m)
	json.Unmarshal(ab, &all)
	if m.Rows != 569 || all.Rows != 569 {
		t.Errorf("rows: merged %d, whole %d, want 569", m.Rows, all.Rows)
	}
	for i := range all.Columns {
		a, b := all.Columns[i], m.Columns[i]
		if a.Count != b.Count || relDiff(a.Moments.Mean, b.Moments.Mean) > 1e-9 || relDiff(a.Moments.M2, b.Moments.M2) > 1e-9 {
			t.Errorf("%s: merged %+v, whole %+v", a.Name, b, a)
		}
	}

	// Leakage: the test set audited against itself leaks every row.
	findings, code := auditJSON(t, test, "--label", "label", "--against", test, "--skip", "label_noise,outlier")
	leaks := 0
	for _, f := range findings {
		if f["kind"] == "leakage" {
			leaks++
		}
	}
	if code != 1 || leaks != len(lines)-1 {
		t.Errorf("leakage: exit %d, %d leaked rows, want %d", code, leaks, len(lines)-1)
	}
}

// externalRef matches an attribute or CSS reference that leaves the file
// (the SVG namespace URI is a name, not a reference).
var externalRef = regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?\s*(https?:|//)|url\(\s*["']?(https?:|//)`)

// npyHeader builds a version 1.0 .npy header for a float64 array.
func npyHeader(shape string) string {
	dict := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }"
	pad := 64 - (10+len(dict)+1)%64
	dict += strings.Repeat(" ", pad%64) + "\n"
	return "\x93NUMPY\x01\x00" + string([]byte{byte(len(dict)), byte(len(dict) >> 8)}) + dict
}

func relDiff(a, b float64) float64 {
	d := a - b
	if d < 0 {
		d = -d
	}
	m := max(abs(a), abs(b), 1e-300)
	return d / m
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDataBadInput: malformed data gets exit status 2 and a message that
// names the file and the row and column or byte offset.
func TestDataBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, file, content string
		want                []string
	}{
		{"ragged row", "ragged.csv", "a,b\n1,2\n3\n", []string{"ragged.csv:3", "row 1"}},
		{"invalid utf-8", "utf8.csv", "a,b\n1,\xff\xfe\n", []string{"utf8.csv:2", "row 0", `column "b"`}},
		{"unterminated quote", "quote.csv", "a,b\n1,\"x\n", []string{"quote.csv", "row 0"}},
		{"empty file", "empty.csv", "", []string{"empty.csv"}},
		{"truncated npy", "short.npy", npyHeader("(10, 3)") + strings.Repeat("\x00", 100), []string{"short.npy", "row"}},
		{"not json", "bad.jsonl", "{\"a\": 1}\n{\"a\": 2\n", []string{"bad.jsonl:2", "row 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.file)
			os.WriteFile(p, []byte(c.content), 0o644)
			_, errOut, code := rampart(t, "data", "profile", p)
			if code != 2 {
				t.Fatalf("exit %d, want 2: %s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not mention %q", strings.TrimSpace(errOut), w)
				}
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
				t.Errorf("panic reached the user: %s", errOut)
			}
		})
	}
}
