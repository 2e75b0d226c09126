package learn

import (
	"math"
	"testing"

	"github.com/rampart-ai/rampart/internal/stats"
)

func TestFindLabelIssuesTiny(t *testing.T) {
	// Row 2 is labeled 0 but the model is sure it is class 1; row 5 is
	// labeled 1 and only mildly doubted (its argmax is still 1).
	probs := &stats.Matrix{Rows: 9, Cols: 3, Data: []float64{
		0.90, 0.05, 0.05,
		0.90, 0.05, 0.05,
		0.05, 0.90, 0.05,
		0.10, 0.80, 0.10,
		0.10, 0.80, 0.10,
		0.30, 0.45, 0.25,
		0.05, 0.05, 0.90,
		0.05, 0.05, 0.90,
		0.10, 0.10, 0.80,
	}}
	y := []int{0, 0, 0, 1, 1, 1, 2, 2, 2}
	got := FindLabelIssues(probs, y, 3)
	if len(got) != 1 {
		t.Fatalf("got %d issues %+v, want exactly row 2", len(got), got)
	}
	is := got[0]
	if is.Row != 2 || is.Given != 0 || is.Suggested != 1 {
		t.Fatalf("got %+v, want row 2 given 0 suggested 1", is)
	}
	if want := (1 - (0.05 - 0.90)) / 2; math.Abs(is.Score-want) > 1e-12 {
		t.Fatalf("score %v, want %v", is.Score, want)
	}
}

func TestFindLabelIssuesSortedAndBounded(t *testing.T) {
	// Four clear flips with different margins among 20 clean rows.
	n := 24
	probs := &stats.Matrix{Rows: n, Cols: 2, Data: make([]float64, n*2)}
	y := make([]int, n)
	for i := 0; i < n; i++ {
		c := i % 2
		y[i] = c
		probs.Data[i*2+c] = 0.95
		probs.Data[i*2+1-c] = 0.05
	}
	flips := map[int]float64{0: 0.99, 3: 0.9, 6: 0.97, 9: 0.85}
	for r, q := range flips {
		g := y[r]
		probs.Data[r*2+g] = 1 - q
		probs.Data[r*2+1-g] = q
	}
	got := FindLabelIssues(probs, y, 2)
	if len(got) != len(flips) {
		t.Fatalf("got %d issues, want %d: %+v", len(got), len(flips), got)
	}
	for k, is := range got {
		if _, ok := flips[is.Row]; !ok {
			t.Errorf("row %d flagged but clean", is.Row)
		}
		if is.Score < 0 || is.Score > 1 {
			t.Errorf("score %v outside [0,1]", is.Score)
		}
		if k > 0 && got[k-1].Score < is.Score {
			t.Errorf("issues not sorted by score: %v before %v", got[k-1].Score, is.Score)
		}
	}
}

func TestFindLabelIssuesMalformed(t *testing.T) {
	good := &stats.Matrix{Rows: 2, Cols: 2, Data: []float64{0.9, 0.1, 0.2, 0.8}}
	cases := []struct {
		name    string
		probs   *stats.Matrix
		y       []int
		classes int
	}{
		{"nil probs", nil, []int{0, 1}, 2},
		{"short labels", good, []int{0}, 2},
		{"class count mismatch", good, []int{0, 1}, 3},
		{"bad data length", &stats.Matrix{Rows: 2, Cols: 2, Data: []float64{1}}, []int{0, 1}, 2},
		{"label out of range", good, []int{0, 7}, 2},
		{"negative label", good, []int{-1, 1}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := FindLabelIssues(c.probs, c.y, c.classes); len(got) != 0 {
				t.Fatalf("got %+v, want no issues", got)
			}
		})
	}
}
