package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"runtime"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The CSV/TSV reader is a byte-level RFC 4180 scanner over one bounded
// buffer. A line without quotes (the common case) is split eight bytes at
// a time and its numbers are parsed where they lie, so reading a numeric
// file allocates only the batches. Records with quotes go through a small
// state machine that may span lines. A record that does not fit in the
// buffer makes it grow, up to a limit derived from MaxField and MaxColumns
// (at most 64 MiB); past it the record is an error, never an unbounded read.
//
// Choices the contract leaves open: blank lines are skipped (they still
// count for line numbers), so an empty line is not a one-null row; blanks
// around a number are ignored; hex floats and digit underscores are text;
// kind inference also stops once 64 MiB of sample rows are buffered; a
// batch of a very wide file holds fewer than BatchRows rows (at most 4Mi
// cells); and an error discards the rows of the batch it interrupts.
//
// With GOMAXPROCS above 1, the input after the rows read for inference is
// parsed by a pipeline of goroutines (see "Parallel parsing" below) that
// returns the same rows, issues and errors. Its batches end at chunk
// edges, so they may hold fewer than BatchRows rows, and a read error is
// reported at the first record it leaves incomplete (the sequential
// reader names the record it was buffering).

const (
	textBufSize     = 1 << 20  // initial input buffer
	maxRecordBytes  = 64 << 20 // hard cap on one CSV record or JSON line
	minRecordBytes  = 64 << 10
	inferArenaBytes = 64 << 20 // most bytes buffered for kind inference
	inferCells      = 1 << 23  // most cells buffered for kind inference
)

// errNeedMore says a record continues past the buffered bytes.
var errNeedMore = errors.New("need more input")

// errTooLong says a record exceeds the buffer limit.
var errTooLong = errors.New("record too long")

// textBuf is a growable window on a reader. buf[start:end] is unread.
type textBuf struct {
	r          io.Reader
	buf        []byte
	start, end int
	eof        bool
	err        error
	limit      int
	off        int64 // file offset of buf[0]
}

func newTextBuf(r io.Reader, limit int) *textBuf {
	size := textBufSize
	if size > limit {
		size = limit
	}
	return &textBuf{r: r, buf: make([]byte, size), limit: limit}
}

// data is the unread bytes.
func (t *textBuf) data() []byte { return t.buf[t.start:t.end] }

// offset is the file offset of the first unread byte.
func (t *textBuf) offset() int64 { return t.off + int64(t.start) }

// more moves the unread bytes to the front and reads until the buffer is
// full or the input ends, growing the buffer when the unread bytes already
// fill it. Reading until full keeps the number of times a long record is
// rescanned logarithmic in its length.
func (t *textBuf) more() error {
	if t.err != nil {
		return t.err
	}
	if t.eof {
		return nil
	}
	if t.start > 0 {
		n := copy(t.buf, t.buf[t.start:t.end])
		t.off += int64(t.start)
		t.start, t.end = 0, n
	}
	if t.end == len(t.buf) {
		if len(t.buf) >= t.limit {
			return errTooLong
		}
		size := 2 * len(t.buf)
		if size > t.limit {
			size = t.limit
		}
		nb := make([]byte, size)
		copy(nb, t.buf[:t.end])
		t.buf = nb
	}
	zero := 0
	start := t.end
	for t.end < len(t.buf) {
		n, err := t.r.Read(t.buf[t.end:])
		t.end += n
		if err == io.EOF {
			t.eof = true
			return nil
		}
		if err != nil {
			// Hand over what was read first: the records before the
			// failure parse, and the next call reports the error at the
			// record it cut short.
			t.err = err
			if t.end > start {
				return nil
			}
			return err
		}
		if n == 0 {
			if zero++; zero > 100 {
				t.err = io.ErrNoProgress
				return t.err
			}
		}
	}
	return nil
}

// recordLimit bounds one record: every field at its largest (quoted, with
// every byte an escaped quote) plus separators, clamped to [64 KiB, 64 MiB].
func recordLimit(opt Options) int {
	mf := int64(min(opt.MaxField, maxRecordBytes))
	l := (2*mf + 3) * int64(min(opt.MaxColumns, maxRecordBytes))
	return int(min(max(l, minRecordBytes), maxRecordBytes))
}

// readErr names the file in an error from the underlying reader. An
// InputError (a truncated gzip stream) keeps its text and gains the line
// and row of the record it cut short, which it cannot know itself.
func readErr(name string, line, row int64, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		if ie.Line == 0 && ie.Row < 0 && line > 0 {
			c := *ie
			c.Line, c.Row = line, row
			return &c
		}
		return err
	}
	return &InputError{File: name, Line: line, Row: row, Offset: -1, Err: fmt.Errorf("read: %w", err)}
}

// csvSource reads CSV or TSV.
type csvSource struct {
	name  string
	opt   Options
	comma byte
	in    *textBuf

	header []string
	schema Schema
	kinds  []Kind // per schema field
	colIdx []int  // schema field → header column
	extra  []string

	// reader state: the next record starts on line nextLine; rdRow data
	// rows have been read.
	nextLine int64
	rdRow    int64
	fields   [][]byte
	esc      []int
	recLine  int64

	// rows read ahead for inference, replayed first
	pendArena  []byte
	pendEnds   []uint32
	pendRows   []pendRow
	pendPos    int
	pendErr    error
	pendFields [][]byte

	outRow int64
	strs   strArena
	err    error

	// par is the parallel pipeline, nil when reading sequentially.
	par *csvPar
	// chunked marks a worker's parser; chunkLines is its chunk's line
	// count, a bound on the rows left that sizes batches.
	chunked    bool
	chunkLines int
}

type pendRow struct {
	first, n int
	line     int64
}

// Extra names the file's columns that the given schema does not have.
func (s *csvSource) Extra() []string { return s.extra }

func (s *csvSource) Schema() Schema { return s.schema }
func (s *csvSource) Rows() int64    { return -1 }

func (s *csvSource) Close() error {
	if s.err == nil {
		s.err = errors.New("source closed")
	}
	s.stopPar()
	return nil
}

func openCSV(name string, r io.Reader, comma byte, opt Options) (Source, error) {
	return openCSVPar(name, r, comma, opt, parConfig{workers: runtime.GOMAXPROCS(0), chunk: csvChunkBytes})
}

func openCSVPar(name string, r io.Reader, comma byte, opt Options, par parConfig) (Source, error) {
	opt = opt.WithDefaults()
	s := &csvSource{name: name, opt: opt, comma: comma, nextLine: 1}
	s.in = newTextBuf(r, recordLimit(opt))
	if err := s.readHeader(); err != nil {
		return nil, err
	}
	if opt.Schema != nil {
		if err := s.bindSchema(*opt.Schema); err != nil {
			return nil, err
		}
	} else {
		s.infer()
	}
	if opt.Label != "" && s.schema.Index(opt.Label) < 0 {
		return nil, &InputError{File: name, Line: 1, Row: -1, Column: opt.Label, Offset: -1,
			Err: errors.New("label column not found")}
	}
	// Inference ran sequentially; the rest is parsed in parallel when
	// there is more than the first buffer of it.
	if par.workers > 1 && s.pendErr == nil && (!s.in.eof || par.force) {
		s.startPar(par)
	}
	return s, nil
}

func (s *csvSource) readHeader() error {
	if err := s.in.more(); err != nil {
		return readErr(s.name, 0, -1, err)
	}
	if bytes.HasPrefix(s.in.data(), []byte("\ufeff")) {
		s.in.start += 3
	}
	err := s.readRecord()
	if err == io.EOF {
		return malformed(s.name, 1, -1, "", -1, "empty file: no header row")
	}
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			ie.Row = -1
		}
		return err
	}
	seen := make(map[string]int, len(s.fields))
	s.header = make([]string, len(s.fields))
	for i, f := range s.fields {
		h := string(f)
		if h == "" {
			return malformed(s.name, s.recLine, -1, strconv.Itoa(i+1), -1, "header: empty column name")
		}
		if j, dup := seen[h]; dup {
			return malformed(s.name, s.recLine, -1, h, -1, "header: duplicate column name (columns %d and %d)", j+1, i+1)
		}
		seen[h] = i
		s.header[i] = h
	}
	s.rdRow = 0
	return nil
}

func (s *csvSource) bindSchema(sc Schema) error {
	pos := make(map[string]int, len(s.header))
	for i, h := range s.header {
		pos[h] = i
	}
	s.schema = Schema{Fields: append([]Field(nil), sc.Fields...), Shape: append([]int(nil), sc.Shape...)}
	s.kinds = make([]Kind, len(sc.Fields))
	s.colIdx = make([]int, len(sc.Fields))
	used := make([]bool, len(s.header))
	for j, f := range sc.Fields {
		i, ok := pos[f.Name]
		if !ok {
			return &InputError{File: s.name, Line: 1, Row: -1, Column: f.Name, Offset: -1,
				Err: errors.New("schema column missing from the file")}
		}
		s.colIdx[j] = i
		s.kinds[j] = normKind(f.Kind)
		used[i] = true
	}
	for i, h := range s.header {
		if !used[i] {
			s.extra = append(s.extra, h)
		}
	}
	return nil
}

// infer reads up to InferRows records ahead and sets the kinds from them.
// A read error is kept for Next to return after the rows before it.
func (s *csvSource) infer() {
	n := len(s.header)
	ti := make([]textInfer, n)
	for len(s.pendRows) < s.opt.InferRows && len(s.pendArena) < inferArenaBytes && len(s.pendEnds) < inferCells {
		err := s.readRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.pendErr = err
			break
		}
		first := len(s.pendEnds)
		for i, f := range s.fields {
			if i < n {
				ti[i].add(f)
			}
			s.pendArena = append(s.pendArena, f...)
			s.pendEnds = append(s.pendEnds, uint32(len(s.pendArena)))
		}
		s.pendRows = append(s.pendRows, pendRow{first: first, n: len(s.fields), line: s.recLine})
	}
	s.schema = Schema{Fields: make([]Field, n)}
	s.kinds = make([]Kind, n)
	s.colIdx = make([]int, n)
	for i, h := range s.header {
		k := ti[i].kind()
		s.schema.Fields[i] = Field{Name: h, Kind: k}
		s.kinds[i] = k
		s.colIdx[i] = i
	}
}

// colName names file column i in errors.
func (s *csvSource) colName(i int) string {
	if i < len(s.header) {
		return s.header[i]
	}
	return strconv.Itoa(i + 1)
}

func (s *csvSource) Next() (*Batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	var b *Batch
	var err error
	if s.par != nil && s.pendPos >= len(s.pendRows) {
		b, err = s.parNext()
	} else {
		b, err = s.readBatch()
		if err == io.EOF && s.par != nil {
			b, err = s.parNext()
		}
	}
	if err != nil {
		s.err = err
		s.stopPar()
		return nil, err
	}
	return b, nil
}

// readBatch fills a batch from nextRecord.
func (s *csvSource) readBatch() (*Batch, error) {
	maxRows := batchRows(s.opt, len(s.kinds))
	rowsCap := firstCap(maxRows)
	if s.chunked {
		// A chunk's remaining lines bound its rows.
		rowsCap = max(1, min(rowsCap, s.chunkLines-int(s.nextLine-1)+1))
	}
	b := &Batch{Start: s.outRow, Cols: batchCols(s.kinds, rowsCap)}
	for b.Len < maxRows {
		if b.Len == rowsCap {
			rowsCap = min(2*rowsCap, maxRows)
			growBatch(b, rowsCap)
		}
		fields, line, err := s.nextRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := s.putRow(b, fields, line); err != nil {
			return nil, err
		}
		b.Len++
		s.outRow++
	}
	if b.Len == 0 {
		return nil, io.EOF
	}
	trimBatch(b)
	return b, nil
}

// nextRecord returns the next record and its first line: the rows read
// ahead for inference first, then the input. In parallel mode the input
// after those rows belongs to the pipeline, so it ends there.
func (s *csvSource) nextRecord() ([][]byte, int64, error) {
	if s.pendPos < len(s.pendRows) {
		p := s.pendRows[s.pendPos]
		s.pendPos++
		fields := s.pendFields[:0]
		start := uint32(0)
		if p.first > 0 {
			start = s.pendEnds[p.first-1]
		}
		for k := 0; k < p.n; k++ {
			end := s.pendEnds[p.first+k]
			fields = append(fields, s.pendArena[start:end:end])
			start = end
		}
		s.pendFields = fields
		if s.pendPos == len(s.pendRows) {
			s.pendArena, s.pendEnds, s.pendRows, s.pendFields = nil, nil, nil, nil
			s.pendPos = 0
		}
		return fields, p.line, nil
	}
	if s.pendErr != nil {
		return nil, 0, s.pendErr
	}
	if s.par != nil {
		return nil, 0, io.EOF
	}
	if err := s.readRecord(); err != nil {
		return nil, 0, err
	}
	return s.fields, s.recLine, nil
}

// putRow converts one record into row b.Len of the batch.
func (s *csvSource) putRow(b *Batch, fields [][]byte, line int64) error {
	i := b.Len
	row := s.outRow
	nh := len(s.header)
	if len(fields) != nh {
		col := len(fields)
		if col > nh {
			col = nh
		}
		if !s.opt.Lenient {
			return malformed(s.name, line, row, s.colName(col), -1, "row has %d fields, header has %d", len(fields), nh)
		}
		b.Issues = append(b.Issues, RowIssue{Row: row, Kind: IssueRagged,
			Detail: fmt.Sprintf("%d fields, header has %d", len(fields), nh)})
	}
	n := rowsCapOf(b)
	for j := range b.Cols {
		c := &b.Cols[j]
		fi := s.colIdx[j]
		if fi >= len(fields) {
			c.State[i] = Null
			if c.Num != nil {
				c.Num[i] = math.NaN()
			}
			continue
		}
		f := fields[fi]
		k := s.kinds[j]
		if k == KindInt || k == KindFloat {
			// No null token parses as a number, so parse first.
			if v, ok := parseNum(f); ok {
				c.Num[i] = v
				continue
			}
		}
		if isNullBytes(f) {
			c.State[i] = Null
			if c.Num != nil {
				c.Num[i] = math.NaN()
			}
			continue
		}
		switch k {
		case KindInt, KindFloat:
			setMismatch(c, i, n, s.strs.str(f))
		case KindBool:
			if v, ok := parseBool(f); ok {
				c.Num[i] = v
				continue
			}
			setMismatch(c, i, n, s.strs.str(f))
		default:
			c.Str[i] = s.strs.str(f)
		}
	}
	return nil
}

// readRecord reads the next non-blank record into s.fields (views of the
// input buffer, valid until the next call) and its first line into
// s.recLine. It returns io.EOF at the end of the input.
func (s *csvSource) readRecord() error {
	in := s.in
	for {
		s.recLine = s.nextLine
		data := in.data()
		if len(data) == 0 {
			if in.eof {
				return io.EOF
			}
			if err := in.more(); err != nil {
				return s.moreErr(err, data)
			}
			continue
		}
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 && !in.eof {
			if len(data) > s.opt.MaxField {
				// A long partial record: look for a field that is already
				// too long before buffering more of it.
				if _, err := s.scanQuoted(data, false); err != nil && err != errNeedMore {
					return s.recordErr(err)
				}
			}
			if err := in.more(); err != nil {
				return s.moreErr(err, in.data())
			}
			continue
		}
		line := data
		next := len(data)
		if nl >= 0 {
			line = data[:nl]
			next = nl + 1
		}
		if bytes.IndexByte(line, '"') < 0 {
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) == 0 {
				in.start += next
				s.nextLine++
				continue
			}
			if err := s.split(line); err != nil {
				return err
			}
			in.start += next
			s.nextLine++
			return s.finish(false, isASCII(line))
		}
		n, err := s.scanQuoted(data, in.eof)
		if err == errNeedMore {
			if err := in.more(); err != nil {
				return s.moreErr(err, in.data())
			}
			continue
		}
		s.recLine = s.nextLine
		if err != nil {
			return s.recordErr(err)
		}
		s.nextLine += int64(bytes.Count(data[:n], []byte{'\n'}))
		in.start += n
		return s.finish(true, false)
	}
}

// moreErr turns a failure to buffer more of a record into an InputError.
func (s *csvSource) moreErr(err error, partial []byte) error {
	if err == errTooLong {
		// Name the column the record had reached.
		s.recLine = s.nextLine
		s.scanQuoted(partial, false)
		col := len(s.fields)
		if col > 0 {
			col--
		}
		return malformed(s.name, s.nextLine, s.rdRow, s.colName(col), -1,
			"record longer than %d bytes", s.in.limit)
	}
	return readErr(s.name, s.nextLine, s.rdRow, err)
}

// split cuts an unquoted line into fields. It tests eight bytes at a time
// for the delimiter (an exact per-byte zero test, with no carries between
// bytes), which beats both a byte loop and bytes.IndexByte on the short
// fields of numeric files.
func (s *csvSource) split(line []byte) error {
	const low7 = 0x7f7f7f7f7f7f7f7f
	f := s.fields[:0]
	pat := 0x0101010101010101 * uint64(s.comma)
	maxCols := s.opt.MaxColumns
	start, i := 0, 0
	for ; i+8 <= len(line); i += 8 {
		v := binary.LittleEndian.Uint64(line[i:]) ^ pat
		m := ^((v&low7 + low7) | v | low7)
		for m != 0 {
			k := i + bits.TrailingZeros64(m)>>3
			f = append(f, line[start:k:k])
			start = k + 1
			m &= m - 1
		}
		if len(f) >= maxCols {
			break
		}
	}
	if len(f) < maxCols {
		for ; i < len(line); i++ {
			if line[i] == s.comma {
				f = append(f, line[start:i:i])
				start = i + 1
			}
		}
	}
	s.fields = f
	if len(f) >= maxCols {
		return s.recordErr(&fieldErr{col: maxCols, msg: fmt.Sprintf("more than %d columns", maxCols)})
	}
	s.fields = append(f, line[start:len(line):len(line)])
	return nil
}

// fieldErr is a syntax error in the field at index col of the record.
type fieldErr struct {
	col int
	msg string
}

func (e *fieldErr) Error() string { return e.msg }

func (s *csvSource) recordErr(err error) error {
	var fe *fieldErr
	if errors.As(err, &fe) {
		return malformed(s.name, s.recLine, s.rdRow, s.colName(fe.col), -1, "%s", fe.msg)
	}
	return malformed(s.name, s.recLine, s.rdRow, "", -1, "%v", err)
}

// scanQuoted parses one record that may contain quoted fields, filling
// s.fields and s.esc (fields with "" escapes, unescaped by finish). It
// returns the bytes consumed including the line end, or errNeedMore when
// the record may continue past data and more input may come.
func (s *csvSource) scanQuoted(data []byte, eof bool) (int, error) {
	f := s.fields[:0]
	esc := s.esc[:0]
	defer func() { s.fields, s.esc = f, esc }()
	comma := s.comma
	maxField := s.opt.MaxField
	i := 0
	for {
		col := len(f)
		if col >= s.opt.MaxColumns {
			return 0, &fieldErr{col: col, msg: fmt.Sprintf("more than %d columns", s.opt.MaxColumns)}
		}
		if i < len(data) && data[i] == '"' {
			i++
			fs := i
			quotes := 0
			for {
				j := bytes.IndexByte(data[i:], '"')
				if j < 0 {
					if len(data)-fs > 2*maxField+2 {
						return 0, &fieldErr{col: col, msg: fmt.Sprintf("field longer than %d bytes", maxField)}
					}
					if eof {
						return 0, &fieldErr{col: col, msg: "unterminated quoted field at end of file"}
					}
					return 0, errNeedMore
				}
				i += j
				if i+1 < len(data) && data[i+1] == '"' {
					quotes++
					i += 2
					continue
				}
				if i+1 == len(data) && !eof {
					return 0, errNeedMore
				}
				break
			}
			fe := i
			i++ // closing quote
			if fe-fs-quotes > maxField {
				return 0, &fieldErr{col: col, msg: fmt.Sprintf("field longer than %d bytes", maxField)}
			}
			if quotes > 0 {
				esc = append(esc, col)
			}
			f = append(f, data[fs:fe])
			if i == len(data) {
				return i, nil // eof is true here
			}
			switch c := data[i]; c {
			case comma:
				i++
				continue
			case '\n':
				return i + 1, nil
			case '\r':
				if i+1 < len(data) {
					if data[i+1] == '\n' {
						return i + 2, nil
					}
				} else if eof {
					return i + 1, nil
				} else {
					return 0, errNeedMore
				}
			}
			return 0, &fieldErr{col: col, msg: fmt.Sprintf("unexpected %q after closing quote", data[i])}
		}
		fs := i
		for ; i < len(data); i++ {
			c := data[i]
			if c == comma || c == '\n' {
				break
			}
			if c == '"' {
				return 0, &fieldErr{col: col, msg: "bare quote in unquoted field"}
			}
		}
		if i-fs > maxField+1 {
			return 0, &fieldErr{col: col, msg: fmt.Sprintf("field longer than %d bytes", maxField)}
		}
		if i == len(data) {
			if !eof {
				return 0, errNeedMore
			}
			f = append(f, trimCR(data[fs:i]))
			return i, nil
		}
		if data[i] == '\n' {
			f = append(f, trimCR(data[fs:i]))
			return i + 1, nil
		}
		f = append(f, data[fs:i])
		i++
	}
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// finish unescapes quoted fields in place and checks field sizes and UTF-8.
func (s *csvSource) finish(quoted, ascii bool) error {
	s.rdRow++
	row := s.rdRow - 1
	if quoted {
		for _, k := range s.esc {
			s.fields[k] = unescapeQuotes(s.fields[k])
		}
	}
	bad := false
	for k, f := range s.fields {
		if len(f) > s.opt.MaxField {
			return malformed(s.name, s.recLine, row, s.colName(k), -1, "field longer than %d bytes", s.opt.MaxField)
		}
		if !ascii && !bad && !isASCII(f) {
			bad = true
		}
	}
	if bad {
		for k, f := range s.fields {
			if !utf8.Valid(f) {
				return malformed(s.name, s.recLine, row, s.colName(k), -1, "invalid UTF-8")
			}
		}
	}
	return nil
}

// isASCII is a cheap first check before utf8.Valid.
func isASCII(b []byte) bool {
	var acc uint64
	for len(b) >= 8 {
		acc |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		acc |= uint64(c)
	}
	return acc&0x8080808080808080 == 0
}

// unescapeQuotes turns "" into " in place.
func unescapeQuotes(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		b[w] = b[r]
		w++
		if b[r] == '"' && r+1 < len(b) && b[r+1] == '"' {
			r++
		}
	}
	return b[:w]
}

// Parallel parsing. After the header and kind inference, which stay
// sequential, one splitter goroutine reads the input in chunks and cuts
// each after the last record end in it, and W parser goroutines turn
// chunks into batches; Next hands them out in file order and turns the
// chunk-relative rows and lines of batches and errors into absolute ones.
//
// The splitter finds record ends by quote parity alone: a '\n' after an
// even number of '"' since the chunk's start. For records that parse,
// parity is odd exactly inside quoted fields ("" escapes flip it twice),
// so the cut is the parser's record end. A malformed record makes the
// parser fail before its first even-parity '\n', so it fails inside its
// chunk as the sequential reader would; chunks after it may be cut
// anywhere, but Next never looks past the first error. A record with no
// end in a full buffer makes the buffer grow up to the record limit,
// where the chunk carries errTooLong for its parser to report, exactly
// as the sequential reader's buffer does.
//
// Memory stays bounded: W+2 chunk buffers circulate (the splitter holds
// at most two), and at most W+2 parsed chunks wait for Next. Batches do
// not span chunks, so a batch may hold fewer than BatchRows rows.

// csvChunkBytes is the default chunk size: large enough that handing a
// chunk over costs nothing next to parsing it, small enough that the
// first batches come soon.
const csvChunkBytes = 1 << 20

// parConfig tunes the pipeline; tests shrink chunk to put chunk edges
// everywhere.
type parConfig struct {
	workers int  // parser goroutines; 1 or less reads sequentially
	chunk   int  // bytes per chunk buffer
	force   bool // run the pipeline even when the input is all buffered
}

// errSplitMore and errSplitStop are what a chunk's buffer says when its
// parser asks for bytes past the chunk: the splitter's probe of a partial
// record, and a chunk sent because that probe found an error.
var (
	errSplitMore = errors.New("internal: record continues past its chunk")
	errSplitStop = errors.New("internal: chunk ends in a malformed record")
)

// csvChunk is one piece of input between record ends, and its result.
type csvChunk struct {
	data []byte
	// rerr, when set, is what asking for more input than data returns
	// (a read error, errTooLong); otherwise the chunk ends at a record
	// end or at the end of the input.
	rerr error
	done chan struct{} // closed when the fields below are set

	batches []*Batch
	err     error
	rows    int64 // data rows in the chunk
	lines   int64 // line ends in the chunk
}

type csvPar struct {
	work  chan *csvChunk // chunks to parse
	order chan *csvChunk // the same chunks in file order
	free  chan []byte    // buffer tokens: nil or a buffer of chunk bytes
	quit  chan struct{}
	wg    sync.WaitGroup
	chunk int

	// Next's state: the chunk being handed out and where it starts.
	cur               *csvChunk
	curIdx            int
	rowBase, lineBase int64
}

// parser is a copy of s for a goroutine of its own: the same schema and
// options, its own buffer and record state.
func (s *csvSource) parser() *csvSource {
	return &csvSource{name: s.name, opt: s.opt, comma: s.comma, header: s.header,
		schema: s.schema, kinds: s.kinds, colIdx: s.colIdx}
}

func (s *csvSource) startPar(cfg parConfig) {
	w := cfg.workers
	limit := s.in.limit
	chunk := max(1, min(cfg.chunk, limit))
	p := &csvPar{
		work:     make(chan *csvChunk, w+2),
		order:    make(chan *csvChunk, w+2),
		free:     make(chan []byte, w+2),
		quit:     make(chan struct{}),
		chunk:    chunk,
		rowBase:  s.rdRow,
		lineBase: s.nextLine,
	}
	for i := 0; i < w+2; i++ {
		p.free <- nil
	}
	head, r, eof := s.in.data(), s.in.r, s.in.eof
	s.in = nil
	s.par = p
	p.wg.Add(w + 1)
	go s.parser().splitter(p, head, r, eof, limit)
	for i := 0; i < w; i++ {
		go s.parser().parseChunks(p)
	}
}

// stopPar ends the pipeline's goroutines and waits for them.
func (s *csvSource) stopPar() {
	p := s.par
	if p == nil {
		return
	}
	s.par = nil
	close(p.quit)
	p.wg.Wait()
}

// parNext hands out the next parsed batch in file order.
func (s *csvSource) parNext() (*Batch, error) {
	p := s.par
	for {
		if c := p.cur; c != nil {
			if p.curIdx < len(c.batches) {
				b := c.batches[p.curIdx]
				c.batches[p.curIdx] = nil
				p.curIdx++
				b.Start += p.rowBase
				for i := range b.Issues {
					b.Issues[i].Row += p.rowBase
				}
				s.outRow = b.Start + int64(b.Len)
				return b, nil
			}
			if c.err != nil {
				return nil, p.absolute(c)
			}
			p.rowBase += c.rows
			p.lineBase += c.lines
			p.cur = nil
		}
		c, ok := <-p.order
		if !ok {
			return nil, io.EOF
		}
		<-c.done
		p.cur, p.curIdx = c, 0
	}
}

// absolute moves a chunk's error from chunk-relative rows and lines to
// the file's. An error of the underlying reader (a gzip InputError) is
// already absolute and left alone.
func (p *csvPar) absolute(c *csvChunk) error {
	var ie, re *InputError
	if !errors.As(c.err, &ie) || (errors.As(c.rerr, &re) && re == ie) {
		return c.err
	}
	if ie.Line > 0 {
		ie.Line += p.lineBase - 1
	}
	if ie.Row >= 0 {
		ie.Row += p.rowBase
	}
	return c.err
}

// parseChunks is a parser goroutine.
func (s *csvSource) parseChunks(p *csvPar) {
	defer p.wg.Done()
	for {
		var c *csvChunk
		select {
		case c = <-p.work:
		case <-p.quit:
			return
		}
		if c == nil {
			return
		}
		s.parseChunk(c)
		buf := c.data[:cap(c.data)]
		c.data = nil
		if len(buf) != p.chunk {
			buf = nil // a grown buffer for a long record is not kept
		}
		p.free <- buf
		close(c.done)
	}
}

// parseChunk parses one chunk as if it were the whole input, with rows
// and lines counted from the chunk's start.
func (s *csvSource) parseChunk(c *csvChunk) {
	s.in = &textBuf{buf: c.data, end: len(c.data), eof: c.rerr == nil, err: c.rerr, limit: recordLimit(s.opt)}
	s.nextLine, s.rdRow, s.outRow = 1, 0, 0
	s.chunked = true
	s.chunkLines = bytes.Count(c.data, []byte{'\n'})
	for {
		b, err := s.readBatch()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.err = err
			break
		}
		c.batches = append(c.batches, b)
	}
	c.rows, c.lines = s.rdRow, s.nextLine-1
	s.in = nil
}

// splitter reads the input into chunk buffers and sends each chunk up to
// its last record end; the partial record after it starts the next one.
// head is input already buffered (after the rows read for inference).
func (s *csvSource) splitter(p *csvPar, head []byte, r io.Reader, eof bool, limit int) {
	defer p.wg.Done()
	defer close(p.order)
	defer close(p.work)
	// size is the buffer for a partial record of n bytes plus new input.
	size := func(n int) int { return min(max(p.chunk, 2*n), limit) }
	get := func(n int) []byte {
		select {
		case b := <-p.free:
			if cap(b) < size(n) {
				b = make([]byte, size(n))
			}
			return b[:size(n)]
		case <-p.quit:
			return nil
		}
	}
	send := func(data []byte, rerr error) bool {
		c := &csvChunk{data: data, rerr: rerr, done: make(chan struct{})}
		select {
		case p.work <- c:
		case <-p.quit:
			return false
		}
		select {
		case p.order <- c:
			return true
		case <-p.quit:
			return false
		}
	}
	// The buffered head is read like the rest, so that it is cut into
	// chunks too.
	if eof {
		r = bytes.NewReader(head)
	} else {
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	eof = false
	buf := get(0)
	if buf == nil {
		return
	}
	n := 0
	scanned, inQ := 0, false
	zero := 0
	for {
		var rerr error
		for n < len(buf) && !eof {
			m, err := r.Read(buf[n:])
			n += m
			if err == io.EOF {
				eof = true
			} else if err != nil {
				rerr = err
				break
			} else if m == 0 {
				if zero++; zero > 100 {
					rerr = io.ErrNoProgress
					break
				}
			}
		}
		var cut int
		cut, inQ = lastRecordEnd(buf[:n], scanned, inQ)
		scanned = n
		switch {
		case rerr != nil:
			send(buf[:n], rerr)
			return
		case eof:
			if n > 0 {
				send(buf[:n], nil)
			}
			return
		case cut < 0:
			// A record longer than the buffer.
			if n >= limit {
				send(buf[:limit], errTooLong)
				return
			}
			if s.partialErr(buf[:n], limit) {
				send(buf[:n], errSplitStop)
				return
			}
			nb := make([]byte, min(2*len(buf), limit))
			copy(nb, buf[:n])
			buf = nb
			continue
		}
		// Take the next buffer before sending this one, whose tail it
		// copies: a parser could otherwise free and refill it first.
		next := get(n - cut)
		if next == nil {
			return
		}
		tail := copy(next, buf[cut:n])
		if !send(buf[:cut], nil) {
			return
		}
		buf, n, scanned = next, tail, tail
	}
}

// lastRecordEnd scans data[from:] with quote parity inQ at from and
// returns the index just past the last '\n' outside quotes (-1 if none)
// and the parity at the end. It jumps from quote to quote, so unquoted
// text costs one IndexByte and one LastIndexByte.
func lastRecordEnd(data []byte, from int, inQ bool) (int, bool) {
	cut := -1
	for pos := from; pos < len(data); {
		q := bytes.IndexByte(data[pos:], '"')
		end := len(data)
		if q >= 0 {
			end = pos + q
		}
		if !inQ {
			if nl := bytes.LastIndexByte(data[pos:end], '\n'); nl >= 0 {
				cut = pos + nl + 1
			}
		}
		if q < 0 {
			break
		}
		inQ = !inQ
		pos = end + 1
	}
	return cut, inQ
}

// partialErr reports whether the partial record at the start of data
// already has an error, which the sequential reader would report without
// reading further. The splitter asks before growing a buffer, so a
// malformed long record is not buffered up to the record limit.
func (s *csvSource) partialErr(data []byte, limit int) bool {
	s.in = &textBuf{buf: data, end: len(data), err: errSplitMore, limit: limit}
	s.nextLine, s.rdRow = 1, 0
	err := s.readRecord()
	s.in = nil
	return err != nil && err != io.EOF && !errors.Is(err, errSplitMore)
}
