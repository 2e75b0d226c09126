package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// TestResult is the outcome of a hypothesis test.
type TestResult struct {
	Statistic float64
	PValue    float64
	// Method names how PValue was obtained: "exact", "asymp" or "sketch".
	Method string
}

// ksMaxExactN is the largest sample size for which KS2 computes the exact
// null distribution; it is SciPy's threshold for ks_2samp(method="auto"), kept
// identical so that results agree with it.
const ksMaxExactN = 10000

// errEmptySample reports a sample without observations.
var errEmptySample = errors.New("empty sample")

// errNaNInput reports a NaN where a number is required.
var errNaNInput = errors.New("input contains NaN")

// KS2 is the two-sided two-sample Kolmogorov-Smirnov test, matching
// scipy.stats.ks_2samp(a, b) with method "auto": when both samples have at
// most 10000 observations the p-value is the exact permutation probability
// Pr(D >= d) (Method "exact"); otherwise, or if the exact computation fails
// numerically, it is the two-sided one-sample Kolmogorov distribution at the
// effective size round(n*m/(n+m)) (Method "asymp").
//
// The inputs are not modified. ±Inf are ordinary values; NaN or an empty
// sample is an error. Cost: O((n+m) log(n+m)) for the statistic; the exact
// p-value costs O(n) time when n == m and at most O(n*m) time with O(n+m)
// memory otherwise: at most about 1e8 simple steps at the 10000 threshold
// (D == 1 has a closed form). The statistic reported on the exact branch is
// the lattice value h/lcm(n, m), as SciPy reports it.
func KS2(a, b []float64) (TestResult, error) {
	if len(a) == 0 || len(b) == 0 {
		return TestResult{}, fmt.Errorf("ks2: %w", errEmptySample)
	}
	for _, s := range [2][]float64{a, b} {
		if slices.ContainsFunc(s, math.IsNaN) {
			return TestResult{}, fmt.Errorf("ks2: %w", errNaNInput)
		}
	}
	x := slices.Clone(a)
	y := slices.Clone(b)
	if len(x)+len(y) >= 1<<16 {
		// The sorts dominate the cost; do them side by side.
		var wg sync.WaitGroup
		wg.Go(func() { slices.Sort(y) })
		slices.Sort(x)
		wg.Wait()
	} else {
		slices.Sort(x)
		slices.Sort(y)
	}
	n, m := len(x), len(y)

	// Walk the merged order; after consuming every copy of a value v, i and
	// j count the observations <= v, so i/n - j/m is the ECDF difference.
	var best int64 // max |i*m - j*n|, exact in integers
	bi, bj := 0, 0
	i, j := 0, 0
	for i < n || j < m {
		var v float64
		switch {
		case i == n:
			v = y[j]
		case j == m:
			v = x[i]
		default:
			v = min(x[i], y[j])
		}
		for i < n && x[i] == v {
			i++
		}
		for j < m && y[j] == v {
			j++
		}
		diff := int64(i)*int64(m) - int64(j)*int64(n)
		if diff < 0 {
			diff = -diff
		}
		if diff > best {
			best, bi, bj = diff, i, j
		}
	}
	d := math.Abs(float64(bi)/float64(n) - float64(bj)/float64(m))

	if max(n, m) <= ksMaxExactN {
		g := ksGCD(n, m)
		h := int(best / int64(g)) // d * lcm(n, m), exactly
		if h == 0 {
			return TestResult{Statistic: 0, PValue: 1, Method: "exact"}, nil
		}
		lcm := (n / g) * m
		var p float64
		switch {
		case n == m:
			p = ksEqualSizeSF(n, h)
		case h == lcm:
			// D == 1: one sample lies entirely below the other, which 2 of
			// the C(n+m, n) equally likely orderings do. Closed form instead
			// of the full O(n*m) recursion.
			p = 2 * math.Exp(-lnChoose(n+m, n))
		default:
			p = ksUnequalSizeSF(n, m, g, h)
		}
		if p >= 0 && p <= 1 {
			return TestResult{Statistic: float64(h) / float64(lcm), PValue: p, Method: "exact"}, nil
		}
		// Not reachable with the recursions above (their values are convex
		// combinations of 0 and 1), but SciPy falls back here too, and a
		// silent out-of-range p-value would be worse than the approximation.
	}
	return TestResult{Statistic: d, PValue: ksAsympSF(float64(n), float64(m), d), Method: "asymp"}, nil
}

// ksAsympSF is the large-sample p-value: the exact one-sample two-sided
// Kolmogorov tail at the effective size n*m/(n+m), rounded half to even as
// numpy.round does.
func ksAsympSF(n, m, d float64) float64 {
	en := n * m / (n + m)
	ne := math.RoundToEven(en)
	if ne < 1 {
		ne = 1
	}
	if ne > math.MaxInt32 {
		ne = math.MaxInt32
	}
	return clipProb(kolmogorovSF(int(ne), d))
}

// lnChoose is ln C(n, k).
func lnChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - (b + c) // grouped so that C(n,k) and C(n,n-k) round alike
}

func ksGCD(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksEqualSizeSF returns Pr(D_{n,n} >= h/n) for two samples of size n. By the
// reflection principle the probability that a random lattice path leaves the
// band |x - y| < h is the alternating sum
//
//	2 * sum_{k>=1} (-1)^(k+1) C(2n, n-kh) / C(2n, n).
//
// Writing each binomial as a ratio to the previous one turns the sum into a
// nested product 2 A1 (1 - A2 (1 - A3 (...))) with A_k in [0, 1], which has
// no cancellation; it costs O(n) multiplications.
func ksEqualSizeSF(n, h int) float64 {
	acc := 0.0
	for k := n / h; k >= 1; k-- {
		// A_k = C(2n, n-kh) / C(2n, n-(k-1)h) as a product of h factors.
		r := n - (k-1)*h
		ak := 1.0
		for t := 0; t < h; t++ {
			num := float64(r - t)
			if num <= 0 {
				ak = 0
				break
			}
			ak *= num / float64(2*n-r+t+1)
		}
		acc = ak * (1 - acc)
	}
	return 2 * acc
}

// ksUnequalSizeSF returns Pr(D_{n,m} >= h/lcm(n,m)) for samples of sizes n
// and m with gcd g. Under the null every ordering of the pooled sample is
// equally likely, i.e. a uniform monotone lattice path from (0,0) to (M,N)
// (M = max size, N = min size). A point (i,j) is outside when
// |i*N/g - j*M/g| >= h. Q(i,j), the chance that a uniform path to (i,j)
// has visited an outside point, satisfies
//
//	Q(i,j) = 1                                  if (i,j) is outside,
//	Q(i,j) = (i Q(i-1,j) + j Q(i,j-1)) / (i+j)  otherwise,
//
// because the last step of a uniform path to (i,j) is horizontal with
// probability i/(i+j). Working with probabilities instead of path counts
// keeps every value in [0,1] (no overflow; Viehmann, arXiv:2102.08037 makes
// the same point). Only the inside band of each column is stored: O(N)
// memory and O(M * band width) <= O(n*m) time.
func ksUnequalSizeSF(n, m, g, h int) float64 {
	M, N := max(n, m), min(n, m)
	mg := int64(M / g) // coefficient of j
	ng := int64(N / g) // coefficient of i
	h64 := int64(h)
	// Inside for column i: ng*i - h < mg*j < ng*i + h, 0 <= j <= N.
	lower := func(i int) int { // smallest j with mg*j > ng*i - h
		t := ng*int64(i) - h64
		var j int64
		if t < 0 {
			j = 0
		} else {
			j = t/mg + 1
		}
		return int(j)
	}
	upper := func(i int) int { // largest j with mg*j < ng*i + h
		t := ng*int64(i) + h64
		j := (t - 1) / mg
		if j > int64(N) {
			j = int64(N)
		}
		return int(j)
	}
	prev := make([]float64, N+1)
	cur := make([]float64, N+1)
	plo, phi := lower(0), upper(0)
	// Column 0: the only path to (0,j) goes straight up from the (inside)
	// origin, so it has left the band iff some (0,j') with j' <= j is outside;
	// inside points of column 0 form a prefix starting at 0.
	for j := plo; j <= phi; j++ {
		prev[j] = 0
	}
	for i := 1; i <= M; i++ {
		lo, hi := lower(i), upper(i)
		if lo > hi {
			return 1
		}
		fi := float64(i)
		below := 1.0 // Q(i, lo-1): outside (or unused when lo == 0)
		for j := lo; j <= hi; j++ {
			left := 1.0
			if j >= plo && j <= phi {
				left = prev[j]
			}
			// Only the final multiply-add depends on the previous cell, so
			// the division pipelines instead of serialising the loop.
			inv := 1 / (fi + float64(j))
			q := fi*inv*left + float64(j)*inv*below
			cur[j] = q
			below = q
		}
		prev, cur = cur, prev
		plo, phi = lo, hi
	}
	if N < plo || N > phi {
		return 1
	}
	return prev[N]
}

// KS2Weighted is the two-sample Kolmogorov-Smirnov test on weightedPoint
// summaries, such as the (value, weight) items of two quantile sketches.
// Values need not be sorted or distinct; weights must be non-negative with a
// positive finite total. The statistic is max |F_a - F_b| over the union of
// values, where F are the weightedPoint ECDFs; the p-value uses KS2's asymptotic
// branch with n = sum(aw) and m = sum(bw) as the sample sizes (the weights of
// a sketch are counts of the items each retained value stands for). Method is
// "sketch".
func KS2Weighted(av, aw, bv, bw []float64) (TestResult, error) {
	a, na, err := sortWeightedSample(av, aw)
	if err != nil {
		return TestResult{}, fmt.Errorf("ks2 weightedPoint: first sample: %w", err)
	}
	b, nb, err := sortWeightedSample(bv, bw)
	if err != nil {
		return TestResult{}, fmt.Errorf("ks2 weightedPoint: second sample: %w", err)
	}
	d := 0.0
	walkECDFs(a, na, b, nb, func(_, fa, fb, _ float64, _ bool) {
		d = max(d, math.Abs(fa-fb))
	})
	return TestResult{Statistic: d, PValue: ksAsympSF(na, nb, d), Method: "sketch"}, nil
}

type weightedPoint struct{ v, w float64 }

// walkECDFs visits the distinct values of two samples sorted by value, in
// increasing order, with both weighted ECDFs just after each value (ta and
// tb are the total weights) and the next distinct value of either sample;
// last is true at the final value, where next is meaningless. Between
// consecutive distinct values both ECDFs are constant, which is all the
// two-sample statistics here need.
func walkECDFs(a []weightedPoint, ta float64, b []weightedPoint, tb float64, f func(v, fa, fb, next float64, last bool)) {
	var ca, cb float64
	i, j := 0, 0
	at := func() float64 {
		switch {
		case i == len(a):
			return b[j].v
		case j == len(b):
			return a[i].v
		}
		return min(a[i].v, b[j].v)
	}
	for i < len(a) || j < len(b) {
		v := at()
		for i < len(a) && a[i].v == v {
			ca += a[i].w
			i++
		}
		for j < len(b) && b[j].v == v {
			cb += b[j].w
			j++
		}
		if i == len(a) && j == len(b) {
			f(v, ca/ta, cb/tb, 0, true)
			return
		}
		f(v, ca/ta, cb/tb, at(), false)
	}
}

// errBadWeights reports weights that are negative, non-finite, of the wrong
// length, or that sum to zero.
var errBadWeights = errors.New("invalid weights")

// sortWeightedSample validates a weightedPoint sample and returns it sorted by value
// with its total weight. A nil weight slice means unit weights.
func sortWeightedSample(v, w []float64) ([]weightedPoint, float64, error) {
	if len(v) == 0 {
		return nil, 0, errEmptySample
	}
	if w != nil && len(w) != len(v) {
		return nil, 0, fmt.Errorf("%w: %d weights for %d values", errBadWeights, len(w), len(v))
	}
	out := make([]weightedPoint, len(v))
	total := 0.0
	for k, x := range v {
		if math.IsNaN(x) {
			return nil, 0, errNaNInput
		}
		wt := 1.0
		if w != nil {
			wt = w[k]
		}
		if !(wt >= 0) || math.IsInf(wt, 0) {
			return nil, 0, fmt.Errorf("%w: weight %v", errBadWeights, wt)
		}
		out[k] = weightedPoint{x, wt}
		total += wt
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, 0, fmt.Errorf("%w: total %v", errBadWeights, total)
	}
	slices.SortFunc(out, func(p, q weightedPoint) int {
		switch {
		case p.v < q.v:
			return -1
		case p.v > q.v:
			return 1
		}
		return 0
	})
	return out, total, nil
}

// KS2AsymptoticSF is the large-sample two-sided p-value of a two-sample
// statistic d for sample sizes n and m, as KS2's asymptotic branch
// computes it. Callers that adjust d (a sketch-based test that discounts
// the sketches' rank error) use it to get the matching p-value.
func KS2AsymptoticSF(n, m, d float64) float64 { return ksAsympSF(n, m, d) }
