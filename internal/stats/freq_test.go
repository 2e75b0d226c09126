package stats

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// zipfStream returns n keys drawn from a Zipf(1.1) law over 100000 keys.
func zipfStream(seed uint64, n int) []uint64 {
	r := rand.New(rand.NewPCG(seed, 1))
	z := rand.NewZipf(r, 1.1, 1, 100000)
	out := make([]uint64, n)
	for i := range out {
		out[i] = mix64(z.Uint64())
	}
	return out
}

func exactCounts(keys []uint64) map[uint64]uint64 {
	m := make(map[uint64]uint64)
	for _, k := range keys {
		m[k]++
	}
	return m
}

// checkFrequent verifies the Misra–Gries guarantees against exact counts.
func checkFrequent(t *testing.T, f *Frequent, truth map[uint64]uint64, n uint64) {
	t.Helper()
	if f.N() != n {
		t.Fatalf("N = %d, want %d", f.N(), n)
	}
	items := f.Items()
	if len(items) > f.Cap() {
		t.Fatalf("%d items exceed capacity %d", len(items), f.Cap())
	}
	bound := n / uint64(f.Cap()+1)
	listed := make(map[uint64]bool)
	for i, it := range items {
		listed[it.Key] = true
		tc := truth[it.Key]
		if tc > it.Count || it.Count-it.Err > tc {
			t.Fatalf("key %x: true %d outside [%d, %d]", it.Key, tc, it.Count-it.Err, it.Count)
		}
		if it.Err > bound {
			t.Fatalf("err %d exceeds N/(c+1) = %d", it.Err, bound)
		}
		if i > 0 && (items[i-1].Count < it.Count || items[i-1].Count == it.Count && items[i-1].Key > it.Key) {
			t.Fatal("items out of order")
		}
	}
	for k, c := range truth {
		if c > bound && !listed[k] {
			t.Fatalf("heavy key %x (count %d > %d) not listed", k, c, bound)
		}
	}
}

func TestFrequentGuarantees(t *testing.T) {
	keys := zipfStream(1, 200000)
	truth := exactCounts(keys)
	t.Run("single", func(t *testing.T) {
		f := NewFrequent(0)
		if f.Cap() != DefaultFrequentCap {
			t.Fatalf("cap %d", f.Cap())
		}
		for _, k := range keys {
			f.Add(k, 1)
		}
		checkFrequent(t, f, truth, uint64(len(keys)))
		if f.Exact() {
			t.Fatal("claims exact on 100000 distinct keys")
		}
	})
	t.Run("merge_16_shards", func(t *testing.T) {
		m := NewFrequent(DefaultFrequentCap)
		for s := range 16 {
			f := NewFrequent(DefaultFrequentCap)
			for _, k := range keys[s*len(keys)/16 : (s+1)*len(keys)/16] {
				f.Add(k, 1)
			}
			m.Merge(f)
		}
		checkFrequent(t, m, truth, uint64(len(keys)))
	})
	t.Run("weighted", func(t *testing.T) {
		f := NewFrequent(8)
		w := make(map[uint64]uint64)
		var n uint64
		for i, k := range keys[:20000] {
			c := uint64(i%5 + 1)
			f.Add(k, c)
			w[k] += c
			n += c
		}
		checkFrequent(t, f, w, n)
	})
}

func TestFrequentExact(t *testing.T) {
	f := NewFrequent(4)
	f.Add(10, 3)
	f.Add(20, 5)
	f.Add(10, 2)
	f.Add(30, 5)
	f.Add(40, 0)                                           // no-op
	want := []FreqItem{{10, 5, 0}, {20, 5, 0}, {30, 5, 0}} // ties by key
	got := f.Items()
	if !f.Exact() || len(got) != 3 {
		t.Fatalf("exact %v items %v", f.Exact(), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("items %v, want %v", got, want)
		}
	}
	f.Add(50, 1)
	if !f.Exact() {
		t.Fatal("4 distinct keys in capacity 4 is exact")
	}
	f.Add(60, 1)
	if f.Exact() {
		t.Fatal("5 distinct keys in capacity 4 is not exact")
	}
	// Counters 5,5,5,1,1 in capacity 4: the 5th largest (1) is subtracted
	// and the singletons drop out, so each survivor reads 5 ± 1.
	items := f.Items()
	if len(items) != 3 || items[0] != (FreqItem{10, 5, 1}) {
		t.Fatalf("after overflow: %v", items)
	}
	var zero Frequent
	zero.Add(1, 2)
	if zero.Cap() != DefaultFrequentCap || zero.Items()[0] != (FreqItem{1, 2, 0}) {
		t.Fatalf("zero value: %v", zero.Items())
	}
}

func TestFrequentJSON(t *testing.T) {
	keys := zipfStream(2, 30000)
	f := NewFrequent(16)
	for _, k := range keys {
		f.Add(k, 1)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Frequent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Fatalf("re-marshal differs:\n%s\n%s", b, b2)
	}
	gi, bi := f.Items(), back.Items()
	if len(gi) != len(bi) {
		t.Fatal("items differ")
	}
	for i := range gi {
		if gi[i] != bi[i] {
			t.Fatalf("item %d: %v vs %v", i, gi[i], bi[i])
		}
	}
	if !strings.Contains(string(b), `"key":"`) {
		t.Fatalf("keys not hex strings: %s", b)
	}
	bad := map[string]string{
		"cap_zero":     `{"cap":0,"n":0,"delta":0,"items":[]}`,
		"cap_huge":     `{"cap":100000000,"n":0,"delta":0,"items":[]}`,
		"over_cap":     `{"cap":1,"n":2,"delta":0,"items":[{"key":"0000000000000001","count":1},{"key":"0000000000000002","count":1}]}`,
		"zero_count":   `{"cap":2,"n":2,"delta":0,"items":[{"key":"0000000000000001","count":0}]}`,
		"dup_key":      `{"cap":2,"n":2,"delta":0,"items":[{"key":"0000000000000001","count":1},{"key":"0000000000000001","count":1}]}`,
		"unsorted":     `{"cap":2,"n":3,"delta":0,"items":[{"key":"0000000000000001","count":1},{"key":"0000000000000002","count":2}]}`,
		"key_order":    `{"cap":2,"n":2,"delta":0,"items":[{"key":"0000000000000002","count":1},{"key":"0000000000000001","count":1}]}`,
		"sum_over_n":   `{"cap":2,"n":1,"delta":0,"items":[{"key":"0000000000000001","count":2}]}`,
		"delta_over_n": `{"cap":2,"n":3,"delta":2,"items":[{"key":"0000000000000001","count":2}]}`,
		"bad_key":      `{"cap":2,"n":1,"delta":0,"items":[{"key":"xyz","count":1}]}`,
		"neg_count":    `{"cap":2,"n":1,"delta":0,"items":[{"key":"0000000000000001","count":-1}]}`,
		"overflow":     `{"cap":2,"n":18446744073709551615,"delta":0,"items":[{"key":"0000000000000001","count":18446744073709551615},{"key":"0000000000000002","count":18446744073709551615}]}`,
	}
	for name, in := range bad {
		t.Run("reject_"+name, func(t *testing.T) {
			var f Frequent
			if err := json.Unmarshal([]byte(in), &f); !errors.Is(err, ErrBadSketch) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func BenchmarkFrequentAdd(b *testing.B) {
	keys := zipfStream(3, 1<<16)
	f := NewFrequent(DefaultFrequentCap)
	b.ResetTimer()
	for i := range b.N {
		f.Add(keys[i&(1<<16-1)], 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mkeys/s")
}
