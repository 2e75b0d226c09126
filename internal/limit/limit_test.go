package limit

import (
	"fmt"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	lim := rampart.RateLimit{PerSecond: 2, Burst: 3}
	tests := []struct {
		name      string
		at        time.Duration
		ok        bool
		retryOver time.Duration
	}{
		{"burst 1", 0, true, 0},
		{"burst 2", 0, true, 0},
		{"burst 3", 0, true, 0},
		{"empty", 0, false, 400 * time.Millisecond},
		{"half a token later", 250 * time.Millisecond, false, 200 * time.Millisecond},
		{"one token later", 500 * time.Millisecond, true, 0},
		{"empty again", 500 * time.Millisecond, false, 400 * time.Millisecond},
	}
	m := NewMemory()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, retry := m.Take("alice", lim, t0.Add(tc.at))
			if ok != tc.ok {
				t.Fatalf("ok=%v want %v", ok, tc.ok)
			}
			if !ok && (retry <= tc.retryOver-time.Millisecond || retry > time.Second) {
				t.Fatalf("retry after %v, want > %v", retry, tc.retryOver)
			}
		})
	}
	if ok, _ := m.Take("bob", lim, t0); !ok {
		t.Fatal("buckets are not per key")
	}
	if ok, _ := m.Take("carol", rampart.RateLimit{}, t0); !ok {
		t.Fatal("zero limit must admit")
	}
}

func TestSweepBoundsMemory(t *testing.T) {
	m := NewMemory()
	lim := rampart.RateLimit{PerSecond: 100, Burst: 1}
	t0 := time.Unix(0, 0)
	for i := range 200000 {
		m.Take(fmt.Sprint("k", i), lim, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := m.Len(); n > 150000 {
		t.Fatalf("%d buckets held: idle buckets are not swept", n)
	}
}

// TestSweepKeepsSlowBuckets is the regression test for a sweep that judged
// every bucket by the limit of whichever caller triggered it: a key allowed
// one request per 1000 s got its burst back after a minute idle once other
// callers created enough buckets.
func TestSweepKeepsSlowBuckets(t *testing.T) {
	m := NewMemory()
	slow := rampart.RateLimit{PerSecond: 0.001, Burst: 1}
	t0 := time.Unix(0, 0)
	if ok, _ := m.Take("slow", slow, t0); !ok {
		t.Fatal("first request refused")
	}
	fast := rampart.RateLimit{PerSecond: 100, Burst: 1}
	for i := range 200000 {
		m.Take(fmt.Sprint("k", i), fast, t0.Add(2*time.Minute))
	}
	if ok, _ := m.Take("slow", slow, t0.Add(3*time.Minute)); ok {
		t.Fatal("slow bucket was forgotten and refilled early")
	}
}

func TestSemaphore(t *testing.T) {
	s := NewSemaphore(2)
	if !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() {
		t.Fatal("cap of 2 not enforced")
	}
	s.Release()
	if !s.TryAcquire() {
		t.Fatal("released slot not reusable")
	}
	var none *Semaphore
	if !none.TryAcquire() {
		t.Fatal("nil semaphore must admit")
	}
}

func BenchmarkTake(b *testing.B) {
	m := NewMemory()
	lim := rampart.RateLimit{PerSecond: 1e9, Burst: 1 << 30}
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Take("key:abc", lim, now)
		}
	})
}
