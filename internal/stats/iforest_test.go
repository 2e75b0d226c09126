package stats

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// blobWithOutliers is a Gaussian sample of n rows in p columns (two clusters
// when twoClusters) with the given rows moved far away.
func blobWithOutliers(n, p int, outliers []int, seed uint64, twoClusters bool) *Matrix {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	for i := 0; i < n; i++ {
		shift := 0.0
		if twoClusters && i%2 == 1 {
			shift = 3
		}
		for j := 0; j < p; j++ {
			m.Data[i*p+j] = rng.NormFloat64() + shift
		}
	}
	for _, i := range outliers {
		for j := 0; j < p; j++ {
			m.Data[i*p+j] += 8 * (rng.Float64() - 0.5) * 2
		}
		m.Data[i*p] = 12
	}
	return m
}

func topK(scores []float64, k int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	top := idx[:k]
	slices.Sort(top)
	return top
}

func TestIsolationForestFindsOutliers(t *testing.T) {
	outliers := []int{3, 50, 97, 180}
	X := blobWithOutliers(400, 4, outliers, 7, true)
	s := IsolationForest(X, IForestOptions{Seed: 1})
	if got := topK(s, len(outliers)); !slices.Equal(got, outliers) {
		t.Fatalf("top scores at %v, want %v", got, outliers)
	}
	for i, v := range s {
		if !(v > 0 && v < 1) {
			t.Fatalf("score %d = %v outside (0,1)", i, v)
		}
	}
}

func TestIsolationForestDeterministic(t *testing.T) {
	X := blobWithOutliers(300, 3, []int{1}, 3, true)
	a := IsolationForest(X, IForestOptions{Trees: 50, Seed: 42})
	b := IsolationForest(X, IForestOptions{Trees: 50, Seed: 42})
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different scores")
	}
	c := IsolationForest(X, IForestOptions{Trees: 50, Seed: 43})
	if slices.Equal(a, c) {
		t.Fatal("different seeds gave identical scores")
	}
}

func TestIsolationForestDegenerate(t *testing.T) {
	cases := []struct {
		name string
		X    *Matrix
	}{
		{"empty", &Matrix{Cols: 3}},
		{"one row", &Matrix{Rows: 1, Cols: 2, Data: []float64{1, 2}}},
		{"constant", &Matrix{Rows: 3, Cols: 1, Data: []float64{5, 5, 5}}},
		{"malformed", &Matrix{Rows: 3, Cols: 2, Data: []float64{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := IsolationForest(c.X, IForestOptions{Trees: 5, Sample: 10})
			if len(s) != max(c.X.Rows, 0) {
				t.Fatalf("got %d scores for %d rows", len(s), c.X.Rows)
			}
		})
	}
}
