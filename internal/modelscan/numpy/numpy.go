// Package numpy judges NumPy .npy arrays (.npz archives are zips of them
// and reach this analyzer through the zip analyzer).
//
// The header is a Python dict literal; it is parsed by a small strict
// literal parser, never evaluated. Plain numeric arrays are CLEAN when the
// data size equals shape × itemsize. Object arrays (dtype 'O', alone or in
// a structured dtype) store a pickle after the header that np.load
// unpickles when allow_pickle=True: that pickle is handed back to the
// engine, so the pickle analyzer judges it like any other.
package numpy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/pylit"
)

const magic = "\x93NUMPY"

// maxHeader bounds the header dict; numpy itself refuses headers over
// 10 000 bytes unless told otherwise.
const maxHeader = 1 << 20

type analyzer struct{}

// New returns the .npy analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "numpy" }

func (analyzer) Match(head []byte) bool { return bytes.HasPrefix(head, []byte(magic)) }

func unscannable(rule string, off int64, format string, args ...any) []modelscan.Finding {
	return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: rule,
		Message: fmt.Sprintf(format, args...), Offset: off}}
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	pre := make([]byte, 12)
	n, err := in.R.ReadAt(pre, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read npy header: %w", err)
	}
	if n < 10 {
		return unscannable("npy.truncated", int64(n), "file ends inside the npy preamble"), nil
	}
	major := pre[6]
	var hlen, start int64
	switch major {
	case 1:
		hlen, start = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if n < 12 {
			return unscannable("npy.truncated", int64(n), "file ends inside the npy preamble"), nil
		}
		hlen, start = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return unscannable("npy.version", 6, "unknown npy format version %d.%d", major, pre[7]), nil
	}
	if hlen > maxHeader {
		return unscannable("npy.header-too-large", 8, "header length %d exceeds %d", hlen, maxHeader), nil
	}
	if start+hlen > in.Size {
		return unscannable("npy.truncated", in.Size, "header (%d bytes) runs past the end of the file", hlen), nil
	}
	if err := in.Charge(start + hlen); err != nil {
		return nil, err
	}
	hb := make([]byte, hlen)
	if _, err := in.R.ReadAt(hb, start); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read npy header: %w", err)
	}
	h, err := parseHeader(string(hb), major >= 3)
	if err != nil {
		return unscannable("npy.bad-header", start, "header is not a valid npy header dict: %v", err), nil
	}
	dataOff := start + hlen
	dataLen := in.Size - dataOff
	if h.object {
		// The payload is a pickle of the flat object array.
		var fs []modelscan.Finding
		if dataLen == 0 {
			return unscannable("npy.truncated", dataOff, "object array without its pickle"), nil
		}
		sub, err := in.Scan(ctx, "<object-array-pickle>", io.NewSectionReader(in.R, dataOff, dataLen), dataLen)
		fs = append(fs, sub...)
		return fs, err
	}
	want, ok := h.nbytes()
	if !ok {
		return unscannable("npy.bad-shape", start, "shape %v × itemsize %d overflows", h.shape, h.itemsize), nil
	}
	switch {
	case dataLen < want:
		return unscannable("npy.truncated", in.Size, "array data is %d bytes, shape %v × itemsize %d needs %d", dataLen, h.shape, h.itemsize, want), nil
	case dataLen > want:
		return []modelscan.Finding{{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium, Rule: "npy.trailing-data",
			Message: fmt.Sprintf("%d bytes after the array data: np.load ignores them, another reader may not", dataLen-want),
			Offset:  dataOff + want}}, nil
	}
	return nil, nil
}

type header struct {
	shape    []int64
	itemsize int64
	object   bool
}

func (h header) nbytes() (int64, bool) {
	n := uint64(h.itemsize)
	for _, d := range h.shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	return int64(n), true
}

// parseHeader reads {'descr': ..., 'fortran_order': bool, 'shape': (...)},
// exactly those keys, padded with spaces and ending in a newline.
func parseHeader(s string, utf8Header bool) (header, error) {
	var h header
	if !utf8Header {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return h, fmt.Errorf("non-ASCII byte at %d", i)
			}
		}
	}
	v, end, err := pylit.Parse(s)
	if err != nil {
		return h, err
	}
	if rest := strings.TrimRight(s[end:], " \n"); rest != "" {
		return h, fmt.Errorf("trailing %q", clip(rest))
	}
	d, ok := v.(pylit.Dict)
	if !ok {
		return h, fmt.Errorf("header is not a dict")
	}
	if len(d) != 3 {
		return h, fmt.Errorf("want keys descr, fortran_order, shape; have %d keys", len(d))
	}
	if _, ok := d["fortran_order"].(bool); !ok {
		return h, fmt.Errorf("fortran_order is not a bool")
	}
	shape, ok := d["shape"].(pylit.Tuple)
	if !ok {
		return h, fmt.Errorf("shape is not a tuple")
	}
	for _, x := range shape {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return h, fmt.Errorf("shape %v is not a tuple of non-negative ints", shape)
		}
		h.shape = append(h.shape, n)
	}
	descr, ok := d["descr"]
	if !ok {
		return h, fmt.Errorf("no descr")
	}
	h.itemsize, h.object, err = dtypeSize(descr, 0)
	return h, err
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// dtypeSize returns a dtype's item size and whether it holds objects.
// descr is a type string ("<f4", "|O") or a structured list of
// (name, descr[, shape]) tuples.
func dtypeSize(descr any, depth int) (int64, bool, error) {
	if depth > 16 {
		return 0, false, fmt.Errorf("dtype nested too deep")
	}
	switch d := descr.(type) {
	case string:
		return typestr(d)
	case pylit.List:
		var total int64
		obj := false
		for _, f := range d {
			t, ok := f.(pylit.Tuple)
			if !ok || len(t) < 2 || len(t) > 3 {
				return 0, false, fmt.Errorf("structured field %v is not (name, dtype[, shape])", f)
			}
			switch n := t[0].(type) {
			case string:
			case pylit.Tuple: // (title, name)
				if len(n) != 2 {
					return 0, false, fmt.Errorf("bad field name %v", n)
				}
			default:
				return 0, false, fmt.Errorf("bad field name %v", t[0])
			}
			size, o, err := dtypeSize(t[1], depth+1)
			if err != nil {
				return 0, false, err
			}
			obj = obj || o
			if len(t) == 3 {
				sh, ok := t[2].(pylit.Tuple)
				if !ok {
					if n, isInt := t[2].(int64); isInt {
						sh = pylit.Tuple{n}
					} else {
						return 0, false, fmt.Errorf("bad field shape %v", t[2])
					}
				}
				for _, x := range sh {
					n, ok := x.(int64)
					if !ok || n < 0 || n > 1<<40 {
						return 0, false, fmt.Errorf("bad field shape %v", sh)
					}
					size *= n
					if size > 1<<50 {
						return 0, false, fmt.Errorf("field too large")
					}
				}
			}
			total += size
			if total > 1<<50 {
				return 0, false, fmt.Errorf("record too large")
			}
		}
		return total, obj, nil
	}
	return 0, false, fmt.Errorf("descr %v is neither a type string nor a field list", descr)
}

// typestr parses numpy's array-interface type strings.
func typestr(s string) (int64, bool, error) {
	if len(s) < 2 || !strings.ContainsRune("<>|=", rune(s[0])) {
		return 0, false, fmt.Errorf("bad type string %q", s)
	}
	kind, rest := s[1], s[2:]
	if kind == 'O' {
		if rest != "" && rest != "8" && rest != "4" {
			return 0, false, fmt.Errorf("bad type string %q", s)
		}
		return 8, true, nil
	}
	if kind == 'M' || kind == 'm' {
		// datetime64/timedelta64 carry a unit: "<M8[ns]".
		if i := strings.IndexByte(rest, '['); i >= 0 && strings.HasSuffix(rest, "]") {
			rest = rest[:i]
		}
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return 0, false, fmt.Errorf("bad type string %q", s)
	}
	switch kind {
	case 'b', 'i', 'u', 'f', 'c', 'V', 'S', 'a', 'M', 'm':
		return n, false, nil
	case 'U':
		return 4 * n, false, nil
	}
	return 0, false, fmt.Errorf("unknown dtype kind in %q", s)
}
