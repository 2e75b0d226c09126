package stats

import (
	"math"
	"slices"
	"sort"
)

// PSIFloor is the smallest bin proportion PSI uses. An empty bin would make
// ln(a/e) infinite; flooring proportions at 1e-4 (0.01%) is the common
// industry convention and bounds one empty bin's contribution to about
// p*ln(p/1e-4).
const PSIFloor = 1e-4

// PSI is the population stability index between two histograms over the same
// bins, given as counts (or weights): each is normalised to proportions,
// every proportion below PSIFloor is raised to PSIFloor, and
//
//	PSI = sum_i (a_i - e_i) ln(a_i / e_i).
//
// It returns NaN when the lengths differ, the histograms are empty, a count
// is negative or non-finite, or a histogram sums to zero.
func PSI(expected, actual []float64) float64 {
	e, ok := proportions(expected)
	if !ok {
		return math.NaN()
	}
	a, ok := proportions(actual)
	if !ok || len(a) != len(e) {
		return math.NaN()
	}
	s := 0.0
	for i := range e {
		ei := math.Max(e[i], PSIFloor)
		ai := math.Max(a[i], PSIFloor)
		s += (ai - ei) * math.Log(ai/ei)
	}
	return s
}

// proportions normalises non-negative finite counts to sum to one.
func proportions(c []float64) ([]float64, bool) {
	if len(c) == 0 {
		return nil, false
	}
	t := 0.0
	for _, v := range c {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, false
		}
		t += v
	}
	if !(t > 0) || math.IsInf(t, 0) {
		return nil, false
	}
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = v / t
	}
	return out, true
}

// JensenShannon is the Jensen-Shannon distance (the square root of the
// divergence, natural logarithm) between two histograms over the same bins,
// matching scipy.spatial.distance.jensenshannon(p, q): both are normalised to
// sum to one first. It lies in [0, sqrt(ln 2)]. It returns NaN for the inputs
// PSI rejects.
func JensenShannon(p, q []float64) float64 {
	pp, ok := proportions(p)
	if !ok {
		return math.NaN()
	}
	qq, ok := proportions(q)
	if !ok || len(pp) != len(qq) {
		return math.NaN()
	}
	js := 0.0
	for i := range pp {
		m := (pp[i] + qq[i]) / 2
		js += relEntr(pp[i], m) + relEntr(qq[i], m)
	}
	// Rounding can leave a tiny negative sum for identical inputs.
	return math.Sqrt(math.Max(js, 0) / 2)
}

// relEntr is x ln(x/y) with the 0 ln 0 = 0 convention (y > 0 whenever x > 0
// here, since y is the mixture).
func relEntr(x, y float64) float64 {
	if x == 0 {
		return 0
	}
	return x * math.Log(x/y)
}

// Wasserstein1 is the first Wasserstein (earth mover's) distance between the
// empirical distributions of a and b, matching
// scipy.stats.wasserstein_distance(a, b): the integral of |F_a - F_b|. It
// returns NaN if a sample is empty or holds NaN or ±Inf.
func Wasserstein1(a, b []float64) float64 {
	return Wasserstein1Weighted(a, nil, b, nil)
}

// Wasserstein1Weighted is Wasserstein1 with non-negative weights, matching
// scipy.stats.wasserstein_distance(av, bv, aw, bw). A nil weight slice means
// unit weights. It returns NaN for invalid input (see Wasserstein1; also
// weights of the wrong length, negative or non-finite, or summing to zero).
func Wasserstein1Weighted(av, aw, bv, bw []float64) float64 {
	a, ta, err := sortWeightedSample(av, aw)
	if err != nil {
		return math.NaN()
	}
	b, tb, err := sortWeightedSample(bv, bw)
	if err != nil {
		return math.NaN()
	}
	if math.IsInf(a[0].v, 0) || math.IsInf(a[len(a)-1].v, 0) ||
		math.IsInf(b[0].v, 0) || math.IsInf(b[len(b)-1].v, 0) {
		return math.NaN()
	}
	sum := 0.0
	walkECDFs(a, ta, b, tb, func(v, fa, fb, next float64, last bool) {
		if !last {
			sum += math.Abs(fa-fb) * (next - v)
		}
	})
	return sum
}

// HistogramEdges returns quantile-based bin edges for a numeric column,
// computed from its base (reference) distribution, for use with Bin, PSI and
// JensenShannon.
//
// sortedBase must be sorted ascending (an unsorted input is sorted on a copy);
// weights, if not nil, are per-value non-negative weights (as from a quantile
// sketch). The interior edges are the weighted k/bins quantiles, k = 1 ..
// bins-1 (the smallest base value whose cumulative weight reaches k/bins of
// the total), with duplicates removed; the result is
//
//	[-Inf, q_1, ..., q_j, +Inf]
//
// strictly increasing, so every float64 falls in some bin and bin i is the
// half-open interval (edges[i], edges[i+1]] (the first bin also holds -Inf).
// Heavy ties yield fewer than bins bins; a constant base yields [-Inf, c,
// +Inf], which still separates larger values. NaN base values are ignored.
// It returns [-Inf, +Inf] when bins < 2 or there is no usable base value, and
// nil when the weights are invalid.
func HistogramEdges(sortedBase []float64, weights []float64, bins int) []float64 {
	if weights != nil && len(weights) != len(sortedBase) {
		return nil
	}
	vals := make([]weightedPoint, 0, len(sortedBase))
	total := 0.0
	for i, v := range sortedBase {
		if math.IsNaN(v) {
			continue
		}
		w := 1.0
		if weights != nil {
			w = weights[i]
			if !(w >= 0) || math.IsInf(w, 0) {
				return nil
			}
		}
		vals = append(vals, weightedPoint{v, w})
		total += w
	}
	edges := []float64{math.Inf(-1)}
	if bins < 2 || len(vals) == 0 || !(total > 0) {
		return append(edges, math.Inf(1))
	}
	if !slices.IsSortedFunc(vals, cmpWeightedPoint) {
		slices.SortStableFunc(vals, cmpWeightedPoint)
	}
	cum := 0.0
	i := 0
	for k := 1; k < bins; k++ {
		target := total * float64(k) / float64(bins)
		for i < len(vals)-1 && cum+vals[i].w < target {
			cum += vals[i].w
			i++
		}
		q := vals[i].v
		if !math.IsInf(q, 0) && q > edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return append(edges, math.Inf(1))
}

func cmpWeightedPoint(p, q weightedPoint) int {
	switch {
	case p.v < q.v:
		return -1
	case p.v > q.v:
		return 1
	}
	return 0
}

// Bin returns the (weighted) count of values in each bin defined by edges:
// bin i holds edges[i] < v <= edges[i+1], values at or below edges[0] go to
// the first bin and values above the last edge to the last bin. edges must
// be strictly increasing with at least two entries (as HistogramEdges
// returns); otherwise Bin returns nil. weights, if not nil, must match values
// in length (else nil). NaN values are skipped: missingness is tracked
// separately from the value distribution.
func Bin(edges []float64, values []float64, weights []float64) []float64 {
	if len(edges) < 2 || (weights != nil && len(weights) != len(values)) {
		return nil
	}
	for i := 1; i < len(edges); i++ {
		if !(edges[i] > edges[i-1]) {
			return nil
		}
	}
	counts := make([]float64, len(edges)-1)
	inner := edges[1 : len(edges)-1]
	for k, v := range values {
		if math.IsNaN(v) {
			continue
		}
		w := 1.0
		if weights != nil {
			w = weights[k]
		}
		counts[sort.SearchFloat64s(inner, v)] += w
	}
	return counts
}
