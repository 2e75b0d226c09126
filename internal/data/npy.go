package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart/internal/pylit"
)

// This file holds the NumPy .npy reader and the fixed-width tensor streaming
// that npy, npz and IDX share: a header gives a dtype and a shape, and the
// data is N rows of prod(shape[1:]) elements in C order.

// tensorDtype is a fixed-width element type.
type tensorDtype struct {
	name string // for messages: "<f8", "ubyte", …
	size int    // bytes per element
	kind Kind
	// decode converts len(dst) elements from src (len(src) == len(dst)*size).
	decode func(dst []float64, src []byte)
}

// tensorDtypeFor builds a dtype from a NumPy-style type code: c is the kind
// character (b, i, u, f), size the byte width and big the byte order.
func tensorDtypeFor(name string, c byte, size int, big bool) (tensorDtype, bool) {
	var bo binary.ByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	d := tensorDtype{name: name, size: size}
	switch {
	case c == 'b' && size == 1:
		d.kind = KindBool
		d.decode = func(dst []float64, src []byte) {
			for i, v := range src[:len(dst)] {
				if v != 0 {
					dst[i] = 1
				} else {
					dst[i] = 0
				}
			}
		}
	case c == 'i' && size == 1:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i, v := range src[:len(dst)] {
				dst[i] = float64(int8(v))
			}
		}
	case c == 'u' && size == 1:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i, v := range src[:len(dst)] {
				dst[i] = float64(v)
			}
		}
	case c == 'i' && size == 2:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(int16(bo.Uint16(src[2*i:])))
			}
		}
	case c == 'u' && size == 2:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(bo.Uint16(src[2*i:]))
			}
		}
	case c == 'i' && size == 4:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(int32(bo.Uint32(src[4*i:])))
			}
		}
	case c == 'u' && size == 4:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(bo.Uint32(src[4*i:]))
			}
		}
	case c == 'i' && size == 8:
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(int64(bo.Uint64(src[8*i:])))
			}
		}
	case c == 'u' && size == 8:
		// Values above 2^53 round to the nearest float64, as everywhere
		// else numbers live in Column.Num.
		d.kind = KindInt
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(bo.Uint64(src[8*i:]))
			}
		}
	case c == 'f' && size == 2:
		d.kind = KindFloat
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = halfToFloat64(bo.Uint16(src[2*i:]))
			}
		}
	case c == 'f' && size == 4:
		d.kind = KindFloat
		d.decode = func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(math.Float32frombits(bo.Uint32(src[4*i:])))
			}
		}
	case c == 'f' && size == 8:
		d.kind = KindFloat
		if !big {
			d.decode = func(dst []float64, src []byte) {
				for i := range dst {
					dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
				}
			}
		} else {
			d.decode = func(dst []float64, src []byte) {
				for i := range dst {
					dst[i] = math.Float64frombits(binary.BigEndian.Uint64(src[8*i:]))
				}
			}
		}
	default:
		return tensorDtype{}, false
	}
	return d, true
}

// halfToFloat64 converts an IEEE 754 binary16 value.
func halfToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * frac * (1.0 / (1 << 24))
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// tensorLayout checks a shape against the limits and returns the row count,
// the row width in elements, and the field names of one array.
func tensorLayout(file, array string, shape []int64, elemSize int, opt Options) (rows int64, width int, err error) {
	if len(shape) == 0 {
		return 0, 0, malformed(file, 0, -1, "", -1, "array %q is 0-dimensional: it has no rows", array)
	}
	w := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, 0, malformed(file, 0, -1, "", -1, "array %q has a negative dimension in shape %v", array, shape)
		}
	}
	for _, d := range shape[1:] {
		if d != 0 && w > int64(opt.MaxColumns)/d {
			return 0, 0, &InputError{File: file, Row: -1, Offset: -1,
				Err: fmt.Errorf("array %q has rows of more than %d elements (shape %v), more than the column limit", array, opt.MaxColumns, shape)}
		}
		w *= d
	}
	if w == 0 {
		// Rows of nothing cost no bytes, so a header could promise 2^63 of
		// them; and a dataset without columns has nothing to check.
		return 0, 0, malformed(file, 0, -1, "", -1, "array %q of shape %v has no elements per row", array, shape)
	}
	if w > int64(opt.MaxColumns) {
		return 0, 0, &InputError{File: file, Row: -1, Offset: -1,
			Err: fmt.Errorf("array %q has rows of %d elements (shape %v), more than the limit of %d columns", array, w, shape, opt.MaxColumns)}
	}
	// The data size must fit an int64 byte offset.
	if rowBytes := w * int64(elemSize); rowBytes > 0 && shape[0] > math.MaxInt64/rowBytes {
		return 0, 0, malformed(file, 0, -1, "", -1, "array %q of shape %v is too large", array, shape)
	}
	return shape[0], int(w), nil
}

// tensorFields names the elements of a row of array with the given shape
// (without the leading row dimension) in row-major order.
func tensorFields(array string, inner []int64, kind Kind, width int) []Field {
	if len(inner) == 0 {
		return []Field{{Name: array, Kind: kind}}
	}
	fields := make([]Field, 0, width)
	idx := make([]int, len(inner))
	for range width {
		fields = append(fields, Field{Name: TensorName(array, idx), Kind: kind})
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if int64(idx[k]) < inner[k] {
				break
			}
			idx[k] = 0
		}
	}
	return fields
}

func intsOf(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// tensorStream reads the rows of one array from its data bytes.
type tensorStream struct {
	file   string
	array  string
	dt     tensorDtype
	rows   int64
	width  int
	r      io.Reader
	base   int64 // byte offset of the data in its container (for messages)
	row    int64 // next row to read
	rowBuf []float64
}

// readRows decodes the next n rows into cols[0:width], each with n cells.
func (t *tensorStream) readRows(n int, cols []Column) error {
	rowBytes := t.width * t.dt.size
	raw, err := readChunked(t.r, n*rowBytes)
	if err != nil {
		got := int64(len(raw))
		row := t.row + got/int64(max(rowBytes, 1))
		return malformed(t.file, 0, row, "", t.base+t.row*int64(rowBytes)+got,
			"array %q: data ends in row %d of %d (%v)", t.array, row, t.rows, errOrEOF(err))
	}
	// Decode a tile of rows at a time, then copy it out column by column:
	// scattering each row across all columns at once misses the cache on
	// every element when rows are wide (784 pixels).
	const tile = 32
	if len(t.rowBuf) < tile*t.width {
		t.rowBuf = make([]float64, tile*t.width)
	}
	for i0 := 0; i0 < n; i0 += tile {
		m := min(tile, n-i0)
		tmp := t.rowBuf[:m*t.width]
		t.dt.decode(tmp, raw[i0*rowBytes:(i0+m)*rowBytes])
		for j := range t.width {
			dst := cols[j].Num[i0 : i0+m]
			for r := range dst {
				dst[r] = tmp[r*t.width+j]
			}
		}
	}
	t.row += int64(n)
	return nil
}

func errOrEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunked reads exactly n bytes, growing its buffer as the bytes arrive
// so that a header declaring a huge array over a short stream does not make
// us allocate the declared size. On a short read it returns what it got.
func readChunked(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 20
	if n <= chunk {
		buf := make([]byte, n)
		k, err := io.ReadFull(r, buf)
		if err != nil {
			return buf[:k], err
		}
		return buf, nil
	}
	buf := make([]byte, 0, chunk)
	for len(buf) < n {
		want := min(n-len(buf), max(chunk, len(buf)))
		if cap(buf)-len(buf) < want {
			nb := make([]byte, len(buf), len(buf)+want)
			copy(nb, buf)
			buf = nb
		}
		k, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// binMaxBatchCells bounds the cells of one batch of a binary source: a
// batch is allocated whole (9 bytes a cell) before its bytes are read, and
// several are in flight at once, so 4096 rows of 100,000 columns would be
// gigabytes. Wide sources get fewer rows per batch instead.
const binMaxBatchCells = 1 << 22

// binBatchRows is the rows per batch for a source of width columns.
func binBatchRows(opt Options, width int) int {
	n := opt.BatchRows
	if width > 0 && n > binMaxBatchCells/width {
		n = max(1, binMaxBatchCells/width)
	}
	return n
}

// tensorSource serves the rows of one or more arrays that share the row
// count, array by array in the order of the streams.
type tensorSource struct {
	schema  Schema
	streams []*tensorStream
	rows    int64
	batch   int
	next    int64
	err     error
	closer  func() error
}

func newTensorSource(streams []*tensorStream, shape []int, rows int64, opt Options) *tensorSource {
	width := 0
	for _, t := range streams {
		width += t.width
	}
	s := &tensorSource{streams: streams, rows: rows, batch: binBatchRows(opt, width)}
	s.schema.Shape = shape
	return s
}

func (s *tensorSource) Schema() Schema { return s.schema }
func (s *tensorSource) Rows() int64    { return s.rows }

func (s *tensorSource) Close() error {
	if s.closer != nil {
		c := s.closer
		s.closer = nil
		return c()
	}
	return nil
}

func (s *tensorSource) Next() (*Batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.next >= s.rows {
		s.err = io.EOF
		return nil, s.err
	}
	n := int(min(int64(s.batch), s.rows-s.next))
	b := &Batch{Start: s.next, Len: n, Cols: make([]Column, len(s.schema.Fields))}
	nums := make([]float64, n*len(b.Cols))
	states := make([]Cell, n*len(b.Cols))
	for j := range b.Cols {
		b.Cols[j].Num = nums[j*n : (j+1)*n : (j+1)*n]
		b.Cols[j].State = states[j*n : (j+1)*n : (j+1)*n]
	}
	off := 0
	for _, t := range s.streams {
		if err := t.readRows(n, b.Cols[off:off+t.width]); err != nil {
			s.err = err
			return nil, err
		}
		off += t.width
	}
	s.next += int64(n)
	return b, nil
}

// npyHeader is the parsed header of a .npy file.
type npyHeader struct {
	dtype   tensorDtype
	fortran bool
	shape   []int64
	dataOff int64 // bytes before the data
}

// npyMaxHeader bounds the header dict; NumPy itself writes a few hundred
// bytes and refuses more than 10000 by default.
const npyMaxHeader = 1 << 16

// npyFortranLimit is the most bytes of Fortran-ordered arrays we transpose
// in memory, for one .npy or all the members of one .npz together; larger
// ones have no row-by-row layout to stream.
var npyFortranLimit int64 = 256 << 20

// readNPYHeader reads the magic, version and header dict.
func readNPYHeader(file string, r io.Reader) (npyHeader, error) {
	var pre [10]byte
	if n, err := io.ReadFull(r, pre[:8]); err != nil {
		return npyHeader{}, malformed(file, 0, -1, "", int64(n), "npy: truncated magic: %v", errOrEOF(err))
	}
	if !bytes.Equal(pre[:6], []byte("\x93NUMPY")) {
		return npyHeader{}, malformed(file, 0, -1, "", 0, "npy: bad magic %q", pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen, off int64
	switch major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return npyHeader{}, malformed(file, 0, -1, "", 8, "npy: truncated header length: %v", errOrEOF(err))
		}
		hlen, off = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return npyHeader{}, malformed(file, 0, -1, "", 8, "npy: truncated header length: %v", errOrEOF(err))
		}
		hlen, off = int64(binary.LittleEndian.Uint32(l[:])), 12
	default:
		return npyHeader{}, malformed(file, 0, -1, "", 6, "npy: unsupported format version %d.%d", major, minor)
	}
	if minor != 0 {
		return npyHeader{}, malformed(file, 0, -1, "", 7, "npy: unsupported format version %d.%d", major, minor)
	}
	if hlen > npyMaxHeader {
		return npyHeader{}, malformed(file, 0, -1, "", 8, "npy: header of %d bytes is larger than %d", hlen, npyMaxHeader)
	}
	text := make([]byte, hlen)
	if n, err := io.ReadFull(r, text); err != nil {
		return npyHeader{}, malformed(file, 0, -1, "", off+int64(n), "npy: truncated header: %v", errOrEOF(err))
	}
	if major < 3 {
		for i, c := range text {
			if c >= 0x80 {
				return npyHeader{}, malformed(file, 0, -1, "", off+int64(i), "npy: non-ASCII byte in a version %d header", major)
			}
		}
	} else if !utf8.Valid(text) {
		return npyHeader{}, malformed(file, 0, -1, "", off, "npy: header is not UTF-8")
	}
	h, err := parseNPYDict(string(text))
	if err != nil {
		return npyHeader{}, malformed(file, 0, -1, "", off, "npy header: %v", err)
	}
	h.dataOff = off + hlen
	return h, nil
}

// parseNPYDict parses the header: a Python dict literal with exactly the
// keys descr, fortran_order and shape. It is parsed, never evaluated.
func parseNPYDict(s string) (npyHeader, error) {
	v, end, err := pylit.Parse(s)
	if err != nil {
		return npyHeader{}, err
	}
	if rest := strings.TrimLeft(s[end:], " \t\r\n"); rest != "" {
		if len(rest) > 20 {
			rest = rest[:20] + "…"
		}
		return npyHeader{}, fmt.Errorf("unexpected %q after the dict", rest)
	}
	d, ok := v.(pylit.Dict)
	if !ok {
		return npyHeader{}, errors.New("header is not a dict")
	}
	var h npyHeader
	if len(d) != 3 {
		return npyHeader{}, fmt.Errorf("header has %d keys, want descr, fortran_order and shape", len(d))
	}
	descr, ok := d["descr"]
	if !ok {
		return npyHeader{}, errors.New("header has no 'descr'")
	}
	ds, ok := descr.(string)
	if !ok {
		if _, list := descr.(pylit.List); list {
			return npyHeader{}, errors.New("structured dtypes are not supported")
		}
		return npyHeader{}, fmt.Errorf("'descr' is not a string")
	}
	dt, err := npyDtype(ds)
	if err != nil {
		return npyHeader{}, err
	}
	h.dtype = dt
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return npyHeader{}, errors.New("'fortran_order' is missing or not True/False")
	}
	h.fortran = fo
	sh, ok := d["shape"].(pylit.Tuple)
	if !ok {
		return npyHeader{}, errors.New("'shape' is missing or not a tuple")
	}
	for _, e := range sh {
		n, ok := e.(int64)
		if !ok {
			return npyHeader{}, errors.New("'shape' holds a non-integer")
		}
		h.shape = append(h.shape, n)
	}
	return h, nil
}

// npyDtype maps a NumPy array-protocol type string.
func npyDtype(s string) (tensorDtype, error) {
	if s == "O" || s == "|O" || s == "<O" || s == ">O" {
		return tensorDtype{}, errors.New("object arrays hold pickles; rampart never loads them")
	}
	if len(s) < 3 {
		return tensorDtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	order, c := s[0], s[1]
	size, err := strconv.Atoi(s[2:])
	if err != nil || size <= 0 {
		return tensorDtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	var big bool
	switch order {
	case '<', '|':
	case '>':
		big = true
	default:
		return tensorDtype{}, fmt.Errorf("unsupported byte order in dtype %q", s)
	}
	if c == 'O' {
		return tensorDtype{}, errors.New("object arrays hold pickles; rampart never loads them")
	}
	d, ok := tensorDtypeFor(s, c, size, big)
	if !ok {
		return tensorDtype{}, fmt.Errorf("unsupported dtype %q (want bool, int, uint or float)", s)
	}
	return d, nil
}

// openNPY reads a .npy stream. C-ordered arrays stream batch by batch;
// Fortran-ordered ones are transposed in memory up to npyFortranLimit.
func openNPY(name string, r io.Reader, opt Options) (Source, error) {
	opt = opt.WithDefaults()
	fortranLeft := npyFortranLimit
	t, shape, err := npyStream(name, "x", r, opt, -1, &fortranLeft)
	if err != nil {
		return nil, err
	}
	src := newTensorSource([]*tensorStream{t}, intsOf(shape[1:]), t.rows, opt)
	src.schema.Fields = tensorFields("x", shape[1:], t.dt.kind, t.width)
	if len(shape) == 1 {
		src.schema.Shape = nil
	}
	return binAdaptSchema(name, src, opt)
}

// npyStream opens the array in r. limit, when not negative, is the most
// data bytes the container says the member holds. fortranLeft is the
// in-memory transposition allowance, shared by all the arrays of an
// archive: each Fortran-ordered array is held whole, so a per-array limit
// alone would let an npz of many such members (zeros deflate a
// thousandfold) hold their sum.
func npyStream(file, array string, r io.Reader, opt Options, limit int64, fortranLeft *int64) (*tensorStream, []int64, error) {
	h, err := readNPYHeader(file, r)
	if err != nil {
		return nil, nil, err
	}
	rows, width, err := tensorLayout(file, array, h.shape, h.dtype.size, opt)
	if err != nil {
		return nil, nil, err
	}
	total := rows * int64(width) * int64(h.dtype.size)
	if limit >= 0 && total > limit-h.dataOff {
		return nil, nil, malformed(file, 0, -1, "", -1, "array %q of shape %v needs %d bytes but its member holds %d", array, h.shape, total, limit-h.dataOff)
	}
	t := &tensorStream{file: file, array: array, dt: h.dtype, rows: rows, width: width, r: r, base: h.dataOff}
	if h.fortran && len(h.shape) > 1 && total > 0 {
		if total > *fortranLeft {
			return nil, nil, &InputError{File: file, Row: -1, Offset: h.dataOff,
				Err: fmt.Errorf("array %q is Fortran-ordered (%d bytes), and Fortran-ordered arrays are transposed in memory only up to %d bytes per file: save it in C order (np.ascontiguousarray)", array, total, npyFortranLimit)}
		}
		*fortranLeft -= total
		raw, err := readChunked(r, int(total))
		if err != nil {
			return nil, nil, malformed(file, 0, -1, "", h.dataOff+int64(len(raw)), "array %q: Fortran-ordered data ends early (%v)", array, errOrEOF(err))
		}
		t.r = bytes.NewReader(fortranToC(raw, h.shape, h.dtype.size))
	}
	return t, h.shape, nil
}

// fortranToC reorders column-major element bytes into row-major order.
func fortranToC(raw []byte, shape []int64, size int) []byte {
	out := make([]byte, len(raw))
	n := len(raw) / size
	idx := make([]int64, len(shape))
	// Walk the C order; the Fortran offset of index (i0..ik) is
	// i0 + s0*(i1 + s1*(…)).
	for c := range n {
		var f int64
		for k := len(shape) - 1; k >= 0; k-- {
			f = f*shape[k] + idx[k]
		}
		copy(out[c*size:(c+1)*size], raw[f*int64(size):(f+1)*int64(size)])
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}
