package stats

import (
	"math"
	"slices"
)

// BenjaminiHochberg returns Benjamini-Hochberg adjusted p-values (q-values)
// in the order of p, matching scipy.stats.false_discovery_control(p,
// method="bh"): with the m p-values sorted ascending,
//
//	adj_(i) = min_{j >= i} min(1, m p_(j) / j).
//
// NaN entries stay NaN and are not counted in m, so a missing test neither
// weakens nor strengthens the others.
func BenjaminiHochberg(p []float64) []float64 {
	out := make([]float64, len(p))
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if math.IsNaN(v) {
			out[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	m := float64(len(idx))
	running := 1.0
	for r := len(idx) - 1; r >= 0; r-- {
		v := math.Min(1, m*p[idx[r]]/float64(r+1))
		running = math.Min(running, v)
		out[idx[r]] = running
	}
	return out
}

// Bonferroni returns Bonferroni adjusted p-values min(1, m p_i), in the order
// of p. NaN entries stay NaN and are not counted in m.
func Bonferroni(p []float64) []float64 {
	m := 0.0
	for _, v := range p {
		if !math.IsNaN(v) {
			m++
		}
	}
	out := make([]float64, len(p))
	for i, v := range p {
		out[i] = math.Min(1, m*v)
		if math.IsNaN(v) {
			out[i] = math.NaN()
		}
	}
	return out
}
