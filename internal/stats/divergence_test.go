package stats

import (
	"math"
	"slices"
	"testing"
)

func TestPSI(t *testing.T) {
	tests := []struct {
		name     string
		e, a     []float64
		want     float64
		wantNaN  bool
		positive bool
	}{
		{name: "identical", e: []float64{1, 2, 3}, a: []float64{10, 20, 30}, want: 0},
		{name: "empty bin stays finite", e: []float64{10, 0}, a: []float64{5, 5}, positive: true},
		{name: "length mismatch", e: []float64{1, 2}, a: []float64{1}, wantNaN: true},
		{name: "zero total", e: []float64{0, 0}, a: []float64{1, 1}, wantNaN: true},
		{name: "negative", e: []float64{1, -1}, a: []float64{1, 1}, wantNaN: true},
		{name: "empty", wantNaN: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PSI(tc.e, tc.a)
			switch {
			case tc.wantNaN:
				if !math.IsNaN(got) {
					t.Fatalf("got %g, want NaN", got)
				}
			case tc.positive:
				// e = (1, 1e-4 floor), a = (.5, .5).
				want := (0.5-1)*math.Log(0.5) + (0.5-PSIFloor)*math.Log(0.5/PSIFloor)
				if math.Abs(got-want) > 1e-12 {
					t.Fatalf("got %g, want %g", got, want)
				}
			default:
				if math.Abs(got-tc.want) > 1e-15 {
					t.Fatalf("got %g, want %g", got, tc.want)
				}
			}
		})
	}
}

func TestJensenShannonBounds(t *testing.T) {
	if got := JensenShannon([]float64{1, 0}, []float64{0, 3}); math.Abs(got-math.Sqrt(math.Ln2)) > 1e-15 {
		t.Errorf("disjoint: %g", got)
	}
	if got := JensenShannon([]float64{2, 3}, []float64{4, 6}); got != 0 {
		t.Errorf("proportional: %g", got)
	}
	if got := JensenShannon([]float64{1}, []float64{1, 2}); !math.IsNaN(got) {
		t.Errorf("mismatch: %g", got)
	}
	p, q := []float64{1, 5, 2}, []float64{3, 1, 1}
	if JensenShannon(p, q) != JensenShannon(q, p) {
		t.Error("not symmetric")
	}
}

func TestWasserstein1(t *testing.T) {
	a := []float64{0.3, -1, 2.5, 4}
	shifted := make([]float64, len(a))
	for i, v := range a {
		shifted[i] = v + 1.75
	}
	if got := Wasserstein1(a, shifted); math.Abs(got-1.75) > 1e-12 {
		t.Errorf("shift: %g", got)
	}
	if got := Wasserstein1Weighted([]float64{0, 1}, []float64{1, 3}, []float64{0, 1}, []float64{2, 6}); got != 0 {
		t.Errorf("scaled weights: %g", got)
	}
	for name, v := range map[string]float64{
		"empty":          Wasserstein1(nil, a),
		"NaN":            Wasserstein1([]float64{math.NaN()}, a),
		"Inf":            Wasserstein1([]float64{math.Inf(1)}, a),
		"negative w":     Wasserstein1Weighted(a, []float64{1, 1, -1, 1}, a, nil),
		"zero weights":   Wasserstein1Weighted(a, []float64{0, 0, 0, 0}, a, nil),
		"weight mismtch": Wasserstein1Weighted(a, []float64{1}, a, nil),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s: %g, want NaN", name, v)
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name    string
		base    []float64
		weights []float64
		bins    int
		want    []float64
	}{
		{"quartiles", []float64{1, 2, 3, 4, 5, 6, 7, 8}, nil, 4, []float64{-inf, 2, 4, 6, inf}},
		{"ties collapse", []float64{1, 1, 1, 1, 1, 1, 2, 3}, nil, 4, []float64{-inf, 1, inf}},
		{"partial ties", []float64{1, 1, 1, 1, 2, 3, 4, 5}, nil, 4, []float64{-inf, 1, 3, inf}},
		{"constant", []float64{7, 7, 7}, nil, 10, []float64{-inf, 7, inf}},
		{"weighted", []float64{1, 2, 3}, []float64{1, 1, 6}, 4, []float64{-inf, 2, 3, inf}},
		{"unsorted input", []float64{8, 1, 7, 2, 6, 3, 5, 4}, nil, 2, []float64{-inf, 4, inf}},
		{"NaN ignored", []float64{math.NaN(), 1, 2}, nil, 2, []float64{-inf, 1, inf}},
		{"one bin", []float64{1, 2}, nil, 1, []float64{-inf, inf}},
		{"empty base", nil, nil, 5, []float64{-inf, inf}},
		{"bad weights", []float64{1, 2}, []float64{1}, 2, nil},
		{"negative weight", []float64{1, 2}, []float64{1, -1}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HistogramEdges(tc.base, tc.weights, tc.bins)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBin(t *testing.T) {
	inf := math.Inf(1)
	edges := []float64{-inf, 2, 4, inf}
	tests := []struct {
		name    string
		edges   []float64
		values  []float64
		weights []float64
		want    []float64
	}{
		{"right-closed bins", edges, []float64{-inf, 1, 2, 2.5, 4, 4.1, inf}, nil, []float64{3, 2, 2}},
		{"weighted", edges, []float64{1, 3, 5}, []float64{0.5, 2, 3}, []float64{0.5, 2, 3}},
		{"NaN skipped", edges, []float64{math.NaN(), 3}, nil, []float64{0, 1, 0}},
		{"finite edges clamp", []float64{0, 1, 2}, []float64{-5, 0.5, 9}, nil, []float64{2, 1}},
		{"not increasing", []float64{0, 0, 1}, []float64{1}, nil, nil},
		{"too few edges", []float64{0}, []float64{1}, nil, nil},
		{"weights mismatch", edges, []float64{1, 2}, []float64{1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Bin(tc.edges, tc.values, tc.weights)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEdgesBinRoundTrip checks that binning the base with its own edges
// gives roughly equal-mass bins, which is what PSI relies on.
func TestEdgesBinRoundTrip(t *testing.T) {
	base := make([]float64, 1000)
	for i := range base {
		base[i] = float64(i)
	}
	edges := HistogramEdges(base, nil, 10)
	counts := Bin(edges, base, nil)
	if len(counts) != 10 {
		t.Fatalf("%d bins: %v", len(counts), edges)
	}
	for i, c := range counts {
		if c != 100 {
			t.Errorf("bin %d has %g", i, c)
		}
	}
	if psi := PSI(counts, counts); psi != 0 {
		t.Errorf("PSI(base, base) = %g", psi)
	}
}
