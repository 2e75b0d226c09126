package stats

import (
	"math"
	"slices"
	"testing"
)

func TestECODFindsOutliers(t *testing.T) {
	outliers := []int{10, 77, 150}
	X := blobWithOutliers(300, 5, outliers, 11, true)
	if got := topK(ECOD(X), len(outliers)); !slices.Equal(got, outliers) {
		t.Fatalf("top scores at %v, want %v", got, outliers)
	}
}

// ECOD depends on the data only through per-column ranks, so a strictly
// increasing transform of a column must leave every score unchanged.
func TestECODMonotoneInvariance(t *testing.T) {
	X := blobWithOutliers(120, 3, []int{5}, 2, true)
	Y := X.Clone()
	for i := 0; i < Y.Rows; i++ {
		Y.Data[i*3+1] = math.Exp(Y.Data[i*3+1])
		Y.Data[i*3+2] = 5*Y.Data[i*3+2] - 3
	}
	a, b := ECOD(X), ECOD(Y)
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9 {
			t.Fatalf("row %d: %v vs %v after a monotone transform", i, a[i], b[i])
		}
	}
}

func TestECODHandExample(t *testing.T) {
	// One column 1,2,3,4 (skewness 0, so the right tail is "auto").
	// Row with 4: left = -log(4/4)=0, right = -log(1/4).
	X := &Matrix{Rows: 4, Cols: 1, Data: []float64{1, 2, 3, 4}}
	s := ECOD(X)
	if want := math.Log(4); math.Abs(s[0]-want) > 1e-12 || math.Abs(s[3]-want) > 1e-12 {
		t.Fatalf("extreme rows scored %v, %v; want %v", s[0], s[3], want)
	}
	if want := math.Log(2); math.Abs(s[1]-want) > 1e-12 {
		t.Fatalf("row 1 scored %v, want max(-log(2/4), -log(3/4)) = %v", s[1], want)
	}
}
