package stats

import (
	"math"
	"testing"
)

func TestKolmogorovSFEdges(t *testing.T) {
	tests := []struct {
		name string
		n    int
		x    float64
		want float64
	}{
		{"x<=0", 10, 0, 1},
		{"x>=1", 10, 1, 0},
		{"below 1/(2n)", 10, 0.04, 1},
		{"n=1 is uniform", 1, 0.7, 2 * (1 - 0.7)}, // D_1 = max(U, 1-U)
		{"bad n", 0, 0.5, math.NaN()},
		{"NaN x", 5, math.NaN(), math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := kolmogorovSF(tc.n, tc.x)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-14) {
				t.Fatalf("kolmogorovSF(%d, %g) = %g, want %g", tc.n, tc.x, got, tc.want)
			}
		})
	}
}

// TestDurbinAgainstSmirnov uses the identity Pr(D_n >= x) = 2 Pr(D_n^+ >= x)
// for x >= 1/2, which ties the matrix algorithm to the independent
// Birnbaum-Tingey sum.
func TestDurbinAgainstSmirnov(t *testing.T) {
	for _, n := range []int{3, 10, 40, 120} {
		for _, x := range []float64{0.5, 0.55, 0.62, 0.8} {
			d := 1 - durbinCDF(n, x)
			s := 2 * smirnovSF(n, x)
			if math.Abs(d-s) > 1e-12 {
				t.Errorf("n=%d x=%g: durbin %.15g, smirnov %.15g", n, x, d, s)
			}
		}
	}
}

func TestKolmogorovSFMonotone(t *testing.T) {
	for _, n := range []int{7, 140, 141, 5000, 200000} {
		prev := 1.0
		for i := 1; i < 200; i++ {
			x := float64(i) / 200
			p := kolmogorovSF(n, x)
			if p > prev+1e-9 || p < 0 || p > 1 {
				t.Fatalf("n=%d: sf(%g) = %g after %g", n, x, p, prev)
			}
			prev = p
		}
	}
}
