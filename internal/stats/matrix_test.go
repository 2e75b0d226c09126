package stats

import (
	"math"
	"testing"
)

func TestStandardize(t *testing.T) {
	m := &Matrix{Rows: 4, Cols: 3, Data: []float64{
		1, 5, 10,
		2, 5, 20,
		3, 5, 30,
		4, 5, 40,
	}}
	center, scale := Standardize(m)
	wantCenter := []float64{2.5, 5, 25}
	wantScale := []float64{math.Sqrt(1.25), 1, math.Sqrt(125)}
	for j := range wantCenter {
		if math.Abs(center[j]-wantCenter[j]) > 1e-12 || math.Abs(scale[j]-wantScale[j]) > 1e-12 {
			t.Fatalf("column %d: center %v scale %v, want %v %v", j, center[j], scale[j], wantCenter[j], wantScale[j])
		}
	}
	for j := 0; j < 3; j++ {
		var s, ss float64
		for i := 0; i < 4; i++ {
			v := m.Data[i*3+j]
			s += v
			ss += v * v
		}
		if math.Abs(s) > 1e-12 {
			t.Errorf("column %d mean %v after standardizing", j, s/4)
		}
		want := 4.0
		if j == 1 {
			want = 0 // constant column: all zero, not NaN
		}
		if math.Abs(ss-want) > 1e-9 {
			t.Errorf("column %d sum of squares %v, want %v", j, ss, want)
		}
	}
}

func TestMatrixRowAndValidate(t *testing.T) {
	m := &Matrix{Rows: 2, Cols: 2, Data: []float64{1, 2, 3, 4}}
	m.Row(1)[0] = 9
	if m.Data[2] != 9 {
		t.Fatalf("Row does not alias Data")
	}
	if r := m.Row(0); cap(r) != 2 {
		t.Fatalf("Row capacity %d lets appends clobber the next row", cap(r))
	}
	cases := []struct {
		name string
		m    *Matrix
		ok   bool
	}{
		{"valid", m, true},
		{"nil", nil, false},
		{"short data", &Matrix{Rows: 2, Cols: 2, Data: []float64{1}}, false},
		{"negative", &Matrix{Rows: -1, Cols: 2}, false},
		{"empty", &Matrix{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.m.Validate(); (err == nil) != c.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
