package stats

import (
	"math"
	"sort"
)

// ECOD scores rows by Empirical-Cumulative-distribution-based Outlier
// Detection (Li, Zhao, Hu, Botta, Ionescu, Chen, TKDE 2022). For every
// column it estimates the left tail F(x) = P(X <= x) and the right tail
// P(X >= x) from the data itself, and sums -log tail probabilities across
// columns, assuming independence. Three aggregates are formed — all left
// tails, all right tails, and per column the tail the column's skewness points
// to — and the score is their maximum. Higher is more anomalous. It has no
// parameters and costs O(p n log n).
func ECOD(X *Matrix) []float64 {
	n, p := X.Rows, X.Cols
	scores := make([]float64, n)
	if n == 0 || X.Validate() != nil {
		return scores
	}
	left := make([]float64, n)
	right := make([]float64, n)
	auto := make([]float64, n)
	col := make([]float64, n)
	order := make([]int, n)
	le := make([]int, n) // #{x_k <= x_i}
	ge := make([]int, n) // #{x_k >= x_i}
	for j := 0; j < p; j++ {
		for i := 0; i < n; i++ {
			col[i] = X.Data[i*p+j]
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return col[order[a]] < col[order[b]] })
		// Walk runs of equal values: a run spanning sorted positions
		// [s, e] has le = e+1 and ge = n-s for all its members. Both are
		// >= 1, so the logs below are finite.
		for s := 0; s < n; {
			e := s
			for e+1 < n && col[order[e+1]] == col[order[s]] {
				e++
			}
			for k := s; k <= e; k++ {
				le[order[k]] = e + 1
				ge[order[k]] = n - s
			}
			s = e + 1
		}
		useLeft := odSkewness(col) < 0
		for i := 0; i < n; i++ {
			l := -math.Log(float64(le[i]) / float64(n))
			r := -math.Log(float64(ge[i]) / float64(n))
			left[i] += l
			right[i] += r
			if useLeft {
				auto[i] += l
			} else {
				auto[i] += r
			}
		}
	}
	for i := range scores {
		scores[i] = math.Max(math.Max(left[i], right[i]), auto[i])
	}
	return scores
}

// odSkewness is the (biased) sample skewness; 0 for constant columns.
func odSkewness(x []float64) float64 {
	n := float64(len(x))
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= n
	var m2, m3 float64
	for _, v := range x {
		d := v - mean
		m2 += d * d
		m3 += d * d * d
	}
	m2 /= n
	m3 /= n
	if m2 <= 0 {
		return 0
	}
	return m3 / math.Pow(m2, 1.5)
}
