package stats

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKS2Errors(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want error
	}{
		{"empty first", nil, []float64{1}, errEmptySample},
		{"empty second", []float64{1}, []float64{}, errEmptySample},
		{"NaN first", []float64{1, math.NaN()}, []float64{1}, errNaNInput},
		{"NaN second", []float64{1}, []float64{math.NaN()}, errNaNInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KS2(tc.a, tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKS2InputsUntouchedAndSymmetric(t *testing.T) {
	a := []float64{3, 1, 2, 9, -4, 2}
	b := []float64{0.5, 7, 7, -1}
	a0, b0 := slices.Clone(a), slices.Clone(b)
	ab, err := KS2(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, a0) || !slices.Equal(b, b0) {
		t.Fatalf("inputs modified: %v %v", a, b)
	}
	ba, err := KS2(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if ab != ba {
		t.Fatalf("KS2(a,b) = %+v, KS2(b,a) = %+v", ab, ba)
	}
}

func TestKS2Infinities(t *testing.T) {
	a := []float64{math.Inf(-1), 0, 1, 2}
	b := []float64{5, 6, 7, math.Inf(1)}
	got, err := KS2(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// Disjoint equal-size samples: D = 1 and p = 2 / C(8, 4).
	if got.Statistic != 1 || math.Abs(got.PValue-2.0/70) > 1e-15 || got.Method != "exact" {
		t.Fatalf("got %+v", got)
	}
}

// bruteForceKS enumerates every split of the pooled (distinct) values into
// groups of sizes n and m and returns the fraction whose D is >= d.
func bruteForceKS(pooled []float64, n int, d float64) float64 {
	total, hit := 0, 0
	N := len(pooled)
	for mask := 0; mask < 1<<N; mask++ {
		if popcount(mask) != n {
			continue
		}
		var a, b []float64
		for i := 0; i < N; i++ {
			if mask&(1<<i) != 0 {
				a = append(a, pooled[i])
			} else {
				b = append(b, pooled[i])
			}
		}
		r, _ := KS2(a, b)
		total++
		if r.Statistic >= d-1e-12 {
			hit++
		}
	}
	return float64(hit) / float64(total)
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestKS2ExactMatchesEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {3, 3}, {3, 5}, {4, 6}, {5, 5}, {2, 9}, {6, 6}} {
		n, m := sz[0], sz[1]
		for trial := 0; trial < 4; trial++ {
			a := make([]float64, n)
			b := make([]float64, m)
			for i := range a {
				a[i] = r.Float64()
			}
			for i := range b {
				b[i] = r.Float64() + 0.3*float64(trial)
			}
			got, err := KS2(a, b)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForceKS(append(slices.Clone(a), b...), n, got.Statistic)
			if math.Abs(got.PValue-want) > 1e-12 {
				t.Errorf("n=%d m=%d trial %d: D=%g p=%.15g, enumeration %.15g", n, m, trial, got.Statistic, got.PValue, want)
			}
		}
	}
}

func TestKS2LargeIsAsymptotic(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 2e6 values")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const n = 1_000_000
	a := make([]float64, n)
	b := make([]float64, n)
	for i := range a {
		a[i] = r.NormFloat64()
		b[i] = r.NormFloat64() + 0.01
	}
	got, err := KS2(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// A 0.01 sigma shift moves the CDF by about 0.004 at the median, far
	// beyond the ~0.0014 null scale at this size.
	if got.Method != "asymp" || got.Statistic < 0.002 || got.PValue > 1e-3 {
		t.Fatalf("got %+v", got)
	}
}

func TestKS2Weighted(t *testing.T) {
	a := []float64{1, 2, 2, 3, 5, 8, 13}
	b := []float64{2, 3, 4, 4, 9, 10}
	plain, err := KS2(a, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("unit weights", func(t *testing.T) {
		got, err := KS2Weighted(a, nil, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ksAsympSF(float64(len(a)), float64(len(b)), plain.Statistic)
		if got.Method != "sketch" || math.Abs(got.Statistic-plain.Statistic) > 1e-15 || math.Abs(got.PValue-want) > 1e-15 {
			t.Fatalf("got %+v, want D=%g p=%g", got, plain.Statistic, want)
		}
	})
	t.Run("collapsed duplicates", func(t *testing.T) {
		// The same samples as distinct values with multiplicities.
		got, err := KS2Weighted([]float64{13, 1, 2, 3, 5, 8}, []float64{1, 1, 2, 1, 1, 1},
			[]float64{2, 3, 4, 9, 10}, []float64{1, 1, 2, 1, 1})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Statistic-plain.Statistic) > 1e-15 {
			t.Fatalf("D = %g, want %g", got.Statistic, plain.Statistic)
		}
	})
	bad := []struct {
		name           string
		av, aw, bv, bw []float64
	}{
		{"empty", nil, nil, b, nil},
		{"length mismatch", a, []float64{1}, b, nil},
		{"negative weight", []float64{1, 2}, []float64{1, -1}, b, nil},
		{"NaN weight", []float64{1, 2}, []float64{1, math.NaN()}, b, nil},
		{"zero total", []float64{1, 2}, []float64{0, 0}, b, nil},
		{"NaN value", a, nil, []float64{math.NaN()}, nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := KS2Weighted(tc.av, tc.aw, tc.bv, tc.bw); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// FuzzKS2 checks the invariants of KS2 on arbitrary inputs: no panic, a
// statistic in [0,1], a p-value in [0,1], and symmetry.
func FuzzKS2(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 240, 63, 0, 0, 0, 0, 0, 0, 0, 64}, uint8(1))
	f.Add(make([]byte, 64), uint8(3))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 240, 127, 0, 0, 0, 0, 0, 0, 240, 255, 1, 2, 3, 4, 5, 6, 7, 8}, uint8(2))
	// Found by fuzzing: D == 1 with sizes 3 and 5 must give the same p-value
	// in both argument orders.
	f.Add([]byte("0000000X0000000X0000000X0000000000000000000000000000000000000000"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		var vals []float64
		for len(data) >= 8 && len(vals) < 64 {
			vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		k := int(split)
		if k > len(vals) {
			k = len(vals)
		}
		a, b := vals[:k], vals[k:]
		got, err := KS2(a, b)
		if err != nil {
			return
		}
		if !(got.Statistic >= 0 && got.Statistic <= 1 && got.PValue >= 0 && got.PValue <= 1) {
			t.Fatalf("out of range: %+v", got)
		}
		rev, err := KS2(b, a)
		if err != nil || rev != got {
			t.Fatalf("asymmetric: %+v vs %+v (%v)", got, rev, err)
		}
	})
}

func BenchmarkKS2Million(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float64, 1_000_000)
	y := make([]float64, 1_000_000)
	for i := range x {
		x[i] = r.NormFloat64()
		y[i] = r.NormFloat64()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := KS2(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKS2ExactWorst is the most expensive exact case: both sizes at the
// threshold, unequal, with a large D (the band recursion is O(n*m*D)).
func BenchmarkKS2ExactWorst(b *testing.B) {
	x := make([]float64, ksMaxExactN)
	y := make([]float64, ksMaxExactN-1)
	for i := range x {
		x[i] = float64(i)
	}
	for i := range y {
		y[i] = float64(i) + ksMaxExactN/2
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := KS2(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
