package learn

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/stats"
)

// blobs draws `per` rows around each of `classes` well-separated centres in
// `dims` dimensions, labeled by centre, and flips the labels of rows
// listed in flip to the next class.
func blobs(classes, per, dims int, flip []int, seed uint64) (*stats.Matrix, []int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := classes * per
	X := &stats.Matrix{Rows: n, Cols: dims, Data: make([]float64, n*dims)}
	y := make([]int, n)
	for i := 0; i < n; i++ {
		c := i % classes
		y[i] = c
		for j := 0; j < dims; j++ {
			centre := 0.0
			if j%classes == c {
				centre = 6
			}
			X.Data[i*dims+j] = centre + rng.NormFloat64()
		}
	}
	for _, r := range flip {
		y[r] = (y[r] + 1) % classes
	}
	return X, y
}

func TestOutOfFoldProbaIgnoresOwnLabel(t *testing.T) {
	X, y := blobs(2, 60, 3, []int{0}, 1) // row 0: class 0, labeled 1
	P, err := OutOfFoldProba(X, y, 2, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if p := P.Row(0)[0]; p < 0.9 {
		t.Fatalf("row 0: P(class 0) = %v; out-of-fold model should ignore its flipped label", p)
	}
	for i := 0; i < P.Rows; i++ {
		var s float64
		for _, v := range P.Row(i) {
			if v <= 0 {
				t.Fatalf("row %d has non-positive probability %v", i, v)
			}
			s += v
		}
		if s < 1-1e-9 || s > 1+1e-9 {
			t.Fatalf("row %d probabilities sum to %v", i, s)
		}
	}
	Q, _ := OutOfFoldProba(X, y, 2, Options{Seed: 7})
	if !slices.Equal(P.Data, Q.Data) {
		t.Fatal("not deterministic for a seed")
	}
}

func TestOutOfFoldProbaExclude(t *testing.T) {
	X, y := blobs(3, 30, 3, nil, 2)
	ex := make([]bool, len(y))
	for i, c := range y {
		ex[i] = c == 2
	}
	P, err := OutOfFoldProba(X, y, 3, Options{Exclude: ex})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < P.Rows; i++ {
		if p := P.Row(i)[2]; p > 0.01 {
			t.Fatalf("row %d: P(class 2) = %v although every class-2 row is excluded", i, p)
		}
	}
}

func TestOutOfFoldProbaErrors(t *testing.T) {
	X, y := blobs(2, 10, 2, nil, 3)
	nan := X.Clone()
	nan.Data[3] = nan.Data[3] / 0 * 0
	cases := []struct {
		name    string
		X       *stats.Matrix
		y       []int
		classes int
		opt     Options
		want    string
	}{
		{"label count", X, y[:5], 2, Options{}, "labels for"},
		{"label range", X, append([]int{5}, y[1:]...), 2, Options{}, "outside"},
		{"one class", X, y, 1, Options{}, "at least 2 classes"},
		{"one fold", X, y, 2, Options{Folds: 1}, "at least 2 folds"},
		{"classes beyond rows", X, y, 1 << 40, Options{}, "classes for"},
		{"too few rows", &stats.Matrix{Rows: 2, Cols: 1, Data: []float64{1, 2}}, []int{0, 1}, 2, Options{}, "cannot be split"},
		{"nan", nan, y, 2, Options{}, "finite"},
		{"malformed", &stats.Matrix{Rows: 3, Cols: 2, Data: []float64{1}}, []int{0, 1, 0}, 2, Options{}, "elements"},
		{"exclude length", X, y, 2, Options{Exclude: []bool{true}}, "exclude mask"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OutOfFoldProba(c.X, c.y, c.classes, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if _, err := DetectLabelIssues(c.X, c.y, c.classes, c.opt); err == nil {
				t.Fatal("DetectLabelIssues accepted what OutOfFoldProba rejects")
			}
		})
	}
}

func TestDetectLabelIssuesBlobs(t *testing.T) {
	var flip []int
	for i := 0; i < 400; i += 10 {
		flip = append(flip, i+i/10%7)
	}
	X, y := blobs(4, 100, 8, flip, 5)
	issues, err := DetectLabelIssues(X, y, 4, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, r, _ := prf(issues, flip)
	if p < 0.9 || r < 0.9 {
		t.Fatalf("precision %.2f recall %.2f on separable blobs with %d flips", p, r, len(flip))
	}
	for _, is := range issues {
		if slices.Contains(flip, is.Row) && is.Suggested != (y[is.Row]+3)%4 {
			t.Errorf("row %d: suggested %d, want the true class %d", is.Row, is.Suggested, (y[is.Row]+3)%4)
		}
	}
}

// prf is the precision, recall and F1 of issues against the truly flipped rows.
func prf(issues []LabelIssue, truth []int) (p, r, f1 float64) {
	flipped := map[int]bool{}
	for _, row := range truth {
		flipped[row] = true
	}
	var tp int
	for _, is := range issues {
		if flipped[is.Row] {
			tp++
		}
	}
	if len(issues) > 0 {
		p = float64(tp) / float64(len(issues))
	}
	if len(truth) > 0 {
		r = float64(tp) / float64(len(truth))
	}
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}
