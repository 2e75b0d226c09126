//go:build race

package learn

// raceEnabled lets the heavy evaluation skip under -race, where the
// instrumented kernels run an order of magnitude slower.
const raceEnabled = true
