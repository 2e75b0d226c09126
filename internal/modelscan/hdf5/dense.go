package hdf5

import (
	"encoding/binary"
	"math/bits"
)

// Dense attribute storage keeps attribute messages as objects of a
// fractal heap, found through a version 2 B-tree indexed by name. The
// reader walks the name index, which lists every attribute, and fetches
// each message from the heap. It reads the layouts HDF5 writes for a
// group's attributes: managed objects in the root direct block or in the
// direct children of the root indirect block, tiny objects, and huge
// objects (a large model config) found through the heap's own B-tree.
// Anything else (nested indirect blocks, filtered heaps) is reported as
// unsupported rather than skipped.

const maxDenseAttrs = 4096

// heap is the part of a fractal heap header the reader needs.
type heap struct {
	at        int64
	idLen     int
	maxMan    uint64
	hugeBT    uint64
	blockSize uint64 // starting (root direct) block size
	root      uint64
	rows      int
	width     uint64
	maxDirect uint64
	offBytes  int
	lenBytes  int
	// hugeType and huge cache the B-tree of huge objects, read once.
	hugeType int
	huge     [][]byte
	hugeRec  int
	hugeRead bool
}

func bytesFor(x uint64) int { return (bits.Len64(x) + 7) / 8 }

func (f *File) fractalHeap(addr uint64, at int64) (*heap, error) {
	off, err := f.pos(addr, at)
	if err != nil {
		return nil, err
	}
	n := 4 + 1 + 2 + 2 + 1 + 4 + 12*f.sl + 3*f.so + 2*4
	b, err := f.readAt(off, n)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "FRHP" || b[4] != 0 {
		return nil, corrupt(off, "no fractal heap header")
	}
	h := &heap{at: off, idLen: int(binary.LittleEndian.Uint16(b[5:]))}
	if binary.LittleEndian.Uint16(b[7:]) != 0 {
		return nil, unsupported(off, "filtered fractal heap")
	}
	h.maxMan = uint64(binary.LittleEndian.Uint32(b[10:]))
	p := 14 + f.sl // next huge object ID
	h.hugeBT = f.addr(b[p:])
	p += f.so + f.sl + f.so + 8*f.sl // free space, its manager, managed/huge/tiny counters
	tableWidth := binary.LittleEndian.Uint16(b[p:])
	p += 2
	h.blockSize = f.length(b[p:])
	maxDirect := f.length(b[p+f.sl:])
	p += 2 * f.sl
	maxHeapBits := int(binary.LittleEndian.Uint16(b[p:]))
	p += 4 // maximum heap size, starting rows
	h.root = f.addr(b[p:])
	h.rows = int(binary.LittleEndian.Uint16(b[p+f.so:]))
	if tableWidth == 0 || maxHeapBits == 0 || maxHeapBits > 64 || maxDirect == 0 || h.maxMan == 0 {
		return nil, corrupt(off, "fractal heap parameters out of range")
	}
	h.width, h.maxDirect = uint64(tableWidth), maxDirect
	if h.blockSize == 0 || h.blockSize > maxDirect || h.rows > 64 {
		return nil, corrupt(off, "fractal heap block sizes out of range")
	}
	h.offBytes = (maxHeapBits + 7) / 8
	h.lenBytes = min(bytesFor(maxDirect-1), bits.Len64(h.maxMan)/8+1)
	if h.lenBytes == 0 {
		h.lenBytes = 1
	}
	return h, nil
}

// object returns the bytes of the heap object with the given heap ID.
func (f *File) heapObject(h *heap, id []byte, at int64) ([]byte, error) {
	if len(id) == 0 || id[0]>>6 != 0 {
		return nil, corrupt(at, "fractal heap ID version")
	}
	switch (id[0] >> 4) & 0x03 {
	case 0: // managed
		if 1+h.offBytes+h.lenBytes > len(id) {
			return nil, corrupt(at, "fractal heap ID too short")
		}
		o := uintN8(id[1:], h.offBytes)
		n := uintN8(id[1+h.offBytes:], h.lenBytes)
		if n > h.maxMan {
			return nil, corrupt(at, "managed heap object larger than the heap allows")
		}
		blk, start, size, err := f.directBlock(h, o, at)
		if err != nil {
			return nil, err
		}
		hb, err := f.readAt(blk, 5)
		if err != nil {
			return nil, err
		}
		if string(hb[:4]) != "FHDB" || hb[4] != 0 {
			return nil, corrupt(blk, "no fractal heap direct block")
		}
		o -= start
		if o > size || n > size-o {
			return nil, corrupt(at, "managed heap object outside its block")
		}
		return f.readAt(blk+int64(o), int(n))
	case 2: // tiny: the object is in the ID itself
		n := int(id[0]&0x0f) + 1
		if 1+n > len(id) {
			return nil, corrupt(at, "tiny heap object longer than its ID")
		}
		return id[1 : 1+n], nil
	case 1: // huge
		return f.hugeObject(h, id, at)
	}
	return nil, corrupt(at, "fractal heap ID type")
}

// directBlock locates the direct block holding heap offset o: the root
// block itself, or a direct child of the root indirect block (the
// doubling table: rows 0 and 1 of blocks of the starting size, each later
// row twice the size of the one before).
func (f *File) directBlock(h *heap, o uint64, at int64) (addr int64, start, size uint64, err error) {
	if h.rows == 0 {
		addr, err = f.pos(h.root, at)
		return addr, 0, h.blockSize, err
	}
	w, sb := h.width, h.blockSize
	if w > 1<<16 || sb > 1<<40 {
		return 0, 0, 0, unsupported(at, "fractal heap table too large")
	}
	var row, col uint64
	if o < w*sb {
		row, col, size, start = 0, o/sb, sb, (o/sb)*sb
	} else {
		k := o / (w * sb)
		row = uint64(bits.Len64(k))
		if row >= 40 {
			return 0, 0, 0, corrupt(at, "heap offset beyond the table")
		}
		size = sb << (row - 1)
		rowStart := w * sb << (row - 1)
		col = (o - rowStart) / size
		start = rowStart + col*size
	}
	maxDirectRows := uint64(bits.Len64(h.maxDirect)-bits.Len64(sb)) + 2
	if row >= uint64(h.rows) {
		return 0, 0, 0, corrupt(at, "heap offset beyond the root indirect block")
	}
	if row >= maxDirectRows {
		return 0, 0, 0, unsupported(at, "fractal heap with nested indirect blocks")
	}
	ib, err := f.pos(h.root, at)
	if err != nil {
		return 0, 0, 0, err
	}
	entry := 5 + f.so + h.offBytes + int(row*w+col)*f.so
	b, err := f.readAt(ib, entry+f.so)
	if err != nil {
		return 0, 0, 0, err
	}
	if string(b[:4]) != "FHIB" || b[4] != 0 {
		return 0, 0, 0, corrupt(ib, "no fractal heap indirect block")
	}
	addr, err = f.pos(f.addr(b[entry:]), ib)
	return addr, start, size, err
}

func uintN8(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// hugeObject finds a huge object through the heap's B-tree of huge
// objects (record type 1: address, length, ID; type 3: address, length,
// keyed by address directly from the heap ID).
func (f *File) hugeObject(h *heap, id []byte, at int64) ([]byte, error) {
	if !h.hugeRead {
		var err error
		h.hugeType, h.huge, h.hugeRec, err = f.leafRecords(h.hugeBT, at)
		if err != nil {
			return nil, err
		}
		h.hugeRead = true
	}
	typ, recs, recSize := h.hugeType, h.huge, h.hugeRec
	var addr, n uint64
	found := false
	switch typ {
	case 1:
		idBytes := min(len(id)-1, f.sl)
		want := uintN8(id[1:], idBytes)
		if recSize < f.so+2*f.sl {
			return nil, corrupt(at, "huge object record too short")
		}
		for _, r := range recs {
			if f.length(r[f.so+f.sl:]) == want {
				addr, n, found = f.addr(r), f.length(r[f.so:]), true
				break
			}
		}
	case 3:
		if len(id) < 1+f.so+f.sl {
			return nil, corrupt(at, "huge heap ID too short")
		}
		addr, n, found = f.addr(id[1:]), f.length(id[1+f.so:]), true
	default:
		return nil, unsupported(at, "huge heap objects in B-tree type %d", typ)
	}
	if !found {
		return nil, corrupt(at, "huge heap object not in its B-tree")
	}
	if n > maxValue {
		return nil, unsupported(at, "huge heap object over %d bytes", maxValue)
	}
	off, err := f.pos(addr, at)
	if err != nil {
		return nil, err
	}
	return f.readAt(off, int(n))
}

// btree is a version 2 B-tree being walked.
type btree struct {
	typ, recSize int
	nodeSize     int
	// maxNrecSize and cumSize[d] are the byte widths of a child's record
	// count and of the total below a child at depth d, derived from the
	// node size as HDF5 derives them.
	maxNrecSize int
	cumSize     []int
	recs        [][]byte
}

const maxBTreeDepth = 8

func encSize(x uint64) int { return (bits.Len64(x)-1)/8 + 1 }

// leafRecords reads every record of the version 2 B-tree at addr.
func (f *File) leafRecords(addr uint64, at int64) (typ int, recs [][]byte, recSize int, err error) {
	off, err := f.pos(addr, at)
	if err != nil {
		return 0, nil, 0, err
	}
	b, err := f.readAt(off, 16+f.so+2+f.sl)
	if err != nil {
		return 0, nil, 0, err
	}
	if string(b[:4]) != "BTHD" || b[4] != 0 {
		return 0, nil, 0, corrupt(off, "no version 2 B-tree header")
	}
	t := &btree{typ: int(b[5]), nodeSize: int(binary.LittleEndian.Uint32(b[6:])), recSize: int(binary.LittleEndian.Uint16(b[10:]))}
	depth := int(binary.LittleEndian.Uint16(b[12:]))
	root := f.addr(b[16:])
	nrec := int(binary.LittleEndian.Uint16(b[16+f.so:]))
	total := f.length(b[18+f.so:])
	if t.recSize == 0 || t.nodeSize < 10+t.recSize || t.nodeSize > 1<<20 {
		return 0, nil, 0, corrupt(off, "B-tree node or record size out of range")
	}
	if depth > maxBTreeDepth {
		return 0, nil, 0, unsupported(off, "B-tree of depth %d", depth)
	}
	if total > maxDenseAttrs {
		return 0, nil, 0, unsupported(off, "more than %d B-tree records", maxDenseAttrs)
	}
	// Maximum records per node at each depth, and the widths of the
	// counts stored with child pointers.
	leafMax := uint64((t.nodeSize - 10) / t.recSize)
	t.maxNrecSize = encSize(leafMax)
	cum := []uint64{leafMax}
	t.cumSize = []int{0}
	for d := 1; d < depth; d++ {
		ptr := f.so + t.maxNrecSize + t.cumSize[d-1]
		m := uint64((t.nodeSize - 10 - ptr) / (t.recSize + ptr))
		c := (m+1)*cum[d-1] + m
		if c < cum[d-1] || c > 1<<40 {
			return 0, nil, 0, unsupported(off, "B-tree too large")
		}
		cum = append(cum, c)
		t.cumSize = append(t.cumSize, encSize(c))
	}
	if nrec > 0 || depth > 0 {
		if err := f.btreeNode(t, root, nrec, depth, off); err != nil {
			return 0, nil, 0, err
		}
	}
	if uint64(len(t.recs)) != total {
		return 0, nil, 0, corrupt(off, "B-tree holds %d records, its header says %d", len(t.recs), total)
	}
	return t.typ, t.recs, t.recSize, nil
}

// btreeNode collects the records of the node at addr and its children.
func (f *File) btreeNode(t *btree, addr uint64, nrec, depth int, at int64) error {
	off, err := f.pos(addr, at)
	if err != nil {
		return err
	}
	if len(t.recs)+nrec > maxDenseAttrs {
		return unsupported(off, "more than %d B-tree records", maxDenseAttrs)
	}
	ptr := 0
	if depth > 0 {
		ptr = f.so + t.maxNrecSize + t.cumSize[depth-1]
	}
	n := 6 + nrec*t.recSize + (nrec+1)*ptr
	if depth == 0 {
		n = 6 + nrec*t.recSize
	}
	if n+4 > t.nodeSize {
		return corrupt(off, "B-tree node of %d bytes cannot hold %d records", t.nodeSize, nrec)
	}
	b, err := f.readAt(off, n)
	if err != nil {
		return err
	}
	sig := "BTLF"
	if depth > 0 {
		sig = "BTIN"
	}
	if string(b[:4]) != sig || b[4] != 0 || int(b[5]) != t.typ {
		return corrupt(off, "no version 2 B-tree node (%s)", sig)
	}
	for i := 0; i < nrec; i++ {
		t.recs = append(t.recs, b[6+i*t.recSize:6+(i+1)*t.recSize])
	}
	if depth == 0 {
		return nil
	}
	p := 6 + nrec*t.recSize
	for i := 0; i <= nrec; i++ {
		child := f.addr(b[p:])
		cn := uintN8(b[p+f.so:], t.maxNrecSize)
		if cn > maxDenseAttrs {
			return corrupt(off, "B-tree child with %d records", cn)
		}
		if err := f.btreeNode(t, child, int(cn), depth-1, off); err != nil {
			return err
		}
		p += ptr
	}
	return nil
}

// denseAttributes reads every attribute in dense storage.
func (f *File) denseAttributes(heapAddr, indexAddr uint64, at int64) ([]Attribute, error) {
	h, err := f.fractalHeap(heapAddr, at)
	if err != nil {
		return nil, err
	}
	typ, recs, recSize, err := f.leafRecords(indexAddr, at)
	if err != nil {
		return nil, err
	}
	if typ != 8 || h.idLen < 1 || recSize < h.idLen+9 {
		return nil, corrupt(at, "attribute name index of B-tree type %d", typ)
	}
	var attrs []Attribute
	for _, r := range recs {
		if r[h.idLen]&0x02 != 0 {
			return attrs, unsupported(at, "shared attribute message in dense storage")
		}
		data, err := f.heapObject(h, r[:h.idLen], at)
		if err != nil {
			return attrs, err
		}
		// The object's file offset is known only for managed and huge
		// objects; the name index entry stands in for the others.
		a, err := f.attribute(message{typ: 0x000C, off: at, data: data})
		if err != nil {
			return attrs, err
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}
