package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestHLLDenseHidesHashes: in exact mode a distinct counter serialises
// the 64-bit hashes of up to 1024 values, and an unsalted hash of an
// e-mail address or a name is reversed by hashing candidates. A profile
// promises to keep no values of a free-text column, so such a column's
// counter is made dense before it is written: the JSON must then hold no
// hash, and the estimate must stay close to the exact count and keep
// merging with exact counters.
func TestHLLDenseHidesHashes(t *testing.T) {
	for _, n := range []int{0, 1, 3, 600, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := NewHLL()
			var hashes []string
			for i := range n {
				x := HashString(fmt.Sprintf("user%d@example.com", i))
				h.AddHash(x)
				hashes = append(hashes, fmt.Sprintf("%016x", x))
			}
			h.Dense()
			h.Dense() // idempotent
			if h.Exact() {
				t.Fatal("still exact after Dense")
			}
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `"exact"`) {
				t.Fatalf("dense counter serialised exact hashes: %.80s", b)
			}
			for _, s := range hashes {
				if strings.Contains(string(b), s) {
					t.Fatalf("hash %s of a value in the JSON", s)
				}
			}
			var back HLL
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			est := float64(back.Estimate())
			if math.Abs(est-float64(n)) > 0.03*float64(n)+1 {
				t.Errorf("estimate %v for %d distinct values", est, n)
			}
			// Merging an exact counter of the same values changes nothing.
			e := NewHLL()
			for i := range n {
				e.AddHash(HashString(fmt.Sprintf("user%d@example.com", i)))
			}
			back.Merge(e)
			if got := float64(back.Estimate()); got != est {
				t.Errorf("estimate %v after merging the same values, want %v", got, est)
			}
		})
	}
}
