package stats

import (
	"math"
	"testing"
)

func TestAUROC(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		// Pairs (pos, neg): (0.8,0.1)=1 (0.8,0.4)=1 (0.8,0.8)=½
		// (0.4,0.1)=1 (0.4,0.4)=½ (0.4,0.8)=0 → 4/6.
		{"ties count half", []float64{0.1, 0.4, 0.8, 0.8, 0.4}, []bool{false, false, false, true, true}, 4.0 / 6},
		{"all tied", []float64{1, 1, 1, 1}, []bool{true, false, true, false}, 0.5},
		{"no positives", []float64{1, 2}, []bool{false, false}, math.NaN()},
		{"length mismatch", []float64{1, 2}, []bool{true}, math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AUROC(c.scores, c.pos)
			if math.IsNaN(c.want) {
				if !math.IsNaN(got) {
					t.Fatalf("got %v, want NaN", got)
				}
				return
			}
			if math.Abs(got-c.want) > 1e-12 {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}
