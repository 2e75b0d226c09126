package stats

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrBadSketch is wrapped by every error a sketch's UnmarshalJSON or Merge
// returns for malformed or incompatible input.
var ErrBadSketch = errors.New("stats: invalid sketch")

// Moments holds the count, mean, central moment sums and range of a stream of
// finite values, updated in one pass with the numerically stable formulas of
// Welford and Pébay ("Formulas for robust, one-pass parallel computation of
// covariances and arbitrary-order statistical moments", 2008). M2, M3 and M4
// are sums of powered deviations from the mean, not normalised moments.
//
// The zero value is an empty Moments ready for use: while N==0, Add, AddSlice
// and Merge ignore Min and Max. NewMoments and Reset set them to +Inf and
// -Inf so that an empty Moments also reads as having an empty range. Min and
// Max are not written to JSON while N==0, since JSON has no infinities.
type Moments struct {
	N    float64 `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	M3   float64 `json:"m3"`
	M4   float64 `json:"m4"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// NewMoments returns an empty Moments.
func NewMoments() *Moments {
	m := &Moments{}
	m.Reset()
	return m
}

// Reset empties m.
func (m *Moments) Reset() {
	*m = Moments{Min: math.Inf(1), Max: math.Inf(-1)}
}

// Add adds one value. The caller guarantees x is finite; AddSlice filters.
func (m *Moments) Add(x float64) {
	if m.N == 0 {
		*m = Moments{N: 1, Mean: x, Min: x, Max: x}
		return
	}
	n1 := m.N
	n := n1 + 1
	delta := x - m.Mean
	dn := delta / n
	dn2 := dn * dn
	term1 := delta * dn * n1
	m.Mean += dn
	m.M4 += term1*dn2*(n*n-3*n+3) + 6*dn2*m.M2 - 4*dn*m.M3
	m.M3 += term1*dn*(n-2) - 3*dn*m.M2
	m.M2 += term1
	m.N = n
	if x < m.Min {
		m.Min = x
	}
	if x > m.Max {
		m.Max = x
	}
}

// momentsBlock is the number of values AddSlice summarises exactly (two
// passes over data that is still in L1) before merging into the running
// state. 1024 float64 = 8 KiB.
const momentsBlock = 1024

// AddSlice adds every finite value of xs and returns how many non-finite
// values it skipped. It summarises xs block by block with a two-pass
// (mean, then powered deviations) computation, which is both faster and more
// accurate than per-value updates, and merges each block with Merge.
func (m *Moments) AddSlice(xs []float64) (skipped int) {
	var scratch [momentsBlock]float64
	for len(xs) > 0 {
		blk := xs
		if len(blk) > momentsBlock {
			blk = blk[:momentsBlock]
		}
		xs = xs[len(blk):]
		var b Moments
		if !b.summarise(blk) {
			k := 0
			for _, x := range blk {
				if x-x == 0 {
					scratch[k] = x
					k++
				}
			}
			skipped += len(blk) - k
			if k == 0 {
				continue
			}
			if !b.summarise(scratch[:k]) {
				// Finite values whose sum overflows: the per-value
				// update keeps working with deviations.
				for _, x := range scratch[:k] {
					m.Add(x)
				}
				continue
			}
		}
		m.Merge(&b)
	}
	return skipped
}

// summarise sets m to the exact moments of xs (len(xs) > 0) using two
// passes and reports true, or reports false, leaving m unspecified, if xs
// holds a NaN or ±Inf.
func (m *Moments) summarise(xs []float64) bool {
	n := len(xs)
	var s0, s1, s2, s3 float64
	lo, hi := xs[0], xs[0]
	i := 0
	for ; i+4 <= n; i += 4 {
		q := xs[i : i+4 : i+4]
		a, b, c, d := q[0], q[1], q[2], q[3]
		s0 += a
		s1 += b
		s2 += c
		s3 += d
		// Plain comparisons: the min/max builtins order NaN and ±0 and
		// are several times slower.
		if a < lo {
			lo = a
		}
		if a > hi {
			hi = a
		}
		if b < lo {
			lo = b
		}
		if b > hi {
			hi = b
		}
		if c < lo {
			lo = c
		}
		if c > hi {
			hi = c
		}
		if d < lo {
			lo = d
		}
		if d > hi {
			hi = d
		}
	}
	for ; i < n; i++ {
		x := xs[i]
		s0 += x
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	// The sum is finite exactly when every value is finite, barring
	// overflow of huge values; either way the caller takes the slow path.
	sum := (s0 + s1) + (s2 + s3)
	if sum-sum != 0 {
		return false
	}
	fn := float64(n)
	mean := sum / fn

	// Four independent accumulator sets keep the FP adders busy.
	var d1a, d1b, d1c, d1d, p2a, p2b, p2c, p2d float64
	var p3a, p3b, p3c, p3d, p4a, p4b, p4c, p4d float64
	i = 0
	for ; i+4 <= n; i += 4 {
		q := xs[i : i+4 : i+4]
		a, b, c, d := q[0]-mean, q[1]-mean, q[2]-mean, q[3]-mean
		a2, b2, c2, d2 := a*a, b*b, c*c, d*d
		d1a += a
		d1b += b
		d1c += c
		d1d += d
		p2a += a2
		p2b += b2
		p2c += c2
		p2d += d2
		p3a += a2 * a
		p3b += b2 * b
		p3c += c2 * c
		p3d += d2 * d
		p4a += a2 * a2
		p4b += b2 * b2
		p4c += c2 * c2
		p4d += d2 * d2
	}
	for ; i < n; i++ {
		a := xs[i] - mean
		a2 := a * a
		d1a += a
		p2a += a2
		p3a += a2 * a
		p4a += a2 * a2
	}
	d1a, d1b = d1a+d1c, d1b+d1d
	p2a, p2b = p2a+p2c, p2b+p2d
	p3a, p3b = p3a+p3c, p3b+p3d
	p4a, p4b = p4a+p4c, p4b+p4d
	// The rounded mean leaves a small residual sum of deviations c*n; shift
	// the mean by c and correct the sums so they are central about it.
	s := d1a + d1b
	c := s / fn
	p2 := p2a + p2b
	p3 := p3a + p3b
	p4 := p4a + p4b
	// Binomial expansion of sum (d-c)^k with sum d = n c.
	c2 := c * c
	m2 := p2 - fn*c2
	m3 := p3 - 3*c*p2 + 2*fn*c2*c
	m4 := p4 - 4*c*p3 + 6*c2*p2 - 3*fn*c2*c2
	*m = Moments{N: fn, Mean: mean + c, M2: max(m2, 0), M3: m3, M4: max(m4, 0), Min: lo, Max: hi}
	return true
}

// Merge adds the values summarised by o to m (Pébay 2008, eq. 3.1 and
// Chan et al. for M2).
func (m *Moments) Merge(o *Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = *o
		return
	}
	na, nb := m.N, o.N
	n := na + nb
	delta := o.Mean - m.Mean
	dn := delta / n
	dn2 := dn * dn
	nanb := na * nb
	mean := m.Mean + nb*dn
	if nb > na {
		// Anchor on the larger side so that the rounding of nb*dn is small.
		mean = o.Mean - na*dn
	}
	m2 := m.M2 + o.M2 + delta*dn*nanb
	m3 := m.M3 + o.M3 + delta*dn2*nanb*(na-nb) + 3*dn*(na*o.M2-nb*m.M2)
	m4 := m.M4 + o.M4 + delta*dn2*dn*nanb*(na*na-nanb+nb*nb) +
		6*dn2*(na*na*o.M2+nb*nb*m.M2) + 4*dn*(na*o.M3-nb*m.M3)
	m.N, m.Mean, m.M2, m.M3, m.M4 = n, mean, m2, m3, m4
	m.Min = min(m.Min, o.Min)
	m.Max = max(m.Max, o.Max)
}

// Variance is the sample variance (ddof=1); NaN when N < 2.
func (m *Moments) Variance() float64 {
	if m.N < 2 {
		return math.NaN()
	}
	return m.M2 / (m.N - 1)
}

// Std is the sample standard deviation (ddof=1); NaN when N < 2.
func (m *Moments) Std() float64 { return math.Sqrt(m.Variance()) }

// Skewness is the biased sample skewness g1 = m3/m2^1.5 with population
// central moments, as scipy.stats.skew(bias=True). Like scipy it is NaN for
// empty or constant data, which has no defined skewness.
func (m *Moments) Skewness() float64 {
	if m.N == 0 || m.M2 == 0 {
		return math.NaN()
	}
	m2 := m.M2 / m.N
	m3 := m.M3 / m.N
	return m3 / (m2 * math.Sqrt(m2))
}

// Kurtosis is the biased excess kurtosis m4/m2^2 - 3, as
// scipy.stats.kurtosis(fisher=True, bias=True); NaN for empty or constant
// data.
func (m *Moments) Kurtosis() float64 {
	if m.N == 0 || m.M2 == 0 {
		return math.NaN()
	}
	m2 := m.M2 / m.N
	return (m.M4/m.N)/(m2*m2) - 3
}

type momentsJSON struct {
	N    float64  `json:"n"`
	Mean float64  `json:"mean"`
	M2   float64  `json:"m2"`
	M3   float64  `json:"m3"`
	M4   float64  `json:"m4"`
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
}

// MarshalJSON writes {"n","mean","m2","m3","m4","min","max"}; min and max are
// omitted when N==0 because ±Inf has no JSON form.
func (m Moments) MarshalJSON() ([]byte, error) {
	j := momentsJSON{N: m.N, Mean: m.Mean, M2: m.M2, M3: m.M3, M4: m.M4}
	if m.N > 0 {
		lo, hi := m.Min, m.Max
		j.Min, j.Max = &lo, &hi
	} else {
		j.Mean, j.M2, j.M3, j.M4 = 0, 0, 0, 0
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads and validates the form MarshalJSON writes.
func (m *Moments) UnmarshalJSON(b []byte) error {
	var j momentsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("moments: %w: %w", ErrBadSketch, err)
	}
	bad := func(msg string) error { return fmt.Errorf("moments: %w: %s", ErrBadSketch, msg) }
	if !(j.N >= 0) || math.IsInf(j.N, 0) {
		return bad("count must be finite and non-negative")
	}
	if j.N == 0 {
		if j.Mean != 0 || j.M2 != 0 || j.M3 != 0 || j.M4 != 0 || j.Min != nil || j.Max != nil {
			return bad("empty moments with non-zero fields")
		}
		m.Reset()
		return nil
	}
	if j.Min == nil || j.Max == nil {
		return bad("min and max are required when n > 0")
	}
	if !(j.M2 >= 0) || !(j.M4 >= 0) {
		return bad("m2 and m4 must be non-negative")
	}
	if *j.Min > *j.Max {
		return bad("min exceeds max")
	}
	// encoding/json cannot produce NaN or Inf from a JSON number, but huge
	// literals overflow to an error, so every field is finite here.
	if math.IsInf(j.M3, 0) {
		return bad("non-finite m3")
	}
	*m = Moments{N: j.N, Mean: j.Mean, M2: j.M2, M3: j.M3, M4: j.M4, Min: *j.Min, Max: *j.Max}
	return nil
}
