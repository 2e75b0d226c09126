package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestDataEval measures the audit's detection quality through the real
// binary, on data Debian ships (scikit-learn's digits, breast cancer and
// wine; Fashion-MNIST from dataset-fashion-mnist), prepared by
// scripts/data_eval_datasets.py:
//
//   - label noise: precision, recall and F1 of label_noise findings against
//     the rows whose labels were flipped (20% and 40%, uniform and
//     class-dependent); goal F1 ≥ 0.80 at 20%;
//   - outliers: AUROC of the per-row outlier scores on breast cancer built
//     as ODDS "wbc" (goal ≥ 0.95) and wine built as ODDS "wine" (goal
//     ≥ 0.91), mean over 10 seeds of the outlier sample.
//
// It writes its table to $RAMPART_EVAL_OUT when set (make eval).
func TestDataEval(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluation: not in -short")
	}
	if raceBinary() {
		t.Skip("evaluation: the -race binary is too slow for it; scripts/test.sh runs it against the normal binary")
	}
	dir := t.TempDir()
	args := []string{filepath.Join(repoRoot(t), "scripts", "data_eval_datasets.py"), dir}
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"); err != nil {
		if inCI() {
			t.Fatal("Fashion-MNIST (Debian package dataset-fashion-mnist) is required in CI")
		}
		args = append(args, "--no-fashion")
	}
	python(t, args...)
	var truth map[string]struct {
		Kind  string `json:"kind"`
		Rows  []int  `json:"rows"`
		Rate  float64
		Noise string
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	files := make([]string, 0, len(truth))
	for f := range truth {
		files = append(files, f)
	}
	sort.Strings(files)
	var report strings.Builder
	report.WriteString("| file | flagged | precision | recall | F1 |\n| --- | ---: | ---: | ---: | ---: |\n")
	auc := map[string][]float64{}
	for _, f := range files {
		tr := truth[f]
		path := filepath.Join(dir, f)
		switch tr.Kind {
		case "label_noise":
			findings, _ := auditJSON(t, path, "--label", "label", "--skip", "outlier,near_duplicate")
			var flagged []int
			for _, x := range findings {
				if x["kind"] == "label_noise" {
					flagged = append(flagged, int(x["row"].(float64)))
				}
			}
			tp := len(flagged) - len(diff(flagged, tr.Rows))
			p := float64(tp) / float64(max(len(flagged), 1))
			r := float64(tp) / float64(max(len(tr.Rows), 1))
			f1 := 2 * p * r / max(p+r, 1e-12)
			fmt.Fprintf(&report, "| %s | %d | %.3f | %.3f | %.3f |\n", f, len(flagged), p, r, f1)
			if tr.Rate <= 0.2 && f1 < 0.80 {
				t.Errorf("%s: label-noise F1 %.3f below the goal 0.80", f, f1)
			}
		case "outlier":
			out, errOut, code := rampart(t, "data", "audit", path, "--format", "json", "--scores", "--skip", "label_noise,near_duplicate")
			if code == 2 {
				t.Fatalf("%s: %s", f, errOut)
			}
			var res struct {
				Scores map[string][]*float64 `json:"scores"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			scores := res.Scores["outlier"]
			pos := make([]bool, len(scores))
			for _, r := range tr.Rows {
				pos[r] = true
			}
			set := strings.SplitN(f, "_", 2)[0]
			auc[set] = append(auc[set], auroc(scores, pos))
		}
	}
	report.WriteString("\n| outlier set | AUROC mean | min | max | goal |\n| --- | ---: | ---: | ---: | ---: |\n")
	goals := map[string]float64{"wbc": 0.95, "wine": 0.91}
	for _, set := range []string{"wbc", "wine"} {
		xs := auc[set]
		if len(xs) == 0 {
			t.Errorf("no %s outlier files", set)
			continue
		}
		var sum float64
		for _, x := range xs {
			sum += x
		}
		mean := sum / float64(len(xs))
		fmt.Fprintf(&report, "| %s (%d seeds) | %.3f | %.3f | %.3f | %.2f |\n", set, len(xs), mean, slices.Min(xs), slices.Max(xs), goals[set])
		if mean < goals[set] {
			t.Errorf("%s: mean AUROC %.3f below the goal %.2f", set, mean, goals[set])
		}
	}
	t.Log("\n" + report.String())
	if out := os.Getenv("RAMPART_EVAL_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// auroc is the probability that a random positive outscores a random
// negative, ties counting half (rank statistic).
func auroc(scores []*float64, pos []bool) float64 {
	type sp struct {
		s   float64
		pos bool
	}
	var xs []sp
	for i, s := range scores {
		if s != nil {
			xs = append(xs, sp{*s, pos[i]})
		}
	}
	sort.Slice(xs, func(a, b int) bool { return xs[a].s < xs[b].s })
	var rankSum, np float64
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j].s == xs[i].s {
			j++
		}
		mid := float64(i+j+1) / 2 // average 1-based rank
		for k := i; k < j; k++ {
			if xs[k].pos {
				rankSum += mid
				np++
			}
		}
		i = j
	}
	nn := float64(len(xs)) - np
	if np == 0 || nn == 0 {
		return 0.5
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

// raceBinary reports whether the binary under test was built with -race.
func raceBinary() bool { return strings.Contains(rampartBin, "race") }
