package stats

import (
	"math"

	"github.com/cespare/xxhash/v2"
)

// The hashes below feed distinct counts (HLL) and frequent items (Frequent).
// Profiles store hashes, not values, so these functions are a stable part of
// the profile format: a profile computed with one hash and compared against
// values hashed with another would be silently wrong. Changing any of them,
// including the canonicalisation in HashFloat, requires bumping the profile
// version.

// HashString returns the 64-bit xxHash (XXH64, seed 0) of s.
func HashString(s string) uint64 { return xxhash.Sum64String(s) }

// HashBytes returns the 64-bit xxHash (XXH64, seed 0) of b; it equals
// HashString(string(b)).
func HashBytes(b []byte) uint64 { return xxhash.Sum64(b) }

// HashFloat hashes a float64 by value: -0 and +0 hash alike, as do all NaN
// payloads, so that equal-comparing numbers count as one distinct value. The
// canonical bits go through the splitmix64 finaliser, which is a bijection,
// so distinct canonical floats never collide.
func HashFloat(x float64) uint64 {
	var b uint64
	switch {
	case x == 0:
		b = 0
	case x != x:
		b = 0x7ff8000000000001
	default:
		b = math.Float64bits(x)
	}
	return mix64(b)
}

// mix64 is the splitmix64 finaliser (Steele, Lea, Flood 2014).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// splitmix64 advances a splitmix64 generator held in *state and returns the
// next output. Sketches that need random bits keep this state in their JSON so
// that a loaded sketch continues exactly as the original would have.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	return mix64(*state)
}
