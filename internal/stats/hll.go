package stats

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
)

const (
	// HLLPrecision is p: the dense sketch has 2^p one-byte registers. Its
	// relative standard error is 1.04/sqrt(2^14) ≈ 0.81%.
	HLLPrecision = 14
	// HLLExactLimit is the largest number of distinct hashes kept exactly;
	// the 1025th distinct hash switches the sketch to dense registers.
	HLLExactLimit = 1024

	hllM       = 1 << HLLPrecision
	hllQ       = 64 - HLLPrecision // register values lie in [0, hllQ+1]
	hllSetBits = 11                // exact set table: 2048 slots, load ≤ 1/2
	hllSetSize = 1 << hllSetBits
)

// HLLRelStdErr is the relative standard error of a dense HLL estimate.
var HLLRelStdErr = 1.04 / math.Sqrt(hllM)

// HLL counts distinct 64-bit hashes (see hash.go): exactly while at most
// HLLExactLimit distinct hashes have been seen, then with a HyperLogLog of
// precision 14 (Flajolet et al. 2007) read by the improved raw estimator of
// Ertl ("New cardinality estimation algorithms for HyperLogLog sketches",
// 2017), which is unbiased over the whole range without the empirical bias
// tables of HLL++. Hashes must be uniformly distributed; HashString,
// HashBytes and HashFloat are.
type HLL struct {
	// Exact mode: an open-addressing set of the hashes, 0 marking an empty
	// slot, so hash 0 itself is tracked by hasZero.
	set     []uint64
	nset    int
	hasZero bool
	// Dense mode when regs != nil.
	regs hllRegs
}

// NewHLL returns an empty counter in exact mode.
func NewHLL() *HLL { return &HLL{} }

// Exact reports whether Estimate is an exact count.
func (h *HLL) Exact() bool { return h.regs == nil }

// AddHash adds one hash.
func (h *HLL) AddHash(x uint64) {
	if h.regs != nil {
		h.regs.add(x)
		return
	}
	h.addExact(x)
}

type hllRegs []uint8

func (r hllRegs) add(x uint64) {
	idx := x >> hllQ
	// The sentinel bit caps the count of leading zeros at hllQ, so rho is in
	// [1, hllQ+1].
	rho := uint8(bits.LeadingZeros64(x<<HLLPrecision|1<<(HLLPrecision-1)) + 1)
	if rho > r[idx] {
		r[idx] = rho
	}
}

func (h *HLL) addExact(x uint64) {
	if x == 0 {
		if !h.hasZero {
			h.hasZero = true
			h.grewExact()
		}
		return
	}
	if h.set == nil {
		h.set = make([]uint64, hllSetSize)
	}
	// Fibonacci hashing spreads even poorly mixed inputs over the table.
	i := (x * 0x9e3779b97f4a7c15) >> (64 - hllSetBits)
	for {
		v := h.set[i]
		if v == x {
			return
		}
		if v == 0 {
			h.set[i] = x
			h.nset++
			h.grewExact()
			return
		}
		i = (i + 1) & (hllSetSize - 1)
	}
}

func (h *HLL) exactCount() int {
	if h.hasZero {
		return h.nset + 1
	}
	return h.nset
}

// grewExact switches to dense registers once the exact set is over limit.
func (h *HLL) grewExact() {
	if h.exactCount() <= HLLExactLimit {
		return
	}
	h.Dense()
}

// Dense switches the counter to dense registers now, whatever its count,
// giving up exactness. Exact mode stores the hashes themselves, and a hash
// of a value from a guessable set (an e-mail address, a name) is reversed
// by hashing candidates, so a summary that promises to hold no values of a
// free-text column must not carry them; registers keep only the largest
// leading-zero count per bucket. Estimate stays within the dense error.
func (h *HLL) Dense() {
	if h.regs != nil {
		return
	}
	regs := make(hllRegs, hllM)
	h.eachExact(regs.add)
	*h = HLL{regs: regs}
}

func (h *HLL) eachExact(f func(uint64)) {
	if h.hasZero {
		f(0)
	}
	for _, v := range h.set {
		if v != 0 {
			f(v)
		}
	}
}

// Merge adds the hashes counted by o; the result equals the counter of the
// union of both inputs.
func (h *HLL) Merge(o *HLL) {
	if o == h {
		return
	}
	switch {
	case o.regs == nil:
		o.eachExact(h.AddHash)
	case h.regs == nil:
		regs := slices.Clone(o.regs)
		h.eachExact(regs.add)
		*h = HLL{regs: regs}
	default:
		for i, v := range o.regs {
			if v > h.regs[i] {
				h.regs[i] = v
			}
		}
	}
}

// Estimate returns the number of distinct hashes: exact in exact mode,
// otherwise Ertl's improved estimate rounded to an integer.
func (h *HLL) Estimate() uint64 {
	if h.regs == nil {
		return uint64(h.exactCount())
	}
	var c [hllQ + 2]int
	for _, v := range h.regs {
		c[min(int(v), hllQ+1)]++
	}
	const m = float64(hllM)
	z := m * ertlTau(1-float64(c[hllQ+1])/m)
	for k := hllQ; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * ertlSigma(float64(c[0])/m)
	if math.IsInf(z, 1) {
		return 0
	}
	est := m * m / (2 * math.Ln2) / z
	return uint64(math.Round(est))
}

// ertlSigma is σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1) from Ertl 2017.
func ertlSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// ertlTau is τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))² 2^−k) / 3 from Ertl 2017.
func ertlTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// hllJSON is the wire form: exact mode lists the hashes as sorted 16-digit
// hex strings; dense mode holds the 2^14 registers as standard base64.
type hllJSON struct {
	P         int       `json:"p"`
	Exact     *[]string `json:"exact,omitempty"`
	Registers string    `json:"registers,omitempty"`
}

// MarshalJSON writes {"p":14,"exact":[...]} or {"p":14,"registers":"..."}.
func (h *HLL) MarshalJSON() ([]byte, error) {
	j := hllJSON{P: HLLPrecision}
	if h.regs != nil {
		j.Registers = base64.StdEncoding.EncodeToString(h.regs)
	} else {
		hs := make([]uint64, 0, h.exactCount())
		h.eachExact(func(x uint64) { hs = append(hs, x) })
		slices.Sort(hs)
		strs := make([]string, len(hs))
		for i, x := range hs {
			strs[i] = fmt.Sprintf("%016x", x)
		}
		j.Exact = &strs
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads and validates the form MarshalJSON writes.
func (h *HLL) UnmarshalJSON(data []byte) error {
	var j hllJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("hll: %w: %w", ErrBadSketch, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("hll: %w: %s", ErrBadSketch, fmt.Sprintf(format, a...))
	}
	if j.P != HLLPrecision {
		return bad("precision %d, want %d", j.P, HLLPrecision)
	}
	if (j.Exact == nil) == (j.Registers == "") {
		return bad("exactly one of exact and registers is required")
	}
	if j.Exact == nil {
		if base64.StdEncoding.DecodedLen(len(j.Registers)) > hllM+3 {
			return bad("registers too long")
		}
		regs, err := base64.StdEncoding.DecodeString(j.Registers)
		if err != nil {
			return bad("registers: %v", err)
		}
		if len(regs) != hllM {
			return bad("%d registers, want %d", len(regs), hllM)
		}
		for i, v := range regs {
			if v > hllQ+1 {
				return bad("register %d value %d exceeds %d", i, v, hllQ+1)
			}
		}
		*h = HLL{regs: hllRegs(regs)}
		return nil
	}
	if len(*j.Exact) > HLLExactLimit {
		return bad("%d exact hashes exceed %d", len(*j.Exact), HLLExactLimit)
	}
	var n HLL
	var prev uint64
	for i, s := range *j.Exact {
		if len(s) != 16 {
			return bad("hash %q is not 16 hex digits", s)
		}
		x, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			return bad("hash %q is not 16 hex digits", s)
		}
		if i > 0 && x <= prev {
			return bad("exact hashes not strictly ascending")
		}
		prev = x
		n.addExact(x)
	}
	*h = n
	return nil
}
