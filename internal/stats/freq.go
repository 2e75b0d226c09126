package stats

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

const (
	// DefaultFrequentCap is the number of counters profiles keep per column.
	DefaultFrequentCap = 64
	// MaxFrequentCap bounds the capacity NewFrequent (clamping) and
	// UnmarshalJSON (rejecting) accept.
	MaxFrequentCap = 1 << 16
)

// FreqItem is one frequent key. Count is an upper bound on the key's true
// count and Err the most it can overstate it: true count ∈ [Count−Err, Count].
// Err is 0 while the summary is exact.
type FreqItem struct {
	Key   uint64
	Count uint64
	Err   uint64
}

// Frequent finds heavy hitters among uint64 keys (usually hashes from
// hash.go) with the Misra–Gries summary in its mergeable form (Agarwal et
// al., "Mergeable summaries", PODS 2012): counters are added, and whenever
// more than the capacity c are live the (c+1)-th largest counter value v is
// subtracted from every counter, dropping those that reach zero. Each
// reduction removes at least (c+1)·v of mass, so the total reduction Δ
// satisfies Δ ≤ (N − Σcounters)/(c+1) ≤ N/(c+1), and every key's true count
// lies in [counter, counter+Δ]. Items reports the SpaceSaving-style view
// Count = counter+Δ, Err = Δ, so any key with true count > N/(c+1) is listed.
//
// To keep Add O(1) amortised, up to 2c counters are buffered between
// reductions; Items, Exact and MarshalJSON see the reduced summary, so the
// buffering never shows.
type Frequent struct {
	cap    int
	n      uint64
	delta  uint64
	idx    map[uint64]int // key → position in keys/counts; lookup only
	keys   []uint64
	counts []uint64
}

// NewFrequent returns an empty summary with the given number of counters,
// clamped to [1, MaxFrequentCap]; capacity <= 0 selects DefaultFrequentCap.
func NewFrequent(capacity int) *Frequent {
	if capacity <= 0 {
		capacity = DefaultFrequentCap
	}
	capacity = min(capacity, MaxFrequentCap)
	return &Frequent{cap: capacity, idx: make(map[uint64]int)}
}

// ready makes a zero-value Frequent usable with the default capacity.
func (f *Frequent) ready() {
	if f.cap <= 0 {
		f.cap = DefaultFrequentCap
	}
	f.idx = make(map[uint64]int, len(f.keys))
	f.reindex()
}

// Cap returns the capacity.
func (f *Frequent) Cap() int { return f.cap }

// Add counts key n times.
func (f *Frequent) Add(key uint64, n uint64) {
	if n == 0 {
		return
	}
	if f.idx == nil {
		f.ready()
	}
	f.n = freqSatAdd(f.n, n)
	if i, ok := f.idx[key]; ok {
		f.counts[i] = freqSatAdd(f.counts[i], n)
		return
	}
	f.idx[key] = len(f.keys)
	f.keys = append(f.keys, key)
	f.counts = append(f.counts, n)
	if len(f.keys) > 2*f.cap {
		f.keys, f.counts, f.delta = reduceCounters(f.keys, f.counts, f.delta, f.cap)
		f.reindex()
	}
}

func (f *Frequent) reindex() {
	clear(f.idx)
	for i, k := range f.keys {
		f.idx[k] = i
	}
}

// reduceCounters applies the Misra–Gries reduction to at most c counters,
// returning new slices (the inputs are not modified).
func reduceCounters(keys, counts []uint64, delta uint64, c int) ([]uint64, []uint64, uint64) {
	if len(keys) <= c {
		return keys, counts, delta
	}
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b uint64) int { return cmp.Compare(b, a) })
	v := sorted[c] // the (c+1)-th largest
	nk := make([]uint64, 0, c)
	nc := make([]uint64, 0, c)
	for i, x := range counts {
		if x > v {
			nk = append(nk, keys[i])
			nc = append(nc, x-v)
		}
	}
	return nk, nc, freqSatAdd(delta, v)
}

// freqSatAdd adds without wrapping: counts beyond 2^64 cannot come from real
// data, but merging crafted profiles must not turn a huge count into a
// small one.
func freqSatAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return ^uint64(0)
	}
	return s
}

// reduced returns the summary as it stands after any pending reduction.
func (f *Frequent) reduced() (keys, counts []uint64, delta uint64) {
	return reduceCounters(f.keys, f.counts, f.delta, f.cap)
}

// Merge adds the counts summarised by o. The result keeps f's capacity; its
// bound Δ is the sum of both bounds plus the reduction of the merge.
func (f *Frequent) Merge(o *Frequent) {
	if o == f {
		o = &Frequent{cap: f.cap, n: f.n, delta: f.delta, keys: slices.Clone(f.keys), counts: slices.Clone(f.counts)}
	}
	if f.idx == nil {
		f.ready()
	}
	for i, k := range o.keys {
		if j, ok := f.idx[k]; ok {
			f.counts[j] = freqSatAdd(f.counts[j], o.counts[i])
		} else {
			f.idx[k] = len(f.keys)
			f.keys = append(f.keys, k)
			f.counts = append(f.counts, o.counts[i])
		}
	}
	f.n = freqSatAdd(f.n, o.n)
	f.delta = freqSatAdd(f.delta, o.delta)
	f.keys, f.counts, f.delta = reduceCounters(f.keys, f.counts, f.delta, f.cap)
	f.reindex()
}

// N returns the total count added.
func (f *Frequent) N() uint64 { return f.n }

// Exact reports whether no count has been lost, that is, whether the number
// of distinct keys has never exceeded the capacity. Then every Count is the
// true count and Err is 0.
func (f *Frequent) Exact() bool { return f.delta == 0 && len(f.keys) <= f.cap }

// Items returns the tracked keys sorted by Count descending, then Key
// ascending.
func (f *Frequent) Items() []FreqItem {
	keys, counts, delta := f.reduced()
	items := make([]FreqItem, len(keys))
	for i, k := range keys {
		items[i] = FreqItem{Key: k, Count: counts[i] + delta, Err: delta}
	}
	slices.SortFunc(items, func(a, b FreqItem) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return items
}

type freqItemJSON struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// freqJSON is the wire form. Items carry the raw counters (lower bounds),
// sorted by count descending then key ascending; delta is Δ.
type freqJSON struct {
	Cap   int            `json:"cap"`
	N     uint64         `json:"n"`
	Delta uint64         `json:"delta"`
	Items []freqItemJSON `json:"items"`
}

// MarshalJSON writes {"cap","n","delta","items":[{"key","count"}]} with keys
// as 16-digit lowercase hex.
func (f *Frequent) MarshalJSON() ([]byte, error) {
	keys, counts, delta := f.reduced()
	j := freqJSON{Cap: f.cap, N: f.n, Delta: delta, Items: make([]freqItemJSON, len(keys))}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(keys[a], keys[b])
	})
	for i, o := range order {
		j.Items[i] = freqItemJSON{Key: fmt.Sprintf("%016x", keys[o]), Count: counts[o]}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads and validates the form MarshalJSON writes.
func (f *Frequent) UnmarshalJSON(data []byte) error {
	var j freqJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("frequent: %w: %w", ErrBadSketch, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("frequent: %w: %s", ErrBadSketch, fmt.Sprintf(format, a...))
	}
	if j.Cap < 1 || j.Cap > MaxFrequentCap {
		return bad("capacity %d outside [1, %d]", j.Cap, MaxFrequentCap)
	}
	if len(j.Items) > j.Cap {
		return bad("%d items exceed capacity %d", len(j.Items), j.Cap)
	}
	nf := Frequent{cap: j.Cap, n: j.N, delta: j.Delta, idx: make(map[uint64]int, len(j.Items)),
		keys: make([]uint64, 0, len(j.Items)), counts: make([]uint64, 0, len(j.Items))}
	var sum uint64
	for i, it := range j.Items {
		if len(it.Key) != 16 {
			return bad("key %q is not 16 hex digits", it.Key)
		}
		k, err := strconv.ParseUint(it.Key, 16, 64)
		if err != nil {
			return bad("key %q is not 16 hex digits", it.Key)
		}
		if it.Count == 0 {
			return bad("zero count for key %s", it.Key)
		}
		if _, dup := nf.idx[k]; dup {
			return bad("duplicate key %s", it.Key)
		}
		if i > 0 {
			p := j.Items[i-1]
			pk := nf.keys[i-1]
			if p.Count < it.Count || (p.Count == it.Count && pk > k) {
				return bad("items not sorted by count desc, key asc")
			}
		}
		var carry uint64
		sum, carry = bits.Add64(sum, it.Count, 0)
		if carry != 0 {
			return bad("counts overflow")
		}
		nf.idx[k] = len(nf.keys)
		nf.keys = append(nf.keys, k)
		nf.counts = append(nf.counts, it.Count)
	}
	// Counters plus the mass the reductions removed account for at most N.
	if tot, carry := bits.Add64(sum, j.Delta, 0); carry != 0 || tot > j.N {
		return bad("counts %d plus delta %d exceed n %d", sum, j.Delta, j.N)
	}
	*f = nf
	return nil
}
