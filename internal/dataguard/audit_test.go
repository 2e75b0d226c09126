package dataguard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/data"
)

// gaussCSV writes n rows of d standard normal features and a label that
// alternates over classes; extra rows are appended verbatim.
func gaussCSV(t *testing.T, path string, n, d, classes int, seed uint64, extra ...string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	var b strings.Builder
	for j := range d {
		fmt.Fprintf(&b, "f%d,", j)
	}
	b.WriteString("label\n")
	for i := range n {
		for range d {
			fmt.Fprintf(&b, "%g,", r.NormFloat64())
		}
		fmt.Fprintf(&b, "c%d\n", i%classes)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func kinds(res *AuditResult) map[string][]int64 {
	m := map[string][]int64{}
	for _, f := range res.Findings {
		r := int64(-1)
		if f.Row != nil {
			r = *f.Row
		}
		m[f.Kind] = append(m[f.Kind], r)
	}
	return m
}

// TestAuditCleanDataHasNoFindings: Gaussian data with balanced classes and
// labels unrelated to the features must not invent outliers, duplicates or
// imbalance (label noise is skipped: with random labels every row is noise).
func TestAuditCleanDataHasNoFindings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "clean.csv")
	gaussCSV(t, p, 2000, 8, 4, 1)
	res, err := Audit(p, data.Options{}, AuditOptions{Label: "label", Skip: []string{"label_noise"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("findings on clean data: %v", kinds(res))
	}
}

// TestAuditFindsFarPointAndRareClass plants one point far from the bulk
// and a class with three rows.
func TestAuditFindsFarPointAndRareClass(t *testing.T) {
	p := filepath.Join(t.TempDir(), "planted.csv")
	gaussCSV(t, p, 2000, 8, 4, 2,
		"9,9,-9,9,9,-9,9,9,c1",
		"0.1,0.2,0.3,0.1,0.2,0.1,0.3,0.2,rare",
		"0.2,0.1,0.3,0.2,0.1,0.1,0.2,0.3,rare",
		"0.3,0.1,0.2,0.1,0.3,0.2,0.2,0.1,rare")
	res, err := Audit(p, data.Options{}, AuditOptions{Label: "label", Skip: []string{"label_noise"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	k := kinds(res)
	if len(k[KindOutlier]) == 0 || k[KindOutlier][0] != 2000 {
		t.Errorf("outliers %v, want row 2000 first", k[KindOutlier])
	}
	found := false
	for _, f := range res.Findings {
		if f.Kind == KindImbalance && f.Class == "rare" {
			found = true
		}
	}
	if !found {
		t.Errorf("no class_imbalance finding for the rare class: %v", k)
	}
}

// TestAuditNearLeakage: test rows copied into the training set with a
// tiny perturbation are leakage; unrelated rows are not.
func TestAuditNearLeakage(t *testing.T) {
	dir := t.TempDir()
	test := filepath.Join(dir, "test.csv")
	gaussCSV(t, test, 300, 5, 3, 7)
	lines := strings.Split(strings.TrimSpace(mustRead(t, test)), "\n")
	var extra []string
	for _, l := range lines[1:4] {
		cells := strings.Split(l, ",")
		for j := 0; j < 5; j++ {
			var x float64
			fmt.Sscan(cells[j], &x)
			cells[j] = fmt.Sprint(x + 1e-4)
		}
		extra = append(extra, strings.Join(cells, ","))
	}
	extra = append(extra, lines[5]) // an exact copy
	train := filepath.Join(dir, "train.csv")
	gaussCSV(t, train, 1000, 5, 3, 8, extra...)
	res, err := Audit(train, data.Options{}, AuditOptions{Label: "label", Against: test, Skip: []string{"label_noise", "outlier"}})
	if err != nil {
		t.Fatal(err)
	}
	rows := kinds(res)[KindLeakage]
	if len(rows) > 1 {
		slices.Sort(rows[1:])
	}
	got := fmt.Sprint(rows)
	if got != "[1003 1000 1001 1002]" {
		t.Errorf("leakage rows %s, want the exact copy first, then the three near copies", got)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuditTooLarge: the feature matrix bound is an error, not an OOM.
func TestAuditTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.csv")
	gaussCSV(t, p, 1000, 10, 2, 1)
	_, err := Audit(p, data.Options{}, AuditOptions{MaxCells: 5000})
	if err == nil || !strings.Contains(err.Error(), "--max-cells") {
		t.Errorf("got %v", err)
	}
}

func TestNearTolerance(t *testing.T) {
	for _, c := range []struct {
		d        int
		min, max float64
	}{{1, 1e-13, 1e-11}, {5, 0.004, 0.006}, {30, 0.05, 0.05}, {784, 0.05, 0.05}} {
		if got := NearTolerance(c.d); got < c.min || got > c.max {
			t.Errorf("NearTolerance(%d) = %g, want in [%g, %g]", c.d, got, c.min, c.max)
		}
	}
}

// TestAuditLeakageBudgetCountsSkips is the regression test for a
// denial of service: the near-leakage sweep skipped same-side pairs before
// counting them against its budget, so a small (well compressed) file of
// identical rows made it quadratic (100,000 rows: 10 s; a million: 15 min).
func TestAuditLeakageBudgetCountsSkips(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("a,b,label\n")
	for range 20000 {
		b.WriteString("1,1,x\n")
	}
	b.WriteString("2,2,y\n")
	leak := filepath.Join(dir, "leak.csv")
	os.WriteFile(leak, []byte(b.String()), 0o644)
	against := filepath.Join(dir, "against.csv")
	os.WriteFile(against, []byte("a,b,label\n5,5,x\n"), 0o644)
	old := nearPairBudget
	nearPairBudget = 1_000_000
	defer func() { nearPairBudget = old }()
	res, err := Audit(leak, data.Options{}, AuditOptions{Label: "label", Against: against, Skip: []string{"label_noise", "outlier"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "work budget") }) {
		t.Errorf("the sweep did not stop at its budget: notes %v", res.Notes)
	}
}

// TestAuditLongStringsHeldAsHashes is the regression test for a memory
// blow-up: string features were held whole, outside --max-cells, so a
// small gzip of 1 MiB strings took gigabytes. They are held as 64-bit
// hashes now (the table's type says so), count against --max-cells, and
// duplicates of long strings are still found.
func TestAuditLongStringsHeldAsHashes(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("a", 1<<20)
	var b strings.Builder
	b.WriteString("i,s,label\n")
	for i := range 40 {
		fmt.Fprintf(&b, "%d,%s%d,%d\n", i%20, long, i%20, i%2)
	}
	p := filepath.Join(dir, "long.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	res, err := Audit(p, data.Options{MaxField: 2 << 20}, AuditOptions{Label: "label", Skip: []string{"label_noise", "outlier"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(kinds(res)[KindDuplicate]); n != 20 {
		t.Errorf("%d duplicates, want 20: %v", n, kinds(res))
	}
	// Two string-bearing columns (i counts, s is text) per row: 40 rows
	// need 80 cells, so 79 is over the bound.
	if _, err := Audit(p, data.Options{MaxField: 2 << 20}, AuditOptions{Label: "label", MaxCells: 79, Skip: []string{"label_noise", "outlier"}}); err == nil {
		t.Error("string columns do not count against --max-cells")
	}
}

// TestAuditAgainstUnlabelled: a test set without the label column still
// serves for leakage (class shift needs its labels and is skipped).
func TestAuditAgainstUnlabelled(t *testing.T) {
	dir := t.TempDir()
	train := filepath.Join(dir, "train.csv")
	gaussCSV(t, train, 200, 4, 2, 3)
	lines := strings.Split(strings.TrimSpace(mustRead(t, train)), "\n")
	cells := strings.Split(lines[10], ",")
	test := filepath.Join(dir, "test.csv")
	os.WriteFile(test, []byte("f0,f1,f2,f3\n"+strings.Join(cells[:4], ",")+"\n"), 0o644)
	res, err := Audit(train, data.Options{}, AuditOptions{Label: "label", Against: test, Skip: []string{"label_noise", "outlier"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(kinds(res)[KindLeakage]); got != "[9]" {
		t.Errorf("leakage rows %s, want [9]", got)
	}
}
