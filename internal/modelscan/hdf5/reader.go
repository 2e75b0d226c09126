package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Signature opens every HDF5 superblock.
const Signature = "\x89HDF\r\n\x1a\n"

// Bounds on what the reader will do for one file: the root object header
// of a real Keras save holds a few dozen messages in a few kilobytes.
const (
	maxChunk      = 16 << 20  // one object header chunk
	maxChunks     = 64        // chunks (first block and continuations) per header
	maxHeader     = 16 << 20  // all chunks of one header together
	maxMessages   = 4096      // messages per header
	maxValue      = 64 << 20  // one attribute value (a model config), one read
	maxRead       = 256 << 20 // all reads for one file
	maxHeapObjs   = 1 << 16   // global heap objects walked in all
	undefinedAddr = ^uint64(0)
)

// FormatError is a parse failure at a byte offset of the file.
type FormatError struct {
	Offset int64
	Msg    string
	// Unsupported marks valid HDF5 this reader does not read (dense
	// attribute storage, shared messages), as opposed to corrupt input.
	Unsupported bool
}

func (e *FormatError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

func corrupt(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...), Unsupported: true}
}

// Attribute is one attribute of the root group.
type Attribute struct {
	Name string
	// Offset is the file offset of the attribute message.
	Offset int64
	// Class is the HDF5 datatype class (3 string, 9 variable-length, …).
	Class int
	// Strings holds the value when it is a string or an array of
	// strings; StringErr says why a string value could not be read.
	Strings   [][]byte
	StringErr error
}

// File is an HDF5 file opened for reading its root group's attributes.
type File struct {
	r      io.ReaderAt
	size   int64
	base   uint64
	so, sl int // sizes of offsets and lengths
	root   uint64
	eof    uint64
	// Superblock is the superblock version.
	Superblock int
	// Chunks counts the object header chunks read (continuations show).
	Chunks int
	// headerBytes and heapSteps bound the work a hostile file can ask for.
	headerBytes uint64
	heapSteps   int
	// read counts bytes read, for the caller's budget.
	read int64
	// want decides which attributes have their string values read.
	want func(name string) bool
}

// Open parses the superblock at offset sb.
func Open(r io.ReaderAt, size, sb int64) (*File, error) {
	f := &File{r: r, size: size}
	hdr, err := f.readAt(sb, 9)
	if err != nil {
		return nil, err
	}
	if string(hdr[:8]) != Signature {
		return nil, corrupt(sb, "no HDF5 signature")
	}
	f.Superblock = int(hdr[8])
	switch f.Superblock {
	case 0, 1:
		// sig, version, free-space, root entry, reserved, shared header,
		// sizeof offsets, sizeof lengths, reserved, leaf K, internal K, flags.
		b, err := f.readAt(sb, 24)
		if err != nil {
			return nil, err
		}
		f.so, f.sl = int(b[13]), int(b[14])
		if err := f.checkSizes(sb + 13); err != nil {
			return nil, err
		}
		p := sb + 24
		if f.Superblock == 1 {
			p += 4 // indexed storage K, reserved
		}
		// base, free-space, end of file, driver info; then the root
		// symbol table entry: link name offset, object header address.
		b, err = f.readAt(p, 6*f.so)
		if err != nil {
			return nil, err
		}
		f.base = f.addr(b[0:])
		f.eof = f.addr(b[2*f.so:])
		f.root = f.addr(b[5*f.so:])
	case 2, 3:
		b, err := f.readAt(sb, 12+4*8)
		if err != nil {
			// Smaller offsets make a shorter superblock; read what exists.
			b, err = f.readAt(sb, 12)
			if err != nil {
				return nil, err
			}
		}
		f.so, f.sl = int(b[9]), int(b[10])
		if err := f.checkSizes(sb + 9); err != nil {
			return nil, err
		}
		b, err = f.readAt(sb+12, 4*f.so+4)
		if err != nil {
			return nil, err
		}
		f.base = f.addr(b[0:])
		f.eof = f.addr(b[2*f.so:])
		f.root = f.addr(b[3*f.so:])
	default:
		return nil, unsupported(sb+8, "superblock version %d", f.Superblock)
	}
	if f.base != 0 && f.base != uint64(sb) {
		return nil, corrupt(sb, "base address %d is neither 0 nor the superblock's offset", f.base)
	}
	// A file shorter than its recorded end is truncated: the loader would
	// fail on it, and what is missing was never judged.
	if f.eof == undefinedAddr || f.eof > uint64(size) || f.base > uint64(size)-f.eof {
		return nil, corrupt(sb, "file of %d bytes is shorter than its recorded end of file", size)
	}
	return f, nil
}

func (f *File) checkSizes(off int64) error {
	for _, s := range []int{f.so, f.sl} {
		if s != 2 && s != 4 && s != 8 {
			return corrupt(off, "size of offsets/lengths %d not 2, 4 or 8", s)
		}
	}
	return nil
}

// BytesRead is how much the reader has read so far.
func (f *File) BytesRead() int64 { return f.read }

// readAt reads n bytes at off, refusing anything beyond the file.
func (f *File) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || int64(n) > f.size-off {
		return nil, corrupt(off, "%d bytes past the end of the %d-byte file", n, f.size)
	}
	if n > maxValue || f.read+int64(n) > maxRead {
		return nil, unsupported(off, "more than %d bytes of HDF5 metadata to read", int64(maxRead))
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) {
			return nil, corrupt(off, "unexpected end of file")
		}
		return nil, fmt.Errorf("read hdf5 at %d: %w", off, err)
	}
	f.read += int64(n)
	return b, nil
}

// pos turns a file address into an absolute offset, checked against the
// file size.
func (f *File) pos(a uint64, at int64) (int64, error) {
	if a == undefinedAddr || a > uint64(f.size) || f.base > uint64(f.size)-a {
		return 0, corrupt(at, "address %#x outside the %d-byte file", a, f.size)
	}
	return int64(a + f.base), nil
}

func uintN(b []byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 8:
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// addr decodes an address of the file's offset size; all ones is undefined.
func (f *File) addr(b []byte) uint64 {
	v := uintN(b, f.so)
	if f.so < 8 && v == 1<<(8*f.so)-1 {
		return undefinedAddr
	}
	return v
}

func (f *File) length(b []byte) uint64 { return uintN(b, f.sl) }

// message is one object header message.
type message struct {
	typ   int
	flags byte
	off   int64 // file offset of the message data
	data  []byte
}

// RootAttributes parses the root group's object header completely and
// returns its attributes; want selects the attributes whose string values
// are read (nil: none).
func (f *File) RootAttributes(want func(name string) bool) ([]Attribute, error) {
	f.want = want
	at, err := f.pos(f.root, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := f.objectHeader(at)
	if err != nil {
		return nil, err
	}
	var attrs []Attribute
	for _, m := range msgs {
		switch m.typ {
		case 0x000C:
			if m.flags&0x02 != 0 {
				return attrs, unsupported(m.off, "shared attribute message")
			}
			a, err := f.attribute(m)
			if err != nil {
				return attrs, err
			}
			attrs = append(attrs, a)
		case 0x0015:
			heap, index, err := f.attributeInfo(m)
			if err != nil {
				return attrs, err
			}
			if heap == undefinedAddr {
				continue
			}
			dense, err := f.denseAttributes(heap, index, m.off)
			attrs = append(attrs, dense...)
			if err != nil {
				return attrs, err
			}
		}
	}
	return attrs, nil
}

// attributeInfo decodes an attribute info message: the addresses of the
// fractal heap and the name index of dense attribute storage (undefined
// when every attribute is in the object header).
func (f *File) attributeInfo(m message) (heap, index uint64, err error) {
	d := m.data
	if len(d) < 2 {
		return 0, 0, corrupt(m.off, "attribute info message too short")
	}
	if d[0] != 0 {
		return 0, 0, unsupported(m.off, "attribute info message version %d", d[0])
	}
	p := 2
	if d[1]&0x01 != 0 {
		p += 2
	}
	if len(d) < p+2*f.so {
		return 0, 0, corrupt(m.off, "attribute info message too short")
	}
	return f.addr(d[p:]), f.addr(d[p+f.so:]), nil
}

// objectHeader reads every message of the object header at off,
// following continuation blocks.
func (f *File) objectHeader(off int64) ([]message, error) {
	b, err := f.readAt(off, 4)
	if err != nil {
		return nil, err
	}
	if string(b) == "OHDR" {
		return f.objectHeaderV2(off)
	}
	return f.objectHeaderV1(off)
}

type span struct {
	off int64
	n   uint64
}

func (f *File) chunk(s span, at int64) ([]byte, error) {
	if s.n > maxChunk || f.headerBytes+s.n > maxHeader {
		return nil, corrupt(at, "object header chunks exceed the %d-byte limit", maxHeader)
	}
	f.headerBytes += s.n
	return f.readAt(s.off, int(s.n))
}

// continuation decodes a continuation message into the next chunk.
func (f *File) continuation(m message) (span, error) {
	if len(m.data) < f.so+f.sl {
		return span{}, corrupt(m.off, "continuation message too short")
	}
	p, err := f.pos(f.addr(m.data), m.off)
	if err != nil {
		return span{}, err
	}
	return span{p, f.length(m.data[f.so:])}, nil
}

func (f *File) objectHeaderV1(off int64) ([]message, error) {
	b, err := f.readAt(off, 16)
	if err != nil {
		return nil, err
	}
	if b[0] != 1 {
		return nil, corrupt(off, "object header version %d", b[0])
	}
	nmsg := int(binary.LittleEndian.Uint16(b[2:]))
	queue := []span{{off + 16, uint64(binary.LittleEndian.Uint32(b[8:]))}}
	var msgs []message
	for i := 0; i < len(queue); i++ {
		if i >= maxChunks {
			return nil, corrupt(off, "more than %d object header chunks", maxChunks)
		}
		f.Chunks++
		data, err := f.chunk(queue[i], off)
		if err != nil {
			return nil, err
		}
		base := queue[i].off
		for p := 0; p+8 <= len(data); {
			if len(msgs) >= maxMessages {
				return nil, corrupt(base+int64(p), "more than %d object header messages", maxMessages)
			}
			typ := int(binary.LittleEndian.Uint16(data[p:]))
			n := int(binary.LittleEndian.Uint16(data[p+2:]))
			if n > len(data)-p-8 {
				return nil, corrupt(base+int64(p), "message of %d bytes overruns its header chunk", n)
			}
			m := message{typ: typ, flags: data[p+4], off: base + int64(p) + 8, data: data[p+8 : p+8+n]}
			msgs = append(msgs, m)
			if typ == 0x0010 {
				s, err := f.continuation(m)
				if err != nil {
					return nil, err
				}
				queue = append(queue, s)
			}
			p += 8 + n
			if r := p % 8; r != 0 && typ != 0 {
				p += 8 - r // messages are 8-byte aligned in version 1
			}
		}
	}
	if len(msgs) != nmsg {
		return nil, corrupt(off, "object header lists %d messages but holds %d", nmsg, len(msgs))
	}
	return msgs, nil
}

func (f *File) objectHeaderV2(off int64) ([]message, error) {
	b, err := f.readAt(off, 6)
	if err != nil {
		return nil, err
	}
	if b[4] != 2 {
		return nil, corrupt(off+4, "object header version %d", b[4])
	}
	flags := b[5]
	p := off + 6
	if flags&0x20 != 0 {
		p += 16 // access, modification, change and birth times
	}
	if flags&0x10 != 0 {
		p += 4 // attribute phase change values
	}
	sz := 1 << (flags & 0x03)
	sb, err := f.readAt(p, sz)
	if err != nil {
		return nil, err
	}
	p += int64(sz)
	queue := []span{{p, uintN(sb, sz)}}
	order := flags&0x04 != 0
	hdrLen := 4
	if order {
		hdrLen = 6
	}
	var msgs []message
	for i := 0; i < len(queue); i++ {
		if i >= maxChunks {
			return nil, corrupt(off, "more than %d object header chunks", maxChunks)
		}
		f.Chunks++
		data, err := f.chunk(queue[i], off)
		if err != nil {
			return nil, err
		}
		base := queue[i].off
		if i > 0 {
			// A continuation block: "OCHK", messages, checksum.
			if len(data) < 8 || string(data[:4]) != "OCHK" {
				return nil, corrupt(base, "continuation block without OCHK signature")
			}
			data = data[4 : len(data)-4]
			base += 4
		}
		for q := 0; q+hdrLen <= len(data); {
			if len(msgs) >= maxMessages {
				return nil, corrupt(base+int64(q), "more than %d object header messages", maxMessages)
			}
			typ := int(data[q])
			n := int(binary.LittleEndian.Uint16(data[q+1:]))
			if n > len(data)-q-hdrLen {
				return nil, corrupt(base+int64(q), "message of %d bytes overruns its header chunk", n)
			}
			m := message{typ: typ, flags: data[q+3], off: base + int64(q+hdrLen), data: data[q+hdrLen : q+hdrLen+n]}
			msgs = append(msgs, m)
			if typ == 0x0010 {
				s, err := f.continuation(m)
				if err != nil {
					return nil, err
				}
				queue = append(queue, s)
			}
			q += hdrLen + n
		}
		// What is left (shorter than a message header) is a gap.
	}
	if len(queue) > 0 {
		// The first chunk's checksum follows it; make sure it is there.
		if _, err := f.readAt(queue[0].off+int64(queue[0].n), 4); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// attribute decodes an attribute message.
func (f *File) attribute(m message) (Attribute, error) {
	d := m.data
	a := Attribute{Offset: m.off}
	if len(d) < 8 {
		return a, corrupt(m.off, "attribute message too short")
	}
	ver, flags := d[0], d[1]
	nameLen := int(binary.LittleEndian.Uint16(d[2:]))
	dtLen := int(binary.LittleEndian.Uint16(d[4:]))
	dsLen := int(binary.LittleEndian.Uint16(d[6:]))
	p := 8
	pad := func(n int) int { return n }
	switch ver {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		p++ // name character set
	default:
		return a, unsupported(m.off, "attribute message version %d", ver)
	}
	if ver == 1 && flags != 0 {
		return a, corrupt(m.off+1, "attribute message version 1 with flags")
	}
	take := func(n int) ([]byte, error) {
		if n < 0 || pad(n) > len(d)-p {
			return nil, corrupt(m.off+int64(p), "attribute field of %d bytes overruns the message", n)
		}
		b := d[p : p+n]
		p += pad(n)
		return b, nil
	}
	name, err := take(nameLen)
	if err != nil {
		return a, err
	}
	if len(name) == 0 || name[len(name)-1] != 0 {
		return a, corrupt(m.off+8, "attribute name not null-terminated")
	}
	a.Name = string(name[:len(name)-1])
	dt, err := take(dtLen)
	if err != nil {
		return a, err
	}
	ds, err := take(dsLen)
	if err != nil {
		return a, err
	}
	if len(dt) < 8 {
		return a, corrupt(m.off, "attribute %q: datatype too short", a.Name)
	}
	a.Class = int(dt[0] & 0x0f)
	if f.want == nil || !f.want(a.Name) {
		return a, nil
	}
	if flags&0x03 != 0 {
		a.StringErr = unsupported(m.off, "attribute %q: shared datatype or dataspace", a.Name)
		return a, nil
	}
	nelem, err := f.dataspace(ds, m.off)
	if err != nil {
		return a, err
	}
	a.Strings, a.StringErr = f.stringValue(a.Name, dt, nelem, d[p:], m.off+int64(p))
	var fe *FormatError
	if a.StringErr != nil && (!errors.As(a.StringErr, &fe) || !fe.Unsupported) {
		return a, a.StringErr // corrupt, or an I/O error: not a form we merely do not read
	}
	return a, nil
}

// dataspace returns the number of elements a dataspace message describes.
func (f *File) dataspace(d []byte, at int64) (uint64, error) {
	if len(d) < 4 {
		return 0, corrupt(at, "dataspace too short")
	}
	ver, rank, flags := d[0], int(d[1]), d[2]
	p := 0
	switch ver {
	case 1:
		p = 8
	case 2:
		p = 4
		switch d[3] {
		case 0:
			return 1, nil // scalar
		case 2:
			return 0, nil // null
		case 1:
		default:
			return 0, corrupt(at, "dataspace type %d", d[3])
		}
	default:
		return 0, corrupt(at, "dataspace version %d", ver)
	}
	if rank > 32 {
		return 0, corrupt(at, "dataspace rank %d", rank)
	}
	need := rank * f.sl
	if flags&0x01 != 0 {
		need *= 2
	}
	if len(d) < p+need {
		return 0, corrupt(at, "dataspace dimensions overrun the message")
	}
	n := uint64(1)
	for i := 0; i < rank; i++ {
		dim := f.length(d[p+i*f.sl:])
		if dim != 0 && n > maxValue/dim {
			return 0, corrupt(at, "dataspace of more than %d elements", maxValue)
		}
		n *= dim
	}
	return n, nil
}

// stringValue reads a string or array-of-strings attribute value.
func (f *File) stringValue(name string, dt []byte, nelem uint64, data []byte, at int64) ([][]byte, error) {
	class := dt[0] & 0x0f
	size := uint64(binary.LittleEndian.Uint32(dt[4:]))
	switch class {
	case 3: // fixed-length string
		if size == 0 || nelem > uint64(len(data))/size {
			return nil, corrupt(at, "attribute %q: value overruns the message", name)
		}
		out := make([][]byte, 0, nelem)
		for i := uint64(0); i < nelem; i++ {
			s := data[i*size : (i+1)*size]
			// Padding nulls are dropped from the end only: a null inside
			// stays, so bytes hidden after it make the JSON fail to parse
			// (UNSCANNABLE) rather than go unseen. Space padding is kept
			// (JSON ignores it).
			s = bytes.TrimRight(s, "\x00")
			out = append(out, s)
		}
		return out, nil
	case 9: // variable-length
		if dt[1]&0x0f != 1 {
			return nil, unsupported(at, "attribute %q: variable-length sequence, not a string", name)
		}
		elem := uint64(4 + f.so + 4)
		if nelem > uint64(len(data))/elem {
			return nil, corrupt(at, "attribute %q: value overruns the message", name)
		}
		out := make([][]byte, 0, nelem)
		var total uint64
		for i := uint64(0); i < nelem; i++ {
			e := data[i*elem:]
			n := uint64(binary.LittleEndian.Uint32(e))
			coll := f.addr(e[4:])
			idx := binary.LittleEndian.Uint32(e[4+f.so:])
			if n == 0 && coll == 0 {
				out = append(out, nil)
				continue
			}
			total += n
			if total > maxValue {
				return nil, unsupported(at, "attribute %q: over %d bytes", name, maxValue)
			}
			s, err := f.globalHeapObject(coll, idx, at)
			if err != nil {
				return nil, err
			}
			if uint64(len(s)) < n {
				return nil, corrupt(at, "attribute %q: heap object shorter than its string", name)
			}
			out = append(out, s[:n])
		}
		return out, nil
	}
	return nil, unsupported(at, "attribute %q: datatype class %d is not a string", name, class)
}

// globalHeapObject reads object idx of the global heap collection at addr.
func (f *File) globalHeapObject(addr uint64, idx uint32, at int64) ([]byte, error) {
	off, err := f.pos(addr, at)
	if err != nil {
		return nil, err
	}
	h, err := f.readAt(off, 8+f.sl)
	if err != nil {
		return nil, err
	}
	if string(h[:4]) != "GCOL" || h[4] != 1 {
		return nil, corrupt(off, "no global heap collection")
	}
	size := f.length(h[8:])
	if size > uint64(f.size-off) {
		return nil, corrupt(off, "global heap collection of %d bytes overruns the file", size)
	}
	end := off + int64(size)
	p := off + 8 + int64(f.sl)
	objHdr := 8 + f.sl
	for p+int64(objHdr) <= end {
		if f.heapSteps++; f.heapSteps > maxHeapObjs {
			return nil, unsupported(p, "more than %d global heap objects to walk", maxHeapObjs)
		}
		o, err := f.readAt(p, objHdr)
		if err != nil {
			return nil, err
		}
		oi := binary.LittleEndian.Uint16(o)
		n := f.length(o[8:])
		if n > uint64(end-p-int64(objHdr)) {
			if oi == 0 {
				break // free space may run to the end
			}
			return nil, corrupt(p, "global heap object of %d bytes overruns its collection", n)
		}
		if oi == 0 {
			break // free space: no objects follow
		}
		if uint32(oi) == idx {
			if n > maxValue {
				return nil, unsupported(p, "global heap object over %d bytes", maxValue)
			}
			return f.readAt(p+int64(objHdr), int(n))
		}
		p += int64(objHdr) + int64((n+7)&^7)
	}
	return nil, corrupt(off, "global heap object %d not found", idx)
}
