package pickle

import (
	"bytes"
	"context"
	"testing"
)

// BenchmarkEmulate measures opcodes per second on dense pickles: a list of
// two million small ints (the shape of pickle.dumps(list(range(2_000_000))))
// and a list of two million memoized (int, int) tuples.
func BenchmarkEmulate(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"ints", denseInts(2_000_000)}, {"tuples", denseTuples(2_000_000)}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			var ops int64
			for i := 0; i < b.N; i++ {
				fs, st, err := Scan(context.Background(), bytes.NewReader(c.data), 0, nil)
				if err != nil || len(fs) != 0 {
					b.Fatalf("%v %+v", err, fs)
				}
				ops += st.Opcodes
			}
			b.ReportMetric(float64(ops)/b.Elapsed().Seconds()/1e6, "Mops/s")
		})
	}
}
