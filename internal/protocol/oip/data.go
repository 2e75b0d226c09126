package oip

import (
	"math"
	"strconv"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol/jsonstrict"
)

// dataReader fills one tensor from its "data" array.
type dataReader struct {
	d   *jsonstrict.Decoder
	t   *rampart.Tensor
	dt  *datatype
	lbl string
	n   int // elements read
}

// data reads the "data" value of input i, whose datatype and shape are
// known, into t.
func (p *parser) data(d *jsonstrict.Decoder, i int, t *rampart.Tensor, dt *datatype) error {
	r := dataReader{d: d, t: t, dt: dt}
	k, err := d.Peek()
	if err != nil {
		return err
	}
	if k != jsonstrict.Array {
		return invalid("%s: data must be an array, not %s", r.label(i), k)
	}
	// Preallocate for the declared elements, but never more than the bytes
	// left could hold (each element takes at least two), so a small body
	// cannot make the gateway allocate for a huge shape.
	capacity := t.Elements
	if room := d.Remaining()/2 + 1; capacity > room {
		capacity = room
	}
	if dt.class == classBytes {
		t.Strings = make([]string, 0, capacity)
	} else {
		t.Numbers = make([]float64, 0, capacity)
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	more, err := d.More()
	if err != nil {
		return err
	}
	if more {
		first, err := d.Peek()
		if err != nil {
			return err
		}
		if first == jsonstrict.Array {
			err = r.nested(i, 0, more)
		} else {
			err = r.flat(i, more)
		}
		if err != nil {
			return err
		}
	}
	if r.n != t.Elements {
		return invalid("%s: shape %s needs %d elements, data has %d", r.label(i), FormatShape(t.Shape), t.Elements, r.n)
	}
	return nil
}

// label is computed only for errors, to keep the success path lean.
func (r *dataReader) label(i int) string {
	if r.lbl == "" {
		r.lbl = label("input", i, r.t.Name)
	}
	return r.lbl
}

// flat reads scalars up to the closing bracket; more is true and the first
// element is next.
func (r *dataReader) flat(i int, more bool) error {
	for more {
		if err := r.elem(i); err != nil {
			return err
		}
		var err error
		if more, err = r.d.More(); err != nil {
			return err
		}
	}
	return nil
}

// nested reads level lvl of data nested as the shape says; the array's
// opening bracket and first More are consumed already.
func (r *dataReader) nested(i, lvl int, more bool) error {
	shape := r.t.Shape
	last := lvl == len(shape)-1
	if lvl >= len(shape) {
		return invalid("%s: data is nested deeper than shape %s", r.label(i), FormatShape(shape))
	}
	count := 0
	for more {
		k, err := r.d.Peek()
		if err != nil {
			return err
		}
		switch {
		case last && k == jsonstrict.Array:
			return invalid("%s: data is nested deeper than shape %s", r.label(i), FormatShape(shape))
		case last:
			if err := r.elem(i); err != nil {
				return err
			}
		case k != jsonstrict.Array:
			return invalid("%s: nested data must be arrays at depth %d to match shape %s", r.label(i), lvl+1, FormatShape(shape))
		default:
			if err := r.d.BeginArray(); err != nil {
				return err
			}
			m, err := r.d.More()
			if err != nil {
				return err
			}
			if err := r.nested(i, lvl+1, m); err != nil {
				return err
			}
		}
		count++
		if more, err = r.d.More(); err != nil {
			return err
		}
	}
	if int64(count) != shape[lvl] {
		return invalid("%s: nested data has %d entries at depth %d, shape %s says %d", r.label(i), count, lvl+1, FormatShape(shape), shape[lvl])
	}
	return nil
}

// elem reads one scalar element.
func (r *dataReader) elem(i int) error {
	d := r.d
	k, err := d.Peek()
	if err != nil {
		return err
	}
	idx := r.n
	r.n++
	switch r.dt.class {
	case classBool:
		if k != jsonstrict.Bool {
			return invalid("%s: BOOL element %d must be true or false, not %s", r.label(i), idx, k)
		}
		b, err := d.Bool()
		if err != nil {
			return err
		}
		v := 0.0
		if b {
			v = 1
		}
		r.t.Numbers = append(r.t.Numbers, v)
	case classInt, classUint:
		if k != jsonstrict.Number {
			return invalid("%s: %s element %d must be an integer, not %s", r.label(i), r.dt.name, idx, k)
		}
		lit, err := d.Number()
		if err != nil {
			return err
		}
		v, msg := r.dt.integer(lit)
		if msg != "" {
			return invalid("%s: %s element %d (%s) %s", r.label(i), r.dt.name, idx, quote(lit), msg)
		}
		r.t.Numbers = append(r.t.Numbers, v)
	case classFloat:
		v, err := r.float(i, idx, k)
		if err != nil {
			return err
		}
		r.t.Numbers = append(r.t.Numbers, v)
	case classBytes:
		if k != jsonstrict.String {
			return invalid("%s: BYTES element %d must be a string, not %s", r.label(i), idx, k)
		}
		s, err := d.Text()
		if err != nil {
			return err
		}
		r.t.Strings = append(r.t.Strings, s)
	}
	return nil
}

func (r *dataReader) float(i, idx int, k jsonstrict.Kind) (float64, error) {
	d := r.d
	switch k {
	case jsonstrict.Number:
		v, err := d.Float()
		if err != nil {
			return 0, err
		}
		if math.Abs(v) > r.dt.fmax {
			return 0, invalid("%s: %s element %d is out of range", r.label(i), r.dt.name, idx)
		}
		return v, nil
	case jsonstrict.String:
		s, err := d.String()
		if err != nil {
			return 0, err
		}
		switch string(s) {
		case "NaN":
			r.t.NaNs++
			return math.NaN(), nil
		case "Inf", "+Inf", "Infinity", "+Infinity":
			r.t.Infs++
			return math.Inf(1), nil
		case "-Inf", "-Infinity":
			r.t.Infs++
			return math.Inf(-1), nil
		}
		return 0, invalid("%s: %s element %d must be a number, or \"NaN\", \"Inf\" or \"-Inf\", not %s", r.label(i), r.dt.name, idx, quote(s))
	}
	return 0, invalid("%s: %s element %d must be a number, not %s", r.label(i), r.dt.name, idx, k)
}

// integer converts a JSON number literal to a value of the datatype. msg
// is non-empty when the literal is not an in-range integer. Literals with
// a fraction or exponent are accepted when their value is integral.
func (dt *datatype) integer(lit []byte) (float64, string) {
	neg := len(lit) > 0 && lit[0] == '-'
	digits := lit
	if neg {
		digits = lit[1:]
	}
	if u, ok := plainUint(digits); ok {
		if neg {
			if u == 0 {
				return 0, ""
			}
			if dt.class == classUint || u > uint64(-(dt.min+1))+1 {
				return 0, "is out of range"
			}
			return -float64(u), ""
		}
		if u > dt.max {
			return 0, "is out of range"
		}
		return float64(u), ""
	}
	v, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return 0, "is out of range"
	}
	if v != math.Trunc(v) {
		return 0, "is not an integer"
	}
	if v == 0 {
		return 0, ""
	}
	if v < float64(dt.min) || v >= float64(dt.max)+1 {
		return 0, "is out of range"
	}
	return v, ""
}
