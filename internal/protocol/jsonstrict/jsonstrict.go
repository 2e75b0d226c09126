// Package jsonstrict is a strict, bounded, single-pass JSON reader for
// untrusted request bodies.
//
// It accepts exactly RFC 8259 JSON and refuses what lenient parsers let
// through and what differing parsers read differently: invalid UTF-8 (in
// strings or anywhere else), lone UTF-16 surrogates in \u escapes,
// duplicate object keys at any depth (compared after unescaping, so "a" and
// "\u0061" collide), and trailing data. It enforces [protocol.Limits]:
// nesting depth, string and number length, and the total number of array
// elements plus object members. Every error is a *rampart.Error naming the
// byte offset: CodeInvalid for malformed input, CodeTooLarge for a breached
// limit.
//
// Decoders drive a [Decoder] directly (a pull API, no reflection), so a
// tensor's numbers go straight from the bytes into a []float64. [Validate]
// checks a whole document for callers that then hand it to encoding/json.
//
// A Decoder is not safe for concurrent use; byte slices it returns alias
// its input or an internal buffer and are valid only until the next call.
package jsonstrict

import (
	"math"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

// Kind is the type of the next JSON value.
type Kind uint8

// The JSON value kinds.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"invalid", "null", "boolean", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// smallObject is how many keys an object may hold before duplicate checks
// move from a linear scan to a map; a linear scan is faster and allocation
// free for the small objects requests are made of, the map keeps a huge
// object from turning the check quadratic.
const smallObject = 16

type frame struct {
	object bool
	n      int // members or elements read so far
	// keyStart indexes d.keys at the first key of this object.
	keyStart int
	set      map[string]struct{}
}

type keyRef struct{ off, n int }

// Decoder reads one JSON document. Get one with [Get] and return it with
// [Put]; the zero value is not usable.
type Decoder struct {
	buf   []byte
	pos   int
	lim   protocol.Limits
	elems int
	// base is added to offsets in errors, for a Decoder over a slice of a
	// larger document.
	base int

	frames  []frame
	keys    []keyRef
	arena   []byte
	scratch []byte
}

var pool = sync.Pool{New: func() any { return new(Decoder) }}

// Get returns a Decoder over data, bounded by lim (zero fields take their
// defaults).
func Get(data []byte, lim protocol.Limits) *Decoder {
	d := pool.Get().(*Decoder)
	d.Reset(data, lim)
	return d
}

// Put returns d to the pool; d must not be used afterwards.
func Put(d *Decoder) {
	if cap(d.scratch) > 64<<10 {
		d.scratch = nil
	}
	if cap(d.arena) > 64<<10 {
		d.arena = nil
	}
	if cap(d.keys) > 4096 {
		d.keys = nil
	}
	if cap(d.frames) > 256 {
		d.frames = nil
	}
	d.buf = nil
	pool.Put(d)
}

// Reset makes d read data from the start.
func (d *Decoder) Reset(data []byte, lim protocol.Limits) {
	d.buf = data
	d.pos = 0
	d.lim = lim.Normalize()
	d.elems = 0
	d.base = 0
	for i := range d.frames {
		d.frames[i].set = nil
	}
	d.frames = d.frames[:0]
	d.keys = d.keys[:0]
	d.arena = d.arena[:0]
}

// SetBase makes error offsets count from base, for a Decoder over a slice
// that starts at byte base of the original document.
func (d *Decoder) SetBase(base int) { d.base = base }

// SetElements sets the running element count, so a second pass over part
// of a document can skip the counting the first pass already did.
func (d *Decoder) SetElements(n int) { d.elems = n }

// Offset is the byte offset of the reader in the document.
func (d *Decoder) Offset() int { return d.base + d.pos }

// Bytes is the document d reads.
func (d *Decoder) Bytes() []byte { return d.buf }

// Depth is the number of open arrays and objects.
func (d *Decoder) Depth() int { return len(d.frames) }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.pos }

func (d *Decoder) syntax(off int, msg string) error {
	return rampart.Errorf(rampart.CodeInvalid, "invalid JSON at byte %d: %s", d.base+off, msg)
}

func (d *Decoder) limit(off int, msg string, n int) error {
	return rampart.Errorf(rampart.CodeTooLarge, "JSON at byte %d: %s exceeds the limit of %d", d.base+off, msg, n)
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek reports the kind of the next value without consuming it.
func (d *Decoder) Peek() (Kind, error) {
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return Invalid, d.syntax(d.pos, "unexpected end of input")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return Object, nil
	case c == '[':
		return Array, nil
	case c == '"':
		return String, nil
	case c == 't' || c == 'f':
		return Bool, nil
	case c == 'n':
		return Null, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return Number, nil
	default:
		return Invalid, d.syntax(d.pos, "unexpected "+quoteByte(c))
	}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func (d *Decoder) open(object bool, c byte) error {
	d.skipSpace()
	if d.pos >= len(d.buf) || d.buf[d.pos] != c {
		what := "array"
		if object {
			what = "object"
		}
		if d.pos >= len(d.buf) {
			return d.syntax(d.pos, "unexpected end of input, want "+what)
		}
		return d.syntax(d.pos, "want "+what+", found "+quoteByte(d.buf[d.pos]))
	}
	if len(d.frames) >= d.lim.MaxDepth {
		return d.limit(d.pos, "nesting depth", d.lim.MaxDepth)
	}
	d.pos++
	d.frames = append(d.frames, frame{object: object, keyStart: len(d.keys)})
	return nil
}

// BeginObject consumes '{'. Read the members with [Decoder.Key].
func (d *Decoder) BeginObject() error { return d.open(true, '{') }

// BeginArray consumes '['. Read the elements with [Decoder.More].
func (d *Decoder) BeginArray() error { return d.open(false, '[') }

func (d *Decoder) close() {
	f := &d.frames[len(d.frames)-1]
	if f.object {
		if len(d.keys) > f.keyStart {
			d.arena = d.arena[:d.keys[f.keyStart].off]
		}
		d.keys = d.keys[:f.keyStart]
		f.set = nil
	}
	d.frames = d.frames[:len(d.frames)-1]
}

// separator consumes the ',' before a member or element, or the closing
// bracket; it reports whether another member or element follows.
func (d *Decoder) separator(f *frame, closing byte) (bool, error) {
	d.skipSpace()
	if d.pos >= len(d.buf) {
		return false, d.syntax(d.pos, "unexpected end of input")
	}
	c := d.buf[d.pos]
	if c == closing {
		d.pos++
		d.close()
		return false, nil
	}
	if f.n > 0 {
		if c != ',' {
			return false, d.syntax(d.pos, "want ',' or "+strconv.QuoteRune(rune(closing))+", found "+quoteByte(c))
		}
		d.pos++
		d.skipSpace()
	}
	f.n++
	d.elems++
	if d.elems > d.lim.MaxElements {
		return false, d.limit(d.pos, "number of array elements and object members", d.lim.MaxElements)
	}
	return true, nil
}

// More reports whether the current array has another element, consuming
// the ',' before it, or the ']' after the last one.
func (d *Decoder) More() (bool, error) {
	if len(d.frames) == 0 || d.frames[len(d.frames)-1].object {
		return false, d.syntax(d.pos, "not in an array")
	}
	return d.separator(&d.frames[len(d.frames)-1], ']')
}

// Key reads the next member's key and its ':' in the current object, or
// consumes the '}' and returns ok=false. A key that repeats one of the same
// object is an error. The key is valid until the next call on d.
func (d *Decoder) Key() (key []byte, ok bool, err error) {
	if len(d.frames) == 0 || !d.frames[len(d.frames)-1].object {
		return nil, false, d.syntax(d.pos, "not in an object")
	}
	f := &d.frames[len(d.frames)-1]
	more, err := d.separator(f, '}')
	if !more || err != nil {
		return nil, false, err
	}
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		if d.pos >= len(d.buf) {
			return nil, false, d.syntax(d.pos, "unexpected end of input, want object key")
		}
		return nil, false, d.syntax(d.pos, "want object key, found "+quoteByte(d.buf[d.pos]))
	}
	start := d.pos
	key, err = d.readString()
	if err != nil {
		return nil, false, err
	}
	if err := d.remember(f, key, start); err != nil {
		return nil, false, err
	}
	d.skipSpace()
	if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
		return nil, false, d.syntax(d.pos, "want ':' after object key")
	}
	d.pos++
	return key, true, nil
}

// remember records key in the current object, failing on a duplicate.
func (d *Decoder) remember(f *frame, key []byte, off int) error {
	n := len(d.keys) - f.keyStart
	if f.set != nil {
		if _, dup := f.set[string(key)]; dup {
			return d.duplicate(off, key)
		}
		f.set[string(key)] = struct{}{}
		return nil
	}
	for _, k := range d.keys[f.keyStart:] {
		if string(d.arena[k.off:k.off+k.n]) == string(key) {
			return d.duplicate(off, key)
		}
	}
	if n >= smallObject {
		f.set = make(map[string]struct{}, 2*smallObject)
		for _, k := range d.keys[f.keyStart:] {
			f.set[string(d.arena[k.off:k.off+k.n])] = struct{}{}
		}
		f.set[string(key)] = struct{}{}
		return nil
	}
	d.keys = append(d.keys, keyRef{off: len(d.arena), n: len(key)})
	d.arena = append(d.arena, key...)
	return nil
}

func (d *Decoder) duplicate(off int, key []byte) error {
	k := string(key)
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	return d.syntax(off, "duplicate object key "+strconv.Quote(k))
}

// String reads a string value. The bytes alias the input or an internal
// buffer and are valid until the next call on d.
func (d *Decoder) String() ([]byte, error) {
	d.skipSpace()
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		return nil, d.want("string")
	}
	return d.readString()
}

// Text reads a string value into a new Go string.
func (d *Decoder) Text() (string, error) {
	b, err := d.String()
	return string(b), err
}

func (d *Decoder) want(what string) error {
	if d.pos >= len(d.buf) {
		return d.syntax(d.pos, "unexpected end of input, want "+what)
	}
	return d.syntax(d.pos, "want "+what+", found "+quoteByte(d.buf[d.pos]))
}

// readString reads the string starting at the '"' at d.pos.
func (d *Decoder) readString() ([]byte, error) {
	start := d.pos
	i := d.pos + 1
	// Fast path: printable ASCII without escapes aliases the input.
	for i < len(d.buf) {
		c := d.buf[i]
		if c == '"' {
			if i-start-1 > d.lim.MaxStringLen {
				return nil, d.limit(start, "string length", d.lim.MaxStringLen)
			}
			d.pos = i + 1
			return d.buf[start+1 : i], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	return d.readStringSlow(start, i)
}

func (d *Decoder) readStringSlow(start, i int) ([]byte, error) {
	out := append(d.scratch[:0], d.buf[start+1:i]...)
	defer func() { d.scratch = out[:0] }()
	for {
		if len(out) > d.lim.MaxStringLen {
			return nil, d.limit(start, "string length", d.lim.MaxStringLen)
		}
		if i >= len(d.buf) {
			return nil, d.syntax(start, "unterminated string")
		}
		c := d.buf[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return out, nil
		case c < 0x20:
			return nil, d.syntax(i, "control character in string")
		case c == '\\':
			if i+1 >= len(d.buf) {
				return nil, d.syntax(start, "unterminated string")
			}
			switch e := d.buf[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				r, ok := hex4(d.buf, i+2)
				if !ok {
					return nil, d.syntax(i, "invalid \\u escape")
				}
				i += 6
				switch {
				case r >= 0xD800 && r < 0xDC00:
					r2, ok := rune(0), false
					if i+1 < len(d.buf) && d.buf[i] == '\\' && d.buf[i+1] == 'u' {
						r2, ok = hex4(d.buf, i+2)
					}
					if !ok || r2 < 0xDC00 || r2 >= 0xE000 {
						return nil, d.syntax(i-6, "unpaired UTF-16 surrogate in \\u escape")
					}
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i += 6
				case r >= 0xDC00 && r < 0xE000:
					return nil, d.syntax(i-6, "unpaired UTF-16 surrogate in \\u escape")
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.syntax(i, "invalid escape "+quoteByte(e))
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, n := utf8.DecodeRune(d.buf[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, d.syntax(i, "invalid UTF-8")
			}
			out = append(out, d.buf[i:i+n]...)
			i += n
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Number reads a number literal, checked against the JSON grammar, and
// returns its bytes (valid until the next call on d).
func (d *Decoder) Number() ([]byte, error) {
	d.skipSpace()
	start := d.pos
	i := start
	b := d.buf
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, d.want("number")
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		if i == start {
			return nil, d.want("number")
		}
		return nil, d.syntax(i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, d.syntax(i, "invalid number: no digits after '.'")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, d.syntax(i, "invalid number: no digits in exponent")
		}
	}
	if i-start > d.lim.MaxStringLen {
		return nil, d.limit(start, "number length", d.lim.MaxStringLen)
	}
	d.pos = i
	return b[start:i], nil
}

// Float reads a number as a float64. A literal beyond float64's range is
// an error rather than an infinity, because JSON has no infinities.
//
// Short literals, which a float64 represents after one exact
// multiplication or division by a power of ten, are converted in the same
// pass that checks the grammar; the rest go to strconv.
func (d *Decoder) Float() (float64, error) {
	d.skipSpace()
	start := d.pos
	b := d.buf
	i := start
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	var mant uint64
	nd, exp := 0, 0
	exact := true
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if nd < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				nd++
			} else {
				exact = false
			}
		}
	default:
		return d.slowFloat(start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			c := b[i] - '0'
			switch {
			case mant == 0 && c == 0:
				exp--
			case nd < 19:
				mant = mant*10 + uint64(c)
				nd++
				exp--
			default:
				exact = false
			}
		}
		if i == j {
			return d.slowFloat(start)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		// Exponents are rare in tensors; let strconv have them.
		return d.slowFloat(start)
	}
	if i-start > d.lim.MaxStringLen {
		return 0, d.limit(start, "number length", d.lim.MaxStringLen)
	}
	if !exact || mant >= 1<<53 || exp < -22 {
		return d.slowFloat(start)
	}
	d.pos = i
	f := float64(mant)
	if exp < 0 {
		f /= pow10[-exp]
	}
	if neg {
		f = -f
	}
	return f, nil
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func (d *Decoder) slowFloat(start int) (float64, error) {
	d.pos = start
	lit, err := d.Number()
	if err != nil {
		return 0, err
	}
	return d.parseFloat(start, lit)
}

func (d *Decoder) parseFloat(start int, lit []byte) (float64, error) {
	v, err := strconv.ParseFloat(string(lit), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, d.syntax(start, "number out of range")
	}
	return v, nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	d.skipSpace()
	if d.literal("true") {
		return true, nil
	}
	if d.literal("false") {
		return false, nil
	}
	return false, d.want("boolean")
}

// Null reads null.
func (d *Decoder) Null() error {
	d.skipSpace()
	if d.literal("null") {
		return nil
	}
	return d.want("null")
}

func (d *Decoder) literal(s string) bool {
	if len(d.buf)-d.pos >= len(s) && string(d.buf[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

// Skip reads and checks one value of any kind, with the same strictness
// and limits, discarding it.
func (d *Decoder) Skip() error {
	k, err := d.Peek()
	if err != nil {
		return err
	}
	switch k {
	case Object:
		if err := d.BeginObject(); err != nil {
			return err
		}
		for {
			_, ok, err := d.Key()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case Array:
		if err := d.BeginArray(); err != nil {
			return err
		}
		for {
			ok, err := d.More()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case String:
		_, err := d.String()
		return err
	case Number:
		_, err := d.Number()
		return err
	case Bool:
		_, err := d.Bool()
		return err
	default:
		return d.Null()
	}
}

// Scalar reads a string, number, boolean or null as a Go value (string,
// float64, bool or nil). ok is false, and nothing is consumed, when the
// next value is an array or object.
func (d *Decoder) Scalar() (v any, ok bool, err error) {
	k, err := d.Peek()
	if err != nil {
		return nil, false, err
	}
	switch k {
	case String:
		s, err := d.Text()
		return s, err == nil, err
	case Number:
		f, err := d.Float()
		return f, err == nil, err
	case Bool:
		b, err := d.Bool()
		return b, err == nil, err
	case Null:
		return nil, true, d.Null()
	}
	return nil, false, nil
}

// Finish checks that only whitespace follows the value just read.
func (d *Decoder) Finish() error {
	d.skipSpace()
	if d.pos != len(d.buf) {
		return d.syntax(d.pos, "trailing data after JSON value")
	}
	return nil
}

// Validate checks that data is one strict JSON document within lim.
func Validate(data []byte, lim protocol.Limits) error {
	d := Get(data, lim)
	defer Put(d)
	if err := d.Skip(); err != nil {
		return err
	}
	return d.Finish()
}
