package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type kllDist struct {
	name string
	gen  func(r *rand.Rand, n int) []float64
}

var kllDists = []kllDist{
	{"sorted", func(r *rand.Rand, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(i)
		}
		return xs
	}},
	{"reversed", func(r *rand.Rand, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(n - i)
		}
		return xs
	}},
	{"duplicates", func(r *rand.Rand, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			// Geometric-ish: a handful of values carry most of the mass.
			xs[i] = math.Floor(-math.Log2(r.Float64() + 1e-300))
		}
		return xs
	}},
	{"normal", func(r *rand.Rand, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = r.NormFloat64()
		}
		return xs
	}},
	{"cauchy", func(r *rand.Rand, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = math.Tan(math.Pi * (r.Float64() - 0.5))
		}
		return xs
	}},
}

// kllExactRank is the fraction of sorted values <= x.
func kllExactRank(sorted []float64, x float64) float64 {
	i, _ := slices.BinarySearchFunc(sorted, x, func(e, t float64) int {
		if e <= t {
			return -1
		}
		return 1
	})
	return float64(i) / float64(len(sorted))
}

// kllRankErrors returns |estimated − exact| rank at 99 evenly spaced quantiles
// of the data.
func kllRankErrors(s *KLL, sorted []float64) []float64 {
	var errs []float64
	for q := 1; q < 100; q++ {
		x := sorted[q*len(sorted)/100]
		errs = append(errs, math.Abs(s.Rank(x)-kllExactRank(sorted, x)))
	}
	return errs
}

func sketchPercentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func TestKLLRankErrorEmpirical(t *testing.T) {
	const n = 30000
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	eps := NewKLL(DefaultKLLK).RankError()
	if math.Abs(eps-0.0165) > 0.0005 {
		t.Fatalf("RankError(200) = %v, want about 0.0165", eps)
	}
	var single, merged []float64
	for _, d := range kllDists {
		t.Run(d.name, func(t *testing.T) {
			var errs, merrs []float64
			for seed := range seeds {
				r := rand.New(rand.NewPCG(uint64(seed), 7))
				xs := d.gen(r, n)
				s := NewKLL(DefaultKLLK)
				s.SetSeed(uint64(seed) * 0x9e37)
				s.AddSlice(xs)
				// 16 shards of contiguous chunks merged in order; on even
				// seeds every shard keeps the default PRNG seed, as shards
				// of one profile run do.
				shards := make([]*KLL, 16)
				for i := range shards {
					shards[i] = NewKLL(DefaultKLLK)
					if seed%2 == 1 {
						shards[i].SetSeed(uint64(seed*16 + i))
					}
					shards[i].AddSlice(xs[i*n/16 : (i+1)*n/16])
				}
				m := shards[0]
				for _, o := range shards[1:] {
					if err := m.Merge(o); err != nil {
						t.Fatal(err)
					}
				}
				sorted := slices.Clone(xs)
				slices.Sort(sorted)
				for _, sk := range []*KLL{s, m} {
					if sk.N() != n || sk.Min() != sorted[0] || sk.Max() != sorted[n-1] {
						t.Fatalf("N %d min %v max %v", sk.N(), sk.Min(), sk.Max())
					}
					if sk.Quantile(0) != sorted[0] || sk.Quantile(1) != sorted[n-1] {
						t.Fatalf("extreme quantiles %v %v", sk.Quantile(0), sk.Quantile(1))
					}
					_, w := sk.Items()
					var tot uint64
					for _, x := range w {
						tot += x
					}
					if tot != n {
						t.Fatalf("weights sum to %d", tot)
					}
				}
				// Quantile must invert Rank within the error too (on
				// continuous data, where ranks do not jump).
				for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99} {
					if d.name == "duplicates" {
						break
					}
					if e := math.Abs(kllExactRank(sorted, s.Quantile(q)) - q); e > 2*eps {
						t.Errorf("seed %d: rank(Quantile(%v)) off by %v", seed, q, e)
					}
				}
				errs = append(errs, kllRankErrors(s, sorted)...)
				merrs = append(merrs, kllRankErrors(m, sorted)...)
			}
			for name, e := range map[string][]float64{"single": errs, "merged": merrs} {
				over := 0
				for _, x := range e {
					if x > eps {
						over++
					}
				}
				if frac := float64(over) / float64(len(e)); frac > 0.01 {
					t.Errorf("%s: %.2f%% of queries exceed ε=%.4f (max %.4f)", name, 100*frac, eps, slices.Max(e))
				}
			}
			single = append(single, errs...)
			merged = append(merged, merrs...)
		})
	}
	t.Logf("k=200 ε=%.4f single stream: max %.4f p99 %.4f p50 %.4f over %d queries",
		eps, slices.Max(single), sketchPercentile(single, 0.99), sketchPercentile(single, 0.5), len(single))
	t.Logf("k=200 16-shard merge: max %.4f p99 %.4f p50 %.4f over %d queries",
		slices.Max(merged), sketchPercentile(merged, 0.99), sketchPercentile(merged, 0.5), len(merged))
}

func TestKLLExactBelowK(t *testing.T) {
	s := NewKLL(DefaultKLLK)
	r := rand.New(rand.NewPCG(3, 3))
	xs := make([]float64, DefaultKLLK)
	for i := range xs {
		xs[i] = math.Round(r.NormFloat64() * 10)
	}
	xs[5] = math.Inf(1)
	xs[9] = math.Inf(-1)
	s.AddSlice(append(slices.Clone(xs), math.NaN()))
	vals, w := s.Items()
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	if !slices.Equal(vals, sorted) {
		t.Fatalf("items %v, want %v", vals, sorted)
	}
	for _, x := range w {
		if x != 1 {
			t.Fatalf("weight %d while exact", x)
		}
	}
	for i, x := range sorted {
		if got := s.Rank(x); got != kllExactRank(sorted, x) {
			t.Fatalf("Rank(%v) = %v, want %v", x, got, kllExactRank(sorted, x))
		}
		q := float64(i+1) / float64(len(sorted))
		if got := s.Quantile(q); got != x {
			t.Fatalf("Quantile(%v) = %v, want %v", q, got, x)
		}
	}
	s.Add(0)
	if _, w := s.Items(); len(w) >= DefaultKLLK+1 {
		t.Fatalf("no compaction after k+1 items: %d items", len(w))
	}
}

func TestKLLEmptyAndNaN(t *testing.T) {
	s := NewKLL(0)
	if s.K() != DefaultKLLK {
		t.Fatalf("k = %d", s.K())
	}
	s.Add(math.NaN())
	for name, v := range map[string]float64{"min": s.Min(), "max": s.Max(), "q": s.Quantile(0.5), "rank": s.Rank(1)} {
		if !math.IsNaN(v) {
			t.Errorf("empty %s = %v", name, v)
		}
	}
	if s.N() != 0 {
		t.Fatalf("NaN counted")
	}
	if NewKLL(1).K() != MinKLLK || NewKLL(1<<30).K() != MaxKLLK {
		t.Fatal("k not clamped")
	}
}

func TestKLLAddSliceMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	xs := make([]float64, 20011)
	for i := range xs {
		xs[i] = r.ExpFloat64()
		if i%97 == 0 {
			xs[i] = math.NaN()
		}
	}
	a, b := NewKLL(64), NewKLL(64)
	for _, x := range xs {
		a.Add(x)
	}
	b.AddSlice(xs[:777])
	b.AddSlice(xs[777:])
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("AddSlice and Add differ")
	}
}

func TestKLLMerge(t *testing.T) {
	t.Run("k_mismatch", func(t *testing.T) {
		if err := NewKLL(100).Merge(NewKLL(200)); !errors.Is(err, ErrBadSketch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("self", func(t *testing.T) {
		s := NewKLL(16)
		for i := range 1000 {
			s.Add(float64(i))
		}
		if err := s.Merge(s); err != nil {
			t.Fatal(err)
		}
		if s.N() != 2000 {
			t.Fatalf("N = %d", s.N())
		}
	})
	t.Run("empty_both_ways", func(t *testing.T) {
		s := NewKLL(16)
		s.AddSlice([]float64{3, 1, 2})
		e := NewKLL(16)
		_ = s.Merge(e)
		_ = e.Merge(s)
		if e.N() != 3 || e.Min() != 1 || e.Max() != 3 || e.Quantile(0.5) != 2 {
			t.Fatalf("merged into empty: n %d min %v max %v", e.N(), e.Min(), e.Max())
		}
	})
}

func TestKLLJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	s := NewKLL(32)
	for range 5000 {
		s.Add(r.NormFloat64())
	}
	s.Add(math.Inf(1))
	s.Add(math.Inf(-1))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back KLL
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Fatalf("re-marshal differs")
	}
	if back.Min() != math.Inf(-1) || back.Max() != math.Inf(1) || back.N() != s.N() {
		t.Fatalf("loaded min %v max %v n %d", back.Min(), back.Max(), back.N())
	}
	// The PRNG state travels with the sketch: continuing after a round trip
	// is indistinguishable from never having stopped.
	for range 3000 {
		x := r.NormFloat64()
		s.Add(x)
		back.Add(x)
	}
	b, _ = json.Marshal(s)
	b2, _ = json.Marshal(&back)
	if string(b) != string(b2) {
		t.Fatalf("diverged after round trip")
	}
	t.Run("empty", func(t *testing.T) {
		b, _ := json.Marshal(NewKLL(8))
		if string(b) != `{"k":8,"n":0,"rng":"6b6c6c2f72616d70","levels":[[]]}` {
			t.Fatalf("empty = %s", b)
		}
		var e KLL
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		e.Add(1)
		if e.Quantile(0.5) != 1 {
			t.Fatal("loaded empty sketch unusable")
		}
	})
}

func TestKLLUnmarshalRejects(t *testing.T) {
	const rng = `"rng":"0000000000000001"`
	bad := map[string]string{
		"wrong_type":    `{"k":"8"}`,
		"k_small":       `{"k":2,"n":0,` + rng + `,"levels":[[]]}`,
		"k_huge":        `{"k":100000000,"n":0,` + rng + `,"levels":[[]]}`,
		"no_levels":     `{"k":8,"n":0,` + rng + `,"levels":[]}`,
		"bad_rng":       `{"k":8,"n":0,"rng":"xyz","levels":[[]]}`,
		"n_mismatch":    `{"k":8,"n":3,"min":1,"max":2,` + rng + `,"levels":[[1,2]]}`,
		"weight_n":      `{"k":8,"n":3,"min":1,"max":2,` + rng + `,"levels":[[],[1]]}`,
		"unsorted":      `{"k":8,"n":4,"min":1,"max":2,` + rng + `,"levels":[[],[2,1]]}`,
		"nan_item":      `{"k":8,"n":1,"min":1,"max":2,` + rng + `,"levels":[["NaN"]]}`,
		"outside_range": `{"k":8,"n":1,"min":1,"max":2,` + rng + `,"levels":[[5]]}`,
		"min_gt_max":    `{"k":8,"n":1,"min":3,"max":2,` + rng + `,"levels":[[2.5]]}`,
		"missing_min":   `{"k":8,"n":1,"max":2,` + rng + `,"levels":[[2]]}`,
		"empty_min":     `{"k":8,"n":0,"min":1,"max":2,` + rng + `,"levels":[[]]}`,
		"over_capacity": `{"k":8,"n":9,"min":1,"max":1,` + rng + `,"levels":[[1,1,1,1,1,1,1,1,1]]}`,
		"null_item":     `{"k":8,"n":1,"min":1,"max":1,` + rng + `,"levels":[[null]]}`,
		"too_many_levels": `{"k":8,"n":0,` + rng + `,"levels":[` +
			strings.Repeat("[],", 70) + `[]]}`,
		"weight_overflow": `{"k":8,"n":0,"min":1,"max":1,` + rng + `,"levels":[` +
			strings.Repeat("[],", 60) + `[1,1,1,1,1,1,1,1]]}`,
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			var s KLL
			if err := json.Unmarshal([]byte(in), &s); !errors.Is(err, ErrBadSketch) {
				t.Fatalf("err = %v for %s", err, in)
			}
		})
	}
	good := `{"k":8,"n":4,"min":1,"max":2,` + rng + `,"levels":[[],[1,2]]}`
	var s KLL
	if err := json.Unmarshal([]byte(good), &s); err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
	if s.Rank(1) != 0.5 || s.Quantile(0.75) != 2 {
		t.Fatalf("rank %v q %v", s.Rank(1), s.Quantile(0.75))
	}
}

func kllBenchData(n int) []float64 {
	r := rand.New(rand.NewPCG(11, 13))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = r.NormFloat64()
	}
	return xs
}

func BenchmarkKLLAdd(b *testing.B) {
	xs := kllBenchData(1 << 16)
	s := NewKLL(DefaultKLLK)
	b.ResetTimer()
	for i := range b.N {
		s.Add(xs[i&(1<<16-1)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

func BenchmarkKLLAddSlice(b *testing.B) {
	xs := kllBenchData(1 << 16)
	s := NewKLL(DefaultKLLK)
	b.ResetTimer()
	for range b.N {
		s.AddSlice(xs)
	}
	b.ReportMetric(float64(b.N)*float64(len(xs))/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

func BenchmarkKLLMerge16(b *testing.B) {
	xs := kllBenchData(1 << 16)
	shards := make([]*KLL, 16)
	for i := range shards {
		shards[i] = NewKLL(DefaultKLLK)
		shards[i].AddSlice(xs[i<<12 : (i+1)<<12])
	}
	b.ResetTimer()
	for range b.N {
		m := NewKLL(DefaultKLLK)
		for _, s := range shards {
			_ = m.Merge(s)
		}
	}
}

func TestSortNoNaN(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	gens := map[string]func(i, n int) float64{
		"random":   func(i, n int) float64 { return r.NormFloat64() },
		"sorted":   func(i, n int) float64 { return float64(i) },
		"reversed": func(i, n int) float64 { return float64(n - i) },
		"constant": func(i, n int) float64 { return 7 },
		"two":      func(i, n int) float64 { return float64(r.IntN(2)) },
		"organ":    func(i, n int) float64 { return float64(min(i, n-i)) },
		"inf":      func(i, n int) float64 { return math.Inf(1 - 2*r.IntN(2)) },
		"zeros":    func(i, n int) float64 { return math.Copysign(0, float64(r.IntN(2)-1)) * float64(r.IntN(2)) },
	}
	for name, g := range gens {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 15, 16, 17, 100, 1000, 5000} {
				a := make([]float64, n)
				for i := range a {
					a[i] = g(i, n)
				}
				want := slices.Clone(a)
				slices.Sort(want)
				sortNoNaN(a)
				for i := range a {
					if a[i] != want[i] {
						t.Fatalf("n=%d: position %d = %v, want %v", n, i, a[i], want[i])
					}
				}
			}
		})
	}
	a := []float64{5, 3, 9, 1, 1, 8, 2, 7, -1, 0}
	kllHeapSort(a)
	if !slices.IsSorted(a) {
		t.Fatalf("heapsort: %v", a)
	}
}
