// Package stats holds the numeric kernels of the data guard: mergeable
// sketches, two-sample tests and distances, and outlier scores.
//
// The sketches (Moments, KLL, HLL, Frequent, Cov) summarise a column or a
// group of columns in one pass and in bounded memory. They are the body of a
// data profile, which is computed on trusted data, merged across shards,
// shipped as JSON and loaded back by a gateway. Every sketch therefore keeps
// four promises:
//
//   - Merge: merging the sketches of shards gives the same answer as one
//     sketch over all the data, exactly (up to float rounding) for Moments
//     and Cov and within the stated error bound for KLL, HLL and Frequent.
//   - Determinism: the same values added in the same order give byte-identical
//     JSON. Randomised sketches keep their PRNG state inside the sketch and no
//     output depends on Go map iteration order.
//   - Validation: UnmarshalJSON treats its input as untrusted. Bad sizes,
//     unsorted levels, negative or inconsistent counts, NaN where it is not
//     allowed and absurd capacities are reported as errors wrapping
//     ErrBadSketch; decoding never panics and never allocates more than a
//     small multiple of the input size.
//   - Stability: the hash functions in hash.go and the JSON layouts are part
//     of the profile format; changing either requires a new profile version.
//
// The two-sample tests, distances and outlier scores build on these sketches
// and on plain float64 slices.
package stats
