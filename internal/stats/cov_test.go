package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// covData, covWantMean and covWant are numpy golden values defined in
// moments_test.go (41 rows × 4 columns).

func checkCovGolden(t *testing.T, c *Cov, tol float64) {
	t.Helper()
	if c.N() != 41 {
		t.Fatalf("N = %v", c.N())
	}
	for i, m := range c.Mean() {
		if !sketchRelClose(m, covWantMean[i], tol) {
			t.Errorf("mean[%d] = %.17g, want %.17g", i, m, covWantMean[i])
		}
	}
	got := c.Covariance()
	for i := range got {
		// Off-diagonal entries near zero are compared against the scale
		// of the matrix rather than their own magnitude.
		scale := math.Sqrt(covWant[(i/4)*5] * covWant[(i%4)*5])
		if math.Abs(got[i]-covWant[i]) > tol*math.Max(math.Abs(covWant[i]), scale) {
			t.Errorf("cov[%d] = %.17g, want %.17g", i, got[i], covWant[i])
		}
	}
}

func TestCovGolden(t *testing.T) {
	t.Run("all_rows", func(t *testing.T) {
		c := NewCov(4)
		if s := c.AddRows(covData, 41); s != 0 {
			t.Fatalf("skipped %d", s)
		}
		checkCovGolden(t, c, 1e-9)
	})
	t.Run("row_by_row", func(t *testing.T) {
		c := NewCov(4)
		for r := range 41 {
			c.AddRows(covData[r*4:r*4+4], 1)
		}
		checkCovGolden(t, c, 1e-9)
	})
	t.Run("merge_splits", func(t *testing.T) {
		for _, cut := range []int{1, 7, 20, 40} {
			a, b := NewCov(4), NewCov(4)
			a.AddRows(covData[:cut*4], cut)
			b.AddRows(covData[cut*4:], 41-cut)
			if err := a.Merge(b); err != nil {
				t.Fatal(err)
			}
			checkCovGolden(t, a, 1e-9)
		}
	})
	t.Run("skips_non_finite_rows", func(t *testing.T) {
		dirty := append([]float64{}, covData[:40]...)
		dirty = append(dirty, 1, math.NaN(), 2, 3, math.Inf(1), 0, 0, 0)
		dirty = append(dirty, covData[40:]...)
		c := NewCov(4)
		if s := c.AddRows(dirty, 43); s != 2 {
			t.Fatalf("skipped %d, want 2", s)
		}
		checkCovGolden(t, c, 1e-9)
	})
}

func TestCovMatchesMoments(t *testing.T) {
	// Many blocks with a large common offset: the diagonal must agree with
	// the independent one-dimensional moments code.
	const d, n = 3, 5000
	r := rand.New(rand.NewPCG(4, 4))
	rows := make([]float64, n*d)
	ms := make([]Moments, d)
	for i := range ms {
		ms[i].Reset()
	}
	for i := range n {
		for j := range d {
			x := 1e6*float64(j) + r.NormFloat64()*float64(j+1)
			rows[i*d+j] = x
			ms[j].Add(x)
		}
	}
	c := NewCov(d)
	c.AddRows(rows, n)
	cv := c.Covariance()
	for j := range d {
		if !sketchRelClose(cv[j*d+j], ms[j].Variance(), 1e-9) || !sketchRelClose(c.Mean()[j], ms[j].Mean, 1e-12) {
			t.Errorf("column %d: var %v vs %v, mean %v vs %v", j, cv[j*d+j], ms[j].Variance(), c.Mean()[j], ms[j].Mean)
		}
		for k := range d {
			if cv[j*d+k] != cv[k*d+j] {
				t.Fatal("not symmetric")
			}
		}
	}
}

func TestCovEdgeCases(t *testing.T) {
	c := NewCov(2)
	for _, v := range c.Covariance() {
		if !math.IsNaN(v) {
			t.Fatal("empty covariance not NaN")
		}
	}
	if c.AddRows([]float64{1, 2, 3}, 5) != 0 || c.N() != 1 {
		t.Fatalf("short input: N %v", c.N())
	}
	if err := c.Merge(NewCov(3)); !errors.Is(err, ErrBadSketch) {
		t.Fatalf("dimension mismatch: %v", err)
	}
	c.AddRows([]float64{3, 6}, 1)
	if err := c.Merge(c); err != nil || c.N() != 4 {
		t.Fatalf("self merge: %v N %v", err, c.N())
	}
	if got := c.Covariance(); !sketchRelClose(got[0], 4.0/3, 1e-12) || !sketchRelClose(got[1], 8.0/3, 1e-12) {
		t.Fatalf("covariance %v", got)
	}
	if NewCov(0).Dim() != 1 || NewCov(1<<20).Dim() != MaxCovDim {
		t.Fatal("dimension not clamped")
	}
}

func TestCovJSON(t *testing.T) {
	c := NewCov(4)
	c.AddRows(covData, 41)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Cov
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	checkCovGolden(t, &back, 1e-15)
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Fatal("re-marshal differs")
	}
	back.AddRows(covData[:8], 2) // a loaded accumulator keeps working
	if back.N() != 43 {
		t.Fatalf("N %v", back.N())
	}
	empty, _ := json.Marshal(NewCov(2))
	if string(empty) != `{"d":2,"n":0,"mean":[0,0],"comoment":[0,0,0]}` {
		t.Fatalf("empty = %s", empty)
	}
	bad := map[string]string{
		"d_zero":       `{"d":0,"n":0,"mean":[],"comoment":[]}`,
		"d_huge":       `{"d":1000000000,"n":0,"mean":[0],"comoment":[0]}`,
		"short_mean":   `{"d":2,"n":0,"mean":[0],"comoment":[0,0,0]}`,
		"short_com":    `{"d":2,"n":0,"mean":[0,0],"comoment":[0,0]}`,
		"neg_n":        `{"d":1,"n":-1,"mean":[0],"comoment":[0]}`,
		"neg_diag":     `{"d":1,"n":3,"mean":[0],"comoment":[-1]}`,
		"empty_dirty":  `{"d":1,"n":0,"mean":[1],"comoment":[0]}`,
		"empty_com":    `{"d":1,"n":0,"mean":[0],"comoment":[2]}`,
		"not_a_number": `{"d":1,"n":1,"mean":["NaN"],"comoment":[0]}`,
	}
	for name, in := range bad {
		t.Run("reject_"+name, func(t *testing.T) {
			var c Cov
			if err := json.Unmarshal([]byte(in), &c); !errors.Is(err, ErrBadSketch) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func benchCov(b *testing.B, d int) {
	const n = 4096
	r := rand.New(rand.NewPCG(1, uint64(d)))
	rows := make([]float64, n*d)
	for i := range rows {
		rows[i] = r.NormFloat64()
	}
	c := NewCov(d)
	b.ResetTimer()
	for range b.N {
		c.AddRows(rows, n)
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

func BenchmarkCovAddRowsD20(b *testing.B) { benchCov(b, 20) }
func BenchmarkCovAddRowsD64(b *testing.B) { benchCov(b, 64) }
