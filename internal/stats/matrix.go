package stats

import (
	"fmt"
	"math"
)

// Matrix is a dense row-major matrix of float64: element (i, j) lives at
// Data[i*Cols+j]. The audit kernels take it by pointer and never retain it.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// Validate reports whether the shape and the backing slice agree, so that
// kernels fed by external readers can refuse a malformed matrix instead of
// panicking on an index.
func (m *Matrix) Validate() error {
	if m == nil {
		return fmt.Errorf("stats: nil matrix")
	}
	if m.Rows < 0 || m.Cols < 0 {
		return fmt.Errorf("stats: negative matrix shape %dx%d", m.Rows, m.Cols)
	}
	if len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("stats: matrix %dx%d has %d elements", m.Rows, m.Cols, len(m.Data))
	}
	return nil
}

// Row returns row i as a slice aliasing m.Data; writes through it modify m.
func (m *Matrix) Row(i int) []float64 {
	return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols]
}

// Clone returns a deep copy.
func (m *Matrix) Clone() *Matrix {
	return &Matrix{Rows: m.Rows, Cols: m.Cols, Data: append([]float64(nil), m.Data...)}
}

// Standardize z-scores every column of m in place: x -> (x - mean) / sd, with
// the population standard deviation. Constant columns (sd == 0, or not finite)
// get scale 1 so that they become all-zero rather than NaN. The returned
// center and scale let callers apply the same transform to new rows.
//
// The z-score (not a median/IQR scaling) is used because its consumers are
// either invariant to per-column affine maps (isolation forest, ECOD, MCD) or
// are L2-regularised linear models whose penalty assumes unit-variance inputs.
func Standardize(m *Matrix) (center, scale []float64) {
	center = make([]float64, m.Cols)
	scale = make([]float64, m.Cols)
	if m.Rows == 0 {
		for j := range scale {
			scale[j] = 1
		}
		return center, scale
	}
	n := float64(m.Rows)
	for i := 0; i < m.Rows; i++ {
		for j, v := range m.Row(i) {
			center[j] += v
		}
	}
	for j := range center {
		center[j] /= n
	}
	for i := 0; i < m.Rows; i++ {
		for j, v := range m.Row(i) {
			d := v - center[j]
			scale[j] += d * d
		}
	}
	for j := range scale {
		s := math.Sqrt(scale[j] / n)
		// A relative floor treats columns that differ only by rounding
		// noise as constant, which keeps them from being blown up.
		if !(s > 1e-12*math.Max(1, math.Abs(center[j]))) || math.IsInf(s, 0) {
			s = 1
		}
		scale[j] = s
	}
	for i := 0; i < m.Rows; i++ {
		r := m.Row(i)
		for j := range r {
			r[j] = (r[j] - center[j]) / scale[j]
		}
	}
	return center, scale
}
