package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON Lines reader parses each line with its own small JSON scanner
// rather than encoding/json: it needs the raw text of numbers (a number in
// a string column keeps its spelling), the compact text of nested values,
// duplicate-key and depth checks, and byte positions for errors, and it
// must not allocate a map per line.
//
// A key outside an inferred schema is an error in strict mode and a
// RowIssue in lenient mode. With Options.Schema given, unknown keys are
// never an error (as extra CSV columns are not): lenient mode still counts
// them as RowIssues, and both modes list them in Extra. A schema key that a
// line lacks is Null, since JSON Lines has no header to check up front.
// Only null and missing values are Null: the CSV null tokens are ordinary
// strings here.

const maxJSONDepth = 64

// JSON value types of a top-level member.
const (
	jNull uint8 = iota
	jNum
	jStr
	jTrue
	jFalse
	jRaw // nested object or array, compacted
)

// jval is one member of a line's object. key and text view the line or the
// parser's arena and are valid until the next line.
type jval struct {
	key  []byte
	text []byte
	pos  int // offset of the key in the line
	typ  uint8
}

// jsonErr is a syntax error at pos in the line.
type jsonErr struct {
	pos int
	key string
	msg string
}

func (e *jsonErr) Error() string { return e.msg }

// keySet finds duplicate keys: a linear scan while small, a map beyond.
type keySet struct {
	small [][]byte
	m     map[string]struct{}
}

func (k *keySet) reset() {
	k.small = k.small[:0]
	if k.m != nil {
		clear(k.m)
	}
}

// add reports whether key was already in the set.
func (k *keySet) add(key []byte) bool {
	if k.m != nil && len(k.m) > 0 {
		if _, ok := k.m[bytesView(key)]; ok {
			return true
		}
		k.m[string(key)] = struct{}{}
		return false
	}
	for _, s := range k.small {
		if bytes.Equal(s, key) {
			return true
		}
	}
	if len(k.small) < 16 {
		k.small = append(k.small, key)
		return false
	}
	if k.m == nil {
		k.m = make(map[string]struct{})
	}
	for _, s := range k.small {
		k.m[string(s)] = struct{}{}
	}
	k.small = k.small[:0]
	k.m[string(key)] = struct{}{}
	return false
}

// jparser parses one line at a time.
type jparser struct {
	line     []byte
	arena    []byte // decoded strings and compacted values
	kbuf     []byte // decoded keys of nested objects
	vals     []jval
	sets     [maxJSONDepth + 2]keySet
	maxField int
}

func (p *jparser) fail(pos int, key, format string, args ...any) error {
	return &jsonErr{pos: pos, key: key, msg: fmt.Sprintf(format, args...)}
}

func (p *jparser) ws(i int) int {
	for i < len(p.line) {
		switch p.line[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// parse reads the line as one JSON object into p.vals.
func (p *jparser) parse(line []byte) error {
	p.line = line
	p.vals = p.vals[:0]
	p.kbuf = p.kbuf[:0]
	if cap(p.arena) < len(line) {
		p.arena = make([]byte, 0, len(line))
	} else {
		p.arena = p.arena[:0]
	}
	i := p.ws(0)
	if i >= len(line) || line[i] != '{' {
		return p.fail(i, "", "line is not a JSON object")
	}
	i = p.ws(i + 1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return p.fail(i, "", "expected a string key")
			}
			kpos := i
			end, esc, err := p.strEnd(i)
			if err != nil {
				return err
			}
			key := p.strText(i, end, esc)
			i = p.ws(end)
			if i >= len(line) || line[i] != ':' {
				return p.fail(i, string(key), "expected ':' after key")
			}
			i = p.ws(i + 1)
			v := jval{key: key, pos: kpos}
			if i >= len(line) {
				return p.fail(i, string(key), "missing value")
			}
			switch c := line[i]; {
			case c == '"':
				end, esc, err := p.strEnd(i)
				if err != nil {
					return withKey(err, key)
				}
				v.typ, v.text = jStr, p.strText(i, end, esc)
				i = end
			case c == '-' || (c >= '0' && c <= '9'):
				end, err := p.numEnd(i)
				if err != nil {
					return withKey(err, key)
				}
				v.typ, v.text = jNum, line[i:end]
				i = end
			case c == 't' || c == 'f' || c == 'n':
				end, typ, err := p.literal(i)
				if err != nil {
					return withKey(err, key)
				}
				v.typ = typ
				i = end
			case c == '{' || c == '[':
				start := len(p.arena)
				end, err := p.compact(i, 2)
				if err != nil {
					return withKey(err, key)
				}
				v.typ, v.text = jRaw, p.arena[start:len(p.arena):len(p.arena)]
				i = end
			default:
				return p.fail(i, string(key), "invalid value")
			}
			if len(v.text) > p.maxField {
				return p.fail(v.pos, string(key), "value longer than %d bytes", p.maxField)
			}
			p.vals = append(p.vals, v)
			i = p.ws(i)
			if i < len(line) && line[i] == ',' {
				i = p.ws(i + 1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return p.fail(i, "", "expected ',' or '}'")
		}
	}
	if i = p.ws(i); i != len(line) {
		return p.fail(i, "", "unexpected data after the object")
	}
	return nil
}

func withKey(err error, key []byte) error {
	var je *jsonErr
	if errors.As(err, &je) && je.key == "" {
		je.key = string(key)
	}
	return err
}

// strEnd validates the string starting at line[i] (a quote) and returns
// the index after its closing quote and whether it has escapes.
func (p *jparser) strEnd(i int) (int, bool, error) {
	line := p.line
	esc := false
	for j := i + 1; j < len(line); j++ {
		switch c := line[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(line) {
				return 0, false, p.fail(j, "", "unterminated string")
			}
			switch line[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(line) {
					return 0, false, p.fail(j, "", "short \\u escape")
				}
				for _, h := range line[j+2 : j+6] {
					if !isHex(h) {
						return 0, false, p.fail(j, "", "invalid \\u escape")
					}
				}
				j += 5
			default:
				return 0, false, p.fail(j, "", "invalid escape \\%c", line[j+1])
			}
		case c < 0x20:
			return 0, false, p.fail(j, "", "control character in string")
		}
	}
	return 0, false, p.fail(i, "", "unterminated string")
}

func isHex(c byte) bool {
	return c-'0' <= 9 || (c|0x20)-'a' <= 5
}

func hexVal(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c-'0' <= 9:
			r = r<<4 | rune(c-'0')
		default:
			r = r<<4 | rune((c|0x20)-'a'+10)
		}
	}
	return r
}

// strText is the value of the validated string line[i:end]: a view when
// it has no escapes, else decoded into the arena.
func (p *jparser) strText(i, end int, esc bool) []byte {
	raw := p.line[i+1 : end-1]
	if !esc {
		return raw
	}
	start := len(p.arena)
	p.arena = appendUnescaped(p.arena, raw)
	return p.arena[start:len(p.arena):len(p.arena)]
}

// appendUnescaped decodes validated string contents. A lone surrogate
// becomes U+FFFD, as encoding/json does.
func appendUnescaped(dst, raw []byte) []byte {
	for k := 0; k < len(raw); k++ {
		c := raw[k]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		k++
		switch raw[k] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexVal(raw[k+1 : k+5])
			k += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if k+6 < len(raw) && raw[k+1] == '\\' && raw[k+2] == 'u' {
					r2 = hexVal(raw[k+3 : k+7])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					k += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ /
			dst = append(dst, raw[k])
		}
	}
	return dst
}

// numEnd validates a JSON number at line[i] and returns its end.
func (p *jparser) numEnd(i int) (int, error) {
	line := p.line
	j := i
	if j < len(line) && line[j] == '-' {
		j++
	}
	digits := func() int {
		s := j
		for j < len(line) && line[j]-'0' <= 9 {
			j++
		}
		return j - s
	}
	if j < len(line) && line[j] == '0' {
		j++
	} else if digits() == 0 {
		return 0, p.fail(i, "", "invalid number")
	}
	if j < len(line) && line[j] == '.' {
		j++
		if digits() == 0 {
			return 0, p.fail(i, "", "invalid number")
		}
	}
	if j < len(line) && (line[j] == 'e' || line[j] == 'E') {
		j++
		if j < len(line) && (line[j] == '+' || line[j] == '-') {
			j++
		}
		if digits() == 0 {
			return 0, p.fail(i, "", "invalid number")
		}
	}
	return j, nil
}

func (p *jparser) literal(i int) (int, uint8, error) {
	rest := p.line[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		return i + 4, jTrue, nil
	case bytes.HasPrefix(rest, []byte("false")):
		return i + 5, jFalse, nil
	case bytes.HasPrefix(rest, []byte("null")):
		return i + 4, jNull, nil
	}
	return 0, 0, p.fail(i, "", "invalid literal")
}

// compact validates the object or array at line[i], at nesting depth, and
// appends it to the arena without insignificant whitespace.
func (p *jparser) compact(i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, p.fail(i, "", "nesting deeper than %d", maxJSONDepth)
	}
	line := p.line
	open := line[i]
	p.arena = append(p.arena, open)
	i = p.ws(i + 1)
	closer := byte(']')
	if open == '{' {
		closer = '}'
		p.sets[depth].reset()
	}
	if i < len(line) && line[i] == closer {
		p.arena = append(p.arena, closer)
		return i + 1, nil
	}
	for {
		if open == '{' {
			if i >= len(line) || line[i] != '"' {
				return 0, p.fail(i, "", "expected a string key")
			}
			end, esc, err := p.strEnd(i)
			if err != nil {
				return 0, err
			}
			raw := line[i+1 : end-1]
			key := raw
			if esc {
				s := len(p.kbuf)
				p.kbuf = appendUnescaped(p.kbuf, raw)
				key = p.kbuf[s:len(p.kbuf):len(p.kbuf)]
			}
			if p.sets[depth].add(key) {
				return 0, p.fail(i, "", "duplicate key %q in nested object", key)
			}
			p.arena = append(p.arena, line[i:end]...)
			i = p.ws(end)
			if i >= len(line) || line[i] != ':' {
				return 0, p.fail(i, "", "expected ':' after key")
			}
			p.arena = append(p.arena, ':')
			i = p.ws(i + 1)
		}
		if i >= len(line) {
			return 0, p.fail(i, "", "missing value")
		}
		switch c := line[i]; {
		case c == '"':
			end, _, err := p.strEnd(i)
			if err != nil {
				return 0, err
			}
			p.arena = append(p.arena, line[i:end]...)
			i = end
		case c == '-' || (c >= '0' && c <= '9'):
			end, err := p.numEnd(i)
			if err != nil {
				return 0, err
			}
			p.arena = append(p.arena, line[i:end]...)
			i = end
		case c == 't' || c == 'f' || c == 'n':
			end, _, err := p.literal(i)
			if err != nil {
				return 0, err
			}
			p.arena = append(p.arena, line[i:end]...)
			i = end
		case c == '{' || c == '[':
			end, err := p.compact(i, depth+1)
			if err != nil {
				return 0, err
			}
			i = end
		default:
			return 0, p.fail(i, "", "invalid value")
		}
		i = p.ws(i)
		if i < len(line) && line[i] == ',' {
			p.arena = append(p.arena, ',')
			i = p.ws(i + 1)
			continue
		}
		if i < len(line) && line[i] == closer {
			p.arena = append(p.arena, closer)
			return i + 1, nil
		}
		return 0, p.fail(i, "", "expected ',' or '%c'", closer)
	}
}

// jsonInfer accumulates the JSON types seen in one key's values.
type jsonInfer struct {
	num, frac, boolean, str, raw bool
}

func (t *jsonInfer) add(v *jval) {
	switch v.typ {
	case jNum:
		t.num = true
		if !isIntText(v.text) {
			t.frac = true
		}
	case jStr:
		t.str = true
	case jTrue, jFalse:
		t.boolean = true
	case jRaw:
		t.raw = true
	}
}

func (t *jsonInfer) kind() Kind {
	switch {
	case t.str || t.raw:
		return KindString
	case t.num && t.boolean:
		return KindString
	case t.num && t.frac:
		return KindFloat
	case t.num:
		return KindInt
	case t.boolean:
		return KindBool
	}
	return KindString
}

// jsonlSource reads JSON Lines.
type jsonlSource struct {
	name    string
	opt     Options
	in      *textBuf
	p       jparser
	schema  Schema
	kinds   []Kind
	cols    map[string]int
	given   bool
	extra   []string
	extraOK map[string]struct{}

	nextLine int64
	lineNo   int64
	lineOff  int64
	rdRow    int64
	outRow   int64
	stamp    []uint32
	gen      uint32
	unknown  keySet
	valCol   []int

	pendArena []byte
	pendVals  []pendVal
	pendRows  []pendRow
	pendPos   int
	pendErr   error
	scratch   []jval
	scratchC  []int

	strs strArena
	err  error
}

type pendVal struct {
	col        int32
	start, end uint32
	typ        uint8
}

func (s *jsonlSource) Schema() Schema  { return s.schema }
func (s *jsonlSource) Rows() int64     { return -1 }
func (s *jsonlSource) Extra() []string { return s.extra }
func (s *jsonlSource) Close() error {
	if s.err == nil {
		s.err = errors.New("source closed")
	}
	return nil
}

// lineLimit bounds one JSON line.
func lineLimit(opt Options) int {
	l := int64(min(opt.MaxField, maxRecordBytes)) * int64(min(opt.MaxColumns, maxRecordBytes))
	return int(min(max(l, minRecordBytes), maxRecordBytes))
}

func openJSONL(name string, r io.Reader, opt Options) (Source, error) {
	opt = opt.WithDefaults()
	s := &jsonlSource{name: name, opt: opt, nextLine: 1, cols: map[string]int{}}
	s.in = newTextBuf(r, lineLimit(opt)+1)
	s.p.maxField = opt.MaxField
	if err := s.in.more(); err != nil {
		return nil, readErr(name, 0, -1, err)
	}
	if bytes.HasPrefix(s.in.data(), []byte("\ufeff")) {
		s.in.start += 3
	}
	if opt.Schema != nil {
		s.given = true
		s.schema = Schema{Fields: append([]Field(nil), opt.Schema.Fields...), Shape: append([]int(nil), opt.Schema.Shape...)}
		s.kinds = make([]Kind, len(s.schema.Fields))
		for j, f := range s.schema.Fields {
			s.kinds[j] = normKind(f.Kind)
			if _, dup := s.cols[f.Name]; !dup {
				s.cols[f.Name] = j
			}
		}
		s.stamp = make([]uint32, len(s.kinds))
	} else {
		s.infer()
	}
	if opt.Label != "" && s.schema.Index(opt.Label) < 0 {
		return nil, &InputError{File: name, Row: -1, Column: opt.Label, Offset: -1,
			Err: fmt.Errorf("label key not found in the first %d objects", opt.InferRows)}
	}
	return s, nil
}

// readLine returns the next non-blank line (a view of the buffer), setting
// s.lineNo and s.lineOff.
func (s *jsonlSource) readLine() ([]byte, error) {
	in := s.in
	for {
		data := in.data()
		if len(data) == 0 && in.eof {
			return nil, io.EOF
		}
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 && !in.eof {
			if err := in.more(); err != nil {
				if err == errTooLong {
					return nil, malformed(s.name, s.nextLine, s.rdRow, "", in.offset(), "line longer than %d bytes", in.limit-1)
				}
				return nil, readErr(s.name, s.nextLine, s.rdRow, err)
			}
			continue
		}
		line, next := data, len(data)
		if nl >= 0 {
			line, next = data[:nl], nl+1
		}
		s.lineNo, s.lineOff = s.nextLine, in.offset()
		s.nextLine++
		in.start += next
		if len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		return line, nil
	}
}

// readObject reads and parses the next object into s.p.vals.
func (s *jsonlSource) readObject() error {
	line, err := s.readLine()
	if err != nil {
		return err
	}
	row := s.rdRow
	s.rdRow++
	if !isASCII(line) && !utf8.Valid(line) {
		pos := 0
		for pos < len(line) {
			r, n := utf8.DecodeRune(line[pos:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			pos += n
		}
		return malformed(s.name, s.lineNo, row, "", s.lineOff+int64(pos), "invalid UTF-8 at byte %d of the line", pos)
	}
	if err := s.p.parse(line); err != nil {
		var je *jsonErr
		if errors.As(err, &je) {
			return malformed(s.name, s.lineNo, row, je.key, s.lineOff+int64(je.pos), "%s (byte %d of the line)", je.msg, je.pos)
		}
		return malformed(s.name, s.lineNo, row, "", -1, "%v", err)
	}
	return nil
}

// resolve maps the parsed members to schema columns (-1: not in the
// schema), adding columns while inferring, and checks duplicate keys. It
// returns unknown keys' issues in lenient mode.
func (s *jsonlSource) resolve(adding bool, issues *[]RowIssue) error {
	row := s.rdRow - 1
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
	s.unknown.reset()
	s.valCol = s.valCol[:0]
	for k := range s.p.vals {
		v := &s.p.vals[k]
		col, ok := s.cols[bytesView(v.key)]
		if !ok && adding {
			if len(s.kinds) >= s.opt.MaxColumns {
				return malformed(s.name, s.lineNo, row, string(v.key), s.lineOff+int64(v.pos), "more than %d keys", s.opt.MaxColumns)
			}
			col = len(s.kinds)
			key := string(v.key)
			s.cols[key] = col
			s.kinds = append(s.kinds, KindString)
			s.schema.Fields = append(s.schema.Fields, Field{Name: key})
			s.stamp = append(s.stamp, 0)
			ok = true
		}
		if ok {
			if s.stamp[col] == s.gen {
				return malformed(s.name, s.lineNo, row, string(v.key), s.lineOff+int64(v.pos), "duplicate key")
			}
			s.stamp[col] = s.gen
			s.valCol = append(s.valCol, col)
			continue
		}
		if s.unknown.add(v.key) {
			return malformed(s.name, s.lineNo, row, string(v.key), s.lineOff+int64(v.pos), "duplicate key")
		}
		s.valCol = append(s.valCol, -1)
		if !s.given && !s.opt.Lenient {
			return malformed(s.name, s.lineNo, row, string(v.key), s.lineOff+int64(v.pos), "key not in the schema inferred from the first %d objects", s.opt.InferRows)
		}
		if s.extraOK == nil {
			s.extraOK = map[string]struct{}{}
		}
		if _, seen := s.extraOK[bytesView(v.key)]; !seen && len(s.extraOK) < s.opt.MaxColumns {
			key := string(v.key)
			s.extraOK[key] = struct{}{}
			s.extra = append(s.extra, key)
		}
		if s.opt.Lenient {
			*issues = append(*issues, RowIssue{Row: row, Kind: IssueUnknown, Detail: string(v.key)})
		}
	}
	return nil
}

// infer reads up to InferRows objects ahead and sets the schema from them.
func (s *jsonlSource) infer() {
	var ti []jsonInfer
	for len(s.pendRows) < s.opt.InferRows && len(s.pendArena) < inferArenaBytes && len(s.pendVals) < inferCells {
		err := s.readObject()
		if err == nil {
			err = s.resolve(true, nil)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.pendErr = err
			break
		}
		for len(ti) < len(s.kinds) {
			ti = append(ti, jsonInfer{})
		}
		first := len(s.pendVals)
		for k := range s.p.vals {
			v := &s.p.vals[k]
			col := s.valCol[k]
			ti[col].add(v)
			start := len(s.pendArena)
			s.pendArena = append(s.pendArena, v.text...)
			s.pendVals = append(s.pendVals, pendVal{col: int32(col), start: uint32(start), end: uint32(len(s.pendArena)), typ: v.typ})
		}
		s.pendRows = append(s.pendRows, pendRow{first: first, n: len(s.p.vals), line: s.lineNo})
	}
	for len(ti) < len(s.kinds) {
		ti = append(ti, jsonInfer{})
	}
	for j := range s.kinds {
		s.kinds[j] = ti[j].kind()
		s.schema.Fields[j].Kind = s.kinds[j]
	}
}

func (s *jsonlSource) Next() (*Batch, error) {
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
		var vals []jval
		var cols []int
		if s.pendPos < len(s.pendRows) {
			pr := s.pendRows[s.pendPos]
			s.pendPos++
			vals, cols = s.scratch[:0], s.scratchC[:0]
			for _, pv := range s.pendVals[pr.first : pr.first+pr.n] {
				vals = append(vals, jval{text: s.pendArena[pv.start:pv.end:pv.end], typ: pv.typ})
				cols = append(cols, int(pv.col))
			}
			s.scratch, s.scratchC = vals, cols
			if s.pendPos == len(s.pendRows) {
				s.pendArena, s.pendVals, s.pendRows = nil, nil, nil
				s.pendPos = 0
			}
		} else if s.pendErr != nil {
			s.err = s.pendErr
			return nil, s.err
		} else {
			err := s.readObject()
			if err == nil {
				err = s.resolve(false, &b.Issues)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				s.err = err
				return nil, err
			}
			vals, cols = s.p.vals, s.valCol
		}
		s.putRow(b, vals, cols)
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

var (
	textTrue  = []byte("true")
	textFalse = []byte("false")
)

// putRow fills row b.Len from one object's members.
func (s *jsonlSource) putRow(b *Batch, vals []jval, cols []int) {
	i := b.Len
	n := rowsCapOf(b)
	for j := range b.Cols {
		c := &b.Cols[j]
		c.State[i] = Null
		if c.Num != nil {
			c.Num[i] = math.NaN()
		}
	}
	for k := range vals {
		col := cols[k]
		if col < 0 {
			continue
		}
		v := &vals[k]
		c := &b.Cols[col]
		text := v.text
		switch v.typ {
		case jNull:
			continue
		case jTrue:
			text = textTrue
		case jFalse:
			text = textFalse
		}
		c.State[i] = Valid
		switch s.kinds[col] {
		case KindInt, KindFloat:
			if v.typ == jNum {
				if f, ok := parseNum(text); ok {
					c.Num[i] = f
					continue
				}
			}
			setMismatch(c, i, n, s.strs.str(text))
		case KindBool:
			switch v.typ {
			case jTrue:
				c.Num[i] = 1
				continue
			case jFalse:
				c.Num[i] = 0
				continue
			case jNum:
				if f, ok := parseNum(text); ok && (f == 0 || f == 1) {
					c.Num[i] = f
					continue
				}
			}
			setMismatch(c, i, n, s.strs.str(text))
		default:
			c.Str[i] = s.strs.str(text)
		}
	}
}
