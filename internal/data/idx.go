package data

import (
	"encoding/binary"
	"io"
)

// idxMaxDims bounds the dimension count of an IDX file (the format allows
// 255; real files have 1 to 4).
const idxMaxDims = 16

// openIDX reads an IDX file (the MNIST format): the magic 00 00 type ndims,
// ndims big-endian uint32 sizes, then big-endian elements in C order. The
// first dimension is the rows.
func openIDX(name string, r io.Reader, opt Options) (Source, error) {
	opt = opt.WithDefaults()
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, malformed(name, 0, -1, "", int64(n), "idx: truncated magic: %v", errOrEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, malformed(name, 0, -1, "", 0, "idx: bad magic % x", magic)
	}
	var dt tensorDtype
	var ok bool
	switch magic[2] {
	case 0x08:
		dt, ok = tensorDtypeFor("ubyte", 'u', 1, true)
	case 0x09:
		dt, ok = tensorDtypeFor("sbyte", 'i', 1, true)
	case 0x0B:
		dt, ok = tensorDtypeFor("int16", 'i', 2, true)
	case 0x0C:
		dt, ok = tensorDtypeFor("int32", 'i', 4, true)
	case 0x0D:
		dt, ok = tensorDtypeFor("float32", 'f', 4, true)
	case 0x0E:
		dt, ok = tensorDtypeFor("float64", 'f', 8, true)
	}
	if !ok {
		return nil, malformed(name, 0, -1, "", 2, "idx: unknown element type 0x%02x", magic[2])
	}
	nd := int(magic[3])
	if nd < 1 || nd > idxMaxDims {
		return nil, malformed(name, 0, -1, "", 3, "idx: %d dimensions (want 1 to %d)", nd, idxMaxDims)
	}
	dims := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, dims); err != nil {
		return nil, malformed(name, 0, -1, "", 4+int64(n), "idx: truncated dimensions: %v", errOrEOF(err))
	}
	shape := make([]int64, nd)
	for i := range shape {
		shape[i] = int64(binary.BigEndian.Uint32(dims[4*i:]))
	}
	rows, width, err := tensorLayout(name, "x", shape, dt.size, opt)
	if err != nil {
		return nil, err
	}
	t := &tensorStream{file: name, array: "x", dt: dt, rows: rows, width: width, r: r, base: 4 + 4*int64(nd)}
	src := newTensorSource([]*tensorStream{t}, intsOf(shape[1:]), rows, opt)
	src.schema.Fields = tensorFields("x", shape[1:], dt.kind, width)
	if nd == 1 {
		src.schema.Shape = nil
	}
	return binAdaptSchema(name, src, opt)
}
