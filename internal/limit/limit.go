// Package limit holds admission controls: per-principal token buckets and
// per-route concurrency caps. State lives behind [Store] so a fleet can share
// it later; the in-memory store is the embedded default.
package limit

import (
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/rampart-ai/rampart"
)

// Store takes tokens from named buckets.
type Store interface {
	// Take removes one token from the bucket key with the given limit. It
	// reports whether the request is admitted and, if not, how long until a
	// token is available.
	Take(key string, lim rampart.RateLimit, now time.Time) (ok bool, retryAfter time.Duration)
}

const shards = 64

// Memory is an in-memory token-bucket store, sharded to keep lock contention
// low. Idle buckets are swept so memory stays bounded by active callers.
type Memory struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	sweeps  int
}

type bucket struct {
	tokens float64
	last   time.Time
	// full is how long this bucket takes to refill from empty under its own
	// limit; idle that long, it is full and can be forgotten.
	full time.Duration
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	m := &Memory{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].buckets = map[string]*bucket{}
	}
	return m
}

// Take implements Store.
func (m *Memory) Take(key string, lim rampart.RateLimit, now time.Time) (bool, time.Duration) {
	if lim.IsZero() {
		return true, 0
	}
	burst := float64(max(lim.Burst, 1))
	sh := &m.shards[maphash.String(m.seed, key)%shards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.buckets[key]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		sh.buckets[key] = b
		sh.sweep(now)
	}
	b.full = time.Duration(burst / lim.PerSecond * float64(time.Second))
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(burst, b.tokens+el*lim.PerSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / lim.PerSecond * float64(time.Second))
	return false, wait
}

// sweep drops buckets that have been idle long enough to be full again
// under their own limit; forgetting them changes nothing. It runs every
// 1024 new buckets.
func (s *shard) sweep(now time.Time) {
	s.sweeps++
	if s.sweeps%1024 != 0 {
		return
	}
	for k, b := range s.buckets {
		if now.Sub(b.last) > b.full+time.Second {
			delete(s.buckets, k)
		}
	}
}

// Len reports how many buckets are held (for tests and metrics).
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].buckets)
		m.shards[i].mu.Unlock()
	}
	return n
}

// Semaphore caps concurrent requests. A nil *Semaphore admits everything.
type Semaphore struct{ ch chan struct{} }

// NewSemaphore returns a cap of n (n <= 0: no cap, nil).
func NewSemaphore(n int) *Semaphore {
	if n <= 0 {
		return nil
	}
	return &Semaphore{ch: make(chan struct{}, n)}
}

// TryAcquire takes a slot without waiting.
func (s *Semaphore) TryAcquire() bool {
	if s == nil {
		return true
	}
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release returns a slot.
func (s *Semaphore) Release() {
	if s != nil {
		<-s.ch
	}
}

// InUse reports the slots taken.
func (s *Semaphore) InUse() int {
	if s == nil {
		return 0
	}
	return len(s.ch)
}
