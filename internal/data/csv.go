package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
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
	for t.end < len(t.buf) {
		n, err := t.r.Read(t.buf[t.end:])
		t.end += n
		if err == io.EOF {
			t.eof = true
			return nil
		}
		if err != nil {
			t.err = err
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

// readErr names the file in an error from the underlying reader, keeping
// an InputError (a truncated gzip stream) as it is.
func readErr(name string, line, row int64, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
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
	return nil
}

func openCSV(name string, r io.Reader, comma byte, opt Options) (Source, error) {
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
	max := batchRows(s.opt, len(s.kinds))
	rowsCap := firstCap(max)
	b := &Batch{Start: s.outRow, Cols: batchCols(s.kinds, rowsCap)}
	for b.Len < max {
		if b.Len == rowsCap {
			rowsCap = min(2*rowsCap, max)
			growBatch(b, rowsCap)
		}
		var fields [][]byte
		var line int64
		if s.pendPos < len(s.pendRows) {
			p := s.pendRows[s.pendPos]
			s.pendPos++
			fields = s.pendFields[:0]
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
			line = p.line
			if s.pendPos == len(s.pendRows) {
				s.pendArena, s.pendEnds, s.pendRows, s.pendFields = nil, nil, nil, nil
				s.pendPos = 0
			}
		} else if s.pendErr != nil {
			s.err = s.pendErr
			return nil, s.err
		} else {
			err := s.readRecord()
			if err == io.EOF {
				break
			}
			if err != nil {
				s.err = err
				return nil, err
			}
			fields, line = s.fields, s.recLine
		}
		if err := s.putRow(b, fields, line); err != nil {
			s.err = err
			return nil, err
		}
		b.Len++
		s.outRow++
	}
	if b.Len == 0 {
		s.err = io.EOF
		return nil, io.EOF
	}
	trimBatch(b)
	return b, nil
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
