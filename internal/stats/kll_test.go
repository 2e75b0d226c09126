package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// BenchmarkKLLStream measures the amortised cost per value of one sketch
// fed a long stream, in column-sized chunks as the profiler feeds it.
func BenchmarkKLLStream(b *testing.B) {
	xs := kllBenchData(1 << 20)
	for _, n := range []int{1e6, 1e7} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				s := NewKLL(DefaultKLLK)
				for left := n; left > 0; {
					c := min(left, 4096)
					off := (n - left) & (1<<20 - 1)
					c = min(c, 1<<20-off)
					s.AddSlice(xs[off : off+c])
					left -= c
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/value")
		})
	}
}

// kllQueryRanks returns 99 query points near the 1%..99% quantiles of xs
// (taken from a sorted subsample) and the exact fraction of xs <= each, in
// O(n log 99) rather than by sorting millions of values.
func kllQueryRanks(r *rand.Rand, xs []float64) (qs, ranks []float64) {
	sub := make([]float64, 20000)
	for i := range sub {
		sub[i] = xs[r.IntN(len(xs))]
	}
	slices.Sort(sub)
	for q := 1; q < 100; q++ {
		qs = append(qs, sub[q*len(sub)/100])
	}
	qs = slices.Compact(qs)
	counts := make([]int, len(qs)+1)
	for _, x := range xs {
		// first query >= x: x counts toward it and every later one
		i, _ := slices.BinarySearch(qs, x)
		counts[i]++
	}
	c := 0
	for i := range qs {
		c += counts[i]
		ranks = append(ranks, float64(c)/float64(len(xs)))
	}
	return qs, ranks
}

// TestKLLRankErrorLarge checks the stated error where the sampler does most
// of the work (n = 5e6: one value in 64 enters the compactors at k=200),
// single-stream and merged from 16 shards.
func TestKLLRankErrorLarge(t *testing.T) {
	const n = 5_000_000
	// Rank errors are invariant under monotone maps of the values, so normal
	// stands for cauchy and sorted for reversed here; this keeps the test a
	// few seconds under -race.
	dists := []kllDist{kllDists[0], kllDists[2], kllDists[3]}
	if testing.Short() {
		dists = dists[2:]
	}
	eps := kllRankError(DefaultKLLK)
	var single, merged []float64
	for di, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(di), 77))
			xs := d.gen(r, n)
			s := NewKLL(DefaultKLLK)
			s.SetSeed(uint64(di))
			s.AddSlice(xs)
			if want := kllEntryFor(DefaultKLLK, n); s.entry != want || want < 4 {
				t.Fatalf("entry level %d, want %d (>= 4)", s.entry, want)
			}
			m := NewKLL(DefaultKLLK)
			for i := range 16 {
				sh := NewKLL(DefaultKLLK)
				sh.SetSeed(uint64(100*di + i))
				sh.AddSlice(xs[i*n/16 : (i+1)*n/16])
				if err := m.Merge(sh); err != nil {
					t.Fatal(err)
				}
			}
			lo, hi := slices.Min(xs), slices.Max(xs)
			qs, exact := kllQueryRanks(r, xs)
			for name, sk := range map[string]*KLL{"single": s, "merged": m} {
				if sk.N() != n || sk.Min() != lo || sk.Max() != hi {
					t.Fatalf("%s: N %d min %v max %v", name, sk.N(), sk.Min(), sk.Max())
				}
				if v, _ := sk.Items(); len(v) > sk.capTotal+1 {
					t.Fatalf("%s: %d items over capacity %d", name, len(v), sk.capTotal)
				}
				var errs []float64
				for i, x := range qs {
					errs = append(errs, math.Abs(sk.Rank(x)-exact[i]))
				}
				over := 0
				for _, e := range errs {
					if e > eps {
						over++
					}
				}
				if over*100 > len(errs) {
					t.Errorf("%s: %d of %d queries exceed ε=%.4f (max %.4f)", name, over, len(errs), eps, slices.Max(errs))
				}
				if name == "single" {
					single = append(single, errs...)
				} else {
					merged = append(merged, errs...)
				}
			}
		})
	}
	t.Logf("n=5e6 k=200 single stream: max %.4f p99 %.4f p50 %.4f over %d queries",
		slices.Max(single), sketchPercentile(single, 0.99), sketchPercentile(single, 0.5), len(single))
	t.Logf("n=5e6 k=200 16-shard merge: max %.4f p99 %.4f p50 %.4f over %d queries",
		slices.Max(merged), sketchPercentile(merged, 0.99), sketchPercentile(merged, 0.5), len(merged))
}

// kllFed returns a sketch with parameter k fed n values of a shuffled ramp
// from seed, so merged sketches cover overlapping ranges.
func kllFed(k, n int, seed uint64) *KLL {
	r := rand.New(rand.NewPCG(seed, 1))
	s := NewKLL(k)
	s.SetSeed(seed)
	for i := range n {
		s.Add(float64(r.IntN(1000*n+1)) / float64(n) / 1000 * float64(i%7+1))
	}
	return s
}

// kllCheckState verifies the invariants UnmarshalJSON relies on and that the
// sketch survives a JSON round trip unchanged.
func kllCheckState(t *testing.T, s *KLL) {
	t.Helper()
	_, w := s.Items()
	var tot uint64
	for _, x := range w {
		tot += x
	}
	if tot != s.N() {
		t.Fatalf("weights sum to %d, N %d", tot, s.N())
	}
	if want := kllEntryFor(s.K(), s.N()); s.entry != want {
		t.Fatalf("entry level %d, want %d at n %d", s.entry, want, s.N())
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back KLL
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("own encoding rejected: %v\n%s", err, b)
	}
	if b2, _ := json.Marshal(&back); string(b2) != string(b) {
		t.Fatalf("round trip differs")
	}
}

func TestKLLSamplerMergeStates(t *testing.T) {
	const k = 16 // M = 512: sampling starts at n = 1024
	sizes := map[string]int{"empty": 0, "exact": 10, "compacting": 700, "entry1": 1500, "entry4": 9000, "entry7": 70001}
	for an, a := range sizes {
		for bn, b := range sizes {
			t.Run(an+"+"+bn, func(t *testing.T) {
				s, o := kllFed(k, a, 1), kllFed(k, b, 2)
				oj, _ := json.Marshal(o)
				if err := s.Merge(o); err != nil {
					t.Fatal(err)
				}
				if oj2, _ := json.Marshal(o); string(oj) != string(oj2) {
					t.Fatal("Merge modified its argument")
				}
				if s.N() != uint64(a+b) {
					t.Fatalf("N %d", s.N())
				}
				kllCheckState(t, s)
				// The merged sketch keeps working.
				s.AddSlice([]float64{1, 2, 3})
				kllCheckState(t, s)
			})
		}
	}
	t.Run("accuracy", func(t *testing.T) {
		// Shards of very different sizes, hence entry levels, merged in
		// both orders, against the exact ranks of their union.
		var xs []float64
		var parts [][]float64
		r := rand.New(rand.NewPCG(4, 4))
		for _, n := range []int{200000, 37, 5000, 60000, 1, 999} {
			p := make([]float64, n)
			for i := range p {
				p[i] = r.NormFloat64() + float64(n%3)
			}
			parts = append(parts, p)
			xs = append(xs, p...)
		}
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		eps := kllRankError(64)
		for _, rev := range []bool{false, true} {
			m := NewKLL(64)
			for i := range parts {
				if rev {
					i = len(parts) - 1 - i
				}
				sh := NewKLL(64)
				sh.SetSeed(uint64(i))
				sh.AddSlice(parts[i])
				if err := m.Merge(sh); err != nil {
					t.Fatal(err)
				}
			}
			kllCheckState(t, m)
			if e := slices.Max(kllRankErrors(m, sorted)); e > eps {
				t.Errorf("reversed %v: max rank error %.4f over ε %.4f", rev, e, eps)
			}
		}
	})
}

// TestKLLSamplerUnbiased checks the sampler's two random rules against
// their laws: the drawn replacement point (P(next > m) = w/m) and the
// weighted insert (each value keeps its expected weight).
func TestKLLSamplerUnbiased(t *testing.T) {
	t.Run("next", func(t *testing.T) {
		s := NewKLL(8)
		const trials = 200000
		const w = 3
		over := map[uint64]int{4: 0, 6: 0, 12: 0, 300: 0}
		for range trials {
			s.entry = 20
			s.pendW = w
			s.restartBlock()
			if s.next <= w {
				t.Fatalf("next %d not after %d", s.next, w)
			}
			for m := range over {
				if s.next > m {
					over[m]++
				}
			}
		}
		for m, c := range over {
			p := float64(w) / float64(m)
			got := float64(c) / trials
			if math.Abs(got-p) > 5*math.Sqrt(p*(1-p)/trials) {
				t.Errorf("P(next > %d) = %.4f, want %.4f", m, got, p)
			}
		}
	})
	t.Run("weighted", func(t *testing.T) {
		// Block size 8: pending 1.0 with weight 5, insert 2.0 with weight
		// 6 (sum 11 ≥ 8, one of them rises) or weight 2 (sum 7, stays).
		for _, u := range []uint64{6, 2} {
			const trials = 100000
			var w1, w2 float64 // total weight each value ends up with
			s := NewKLL(8)
			for range trials {
				s.levels = [][]float64{nil, nil, nil, make([]float64, 0, 8)}
				s.entry, s.size = 3, 0
				s.resched()
				s.pend, s.pendW = 1, 5
				s.sampleWeighted(2, u)
				for _, v := range s.levels[3] {
					if v == 1 {
						w1 += 8
					} else {
						w2 += 8
					}
				}
				if s.pendW > 0 {
					if s.pend == 1 {
						w1 += float64(s.pendW)
					} else {
						w2 += float64(s.pendW)
					}
				}
			}
			// Per trial the outcome's weight has a spread under 8.
			tol := 5 * 8 / math.Sqrt(trials)
			if math.Abs(w1/trials-5) > tol || math.Abs(w2/trials-float64(u)) > tol {
				t.Errorf("u=%d: mean weights %.3f and %.3f, want 5 and %d", u, w1/trials, w2/trials, u)
			}
		}
	})
	t.Run("stream", func(t *testing.T) {
		// Over many seeds the rank estimate at the median of a sampled
		// stream is unbiased.
		const n, seeds = 20000, 300
		xs := kllBenchData(n)
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		x := sorted[n/2]
		exact := kllExactRank(sorted, x)
		var sum, sq float64
		for seed := range seeds {
			s := NewKLL(8)
			s.SetSeed(uint64(seed) + 1)
			s.AddSlice(xs)
			if s.entry < 5 {
				t.Fatalf("entry %d: not sampling", s.entry)
			}
			e := s.Rank(x) - exact
			sum += e
			sq += e * e
		}
		mean := sum / seeds
		se := math.Sqrt((sq/seeds - mean*mean) / seeds)
		if math.Abs(mean) > 4*se+1e-4 {
			t.Errorf("mean rank error %.5f, standard error %.5f", mean, se)
		}
	})
}

func TestKLLSamplerAddSliceMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	xs := make([]float64, 300000)
	for i := range xs {
		xs[i] = r.NormFloat64()
		if r.IntN(50) == 0 {
			xs[i] = math.NaN()
		}
	}
	for _, k := range []int{8, 16, 200} {
		a, b := NewKLL(k), NewKLL(k)
		for _, x := range xs {
			a.Add(x)
		}
		for rest := xs; len(rest) > 0; {
			c := min(len(rest), 1+r.IntN(3000))
			b.AddSlice(rest[:c])
			rest = rest[c:]
		}
		if k < 200 && a.entry < 3 {
			t.Fatalf("k=%d: entry %d, not sampling", k, a.entry)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("k=%d: AddSlice and Add differ", k)
		}
		kllCheckState(t, a)
	}
}

func TestKLLSamplerJSON(t *testing.T) {
	// A sampling sketch with a sample pending.
	n := 1000
	s := kllFed(8, n, 3)
	for s.pendW == 0 {
		n++
		s = kllFed(8, n, 3)
	}
	e := s.entry
	if e < 2 {
		t.Fatalf("entry %d", e)
	}
	kllCheckState(t, s)
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"sampler":{"level":`+strconv.Itoa(e)+`,`) {
		t.Fatalf("no sampler in %s", b)
	}
	// Continuing after a round trip matches never having stopped.
	var back KLL
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	xs := kllBenchData(5000)
	s.AddSlice(xs)
	back.AddSlice(xs)
	j1, _ := json.Marshal(s)
	j2, _ := json.Marshal(&back)
	if string(j1) != string(j2) {
		t.Fatal("diverged after round trip")
	}

	var base map[string]any
	if err := json.Unmarshal(b, &base); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m, smp map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m, m["sampler"].(map[string]any))
		out, _ := json.Marshal(m)
		return string(out)
	}
	w := base["sampler"].(map[string]any)["weight"].(float64)
	bad := map[string]string{
		"level_zero":     edit(func(m, smp map[string]any) { smp["level"] = 0 }),
		"level_wrong":    edit(func(m, smp map[string]any) { smp["level"] = e + 1 }),
		"level_too_high": edit(func(m, smp map[string]any) { smp["level"] = 64 }),
		"no_sampler":     edit(func(m, smp map[string]any) { delete(m, "sampler") }),
		"weight_block": edit(func(m, smp map[string]any) {
			smp["weight"] = 1 << e
			m["n"] = m["n"].(float64) + float64(int(1)<<e) - w
		}),
		"weight_n":       edit(func(m, smp map[string]any) { smp["weight"] = w - 1 }),
		"no_item":        edit(func(m, smp map[string]any) { delete(smp, "item") }),
		"item_no_weight": edit(func(m, smp map[string]any) { smp["weight"] = 0; m["n"] = m["n"].(float64) - w }),
		"item_nan":       edit(func(m, smp map[string]any) { smp["item"] = "NaN" }),
		"item_outside":   edit(func(m, smp map[string]any) { smp["item"] = 1e300 }),
		"seed_short":     edit(func(m, smp map[string]any) { smp["seed"] = "abc" }),
		"seed_number":    edit(func(m, smp map[string]any) { smp["seed"] = 12 }),
		"below_entry": edit(func(m, smp map[string]any) {
			lv := m["levels"].([]any)
			lv[0] = []any{m["min"]}
			m["n"] = m["n"].(float64) + 1
		}),
		"entry_unsorted_above": edit(func(m, smp map[string]any) {
			lv := m["levels"].([]any)
			top := lv[len(lv)-1].([]any)
			top[0], top[len(top)-1] = top[len(top)-1], top[0]
		}),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			var s KLL
			if err := json.Unmarshal([]byte(in), &s); !errors.Is(err, ErrBadSketch) {
				t.Fatalf("err = %v for %s", err, in)
			}
		})
	}
	t.Run("old_form_at_large_n", func(t *testing.T) {
		// A sketch without a sampler is valid only below the sampling start.
		in := `{"k":8,"n":256,"min":1,"max":1,"rng":"0000000000000001","levels":[[],[],[],[],[],[1,1,1,1,1,1,1,1]]}`
		var s KLL
		if err := json.Unmarshal([]byte(in), &s); !errors.Is(err, ErrBadSketch) {
			t.Fatalf("err = %v", err)
		}
		in = strings.Replace(in, `"n":256`, `"n":255`, 1)
		in = strings.Replace(in, `[[],`, `[[1],`, 1)
		in = strings.Replace(in, `"n":255`, `"n":257`, 1)
		if err := json.Unmarshal([]byte(in), &s); !errors.Is(err, ErrBadSketch) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestKLLSaturatedCount: a decodable sketch whose count is at the uint64
// limit must not hang AddSlice (the count wraps, as Add's does).
func TestKLLSaturatedCount(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"k":8,"n":18446744073709551615,"min":1,"max":1,"rng":"0000000000000001","levels":[`)
	for h := range 64 {
		if h > 0 {
			b.WriteByte(',')
		}
		if h >= 57 {
			b.WriteString("[1]")
		} else {
			b.WriteString("[]")
		}
	}
	b.WriteString(`],"sampler":{"level":57,"weight":144115188075855871,"item":1,"seed":"0000000000000002"}}`)
	var s KLL
	if err := json.Unmarshal([]byte(b.String()), &s); err != nil {
		t.Fatalf("valid saturated sketch rejected: %v", err)
	}
	done := make(chan struct{})
	go func() {
		s.AddSlice([]float64{1, 2, 3})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("AddSlice hangs at a saturated count")
	}
}
