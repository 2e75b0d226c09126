package learn

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/stats"
)

// The evaluation runs scripts/data_eval_datasets.py (sklearn digits,
// Fashion-MNIST t10k, breast cancer and wine) and holds the kernels to the
// accuracy goals of the data-poisoning audit.

const (
	python      = "/usr/bin/python3"
	fashionDir  = "/usr/share/datasets/fashion-mnist"
	goalF1At20  = 0.80
	goalWBC     = 0.95
	goalWine    = 0.91
	outlierSeed = 0
)

type truthEntry struct {
	Kind    string  `json:"kind"`
	Dataset string  `json:"dataset"`
	Noise   string  `json:"noise"`
	Rate    float64 `json:"rate"`
	Classes int     `json:"classes"`
	Rows    []int   `json:"rows"`
}

func skipUnlessEval(t *testing.T, needFashion bool) {
	t.Helper()
	if testing.Short() {
		t.Skip("evaluation skipped under -short")
	}
	if raceEnabled {
		t.Skip("evaluation skipped under the race detector")
	}
	if err := exec.Command(python, "-c", "import sklearn, numpy").Run(); err != nil {
		t.Skipf("%s lacks sklearn/numpy: %v", python, err)
	}
	if needFashion {
		if _, err := os.Stat(filepath.Join(fashionDir, "t10k-images-idx3-ubyte.gz")); err != nil {
			t.Skipf("Fashion-MNIST absent: %v", err)
		}
	}
}

func exportDatasets(t *testing.T, args ...string) (string, map[string]truthEntry) {
	t.Helper()
	dir := t.TempDir()
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "data_eval_datasets.py")
	cmd := exec.Command(python, append([]string{script, dir}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exporter: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]truthEntry{}
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	return dir, truth
}

// readCSV parses a numeric CSV with a header; if labelCol is true the last
// column is returned separately as integer labels.
func readCSV(path string, labelCol bool) (*stats.Matrix, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	if !sc.Scan() {
		return nil, nil, fmt.Errorf("%s: empty", path)
	}
	cols := len(strings.Split(sc.Text(), ","))
	if labelCol {
		cols--
	}
	m := &stats.Matrix{Cols: cols}
	var y []int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if len(fields) != cols+boolInt(labelCol) {
			return nil, nil, fmt.Errorf("%s: row %d has %d fields", path, m.Rows, len(fields))
		}
		for j := 0; j < cols; j++ {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			m.Data = append(m.Data, v)
		}
		if labelCol {
			v, err := strconv.Atoi(fields[cols])
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			y = append(y, v)
		}
		m.Rows++
	}
	return m, y, sc.Err()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOutlierEval(t *testing.T) {
	skipUnlessEval(t, false)
	dir, truth := exportDatasets(t, "--no-fashion")
	type agg struct {
		sum, min float64
		n        int
	}
	res := map[string]map[string]*agg{}
	var names []string
	for name, e := range truth {
		if e.Kind == "outlier" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	start := time.Now()
	for _, name := range names {
		e := truth[name]
		X, _, err := readCSV(filepath.Join(dir, name), false)
		if err != nil {
			t.Fatal(err)
		}
		pos := make([]bool, X.Rows)
		for _, r := range e.Rows {
			pos[r] = true
		}
		combined, parts := stats.OutlierScore(X, outlierSeed)
		parts["combined"] = combined
		if res[e.Dataset] == nil {
			res[e.Dataset] = map[string]*agg{}
		}
		for part, s := range parts {
			a := stats.AUROC(s, pos)
			g := res[e.Dataset][part]
			if g == nil {
				g = &agg{min: math.Inf(1)}
				res[e.Dataset][part] = g
			}
			g.sum += a
			g.n++
			g.min = math.Min(g.min, a)
		}
	}
	t.Logf("outlier AUROC over %d files in %v", len(names), time.Since(start).Round(time.Millisecond))
	t.Logf("%-6s %-12s %6s %6s", "set", "detector", "mean", "min")
	for _, ds := range []string{"wbc", "wine"} {
		for _, part := range []string{"combined", "ecod", "mahalanobis", "iforest"} {
			g := res[ds][part]
			if g == nil {
				t.Fatalf("%s: no results for %s", ds, part)
			}
			t.Logf("%-6s %-12s %6.3f %6.3f", ds, part, g.sum/float64(g.n), g.min)
		}
	}
	for ds, goal := range map[string]float64{"wbc": goalWBC, "wine": goalWine} {
		g := res[ds]["combined"]
		if mean := g.sum / float64(g.n); mean < goal {
			t.Errorf("%s: mean AUROC %.3f below goal %.2f", ds, mean, goal)
		}
	}
}

func prf(issues []LabelIssue, truth []int) (p, r, f1 float64) {
	flipped := map[int]bool{}
	for _, row := range truth {
		flipped[row] = true
	}
	var tp int
	for _, is := range issues {
		if flipped[is.Row] {
			tp++
		}
	}
	if len(issues) > 0 {
		p = float64(tp) / float64(len(issues))
	}
	if len(truth) > 0 {
		r = float64(tp) / float64(len(truth))
	}
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

func TestLabelNoiseEval(t *testing.T) {
	skipUnlessEval(t, true)
	var args []string
	if seed := os.Getenv("RAMPART_EVAL_NOISE_SEED"); seed != "" {
		args = append(args, "--noise-seed="+seed) // robustness runs
	}
	dir, truth := exportDatasets(t, args...)
	var names []string
	for name, e := range truth {
		if e.Kind == "label_noise" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) != 8 {
		t.Fatalf("expected 8 label-noise files, got %d", len(names))
	}
	t.Logf("%-30s %6s %6s %6s %6s %8s", "file", "flagged", "prec", "recall", "F1", "time")
	for _, name := range names {
		e := truth[name]
		X, y, err := readCSV(filepath.Join(dir, name), true)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		issues, err := DetectLabelIssues(X, y, e.Classes, Options{Seed: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		el := time.Since(start)
		p, r, f1 := prf(issues, e.Rows)
		t.Logf("%-30s %6d %6.3f %6.3f %6.3f %8v", name, len(issues), p, r, f1, el.Round(time.Millisecond))
		if name == "fashion_noise20_uniform.csv" {
			start := time.Now()
			stats.OutlierScore(X, 0)
			t.Logf("OutlierScore on %dx%d: %v", X.Rows, X.Cols, time.Since(start).Round(time.Millisecond))
		}
		if e.Rate <= 0.2 && f1 < goalF1At20 {
			t.Errorf("%s: F1 %.3f below goal %.2f", name, f1, goalF1At20)
		}
	}
}
