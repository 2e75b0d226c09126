package pickle

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// joblibWrappers are the classes whose BUILD makes joblib's unpickler read
// an array from the file: raw element bytes, or for object arrays a nested
// pickle.
var joblibWrappers = map[string]bool{
	"joblib.numpy_pickle.NumpyArrayWrapper":                   true,
	"sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper": true,
}

func intValue(x int64) value {
	return value{k: kInt, a: uint32(x), b: uint32(uint64(x) >> 32)}
}

func (v value) int() int64 { return int64(uint64(v.b)<<32 | uint64(v.a)) }

// dtypeInfo encodes what joblib needs from numpy.dtype's first argument
// ("f8", "<i4", "U5", "O8", "V24"): 0 unknown, 1 an object array, else
// the item size plus 2.
func dtypeInfo(s []byte) uint32 {
	if len(s) > 0 && bytes.IndexByte([]byte("<>|="), s[0]) >= 0 {
		s = s[1:]
	}
	if len(s) == 0 {
		return 0
	}
	kind, digits := s[0], s[1:]
	if i := bytes.IndexByte(digits, '['); i >= 0 { // "M8[ns]"
		digits = digits[:i]
	}
	if kind == 'O' {
		return 1
	}
	if kind == '?' && len(digits) == 0 {
		return 3
	}
	n, err := strconv.ParseUint(string(digits), 10, 31)
	if err != nil {
		return 0
	}
	switch kind {
	case 'b', 'i', 'u', 'f', 'c', 'S', 'a', 'V', 'M', 'm':
	case 'U':
		n *= 4
	default:
		return 0
	}
	if n > math.MaxUint32-2 {
		return 0
	}
	return uint32(n) + 2
}

// dictGet returns the value for a str key in a tracked dict.
func (e *emu) dictGet(d value, key string) (value, bool) {
	if d.k != kDict {
		return value{}, false
	}
	it := e.items[d.a : d.a+d.b]
	for i := 0; i+1 < len(it); i += 2 {
		if it[i].k == kStr && string(e.strText(it[i])) == key {
			return it[i+1], true
		}
	}
	return value{}, false
}

// joblibArray consumes the array joblib writes after a NumpyArrayWrapper:
// an optional alignment padding (one length byte and that many bytes),
// then shape×itemsize raw bytes; or, for object arrays, a nested pickle,
// emulated like any other.
func (e *emu) joblibArray(state value, off int64) error {
	e.stats.JoblibArrays++
	shape, ok1 := e.dictGet(state, "shape")
	dt, ok2 := e.dictGet(state, "dtype")
	if !ok1 || !ok2 || dt.k != kCall || e.globals[dt.a].name != "numpy.dtype" || dt.b == 0 {
		return e.fail(off, "joblib array wrapper whose shape or dtype the scanner cannot follow")
	}
	if dt.b == 1 {
		return e.nested(off)
	}
	count := uint64(1)
	if shape.k != kTuple && !(shape.k == kTuple && shape.b == 0) {
		return e.fail(off, "joblib array wrapper shape is not a tuple of ints")
	}
	for _, d := range e.tupleItems(shape) {
		if d.k != kInt || d.int() < 0 {
			return e.fail(off, "joblib array wrapper shape is not a tuple of ints")
		}
		n := uint64(d.int())
		if n != 0 && count > math.MaxInt64/n {
			return e.fail(off, "joblib array size overflows")
		}
		count *= n
	}
	size := uint64(dt.b - 2)
	if size != 0 && count > math.MaxInt64/size {
		return e.fail(off, "joblib array size overflows")
	}
	if a, ok := e.dictGet(state, "numpy_array_alignment_bytes"); ok && a.k == kInt {
		if !e.in.fill(1) {
			return e.in.endErr()
		}
		pad := e.in.buf[e.in.pos]
		e.in.pos++
		if err := e.in.skip(uint64(pad)); err != nil {
			return err
		}
	}
	return e.in.skip(count * size)
}

// nested emulates the pickle joblib writes for an object array, with its
// own stack and memo, reporting into this emulation.
func (e *emu) nested(off int64) error {
	if e.depth >= 4 {
		return e.fail(off, "joblib object arrays nested too deeply")
	}
	c := &emu{ctx: e.ctx, pol: e.pol, offset: e.offset, joblib: true, depth: e.depth + 1,
		in: e.in, gindex: map[string]int32{}, sgCache: map[uint64]int32{}, frameEnd: -1,
		pickleIdx: 1, findings: e.findings}
	err := c.one()
	c.flushGlobals()
	e.in = c.in
	e.findings = c.findings
	e.stats.Opcodes += c.stats.Opcodes
	e.stats.JoblibArrays += c.stats.JoblibArrays
	if err != nil {
		if pe, ok := err.(*parseError); ok {
			pe.msg = fmt.Sprintf("in the pickle of a joblib object array: %s", pe.msg)
		}
		return err
	}
	return nil
}
