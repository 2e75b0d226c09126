package audit

import (
	"testing"
	"time"
)

// BenchmarkAppendThroughput measures records committed per second through
// Append, including Close's final flush, so it counts durable work, not
// just enqueueing.
func BenchmarkAppendThroughput(b *testing.B) {
	cfg := testConfig(b.TempDir())
	cfg.CheckpointInterval = 10 * time.Second
	cfg.FlushInterval = 50 * time.Millisecond
	l, err := Open(b.Context(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := rec(1)
	r.PayloadHash = l.HashPayload([]byte("hello"))
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		l.Append(r)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	if st := l.Stats(); st.Written+st.Spooled != int64(b.N) {
		b.Fatalf("lost records: %+v", st)
	}
}

// BenchmarkAppendDurable is the must-log path: one commit per call when
// callers are sequential.
func BenchmarkAppendDurable(b *testing.B) {
	l, err := Open(b.Context(), testConfig(b.TempDir()), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := rec(1)
	b.ResetTimer()
	for range b.N {
		if err := l.AppendDurable(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}
