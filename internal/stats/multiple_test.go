package stats

import (
	"math"
	"slices"
	"testing"
)

func TestBenjaminiHochberg(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		p    []float64
		want []float64
	}{
		{"empty", nil, []float64{}},
		{"order kept", []float64{0.04, 0.01, 0.03}, []float64{0.04, 0.03, 0.04}},
		{"capped at one", []float64{0.9, 0.8}, []float64{0.9, 0.9}},
		{"NaN ignored in m", []float64{0.01, nan, 0.04}, []float64{0.02, nan, 0.04}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BenjaminiHochberg(tc.p)
			if !slices.EqualFunc(got, tc.want, closeOrBothNaN) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBonferroni(t *testing.T) {
	nan := math.NaN()
	got := Bonferroni([]float64{0.01, nan, 0.6})
	want := []float64{0.02, nan, 1}
	if !slices.EqualFunc(got, want, closeOrBothNaN) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func closeOrBothNaN(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-15
}
