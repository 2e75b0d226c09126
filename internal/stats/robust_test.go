package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Reference values from sklearn.covariance.LedoitWolf().fit(X) (sklearn 1.2.1).
func TestLedoitWolfMatchesSklearn(t *testing.T) {
	X := &Matrix{Rows: 6, Cols: 3, Data: []float64{
		1, 2, 0.5,
		2, 1, 1.5,
		3, 4, -0.5,
		4, 3, 2,
		5, 7, 0,
		0.5, 1.5, 1,
	}}
	wantShrink := 0.44362670363357526
	wantCov := []float64{
		2.48953802092621, 1.4797984201968104, -0.10431999306870464,
		1.4797984201968104, 3.324097965475847, -0.5447821860254576,
		-0.10431999306870464, -0.5447821860254576, 1.4849751247090541,
	}
	wantMean := []float64{2.5833333333333335, 3.0833333333333335, 0.75}
	mean, cov, shrink := odLedoitWolf(X)
	if math.Abs(shrink-wantShrink) > 1e-12 {
		t.Fatalf("shrinkage %v, want %v", shrink, wantShrink)
	}
	for i := range wantCov {
		if math.Abs(cov[i]-wantCov[i]) > 1e-12 {
			t.Fatalf("cov[%d] = %v, want %v", i, cov[i], wantCov[i])
		}
	}
	for i := range wantMean {
		if math.Abs(mean[i]-wantMean[i]) > 1e-12 {
			t.Fatalf("mean[%d] = %v, want %v", i, mean[i], wantMean[i])
		}
	}
}

// correlatedWithOutliers draws rows on a strongly correlated line
// (x2 ≈ x1) and plants points that are unremarkable per column but break
// the correlation, which a non-robust covariance partly absorbs.
func correlatedWithOutliers(n, bad int, seed uint64) (*Matrix, []int) {
	rng := rand.New(rand.NewPCG(seed, 9))
	m := &Matrix{Rows: n, Cols: 3, Data: make([]float64, n*3)}
	for i := 0; i < n; i++ {
		z := rng.NormFloat64()
		m.Data[i*3] = z
		m.Data[i*3+1] = z + 0.1*rng.NormFloat64()
		m.Data[i*3+2] = rng.NormFloat64()
	}
	var out []int
	for k := 0; k < bad; k++ {
		i := k * (n / bad)
		z := 1.5 + 0.2*rng.NormFloat64()
		m.Data[i*3] = z
		m.Data[i*3+1] = -z
		out = append(out, i)
	}
	return m, out
}

func TestRobustMahalanobisFindsCorrelationBreakers(t *testing.T) {
	X, bad := correlatedWithOutliers(200, 20, 4)
	d := RobustMahalanobis(X)
	if got := topK(d, len(bad)); !slices.Equal(got, bad) {
		t.Fatalf("top distances at %v, want %v", got, bad)
	}
	// ECOD cannot see these: they are inside every column's range.
	pos := make([]bool, X.Rows)
	for _, i := range bad {
		pos[i] = true
	}
	if a, e := AUROC(d, pos), AUROC(ECOD(X), pos); a < 0.99 || a <= e {
		t.Fatalf("MCD AUROC %v, ECOD %v: want MCD ≈ 1 and ahead", a, e)
	}
}

func TestRobustMahalanobisShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	wide := &Matrix{Rows: 300, Cols: 60, Data: make([]float64, 300*60)}
	for i := range wide.Data {
		wide.Data[i] = rng.NormFloat64()
	}
	cases := []struct {
		name string
		X    *Matrix
	}{
		{"empty", &Matrix{Cols: 2}},
		{"few rows uses Ledoit-Wolf", &Matrix{Rows: 4, Cols: 3, Data: []float64{1, 2, 3, 2, 1, 0, 5, 5, 5, 0, 1, 1}}},
		{"constant columns", &Matrix{Rows: 6, Cols: 2, Data: []float64{1, 7, 2, 7, 3, 7, 4, 7, 5, 7, 60, 7}}},
		{"all constant", &Matrix{Rows: 3, Cols: 1, Data: []float64{2, 2, 2}}},
		{"wide is projected", wide},
		{"malformed", &Matrix{Rows: 2, Cols: 2, Data: []float64{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := RobustMahalanobis(c.X)
			if len(d) != c.X.Rows {
				t.Fatalf("got %d distances for %d rows", len(d), c.X.Rows)
			}
			for i, v := range d {
				if math.IsNaN(v) || v < 0 {
					t.Fatalf("distance %d = %v", i, v)
				}
			}
		})
	}
}

func TestOutlierScore(t *testing.T) {
	outliers := []int{7, 99}
	// One cluster: MCD models a single ellipsoid, and the combination
	// is documented to inherit that assumption.
	X := blobWithOutliers(200, 4, outliers, 5, false)
	c, parts := OutlierScore(X, 3)
	for _, k := range []string{"ecod", "mahalanobis", "iforest"} {
		if len(parts[k]) != X.Rows {
			t.Fatalf("part %q has %d scores", k, len(parts[k]))
		}
	}
	for i, v := range c {
		if !(v > 0 && v <= 1) {
			t.Fatalf("combined[%d] = %v outside (0,1]", i, v)
		}
	}
	if got := topK(c, 2); !slices.Equal(got, outliers) {
		t.Fatalf("top combined at %v, want %v", got, outliers)
	}
	c2, _ := OutlierScore(X, 3)
	if !slices.Equal(c, c2) {
		t.Fatal("OutlierScore is not deterministic for a seed")
	}
}
