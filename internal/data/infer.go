package data

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"sync"
	"unsafe"
)

// This file holds what the text readers share: number and bool parsing
// straight from byte slices (no allocation on the hot path), kind
// inference, the chunked string arena and the bounded input buffer.

// pow10 are the powers of ten that float64 represents exactly; they make
// the fast path of parseNum exact (Clinger's algorithm).
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// bytesView is a string that aliases b. Only for calls that do not keep
// their argument (strconv parsing, map look-ups).
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseNum parses a decimal number the way strconv.ParseFloat does (and
// returns exactly its result), including nan, inf and infinity in any case
// and out-of-range values as ±Inf. Hex floats and underscores are not
// numbers here, since no CSV writer emits them. Surrounding spaces and tabs
// are ignored. The common case, at most 19 significant digits and a
// decimal exponent within ±22, is computed without strconv: a mantissa
// below 2^53 and an exact power of ten give a correctly rounded result with
// one multiplication or division.
func parseNum(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	// Accumulate every digit; more than 19 (leading zeros included, which
	// is rare) goes to strconv, so mant cannot overflow.
	var mant uint64
	start := i
	for i+8 <= len(b) {
		v, ok := eightDigits(b[i:])
		if !ok {
			break
		}
		mant = mant*1e8 + v
		i += 8
	}
	for ; i < len(b); i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		mant = mant*10 + uint64(c)
	}
	nd := i - start
	exp := 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i+8 <= len(b) {
			v, ok := eightDigits(b[i:])
			if !ok {
				break
			}
			mant = mant*1e8 + v
			i += 8
		}
		for ; i < len(b); i++ {
			c := b[i] - '0'
			if c > 9 {
				break
			}
			mant = mant*10 + uint64(c)
		}
		exp = fs - i
		nd += i - fs
	}
	if nd == 0 || nd > 19 {
		return parseNumSlow(b)
	}
	if i < len(b) {
		if b[i] != 'e' && b[i] != 'E' {
			return parseNumSlow(b)
		}
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		e := 0
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if e < 100000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == es || i != len(b) {
			return parseNumSlow(b)
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if mant == 0 {
		if neg {
			return math.Copysign(0, -1), true
		}
		return 0, true
	}
	if mant > 1<<53 || exp < -22 || exp > 22 {
		// Shortest round-trip output ('g', -1) has 16 or 17 significant
		// digits, so most mantissas of real data land here.
		if f, ok := mulPow10(mant, exp, neg); ok {
			return f, true
		}
		return parseNumSlow(b)
	}
	f := float64(int64(mant))
	if exp < 0 {
		f /= pow10[-exp]
	} else {
		f *= pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

// pow128 is 10^q as t·2^e with t a 128-bit integer whose top bit is set,
// rounded down; exact says t·2^e equals 10^q.
type pow128 struct {
	hi, lo uint64
	e      int
	exact  bool
}

// The decimal exponents mulPow10 handles; others go to strconv.
const pow128Min, pow128Max = -80, 80

var (
	pow128Once sync.Once
	pow128Tab  [pow128Max - pow128Min + 1]pow128
)

// initPow128 computes the table with math/big on first use, which keeps
// a literal table of magic numbers out of the source.
func initPow128() {
	ten := big.NewInt(10)
	mask := new(big.Int).SetUint64(math.MaxUint64)
	for q := pow128Min; q <= pow128Max; q++ {
		t := new(big.Int)
		var e int
		exact := true
		if q >= 0 {
			t.Exp(ten, big.NewInt(int64(q)), nil)
			n := t.BitLen()
			if n > 128 {
				exact = t.TrailingZeroBits() >= uint(n-128)
				t.Rsh(t, uint(n-128))
			} else {
				t.Lsh(t, uint(128-n))
			}
			e = n - 128
		} else {
			// 2^(n-1) < 10^-q < 2^n, so 2^(127+n)/10^-q lies strictly
			// between 2^127 and 2^128; the quotient is never exact.
			d := new(big.Int).Exp(ten, big.NewInt(int64(-q)), nil)
			n := d.BitLen()
			t.Lsh(big.NewInt(1), uint(127+n))
			t.Quo(t, d)
			e = -(127 + n)
			exact = false
		}
		lo := new(big.Int).And(t, mask)
		hi := new(big.Int).Rsh(t, 64)
		pow128Tab[q-pow128Min] = pow128{hi: hi.Uint64(), lo: lo.Uint64(), e: e, exact: exact}
	}
}

// mulPow10 returns w·10^q correctly rounded (nearest, ties to even) when it
// can prove the rounding from a 128-bit approximation of the power, which
// is almost always; ok is false otherwise (and for subnormal or overflowing
// results), and the caller falls back to strconv. This is the method of
// Lemire, "Number parsing at a gigabyte per second" (2021), with the
// rounding decided by interval reasoning: the truncated power makes the
// computed product at most w units of its last word below the true one.
func mulPow10(w uint64, q int, neg bool) (float64, bool) {
	if w == 0 || q < pow128Min || q > pow128Max {
		return 0, false
	}
	pow128Once.Do(initPow128)
	p := &pow128Tab[q-pow128Min]
	s := bits.LeadingZeros64(w)
	w <<= uint(s)
	hi, lo := bits.Mul64(w, p.hi)
	// hi is in [2^62, 2^64): 53 bits are kept, sh are rounded away.
	sh := 10 + uint(hi>>63)
	half := uint64(1) << (sh - 1)
	rh := hi & (1<<sh - 1)
	up := false
	wide := false
	switch {
	case rh > half:
		up = true // a carry from below only moves the same result
	case rh == half:
		if lo != 0 || (hi>>sh)&1 == 1 {
			up = true
		} else {
			wide = true
		}
	case rh == half-1:
		wide = lo+w < lo
	}
	if wide {
		h0, l0 := bits.Mul64(w, p.lo)
		var c uint64
		lo, c = bits.Add64(lo, h0, 0)
		hi += c
		sh = 10 + uint(hi>>63)
		half = uint64(1) << (sh - 1)
		rh = hi & (1<<sh - 1)
		up = false
		switch {
		case rh > half:
			up = true
		case rh == half:
			// Above the halfway point when anything below is set or the
			// power was rounded down (the true product is then larger);
			// exactly halfway otherwise, which rounds to even.
			up = lo != 0 || l0 != 0 || !p.exact || (hi>>sh)&1 == 1
		case rh == half-1:
			if lo == math.MaxUint64 && l0+w < l0 {
				return 0, false
			}
		}
	}
	m := hi >> sh
	e := 52 + int(sh) + 128 + p.e - s
	if up {
		m++
		if m == 1<<53 {
			m >>= 1
			e++
		}
	}
	be := e + 1023
	if be < 1 || be > 2046 {
		return 0, false
	}
	f := uint64(be)<<52 | m&(1<<52-1)
	if neg {
		f |= 1 << 63
	}
	return math.Float64frombits(f), true
}

// eightDigits is the value of b[:8] when those bytes are all decimal
// digits, computed in a register: a byte is a digit when its high nibble is
// 3 and adding 6 does not carry out of its low nibble; then digit pairs,
// pairs of pairs and halves are merged by three multiplications.
func eightDigits(b []byte) (uint64, bool) {
	v := binary.LittleEndian.Uint64(b)
	if (v&0xF0F0F0F0F0F0F0F0)|((v+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4 != 0x3333333333333333 {
		return 0, false
	}
	v -= 0x3030303030303030
	v = v*10 + v>>8
	v = ((v&0x000000FF000000FF)*(100+1000000<<32) + (v>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
	return v, true
}

// parseNumSlow handles what the fast path does not: long mantissas, large
// exponents, inf/nan and surrounding blanks.
func parseNumSlow(b []byte) (float64, bool) {
	t := trimBlank(b)
	if len(t) != len(b) {
		if len(t) == 0 {
			return 0, false
		}
		return parseNum(t)
	}
	if len(t) == 0 {
		return 0, false
	}
	// Reject early what cannot be a number, so that text columns do not pay
	// for strconv's error allocation on every cell.
	switch c := t[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'i', c == 'I', c == 'n', c == 'N':
	default:
		return 0, false
	}
	for _, c := range t {
		if c == 'x' || c == 'X' || c == '_' || c == 'p' || c == 'P' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(bytesView(t), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func trimBlank(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isIntText reports whether b is an optionally signed run of decimal
// digits (surrounding blanks allowed).
func isIntText(b []byte) bool {
	b = trimBlank(b)
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

// boolWord parses the words a bool column is inferred from.
func boolWord(b []byte) (v float64, ok bool) {
	switch bytesView(trimBlank(b)) {
	case "true", "True", "TRUE":
		return 1, true
	case "false", "False", "FALSE":
		return 0, true
	}
	return 0, false
}

// parseBool parses a cell of a bool column: the words, or 0 and 1.
func parseBool(b []byte) (float64, bool) {
	if v, ok := boolWord(b); ok {
		return v, true
	}
	switch bytesView(trimBlank(b)) {
	case "0":
		return 0, true
	case "1":
		return 1, true
	}
	return 0, false
}

// isNullBytes is IsNullToken without converting b.
func isNullBytes(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if len(b) > 4 {
		return false
	}
	return IsNullToken(bytesView(b))
}

// textInfer accumulates what the sampled values of one text column allow.
type textInfer struct {
	nonNull, notInt, notFloat, notBool bool
}

func (t *textInfer) add(b []byte) {
	if isNullBytes(b) {
		return
	}
	t.nonNull = true
	if t.notInt && t.notFloat && t.notBool {
		return
	}
	if !t.notInt && !isIntText(b) {
		t.notInt = true
	}
	if t.notInt && !t.notFloat {
		if _, ok := parseNum(b); !ok {
			t.notFloat = true
		}
	}
	if !t.notBool {
		if _, ok := boolWord(b); !ok {
			t.notBool = true
		}
	}
}

func (t *textInfer) kind() Kind {
	switch {
	case !t.nonNull:
		return KindString
	case !t.notInt:
		return KindInt
	case !t.notFloat:
		return KindFloat
	case !t.notBool:
		return KindBool
	}
	return KindString
}

// normKind maps a schema's kind to one the readers parse; an unknown kind
// is read as text, which loses nothing.
func normKind(k Kind) Kind {
	switch k {
	case KindInt, KindFloat, KindBool:
		return k
	}
	return KindString
}

// strArena copies cell text into shared 64 KiB chunks so that a batch of
// strings costs a few allocations instead of one per cell. A chunk's bytes
// are never written again once a string views them.
type strArena struct{ buf []byte }

const arenaChunk = 64 << 10

func (a *strArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaChunk/8 {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[n], len(b))
}

// batchCols allocates the columns of a batch of up to n rows.
func batchCols(kinds []Kind, n int) []Column {
	cols := make([]Column, len(kinds))
	for j, k := range kinds {
		cols[j].State = make([]Cell, n)
		if k.Numeric() {
			cols[j].Num = make([]float64, n)
		} else {
			cols[j].Str = make([]string, n)
		}
	}
	return cols
}

// maxBatchCells bounds the cells of one batch, so that a very wide file
// (up to MaxColumns) gets fewer rows per batch instead of gigabytes.
const maxBatchCells = 1 << 22

// batchRows is the most rows per batch for ncols columns.
func batchRows(opt Options, ncols int) int {
	n := opt.BatchRows
	if ncols > 0 && n > maxBatchCells/ncols {
		n = max(1, maxBatchCells/ncols)
	}
	return n
}

// firstCap is the rows allocated up front: a large BatchRows grows the
// batch as rows arrive rather than allocating for rows a small file lacks.
func firstCap(max int) int { return min(max, DefaultBatchRows) }

// rowsCapOf is the rows the batch's columns have room for.
func rowsCapOf(b *Batch) int {
	if len(b.Cols) == 0 {
		return 0
	}
	return len(b.Cols[0].State)
}

// growBatch reallocates the batch's columns for capacity rows.
func growBatch(b *Batch, capacity int) {
	for j := range b.Cols {
		c := &b.Cols[j]
		c.State = append(make([]Cell, 0, capacity), c.State...)[:capacity]
		if c.Num != nil {
			c.Num = append(make([]float64, 0, capacity), c.Num...)[:capacity]
		}
		if c.Str != nil {
			c.Str = append(make([]string, 0, capacity), c.Str...)[:capacity]
		}
	}
}

// trimBatch cuts a batch's columns to its length.
func trimBatch(b *Batch) {
	for j := range b.Cols {
		c := &b.Cols[j]
		c.State = c.State[:b.Len:b.Len]
		if c.Num != nil {
			c.Num = c.Num[:b.Len:b.Len]
		}
		if c.Str != nil {
			c.Str = c.Str[:b.Len:b.Len]
		}
	}
}

// setMismatch records raw text that does not fit a numeric column.
func setMismatch(c *Column, i, n int, s string) {
	c.Num[i] = math.NaN()
	c.State[i] = Mismatch
	if c.Str == nil {
		c.Str = make([]string, n)
	}
	c.Str[i] = s
}
