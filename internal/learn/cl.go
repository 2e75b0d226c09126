package learn

import (
	"math"
	"sort"

	"github.com/rampart-ai/rampart/internal/stats"
)

// LabelIssue is a row whose given label is probably wrong.
type LabelIssue struct {
	Row       int
	Given     int
	Suggested int     // the most likely other class
	Score     float64 // in [0, 1]; higher is more likely mislabeled
}

// FindLabelIssues applies confident learning (Northcutt, Jiang and Chuang,
// "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021)
// to out-of-fold probabilities probs (rows x classes) and given labels y:
//
//  1. per-class threshold t_j = mean of p_j over rows labeled j (the
//     expected self-confidence of class j);
//  2. confident joint C[i][j]: rows labeled i whose probability reaches t_j
//     for some class, counted under the most probable such class j;
//  3. calibrate: scale each row of C to the number of rows labeled i and
//     normalise to the joint Q of (given, true) labels;
//  4. prune by noise rate: for every pair i != j, flag the n·Q[i][j] rows
//     labeled i with the largest margin p_j - p_i.
//
// A flagged row whose most probable class is its given label is dropped, as
// the model agrees with the label. Score is (1 - normalized margin)/2 where
// the margin is p_given - max_{j != given} p_j, so 1 means the model is
// certain of another class; the result is sorted by Score, highest first,
// ties by row. Rows with a label outside [0, classes), and mismatched
// shapes, yield no issues rather than a panic.
func FindLabelIssues(probs *stats.Matrix, y []int, classes int) []LabelIssue {
	if probs == nil || probs.Validate() != nil || probs.Rows != len(y) || probs.Cols != classes || classes < 2 {
		return nil
	}
	n := len(y)
	valid := func(i int) bool { return y[i] >= 0 && y[i] < classes }

	count := make([]float64, classes)
	thr := make([]float64, classes)
	for i := 0; i < n; i++ {
		if valid(i) {
			count[y[i]]++
			thr[y[i]] += probs.Data[i*classes+y[i]]
		}
	}
	for j := range thr {
		if count[j] > 0 {
			thr[j] /= count[j]
		} else {
			// No row claims class j: no row can be confidently of it.
			thr[j] = math.Inf(1)
		}
	}

	C := make([]float64, classes*classes)
	for i := 0; i < n; i++ {
		if !valid(i) {
			continue
		}
		p := probs.Row(i)
		best, bestP := -1, math.Inf(-1)
		for j, v := range p {
			if v >= thr[j] && v > bestP {
				best, bestP = j, v
			}
		}
		if best >= 0 {
			C[y[i]*classes+best]++
		}
	}
	var total float64
	for i := 0; i < classes; i++ {
		var rowSum float64
		for j := 0; j < classes; j++ {
			rowSum += C[i*classes+j]
		}
		for j := 0; j < classes; j++ {
			if rowSum > 0 {
				C[i*classes+j] = C[i*classes+j] / rowSum * count[i]
			}
			total += C[i*classes+j]
		}
	}
	if total == 0 {
		return nil
	}

	flag := make([]bool, n)
	byClass := make([][]int, classes)
	for i := 0; i < n; i++ {
		if valid(i) {
			byClass[y[i]] = append(byClass[y[i]], i)
		}
	}
	for i := 0; i < classes; i++ {
		rows := byClass[i]
		for j := 0; j < classes; j++ {
			if i == j {
				continue
			}
			num := int(math.Round(float64(n) * C[i*classes+j] / total))
			if num <= 0 {
				continue
			}
			num = min(num, len(rows))
			order := append([]int(nil), rows...)
			sort.SliceStable(order, func(a, b int) bool {
				ma := probs.Data[order[a]*classes+j] - probs.Data[order[a]*classes+i]
				mb := probs.Data[order[b]*classes+j] - probs.Data[order[b]*classes+i]
				return ma > mb
			})
			for _, r := range order[:num] {
				flag[r] = true
			}
		}
	}

	var out []LabelIssue
	for i := 0; i < n; i++ {
		if !flag[i] {
			continue
		}
		p := probs.Row(i)
		g := y[i]
		sug, sugP := -1, math.Inf(-1)
		for j, v := range p {
			if j != g && v > sugP {
				sug, sugP = j, v
			}
		}
		if p[g] >= sugP {
			continue
		}
		margin := p[g] - sugP
		score := math.Max(0, math.Min(1, (1-margin)/2))
		out = append(out, LabelIssue{Row: i, Given: g, Suggested: sug, Score: score})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Score != out[b].Score {
			return out[a].Score > out[b].Score
		}
		return out[a].Row < out[b].Row
	})
	return out
}
