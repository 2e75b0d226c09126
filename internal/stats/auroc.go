package stats

import (
	"math"
	"sort"
)

// AUROC is the area under the ROC curve of scores against the positive
// labels: the probability that a random positive outscores a random negative,
// with ties counted as one half (the Mann–Whitney U statistic divided by
// n_pos*n_neg). It returns NaN when either class is empty or the lengths
// differ, since the area is undefined then.
func AUROC(scores []float64, positive []bool) float64 {
	n := len(scores)
	if n != len(positive) {
		return math.NaN()
	}
	ranks := odRanks(scores)
	var nPos, nNeg int
	var rankSum float64
	for i, p := range positive {
		if p {
			nPos++
			rankSum += ranks[i]
		} else {
			nNeg++
		}
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	u := rankSum - float64(nPos)*float64(nPos+1)/2
	return u / (float64(nPos) * float64(nNeg))
}

// odRanks returns 1-based ranks with ties sharing their mean rank.
func odRanks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
