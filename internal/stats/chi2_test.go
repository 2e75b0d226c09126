package stats

import (
	"errors"
	"math"
	"testing"
)

func TestChiSquareContingencyErrors(t *testing.T) {
	tests := []struct {
		name  string
		table [][]float64
	}{
		{"empty", nil},
		{"empty row", [][]float64{{}}},
		{"ragged", [][]float64{{1, 2}, {3}}},
		{"negative", [][]float64{{1, -2}, {3, 4}}},
		{"NaN", [][]float64{{1, math.NaN()}, {3, 4}}},
		{"Inf", [][]float64{{1, math.Inf(1)}, {3, 4}}},
		{"all-zero row", [][]float64{{1, 2}, {0, 0}}},
		{"one non-empty column", [][]float64{{1, 0}, {3, 0}}},
		{"all zero", [][]float64{{0, 0}, {0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := ChiSquareContingency(tc.table); !errors.Is(err, errBadTable) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestChiSquareContingencyCases(t *testing.T) {
	t.Run("zero columns dropped", func(t *testing.T) {
		s1, p1, d1, err1 := ChiSquareContingency([][]float64{{0, 5, 0, 3, 7}, {0, 2, 0, 9, 1}})
		s2, p2, d2, err2 := ChiSquareContingency([][]float64{{5, 3, 7}, {2, 9, 1}})
		if err1 != nil || err2 != nil || s1 != s2 || p1 != p2 || d1 != d2 || d1 != 2 {
			t.Fatalf("(%g %g %d %v) vs (%g %g %d %v)", s1, p1, d1, err1, s2, p2, d2, err2)
		}
	})
	t.Run("single row", func(t *testing.T) {
		s, p, d, err := ChiSquareContingency([][]float64{{4, 5, 6}})
		if err != nil || s != 0 || p != 1 || d != 0 {
			t.Fatalf("%g %g %d %v", s, p, d, err)
		}
	})
	t.Run("yates caps the correction", func(t *testing.T) {
		// Expected equals observed up to 0.25 in every cell, so the
		// corrected statistic is exactly 0.
		s, p, d, err := ChiSquareContingency([][]float64{{10, 10}, {10, 11}})
		if err != nil || s != 0 || p != 1 || d != 1 {
			t.Fatalf("%g %g %d %v", s, p, d, err)
		}
	})
	t.Run("no yates beyond dof 1", func(t *testing.T) {
		// 2x3 with expected 12,12,16 / 18,18,24: Pearson sum by hand.
		s, _, d, err := ChiSquareContingency([][]float64{{10, 10, 20}, {20, 20, 20}})
		want := 4.0/12 + 4.0/12 + 16.0/16 + 4.0/18 + 4.0/18 + 16.0/24
		if err != nil || d != 2 || math.Abs(s-want) > 1e-12 {
			t.Fatalf("stat %g (want %g), dof %d, %v", s, want, d, err)
		}
	})
}

func TestChiSquareSF(t *testing.T) {
	tests := []struct {
		name   string
		x, dof float64
		want   float64
	}{
		{"5% critical value dof 1", 3.841458820694124, 1, 0.05},
		{"dof 2 is exponential", 3, 2, math.Exp(-1.5)},
		{"x=0", 0, 3, 1},
		{"negative x", -1, 3, 1},
		{"+Inf", math.Inf(1), 3, 0},
		{"dof 0", 1, 0, math.NaN()},
		{"NaN x", math.NaN(), 2, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ChiSquareSF(tc.x, tc.dof)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-14) {
				t.Fatalf("ChiSquareSF(%g, %g) = %g, want %g", tc.x, tc.dof, got, tc.want)
			}
		})
	}
}
