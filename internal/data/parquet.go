package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The Parquet reader decodes row group by row group and, inside a row
// group, page by page for each column, copying each page's typed value
// slice (the page's Data) straight into the batch: no value is boxed. It
// holds at most one decoded page per column, so memory follows the page
// size, not the file size. parquet-go is third-party code fed untrusted
// bytes, so every call into it runs under recover.

// pqConv says how a column's physical values become ours.
type pqConv int

const (
	pqDouble pqConv = iota
	pqFloat
	pqInt32
	pqUint32
	pqInt64
	pqUint64
	pqBool
	pqInt96    // legacy timestamp: Unix nanoseconds
	pqBytes    // BYTE_ARRAY as UTF-8 text
	pqFixed    // FIXED_LEN_BYTE_ARRAY as UTF-8 text
	pqUUID     // FIXED_LEN_BYTE_ARRAY(16) UUID as its canonical text
	pqFloat16  // FIXED_LEN_BYTE_ARRAY(2) half float
	pqDecBytes // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY decimal
	pqDecInt32 // INT32 decimal
	pqDecInt64 // INT64 decimal
)

// pqColumn is one leaf column being read, with its cursor in the current
// row group.
type pqColumn struct {
	name     string
	leaf     int
	kind     Kind
	conv     pqConv
	optional bool
	maxDef   byte
	scale    float64 // decimals: 10^scale

	pages   parquet.Pages
	page    parquet.Page
	rows    int   // rows in page
	pos     int   // next row in page
	vpos    int   // next non-null value in page
	absRow  int64 // absolute row of pos
	defs    []byte
	vals    encoding.Values
	nvals   int
	idx     []int32 // dictionary indexes, when the page has them
	dict    parquet.Dictionary
	dictNum []float64
	dictStr []string

	tmpNum []float64
	tmpStr []string
}

// pqSource reads a Parquet file.
type pqSource struct {
	name   string
	file   *parquet.File
	schema Schema
	cols   []*pqColumn
	from   []Kind // natural kind of each output column
	extra  []string
	rows   int64
	batch  int
	ra     io.ReaderAt
	size   int64

	rg      int   // current row group
	rgLeft  int64 // rows left in the current row group
	next    int64
	started bool
	err     error
}

// openParquet opens a flat Parquet file. With opt.Schema the columns are
// matched by name and converted to the requested kinds; the file's other
// columns are listed by Extra and never decoded.
func openParquet(name string, ra io.ReaderAt, size int64, opt Options) (src Source, err error) {
	opt = opt.WithDefaults()
	defer func() {
		if r := recover(); r != nil {
			src, err = nil, malformed(name, 0, -1, "", -1, "parquet: decoder failed: %v", r)
		}
	}()
	if err := pqCheckFooter(name, ra, size); err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, pqWrap(name, -1, "", err)
	}
	s := &pqSource{name: name, file: f, rows: f.NumRows(), ra: ra, size: size}
	if s.rows < 0 {
		return nil, malformed(name, 0, -1, "", -1, "parquet: negative row count %d", s.rows)
	}
	var sum int64
	for _, rg := range f.RowGroups() {
		n := rg.NumRows()
		if n < 0 || sum > math.MaxInt64-n {
			return nil, malformed(name, 0, -1, "", -1, "parquet: bad row group row count %d", n)
		}
		sum += n
	}
	if sum != s.rows {
		return nil, malformed(name, 0, -1, "", -1, "parquet: row groups hold %d rows but the footer says %d", sum, s.rows)
	}
	top := f.Root().Columns()
	if len(top) > opt.MaxColumns {
		return nil, &InputError{File: name, Row: -1, Offset: -1,
			Err: fmt.Errorf("%d columns, more than the limit of %d", len(top), opt.MaxColumns)}
	}
	byName := map[string]*parquet.Column{}
	for _, c := range top {
		if _, dup := byName[c.Name()]; dup {
			return nil, malformed(name, 0, -1, c.Name(), -1, "parquet: two columns named %q", c.Name())
		}
		byName[c.Name()] = c
	}
	var want []*parquet.Column
	if opt.Schema == nil {
		want = top
	} else {
		used := map[string]bool{}
		for _, fd := range opt.Schema.Fields {
			c, ok := byName[fd.Name]
			if !ok {
				if fd.Name == "label" && opt.LabelFile != "" {
					continue
				}
				return nil, &InputError{File: name, Row: -1, Column: fd.Name, Offset: -1,
					Err: fmt.Errorf("column %q of the schema is not in the file", fd.Name)}
			}
			used[fd.Name] = true
			want = append(want, c)
		}
		for _, c := range top {
			if !used[c.Name()] {
				s.extra = append(s.extra, c.Name())
			}
		}
	}
	for i, c := range want {
		pc, err := pqNewColumn(name, c)
		if err != nil {
			return nil, err
		}
		s.cols = append(s.cols, pc)
		s.from = append(s.from, pc.kind)
		fd := Field{Name: pc.name, Kind: pc.kind}
		if opt.Schema != nil {
			fd.Kind = s.wantKind(opt, i)
		}
		s.schema.Fields = append(s.schema.Fields, fd)
	}
	// parquet-go's LZ4_RAW decoder retries a corrupt block with an ever
	// larger buffer, forever: refuse the codec rather than hang on bad bytes.
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range s.cols {
			if c.leaf >= 0 && c.leaf < len(rg.Columns) && rg.Columns[c.leaf].MetaData.Codec == format.Lz4Raw {
				return nil, &InputError{File: name, Row: -1, Column: c.name, Offset: -1,
					Err: errors.New("LZ4_RAW compression is not supported: rewrite the file with snappy or zstd")}
			}
		}
	}
	s.batch = binBatchRows(opt, len(s.cols))
	if len(s.cols) == 0 && s.rows > 0 {
		return nil, &InputError{File: name, Row: -1, Offset: -1, Err: errors.New("no columns to read")}
	}
	return s, nil
}

// pqCheckFooter checks the magic bytes and the footer length before
// parquet-go sees the file: it allocates the footer length the file
// declares, up to 4 GiB, before reading it.
func pqCheckFooter(name string, ra io.ReaderAt, size int64) error {
	if size < 12 {
		return malformed(name, 0, -1, "", 0, "parquet: file of %d bytes is too short", size)
	}
	var head [4]byte
	if _, err := ra.ReadAt(head[:], 0); err != nil {
		return malformed(name, 0, -1, "", 0, "parquet: %v", err)
	}
	var tail [8]byte
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return malformed(name, 0, -1, "", size-8, "parquet: %v", err)
	}
	switch {
	case string(tail[4:]) == "PARE":
		return &InputError{File: name, Row: -1, Offset: size - 4, Err: errors.New("encrypted parquet files are not supported")}
	case string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1":
		return malformed(name, 0, -1, "", size-4, "parquet: missing PAR1 magic (truncated file?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return malformed(name, 0, -1, "", size-8, "parquet: footer of %d bytes in a file of %d", n, size)
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return malformed(name, 0, -1, "", size-8-n, "parquet: reading footer: %v", err)
	}
	w := thriftWalker{b: footer}
	if err := w.skipStruct(0); err != nil {
		return malformed(name, 0, -1, "", size-8-n+int64(w.i), "parquet: bad footer: %v", err)
	}
	return nil
}

// thriftWalker checks the shape of Thrift compact-protocol bytes without
// building anything. parquet-go's decoder allocates a list's declared
// length before reading its elements, so a 30-byte footer can ask for
// gigabytes; every element takes at least one byte, so a list longer than
// the bytes left is a lie, caught here first.
type thriftWalker struct {
	b []byte
	i int
}

var errThriftShort = errors.New("thrift data ends early")

func (w *thriftWalker) byte1() (byte, error) {
	if w.i >= len(w.b) {
		return 0, errThriftShort
	}
	w.i++
	return w.b[w.i-1], nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.i:])
	if n <= 0 {
		return 0, errors.New("bad varint")
	}
	w.i += n
	return v, nil
}

func (w *thriftWalker) skipStruct(depth int) error {
	if depth > 64 {
		return errors.New("thrift structs nest too deeply")
	}
	for {
		h, err := w.byte1()
		if err != nil {
			return err
		}
		if h == 0 {
			return nil
		}
		if h>>4 == 0 {
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		switch t := h & 0x0f; t {
		case 1, 2: // booleans live in the field header
		default:
			if err := w.skipValue(t, depth); err != nil {
				return err
			}
		}
	}
}

func (w *thriftWalker) skipValue(t byte, depth int) error {
	switch t {
	case 1, 2, 3:
		_, err := w.byte1()
		return err
	case 4, 5, 6:
		_, err := w.uvarint()
		return err
	case 7:
		if len(w.b)-w.i < 8 {
			return errThriftShort
		}
		w.i += 8
		return nil
	case 8:
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		if n > uint64(len(w.b)-w.i) {
			return fmt.Errorf("binary of %d bytes with %d left", n, len(w.b)-w.i)
		}
		w.i += int(n)
		return nil
	case 9, 10:
		h, err := w.byte1()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		if n > uint64(len(w.b)-w.i) {
			return fmt.Errorf("list of %d elements with %d bytes left", n, len(w.b)-w.i)
		}
		for range n {
			if err := w.skipValue(h&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11:
		n, err := w.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte1()
		if err != nil {
			return err
		}
		if n > uint64(len(w.b)-w.i)/2 {
			return fmt.Errorf("map of %d entries with %d bytes left", n, len(w.b)-w.i)
		}
		for range n {
			if err := w.skipValue(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.skipValue(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12:
		return w.skipStruct(depth + 1)
	}
	return fmt.Errorf("unknown thrift type %d", t)
}

// wantKind is the kind opt.Schema asks for the i-th read column (the
// schema may skip "label", so it is looked up by name).
func (s *pqSource) wantKind(opt Options, i int) Kind {
	return opt.Schema.Fields[opt.Schema.Index(s.cols[i].name)].Kind
}

// pqNewColumn maps a top-level column's types to a kind and a conversion.
func pqNewColumn(file string, c *parquet.Column) (*pqColumn, error) {
	if !c.Leaf() || c.Repeated() || c.MaxRepetitionLevel() > 0 {
		return nil, &InputError{File: file, Row: -1, Column: c.Name(), Offset: -1,
			Err: errors.New("nested columns are not supported: flatten it to one value per row")}
	}
	if c.MaxDefinitionLevel() > 1 {
		return nil, malformed(file, 0, -1, c.Name(), -1, "parquet: column has definition level %d", c.MaxDefinitionLevel())
	}
	pc := &pqColumn{name: c.Name(), leaf: c.Index(), optional: c.MaxDefinitionLevel() == 1, maxDef: byte(c.MaxDefinitionLevel())}
	t := c.Type()
	lt := t.LogicalType()
	var ltv any
	if lt != nil {
		ltv = lt.Value
	}
	ct := t.ConvertedType()
	dec, isDec := ltv.(*format.DecimalType)
	unsigned := false
	if it, ok := ltv.(*format.IntType); ok && !it.IsSigned {
		unsigned = true
	}
	if ct != nil && (*ct == deprecated.Uint32 || *ct == deprecated.Uint64 || *ct == deprecated.Uint8 || *ct == deprecated.Uint16) {
		unsigned = true
	}
	switch t.Kind() {
	case parquet.Double:
		pc.kind, pc.conv = KindFloat, pqDouble
	case parquet.Float:
		pc.kind, pc.conv = KindFloat, pqFloat
	case parquet.Boolean:
		pc.kind, pc.conv = KindBool, pqBool
	case parquet.Int32:
		pc.kind, pc.conv = KindInt, pqInt32
		if unsigned {
			pc.conv = pqUint32
		}
		if isDec {
			pc.kind, pc.conv = KindFloat, pqDecInt32
		}
	case parquet.Int64:
		pc.kind, pc.conv = KindInt, pqInt64
		if unsigned {
			pc.conv = pqUint64
		}
		if isDec {
			pc.kind, pc.conv = KindFloat, pqDecInt64
		}
	case parquet.Int96:
		pc.kind, pc.conv = KindInt, pqInt96
	case parquet.ByteArray:
		pc.kind, pc.conv = KindString, pqBytes
		if isDec {
			pc.kind, pc.conv = KindFloat, pqDecBytes
		}
	case parquet.FixedLenByteArray:
		pc.kind, pc.conv = KindString, pqFixed
		switch ltv.(type) {
		case *format.UUIDType:
			if t.Length() == 16 {
				pc.conv = pqUUID
			}
		case *format.Float16Type:
			if t.Length() == 2 {
				pc.kind, pc.conv = KindFloat, pqFloat16
			}
		}
		if isDec {
			pc.kind, pc.conv = KindFloat, pqDecBytes
		}
	default:
		return nil, &InputError{File: file, Row: -1, Column: c.Name(), Offset: -1,
			Err: fmt.Errorf("parquet type %s is not supported", t)}
	}
	if isDec {
		if dec.Scale < 0 || dec.Scale > 76 {
			return nil, malformed(file, 0, -1, c.Name(), -1, "parquet: decimal scale %d", dec.Scale)
		}
		pc.scale = math.Pow10(int(dec.Scale))
	}
	return pc, nil
}

func (s *pqSource) Schema() Schema { return s.schema }
func (s *pqSource) Rows() int64    { return s.rows }

// Extra names the file's columns that Options.Schema did not ask for.
func (s *pqSource) Extra() []string { return s.extra }

func (s *pqSource) Close() error {
	for _, c := range s.cols {
		c.release()
	}
	return nil
}

func (c *pqColumn) release() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
}

func (s *pqSource) Next() (b *Batch, err error) {
	if s.err != nil {
		return nil, s.err
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, malformed(s.name, 0, s.next, "", -1, "parquet: decoder failed: %v", r)
		}
		if err != nil {
			s.err = err
			for _, c := range s.cols {
				c.release()
			}
		}
	}()
	for s.rgLeft == 0 {
		if s.started {
			s.rg++
		}
		s.started = true
		if s.rg >= len(s.file.RowGroups()) {
			return nil, io.EOF
		}
		if err := s.openRowGroup(); err != nil {
			return nil, err
		}
	}
	n := int(min(int64(s.batch), s.rgLeft))
	b = &Batch{Start: s.next, Len: n, Cols: make([]Column, len(s.cols))}
	// One block per batch for all columns: fewer, larger allocations.
	nums := make([]float64, n*len(s.cols))
	states := make([]Cell, n*len(s.cols))
	for j, c := range s.cols {
		col := Column{Num: nums[j*n : (j+1)*n : (j+1)*n], State: states[j*n : (j+1)*n : (j+1)*n]}
		if c.kind == KindString {
			col.Str = make([]string, n)
		}
		if err := c.fill(s.name, &col, n); err != nil {
			return nil, err
		}
		b.Cols[j] = binConvertColumn(col, s.from[j], s.schema.Fields[j].Kind, n)
	}
	s.rgLeft -= int64(n)
	s.next += int64(n)
	if s.rgLeft == 0 {
		for _, c := range s.cols {
			if err := c.finish(s.name); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

func (s *pqSource) openRowGroup() error {
	rg := s.file.RowGroups()[s.rg]
	chunks := rg.ColumnChunks()
	// The reader holds one decoded page per column at a time: bound their
	// sum, or a few kilobytes of highly compressible pages across many
	// columns add up to any amount of memory.
	var resident int64
	for _, c := range s.cols {
		c.release()
		if c.leaf < 0 || c.leaf >= len(chunks) {
			return malformed(s.name, 0, s.next, c.name, -1, "parquet: row group %d has no chunk for the column", s.rg)
		}
		if meta := s.file.Metadata(); s.rg < len(meta.RowGroups) && c.leaf < len(meta.RowGroups[s.rg].Columns) {
			// parquet-go decompresses every row group's pages with the
			// codec of the column's first chunk, so that is the one to check.
			codec := meta.RowGroups[s.rg].Columns[c.leaf].MetaData.Codec
			if c.leaf < len(meta.RowGroups[0].Columns) {
				codec = meta.RowGroups[0].Columns[c.leaf].MetaData.Codec
			}
			cost, err := pqScanChunk(s.name, s.ra, s.size, c.name, &meta.RowGroups[s.rg].Columns[c.leaf].MetaData, codec, s.next)
			if err != nil {
				return err
			}
			resident += cost
			if resident > pqMaxResident {
				return &InputError{File: s.name, Row: s.next, Column: c.name, Offset: -1,
					Err: fmt.Errorf("%w: parquet: row group %d would hold about %d bytes of decoded pages at once, more than the limit of %d: rewrite the file with smaller pages or fewer columns", ErrMalformed, s.rg, resident, pqMaxResident)}
			}
		}
		c.pages = chunks[c.leaf].Pages()
		c.rows, c.pos, c.absRow = 0, 0, s.next
		c.dict, c.dictNum, c.dictStr = nil, nil, nil
	}
	s.rgLeft = rg.NumRows()
	return nil
}

// finish checks that a column chunk holds no rows past its row group's.
func (c *pqColumn) finish(file string) error {
	if c.pos < c.rows {
		return malformed(file, 0, c.absRow, c.name, -1, "parquet: column chunk holds more rows than its row group")
	}
	c.release()
	return nil
}

// pqWrap turns a parquet-go error into an InputError.
func pqWrap(file string, row int64, col string, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	return malformed(file, 0, row, col, -1, "parquet: %v", err)
}

// nextPage loads the next page of the column chunk.
func (c *pqColumn) nextPage(file string) error {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	p, err := c.pages.ReadPage()
	if err == io.EOF {
		return malformed(file, 0, c.absRow, c.name, -1, "parquet: column chunk ends before its row group does")
	}
	if err != nil {
		return pqWrap(file, c.absRow, c.name, err)
	}
	c.page = p
	c.rows = int(p.NumRows())
	c.pos, c.vpos = 0, 0
	c.defs = nil
	nonNull := c.rows
	if c.optional {
		c.defs = p.DefinitionLevels()
		if len(c.defs) != c.rows {
			return malformed(file, 0, c.absRow, c.name, -1, "parquet: page has %d levels for %d rows", len(c.defs), c.rows)
		}
		nonNull = 0
		for _, d := range c.defs {
			if d == c.maxDef {
				nonNull++
			}
		}
	}
	c.vals = p.Data()
	c.idx = nil
	if d := p.Dictionary(); d != nil {
		if c.vals.Kind() != encoding.Int32 {
			return malformed(file, 0, c.absRow, c.name, -1, "parquet: dictionary page without indexes")
		}
		c.idx = c.vals.Int32()
		c.nvals = len(c.idx)
		if d != c.dict {
			if err := c.loadDict(file, d); err != nil {
				return err
			}
		}
	} else {
		n, err := c.count(file)
		if err != nil {
			return err
		}
		c.nvals = n
	}
	if c.nvals < nonNull {
		return malformed(file, 0, c.absRow, c.name, -1, "parquet: page holds %d values for %d non-null rows", c.nvals, nonNull)
	}
	if c.rows == 0 && c.nvals > 0 {
		return malformed(file, 0, c.absRow, c.name, -1, "parquet: page holds values but no rows")
	}
	return nil
}

// count checks that the page's values are of the column's physical type
// and returns how many there are.
func (c *pqColumn) count(file string) (int, error) {
	v := &c.vals
	var want encoding.Kind
	switch c.conv {
	case pqDouble:
		want = encoding.Double
	case pqFloat:
		want = encoding.Float
	case pqInt32, pqUint32, pqDecInt32:
		want = encoding.Int32
	case pqInt64, pqUint64, pqDecInt64:
		want = encoding.Int64
	case pqBool:
		want = encoding.Boolean
	case pqInt96:
		want = encoding.Int96
	case pqBytes:
		want = encoding.ByteArray
	case pqFixed, pqUUID, pqFloat16:
		want = encoding.FixedLenByteArray
	case pqDecBytes:
		if k := v.Kind(); k == encoding.ByteArray || k == encoding.FixedLenByteArray {
			want = k
		}
	}
	if v.Kind() != want {
		return 0, malformed(file, 0, c.absRow, c.name, -1, "parquet: page of %s values in a column of another type", v.Kind())
	}
	switch want {
	case encoding.Double:
		return len(v.Double()), nil
	case encoding.Float:
		return len(v.Float()), nil
	case encoding.Int32:
		return len(v.Int32()), nil
	case encoding.Int64:
		return len(v.Int64()), nil
	case encoding.Int96:
		return len(v.Int96()), nil
	case encoding.Boolean:
		return 8 * len(v.Boolean()), nil
	case encoding.ByteArray:
		data, offs := v.ByteArray()
		if len(offs) == 0 {
			return 0, nil
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] {
				return 0, malformed(file, 0, c.absRow, c.name, -1, "parquet: byte array offsets go backwards")
			}
		}
		if int(offs[len(offs)-1]) > len(data) {
			return 0, malformed(file, 0, c.absRow, c.name, -1, "parquet: byte array offsets past the page")
		}
		return len(offs) - 1, nil
	case encoding.FixedLenByteArray:
		data, size := v.FixedLenByteArray()
		if size <= 0 {
			return 0, malformed(file, 0, c.absRow, c.name, -1, "parquet: fixed-length values of size %d", size)
		}
		if (c.conv == pqUUID && size != 16) || (c.conv == pqFloat16 && size != 2) {
			return 0, malformed(file, 0, c.absRow, c.name, -1, "parquet: fixed-length values of size %d", size)
		}
		return len(data) / size, nil
	}
	return 0, nil
}

// loadDict decodes a dictionary's values once, as a dense page.
func (c *pqColumn) loadDict(file string, d parquet.Dictionary) error {
	dp := d.Page()
	savedVals, savedIdx, savedN := c.vals, c.idx, c.nvals
	defer func() { c.vals, c.idx, c.nvals = savedVals, savedIdx, savedN }()
	c.vals, c.idx = dp.Data(), nil
	n, err := c.count(file)
	if err != nil {
		return err
	}
	c.nvals = n
	c.dict = d
	c.dictNum = make([]float64, n)
	if c.kind == KindString {
		c.dictStr = make([]string, n)
	} else {
		c.dictStr = nil
	}
	if bad, err := c.dense(0, n, c.dictNum, c.dictStr); err != nil {
		return malformed(file, 0, c.absRow, c.name, -1, "parquet: dictionary value %d: %v", bad, err)
	}
	return nil
}

// fill reads the next n rows of the column into col.
func (c *pqColumn) fill(file string, col *Column, n int) error {
	off := 0
	for off < n {
		if c.pos >= c.rows {
			if err := c.nextPage(file); err != nil {
				return err
			}
			continue
		}
		k := min(n-off, c.rows-c.pos)
		if err := c.take(file, col, off, k); err != nil {
			return err
		}
		off += k
		c.pos += k
		c.absRow += int64(k)
	}
	return nil
}

// take decodes rows pos..pos+k of the page into col at off.
func (c *pqColumn) take(file string, col *Column, off, k int) error {
	var str []string
	if col.Str != nil {
		str = col.Str[off : off+k]
	}
	num := col.Num[off : off+k]
	if c.defs == nil {
		if bad, err := c.dense(c.vpos, k, num, str); err != nil {
			return &InputError{File: file, Row: c.absRow + int64(bad), Column: c.name, Offset: -1, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
		c.vpos += k
		return nil
	}
	defs := c.defs[c.pos : c.pos+k]
	m := 0
	for _, d := range defs {
		if d == c.maxDef {
			m++
		}
	}
	if cap(c.tmpNum) < m {
		c.tmpNum = make([]float64, m, max(m, 1024))
	}
	tn := c.tmpNum[:m]
	var ts []string
	if str != nil {
		if cap(c.tmpStr) < m {
			c.tmpStr = make([]string, m, max(m, 1024))
		}
		ts = c.tmpStr[:m]
	}
	if bad, err := c.dense(c.vpos, m, tn, ts); err != nil {
		row := c.absRow
		for i, seen := 0, 0; i < len(defs); i++ {
			if defs[i] == c.maxDef {
				if seen == bad {
					row += int64(i)
					break
				}
				seen++
			}
		}
		return &InputError{File: file, Row: row, Column: c.name, Offset: -1, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	c.vpos += m
	st := col.State[off : off+k]
	v := 0
	for i, d := range defs {
		if d == c.maxDef {
			num[i] = tn[v]
			if str != nil {
				str[i] = ts[v]
			}
			v++
		} else {
			num[i] = math.NaN()
			st[i] = Null
		}
	}
	if ts != nil {
		clear(ts)
	}
	return nil
}

// dense decodes values from..from+k of the page (no nulls) into num and,
// for string columns, str. On bad data it returns the index (0-based from
// `from`) of the offending value.
func (c *pqColumn) dense(from, k int, num []float64, str []string) (int, error) {
	if k == 0 {
		return 0, nil
	}
	if from+k > c.nvals && c.idx == nil || c.idx != nil && from+k > len(c.idx) {
		return 0, fmt.Errorf("page holds fewer values than its rows")
	}
	if c.idx != nil {
		idx := c.idx[from : from+k]
		nd := uint32(len(c.dictNum))
		for i, x := range idx {
			if uint32(x) >= nd {
				return i, fmt.Errorf("dictionary index %d out of range (%d values)", x, nd)
			}
			num[i] = c.dictNum[x]
		}
		if str != nil {
			for i, x := range idx {
				str[i] = c.dictStr[x]
			}
		}
		return 0, nil
	}
	v := &c.vals
	switch c.conv {
	case pqDouble:
		copy(num, v.Double()[from:from+k])
	case pqFloat:
		pqConvert(num, v.Float()[from:from+k])
	case pqInt32:
		pqConvert(num, v.Int32()[from:from+k])
	case pqUint32:
		pqConvert(num, v.Uint32()[from:from+k])
	case pqInt64:
		pqConvert(num, v.Int64()[from:from+k])
	case pqUint64:
		pqConvert(num, v.Uint64()[from:from+k])
	case pqDecInt32:
		pqConvert(num, v.Int32()[from:from+k])
		pqScale(num, c.scale)
	case pqDecInt64:
		pqConvert(num, v.Int64()[from:from+k])
		pqScale(num, c.scale)
	case pqBool:
		bits := v.Boolean()
		for i := range k {
			j := from + i
			num[i] = float64((bits[j>>3] >> (j & 7)) & 1)
		}
	case pqInt96:
		for i, x := range v.Int96()[from : from+k] {
			num[i] = pqInt96Nanos(x)
		}
	case pqBytes:
		data, offs := v.ByteArray()
		for i := range k {
			b := data[offs[from+i]:offs[from+i+1]]
			if !utf8.Valid(b) {
				return i, errors.New("string value is not valid UTF-8")
			}
			str[i] = string(b)
		}
	case pqFixed, pqUUID, pqFloat16, pqDecBytes:
		var data []byte
		size := 0
		var offs []uint32
		if v.Kind() == encoding.ByteArray {
			data, offs = v.ByteArray()
		} else {
			data, size = v.FixedLenByteArray()
		}
		for i := range k {
			var b []byte
			if offs != nil {
				b = data[offs[from+i]:offs[from+i+1]]
			} else {
				b = data[(from+i)*size : (from+i+1)*size]
			}
			switch c.conv {
			case pqFixed:
				if !utf8.Valid(b) {
					return i, errors.New("string value is not valid UTF-8")
				}
				str[i] = string(b)
			case pqUUID:
				str[i] = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
			case pqFloat16:
				num[i] = halfToFloat64(binary.LittleEndian.Uint16(b))
			case pqDecBytes:
				num[i] = pqDecimal(b, c.scale)
			}
		}
	}
	return 0, nil
}

func pqConvert[T int32 | uint32 | int64 | uint64 | float32](dst []float64, src []T) {
	for i, v := range src {
		dst[i] = float64(v)
	}
}

func pqScale(num []float64, scale float64) {
	if scale == 1 {
		return
	}
	for i := range num {
		num[i] /= scale
	}
}

// pqInt96Nanos converts a legacy INT96 timestamp (nanoseconds of the day,
// then the Julian day) to Unix nanoseconds.
func pqInt96Nanos(x deprecated.Int96) float64 {
	nanos := uint64(x[0]) | uint64(x[1])<<32
	day := int64(x[2]) - 2440588
	return float64(day)*86400e9 + float64(nanos)
}

// pqDecimal converts a big-endian two's-complement unscaled decimal.
func pqDecimal(b []byte, scale float64) float64 {
	if len(b) == 0 {
		return 0
	}
	if len(b) <= 8 {
		var u uint64
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
		shift := 64 - 8*uint(len(b))
		return float64(int64(u<<shift)>>shift) / scale
	}
	n := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f / scale
}

// Bounds on one page, checked before parquet-go allocates its buffers.
const (
	pqMaxPage       = 1 << 30  // uncompressed bytes
	pqMaxPageValues = 64 << 20 // values (one level byte each)
	pqMaxHeader     = 1 << 20
)

// pqMaxResident bounds the decoded pages of one row group that are held at
// once (one per column read, plus its dictionary). Real files use pages of
// about 1 MiB, so this admits thousands of columns. A variable so that
// tests can lower it.
var pqMaxResident int64 = 4 << 30

// pqScanChunk walks the page headers of a column chunk, the byte range
// parquet-go will read, and rejects sizes it would otherwise allocate
// blindly: a compressed page longer than the rest of the chunk, an absurd
// uncompressed size or value count, or compressed data that inflates past
// the uncompressed size its header declares (parquet-go's gzip, zstd and
// brotli decoders keep going as long as the data does, so a page that
// says 1 KiB could inflate to gigabytes). Headers are decoded from a
// bounded byte window and pages are inflated as streams into nothing, so
// this scan allocates little whatever the bytes say. It returns the bytes
// the column will hold while the chunk is read: its largest data page
// plus its dictionary, decoded.
func pqScanChunk(name string, ra io.ReaderAt, size int64, col string, m *format.ColumnMetaData, codec format.CompressionCodec, row int64) (int64, error) {
	start := m.DataPageOffset
	if m.DictionaryPageOffset != 0 {
		start = m.DictionaryPageOffset
	}
	total := m.TotalCompressedSize
	if start < 0 || total < 0 || start > size || total > size-start {
		return 0, malformed(name, 0, row, col, start, "parquet: column chunk of %d bytes at offset %d lies outside the file of %d bytes", total, start, size)
	}
	var proto thrift.CompactProtocol
	var inf pqInflater
	defer inf.close()
	off, end := start, start+total
	var buf []byte
	var dictCost, pageCost int64
	for off < end {
		window := min(int64(256), end-off)
		var h format.PageHeader
		var used int
		for {
			if int64(cap(buf)) < window {
				buf = make([]byte, window)
			}
			b := buf[:window]
			if _, err := ra.ReadAt(b, off); err != nil && err != io.EOF {
				return 0, malformed(name, 0, row, col, off, "parquet: reading page header: %v", err)
			}
			h = format.PageHeader{}
			pr := proto.NewReaderFromBytes(b)
			err := thrift.NewDecoder(pr).Decode(&h)
			if err == nil {
				used = pr.BytesRead()
				break
			}
			if window >= min(end-off, pqMaxHeader) {
				return 0, malformed(name, 0, row, col, off, "parquet: bad page header: %v", err)
			}
			window = min(window*8, end-off, pqMaxHeader)
		}
		data := off + int64(used)
		if h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > end-data {
			return 0, malformed(name, 0, row, col, off, "parquet: page of %d bytes in the %d bytes left of its column chunk", h.CompressedPageSize, end-data)
		}
		if h.UncompressedPageSize < 0 || h.UncompressedPageSize > pqMaxPage {
			return 0, malformed(name, 0, row, col, off, "parquet: page of %d uncompressed bytes (limit %d)", h.UncompressedPageSize, pqMaxPage)
		}
		var nv int32
		// levels are the leading bytes of a v2 page, stored uncompressed.
		var levels int64
		compressed := codec != format.Uncompressed
		switch {
		case h.DataPageHeader.Valid:
			nv = h.DataPageHeader.V.NumValues
		case h.DataPageHeaderV2.Valid:
			v2 := &h.DataPageHeaderV2.V
			nv = v2.NumValues
			if v2.DefinitionLevelsByteLength < 0 || v2.RepetitionLevelsByteLength < 0 {
				return 0, malformed(name, 0, row, col, off, "parquet: negative level length in a page header")
			}
			levels = int64(v2.DefinitionLevelsByteLength) + int64(v2.RepetitionLevelsByteLength)
			if levels > int64(h.CompressedPageSize) || levels > int64(h.UncompressedPageSize) {
				return 0, malformed(name, 0, row, col, off, "parquet: page levels of %d bytes in a page of %d", levels, min(h.CompressedPageSize, h.UncompressedPageSize))
			}
			compressed = compressed && (!v2.IsCompressed.Valid || v2.IsCompressed.V)
		case h.DictionaryPageHeader.Valid:
			nv = h.DictionaryPageHeader.V.NumValues
		}
		if nv < 0 || nv > pqMaxPageValues {
			return 0, malformed(name, 0, row, col, off, "parquet: page of %d values (limit %d)", nv, pqMaxPageValues)
		}
		if compressed {
			want := int64(h.UncompressedPageSize) - levels
			sec := io.NewSectionReader(ra, data+levels, int64(h.CompressedPageSize)-levels)
			if err := inf.check(codec, sec, want); err != nil {
				return 0, malformed(name, 0, row, col, off, "parquet: page declaring %d uncompressed bytes: %v", h.UncompressedPageSize, err)
			}
		}
		// A page's buffer, plus its decoded values or dictionary indexes
		// and levels (at most 8 bytes a value); a dictionary is also kept
		// decoded as numbers and strings.
		if h.DictionaryPageHeader.Valid {
			dictCost += 2*int64(h.UncompressedPageSize) + 24*int64(nv)
		} else {
			pageCost = max(pageCost, int64(h.UncompressedPageSize)+8*int64(nv))
		}
		off = data + int64(h.CompressedPageSize)
	}
	return dictCost + pageCost, nil
}

// pqInflater checks that compressed page data inflates to no more than
// the size its header declares, reusing one decoder per codec.
type pqInflater struct {
	zstd    *zstd.Decoder
	zstdWin uint64 // the decoder's window limit
}

// pqZstdMinWindow is the smallest window limit of the zstd check. A
// streaming decoder allocates the window a frame declares, so a tiny page
// could ask for the library's default limit of 512 MiB; but honest writers
// declare windows up to 128 MiB (zstd's ultra levels) or the page size,
// so the limit is the larger of the two.
const pqZstdMinWindow = 128 << 20

func (p *pqInflater) close() {
	if p.zstd != nil {
		p.zstd.Close()
		p.zstd = nil
	}
}

var errPageInflates = errors.New("the data inflates past it")

// check inflates r into nothing, stopping one byte past want. Codecs that
// parquet-go does not decode are left to it to refuse.
func (p *pqInflater) check(codec format.CompressionCodec, r io.Reader, want int64) error {
	var zr io.Reader
	switch codec {
	case format.Snappy:
		// A snappy block states its length first, and the decoder
		// allocates that much: check it rather than inflate.
		var head [binary.MaxVarintLen32]byte
		n, err := io.ReadFull(r, head[:])
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return err
		}
		got, err := snappy.DecodedLen(head[:n])
		if err != nil {
			return err
		}
		if int64(got) > want {
			return fmt.Errorf("the snappy block states %d bytes", got)
		}
		return nil
	case format.Gzip:
		gr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer gr.Close()
		zr = gr
	case format.Zstd:
		win := uint64(pqZstdMinWindow)
		for win < uint64(want) {
			win *= 2
		}
		if p.zstd == nil || win > p.zstdWin {
			p.close()
			d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(win))
			if err != nil {
				return err
			}
			p.zstd, p.zstdWin = d, win
		}
		if err := p.zstd.Reset(r); err != nil {
			return err
		}
		zr = p.zstd
	case format.Brotli:
		zr = brotli.NewReader(r)
	default:
		return nil
	}
	n, err := io.CopyN(io.Discard, zr, want+1)
	if n > want {
		return errPageInflates
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}
