package stats

import (
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// MaxCovDim bounds the dimension NewCov (clamping) and UnmarshalJSON
// (rejecting) accept; a 4096×4096 co-moment matrix is already 128 MiB.
const MaxCovDim = 4096

// covBlockRows is the number of rows AddRows centres and multiplies at once:
// 256 rows of 64 values are 128 KiB, which stays in L2 while Syrk runs.
const covBlockRows = 256

// Cov holds the count, mean vector and co-moment matrix
// C = Σ (x−mean)(x−mean)ᵀ of d-dimensional rows, for Mahalanobis distances.
// Rows are summarised block by block exactly (block mean, centred block,
// Cᵦ = AᵀA via BLAS Syrk) and blocks are combined with the pairwise update of
// Chan, Golub and LeVeque (1979), which Merge uses too:
//
//	C = Cₐ + Cᵦ + (nₐnᵦ/n)·δδᵀ,  δ = meanᵦ − meanₐ.
//
// Only the upper triangle of C is maintained.
type Cov struct {
	d    int
	n    float64
	mean []float64
	com  []float64 // d×d row-major, upper triangle valid

	// Scratch for AddRows, not part of the state.
	blk, bcom, bmean []float64
}

// NewCov returns an empty accumulator for d-dimensional rows, d clamped to
// [1, MaxCovDim].
func NewCov(d int) *Cov {
	d = min(max(d, 1), MaxCovDim)
	return &Cov{d: d, mean: make([]float64, d), com: make([]float64, d*d)}
}

// Dim returns d.
func (c *Cov) Dim() int { return c.d }

// N returns the number of rows added.
func (c *Cov) N() float64 { return c.n }

// Mean returns a copy of the mean vector (zeros when empty).
func (c *Cov) Mean() []float64 { return append([]float64(nil), c.mean...) }

// AddRows adds n rows of d values each, stored row-major in rows. A row with
// any NaN or ±Inf is skipped and counted in the result. If rows holds fewer
// than n·d values only the complete rows present are used.
func (c *Cov) AddRows(rows []float64, n int) (skipped int) {
	d := c.d
	n = max(0, min(n, len(rows)/d))
	if n == 0 {
		return 0
	}
	if c.blk == nil {
		c.blk = make([]float64, covBlockRows*d)
		c.bcom = make([]float64, d*d)
		c.bmean = make([]float64, d)
	}
	const K = covBlockRows
	for r := 0; r < n; {
		end := min(r+K, n)
		// Pass 1: scatter the finite rows into the transposed block, so
		// that each column is contiguous for centring and for the dot
		// products of Syrk below.
		k := 0
		for ; r < end; r++ {
			row := rows[r*d : r*d+d]
			var probe float64
			for _, x := range row {
				probe += x - x // NaN iff some x is NaN or ±Inf
			}
			if probe != 0 {
				skipped++
				continue
			}
			for j, x := range row {
				c.blk[j*K+k] = x
			}
			k++
		}
		if k == 0 {
			continue
		}
		fk := float64(k)
		bm := c.bmean
		// Pass 2: column means, then centre each column in place.
		for j := range d {
			col := c.blk[j*K : j*K+k]
			var s0, s1 float64
			i := 0
			for ; i+2 <= k; i += 2 {
				s0 += col[i]
				s1 += col[i+1]
			}
			if i < k {
				s0 += col[i]
			}
			mu := (s0 + s1) / fk
			for i := range col {
				col[i] -= mu
			}
			bm[j] = mu
		}
		// Cᵦ = A Aᵀ with A the d×k centred, transposed block: gonum
		// computes each upper entry as one vectorised dot product.
		blas64.Syrk(blas.NoTrans, 1,
			blas64.General{Rows: d, Cols: k, Stride: K, Data: c.blk[:(d-1)*K+k]},
			0, blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: c.bcom})
		c.mergeParts(fk, bm, c.bcom)
	}
	return skipped
}

// mergeParts folds a summary (nb, mb, Cb upper) into c.
func (c *Cov) mergeParts(nb float64, mb, cb []float64) {
	d := c.d
	if c.n == 0 {
		c.n = nb
		copy(c.mean, mb)
		for i := range d {
			copy(c.com[i*d+i:i*d+d], cb[i*d+i:i*d+d])
		}
		return
	}
	na := c.n
	n := na + nb
	f := na * nb / n
	w := nb / n
	for i := range d {
		di := mb[i] - c.mean[i]
		fi := f * di
		ci := c.com[i*d : i*d+d]
		bi := cb[i*d : i*d+d]
		for j := i; j < d; j++ {
			ci[j] += bi[j] + fi*(mb[j]-c.mean[j])
		}
	}
	for i := range d {
		c.mean[i] += (mb[i] - c.mean[i]) * w
	}
	c.n = n
}

// Merge adds the rows summarised by o, which must have the same dimension.
func (c *Cov) Merge(o *Cov) error {
	if o.d != c.d {
		return fmt.Errorf("cov merge: %w: dimension %d differs from %d", ErrBadSketch, o.d, c.d)
	}
	if o.n == 0 {
		return nil
	}
	if o == c {
		cp := &Cov{d: c.d, n: c.n, mean: c.Mean(), com: append([]float64(nil), c.com...)}
		o = cp
	}
	c.mergeParts(o.n, o.mean, o.com)
	return nil
}

// Covariance returns the d×d sample covariance matrix (ddof=1), row-major
// and symmetric, as numpy.cov(X, rowvar=False). Entries are NaN when N < 2.
func (c *Cov) Covariance() []float64 {
	d := c.d
	out := make([]float64, d*d)
	if c.n < 2 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	den := c.n - 1
	for i := range d {
		for j := i; j < d; j++ {
			v := c.com[i*d+j] / den
			out[i*d+j] = v
			out[j*d+i] = v
		}
	}
	return out
}

// covJSON is the wire form; comoment is the upper triangle including the
// diagonal, row by row: C00, C01, …, C0(d−1), C11, …
type covJSON struct {
	D        int       `json:"d"`
	N        float64   `json:"n"`
	Mean     []float64 `json:"mean"`
	Comoment []float64 `json:"comoment"`
}

// MarshalJSON writes {"d","n","mean","comoment"}.
func (c *Cov) MarshalJSON() ([]byte, error) {
	d := c.d
	j := covJSON{D: d, N: c.n, Mean: c.mean, Comoment: make([]float64, 0, d*(d+1)/2)}
	for i := range d {
		j.Comoment = append(j.Comoment, c.com[i*d+i:i*d+d]...)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads and validates the form MarshalJSON writes. The sizes
// are checked against the arrays actually present before the d×d matrix is
// allocated, so a large claimed d costs nothing.
func (c *Cov) UnmarshalJSON(data []byte) error {
	var j covJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("cov: %w: %w", ErrBadSketch, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("cov: %w: %s", ErrBadSketch, fmt.Sprintf(format, a...))
	}
	d := j.D
	if d < 1 || d > MaxCovDim {
		return bad("dimension %d outside [1, %d]", d, MaxCovDim)
	}
	if len(j.Mean) != d || len(j.Comoment) != d*(d+1)/2 {
		return bad("dimension %d with %d means and %d co-moments", d, len(j.Mean), len(j.Comoment))
	}
	if !(j.N >= 0) || math.IsInf(j.N, 0) {
		return bad("count must be finite and non-negative")
	}
	nc := &Cov{d: d, n: j.N, mean: j.Mean, com: make([]float64, d*d)}
	p := 0
	for i := range d {
		for k := i; k < d; k++ {
			v := j.Comoment[p]
			p++
			if j.N == 0 && v != 0 {
				return bad("empty accumulator with non-zero co-moment")
			}
			if k == i && v < 0 {
				return bad("negative co-moment diagonal %d", i)
			}
			nc.com[i*d+k] = v
		}
		if j.N == 0 && j.Mean[i] != 0 {
			return bad("empty accumulator with non-zero mean")
		}
	}
	*c = *nc
	return nil
}
