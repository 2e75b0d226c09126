package stats

import (
	"encoding/json"
	"math"
	"testing"
)

// sketchSeeds returns valid encodings of every sketch type in interesting
// states, for fuzz seeds.
func sketchSeeds() [][]byte {
	var out [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	m := NewMoments()
	add(m)
	m.AddSlice([]float64{1, 2, 3.5, -7})
	add(m)

	for _, n := range []int{0, 5, 300, 5000} {
		s := NewKLL(8)
		for i := range n {
			s.Add(float64((i * 7919) % 1000))
		}
		if n == 5 {
			s.Add(math.Inf(1))
		}
		add(s)
	}
	for _, n := range []int{0, 3, 2000} {
		h := NewHLL()
		for i := range n {
			h.AddHash(HashFloat(float64(i)))
		}
		add(h)
	}
	f := NewFrequent(3)
	add(f)
	for i := range 50 {
		f.Add(uint64(i%7), uint64(i%3+1))
	}
	add(f)
	c := NewCov(2)
	add(c)
	c.AddRows([]float64{1, 2, 3, 5, 4, 4}, 3)
	add(c)
	return out
}

// FuzzSketchJSON feeds arbitrary bytes to every sketch decoder. Whatever a
// decoder accepts must be usable (queries, adds and merges do not panic) and
// must re-encode to bytes the decoder accepts again and that re-encode
// identically.
func FuzzSketchJSON(f *testing.F) {
	for _, s := range sketchSeeds() {
		f.Add(s)
	}
	f.Add([]byte(`{"k":8,"n":4,"min":1,"max":2,"rng":"0000000000000001","levels":[[],[1,2]]}`))
	f.Add([]byte(`{"k":8,"n":2,"min":"-Inf","max":"+Inf","rng":"0000000000000001","levels":[["-Inf","+Inf"]]}`))
	f.Add([]byte(`{"p":14,"registers":"AAAA"}`))
	f.Add([]byte(`{"d":1000000,"n":0,"mean":[],"comoment":[]}`))
	f.Add([]byte(`{"cap":2,"n":18446744073709551615,"delta":5,"items":[{"key":"ffffffffffffffff","count":7}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		stable := func(name string, v json.Marshaler, fresh func() json.Unmarshaler) {
			b1, err := v.MarshalJSON()
			if err != nil {
				t.Fatalf("%s: re-marshal: %v", name, err)
			}
			w := fresh()
			if err := w.UnmarshalJSON(b1); err != nil {
				t.Fatalf("%s: own encoding rejected: %v\n%s", name, err, b1)
			}
			b2, err := w.(json.Marshaler).MarshalJSON()
			if err != nil || string(b1) != string(b2) {
				t.Fatalf("%s: encoding not stable: %v\n%s\n%s", name, err, b1, b2)
			}
		}

		var m Moments
		if m.UnmarshalJSON(data) == nil {
			stable("moments", m, func() json.Unmarshaler { return new(Moments) })
			_, _, _, _ = m.Variance(), m.Std(), m.Skewness(), m.Kurtosis()
			o := m
			m.Merge(&o)
			m.Add(1)
			m.AddSlice([]float64{2, math.NaN()})
		}

		var k KLL
		if k.UnmarshalJSON(data) == nil {
			stable("kll", &k, func() json.Unmarshaler { return new(KLL) })
			_ = k.Quantiles([]float64{0, 0.25, 0.5, 1, math.NaN()})
			_, _, _ = k.Rank(0), k.Min(), k.Max()
			v, w := k.Items()
			var tot uint64
			for _, x := range w {
				tot += x
			}
			if len(v) != len(w) || tot != k.N() {
				t.Fatalf("kll: %d items weigh %d, N %d", len(v), tot, k.N())
			}
			_ = k.Merge(k.Clone())
			fresh := NewKLL(k.K())
			fresh.AddSlice([]float64{1, 2, 3})
			_ = k.Merge(fresh)
			k.AddSlice([]float64{math.Inf(-1), 4, math.NaN(), 5})
			_ = k.Quantile(0.5)
		}

		var h HLL
		if h.UnmarshalJSON(data) == nil {
			stable("hll", &h, func() json.Unmarshaler { return new(HLL) })
			_ = h.Estimate()
			other := NewHLL()
			other.AddHash(42)
			h.Merge(other)
			other.Merge(&h)
			h.AddHash(7)
			_, _ = h.Estimate(), other.Estimate()
		}

		var fr Frequent
		if fr.UnmarshalJSON(data) == nil {
			stable("frequent", &fr, func() json.Unmarshaler { return new(Frequent) })
			_, _ = fr.Items(), fr.Exact()
			other := NewFrequent(2)
			other.Add(1, 3)
			fr.Merge(other)
			other.Merge(&fr)
			fr.Add(99, 1)
			_, _ = fr.Items(), other.Items()
		}

		var c Cov
		if c.UnmarshalJSON(data) == nil {
			stable("cov", &c, func() json.Unmarshaler { return new(Cov) })
			_, _ = c.Covariance(), c.Mean()
			row := make([]float64, c.Dim())
			c.AddRows(row, 1)
			o := NewCov(c.Dim())
			_ = o.Merge(&c)
			_ = c.Merge(&c)
		}
	})
}
