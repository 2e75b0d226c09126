package stats

import (
	"math"
)

// This file holds the null distributions behind KS2: the exact two-sided
// one-sample Kolmogorov distribution of D_n (the "kstwo" distribution), which
// KS2 evaluates at the effective sample size n*m/(n+m) once the samples are
// too large for the exact two-sample computation, and the one-sided exact
// Smirnov tail it falls back on in the far tail.
//
// The branch structure (which algorithm for which (n, x) region) follows
// Simard & L'Ecuyer, "Computing the Two-Sided Kolmogorov-Smirnov
// Distribution", J. Stat. Softw. 39(11), 2011, with the same thresholds SciPy
// uses, so that the p-values agree with scipy.stats.ks_2samp; in the regions
// where two exact algorithms are available we use the Durbin matrix for both,
// which is exact too.

// kolmogorovSF returns Pr(D_n > x) for the two-sided one-sample
// Kolmogorov-Smirnov statistic with sample size n.
func kolmogorovSF(n int, x float64) float64 {
	if n <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	nf := float64(n)
	t := nf * x
	if t <= 1 {
		// Ruben-Gambino: for 1/(2n) <= x <= 1/n the CDF is n!/n^n (2t-1)^n.
		if t <= 0.5 {
			return 1
		}
		lg, _ := math.Lgamma(nf + 1)
		cdf := math.Exp(lg - nf*math.Log(nf) + nf*math.Log(2*t-1))
		return clipProb(1 - cdf)
	}
	if t >= nf-1 {
		return clipProb(2 * math.Pow(1-x, nf))
	}
	if x >= 0.5 {
		// Only one of the one-sided events can happen, so the two-sided tail
		// is exactly twice the one-sided one.
		return clipProb(2 * smirnovSF(n, x))
	}
	nx2 := t * x
	if n <= 140 {
		if nx2 <= 4 {
			return clipProb(1 - durbinCDF(n, x))
		}
		return clipProb(2 * smirnovSF(n, x))
	}
	if nx2 >= 370 {
		return 0
	}
	if nx2 >= 2.2 {
		return clipProb(2 * smirnovSF(n, x))
	}
	if n <= 100000 && nf*math.Pow(x, 1.5) <= 1.4 {
		return clipProb(1 - durbinCDF(n, x))
	}
	return clipProb(1 - pelzGoodCDF(n, x))
}

func clipProb(p float64) float64 {
	switch {
	case p < 0:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// smirnovSF returns Pr(D_n^+ >= x), the exact one-sided tail, by the
// Birnbaum-Tingey sum
//
//	x * sum_{v=0}^{floor(n(1-x))} C(n,v) (x+v/n)^(v-1) (1-x-v/n)^(n-v).
//
// All terms are positive, so summing them in log space (against a running
// maximum) is accurate for every n; the cost is O(n(1-x)) logarithms.
func smirnovSF(n int, x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	nf := float64(n)
	last := int(math.Floor(nf * (1 - x)))
	if last > n {
		last = n
	}
	logC := 0.0 // log C(n, v), advanced incrementally
	maxLog := math.Inf(-1)
	sum := 0.0 // sum of exp(term - maxLog)
	for v := 0; v <= last; v++ {
		if v > 0 {
			logC += math.Log(float64(n-v+1) / float64(v))
		}
		a := x + float64(v)/nf
		b := 1 - a
		if b <= 0 {
			continue
		}
		lt := logC + float64(v-1)*math.Log(a) + float64(n-v)*math.Log(b)
		if lt > maxLog {
			sum = sum*math.Exp(maxLog-lt) + 1
			maxLog = lt
		} else {
			sum += math.Exp(lt - maxLog)
		}
	}
	if sum == 0 {
		return 0
	}
	return x * sum * math.Exp(maxLog)
}

// durbinCDF returns Pr(D_n < x) by the Durbin matrix formula as arranged by
// Marsaglia, Tsang & Wang (J. Stat. Softw. 8(18), 2003): with k = ceil(n x),
// h = k - n x and an order 2k-1 matrix H, the CDF is n!/n^n (H^n)[k-1][k-1].
// Callers keep k small (it is at most a few hundred in the regions used), so
// the O(k^3 log n) cost and O(k^2) memory are bounded.
func durbinCDF(n int, x float64) float64 {
	if x >= 1 {
		return 1
	}
	nx := float64(n) * x
	if nx <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nx))
	h := float64(k) - nx
	m := 2*k - 1
	fact := make([]float64, m+1) // fact[i] = 1/i!
	fact[0] = 1
	for i := 1; i <= m; i++ {
		fact[i] = fact[i-1] / float64(i)
	}
	H := newDurbinMatrix(m)
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			if d := i - j + 1; d >= 0 {
				H.set(i, j, fact[d])
			}
		}
	}
	for i := 0; i < m; i++ {
		H.set(i, 0, (1-math.Pow(h, float64(i+1)))*fact[i+1])
		H.set(m-1, i, (1-math.Pow(h, float64(m-i)))*fact[m-i])
	}
	corner := 1 - 2*math.Pow(h, float64(m))
	if 2*h > 1 {
		corner += math.Pow(2*h-1, float64(m))
	}
	H.set(m-1, 0, corner*fact[m])

	// Exponentiation by squaring, keeping a power-of-two exponent beside each
	// matrix because the entries overflow long before n is reached.
	P := durbinIdentity(m)
	pExp := 0
	hExp := 0
	for e := n; e > 0; e >>= 1 {
		if e&1 == 1 {
			P = P.mul(H)
			pExp += hExp
			if s := P.rescale(); s != 0 {
				pExp += s
			}
		}
		if e > 1 {
			H = H.mul(H)
			hExp *= 2
			hExp += H.rescale()
		}
	}
	v := P.at(k-1, k-1)
	if v <= 0 {
		return 0
	}
	nf := float64(n)
	lg, _ := math.Lgamma(nf + 1)
	return math.Exp(math.Log(v) + float64(pExp)*math.Ln2 + lg - nf*math.Log(nf))
}

// durbinMatrix is a dense row-major durbinMatrix matrix, just enough for durbinCDF.
type durbinMatrix struct {
	n int
	a []float64
}

func newDurbinMatrix(n int) durbinMatrix       { return durbinMatrix{n: n, a: make([]float64, n*n)} }
func (s durbinMatrix) at(i, j int) float64     { return s.a[i*s.n+j] }
func (s durbinMatrix) set(i, j int, v float64) { s.a[i*s.n+j] = v }

func durbinIdentity(n int) durbinMatrix {
	s := newDurbinMatrix(n)
	for i := 0; i < n; i++ {
		s.set(i, i, 1)
	}
	return s
}

func (s durbinMatrix) mul(o durbinMatrix) durbinMatrix {
	n := s.n
	r := newDurbinMatrix(n)
	for i := 0; i < n; i++ {
		row := r.a[i*n : (i+1)*n]
		for l := 0; l < n; l++ {
			v := s.a[i*n+l]
			if v == 0 {
				continue
			}
			orow := o.a[l*n : (l+1)*n]
			for j := range row {
				row[j] += v * orow[j]
			}
		}
	}
	return r
}

// rescale divides the matrix by 2^e when its largest entry exceeds 2^128 and
// returns e (0 when nothing was done).
func (s durbinMatrix) rescale() int {
	mx := 0.0
	for _, v := range s.a {
		if a := math.Abs(v); a > mx {
			mx = a
		}
	}
	if mx <= 0x1p128 || math.IsInf(mx, 0) {
		return 0
	}
	_, e := math.Frexp(mx)
	for i := range s.a {
		s.a[i] = math.Ldexp(s.a[i], -e)
	}
	return e
}

// pelzGoodCDF is the Pelz-Good (1976) asymptotic expansion of Pr(D_n <= x)
// in powers of n^(-1/2) up to n^(-3/2), written with Jacobi-theta style series
// that converge fast for small z = x sqrt(n) (Simard & L'Ecuyer 2011, sec. 2).
func pelzGoodCDF(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	nf := float64(n)
	z := math.Sqrt(nf) * x
	z2 := z * z
	z4 := z2 * z2
	z6 := z4 * z2
	z8 := z4 * z4
	pi2 := math.Pi * math.Pi
	pi4 := pi2 * pi2
	pi6 := pi4 * pi2
	logq := -pi2 / (8 * z2)
	if logq < -708 {
		return 0
	}
	q := math.Exp(logq)
	kmax := int(math.Ceil(16 * z / math.Pi))

	// Horner evaluation of sum_k c(k) q^((2k-1)^2): consecutive exponents
	// differ by 8k.
	var s [4]float64
	for k := kmax; k >= 1; k-- {
		mm := float64(2*k - 1)
		m2 := mm * mm
		m4 := m2 * m2
		m6 := m4 * m2
		c1 := pi2*m2/4 - z2
		c2 := 6*z6 + 2*z4 + (2*z4-5*z2)*pi2*m2/4 + pi4*(1-2*z2)*m4/16
		c3 := -30*z6 - 90*z8 + pi2*(135*z4-96*z6)*m2/4 +
			pi4*(212*z4-60*z2)*m4/16 + pi6*(5-30*z2)*m6/64
		f := math.Pow(q, float64(8*k))
		s[0] = s[0]*f + 1
		s[1] = s[1]*f + c1
		s[2] = s[2]*f + c2
		s[3] = s[3]*f + c3
	}
	r2pi := math.Sqrt(2 * math.Pi)
	den := [4]float64{z, 6 * z4, 72 * z6 * z, 6480 * z8 * z2}
	for i := range s {
		s[i] *= q * r2pi / den[i]
	}
	// K2 and K3 carry a second theta series in exp(-pi^2 k^2 / (2 z^2)).
	q2 := math.Exp(-pi2 / (2 * z2))
	var e2, e3 float64
	for k := kmax; k >= 1; k-- {
		kf := float64(k)
		k2 := kf * kf
		w := k2 * math.Pow(q2, k2)
		e2 += w
		e3 += (3*z2 - pi2*k2) * w
	}
	s[2] += e2 * pi2 * r2pi / (-36 * z2 * z)
	s[3] += e3 * pi2 * r2pi / (216 * z6)
	return s[0] + s[1]/math.Sqrt(nf) + s[2]/nf + s[3]/(nf*math.Sqrt(nf))
}
