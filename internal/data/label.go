package data

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// This file holds two wrappers over binary sources: binAdaptSchema, which
// projects a source onto Options.Schema (validation against a profile), and
// withLabelFile, which appends a separate file of labels as a column.

// binSchemaSource serves the columns of opt.Schema from a source with its own
// (natural) schema, converting kinds where they differ.
type binSchemaSource struct {
	src    Source
	schema Schema
	pick   []int  // source column of each output field
	from   []Kind // source kind of each output field
	extra  []string
}

// binAdaptSchema projects src onto opt.Schema when one is given. Columns are
// matched by name; a requested column missing from the file is an error
// naming it, except "label" when a label file will supply it.
func binAdaptSchema(name string, src Source, opt Options) (Source, error) {
	if opt.Schema == nil {
		return src, nil
	}
	have := src.Schema()
	s := &binSchemaSource{src: src, schema: Schema{Shape: have.Shape}}
	used := make([]bool, len(have.Fields))
	for _, f := range opt.Schema.Fields {
		i := have.Index(f.Name)
		if i < 0 {
			if f.Name == "label" && opt.LabelFile != "" {
				continue
			}
			return nil, &InputError{File: name, Row: -1, Column: f.Name, Offset: -1,
				Err: fmt.Errorf("column %q of the schema is not in the file", f.Name)}
		}
		used[i] = true
		s.pick = append(s.pick, i)
		s.from = append(s.from, have.Fields[i].Kind)
		s.schema.Fields = append(s.schema.Fields, f)
	}
	for i, f := range have.Fields {
		if !used[i] {
			s.extra = append(s.extra, f.Name)
		}
	}
	return s, nil
}

func (s *binSchemaSource) Schema() Schema { return s.schema }
func (s *binSchemaSource) Rows() int64    { return s.src.Rows() }
func (s *binSchemaSource) Close() error   { return s.src.Close() }

// Extra names the file's columns that the schema did not ask for.
func (s *binSchemaSource) Extra() []string { return s.extra }

func (s *binSchemaSource) Next() (*Batch, error) {
	b, err := s.src.Next()
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(s.pick))
	for j, i := range s.pick {
		cols[j] = binConvertColumn(b.Cols[i], s.from[j], s.schema.Fields[j].Kind, b.Len)
	}
	b.Cols = cols
	return b, nil
}

// binConvertColumn re-reads a column of kind from as kind to: numbers become
// their decimal text for string fields, text is parsed for numeric fields
// (a value that does not parse is a Mismatch cell keeping its text), and a
// number that does not fit an int or bool field is a Mismatch.
func binConvertColumn(c Column, from, to Kind, n int) Column {
	if from == to || (from.Numeric() && to == KindFloat) {
		if to == KindString && c.Str == nil {
			c.Str = make([]string, n)
		}
		return c
	}
	out := Column{Num: make([]float64, n), State: make([]Cell, n)}
	copy(out.State, c.State)
	switch {
	case to == KindString:
		out.Str = make([]string, n)
		for i := range n {
			if c.State[i] == Mismatch && c.Str != nil {
				out.Str[i], out.State[i] = c.Str[i], Valid
				continue
			}
			if c.State[i] != Valid {
				continue
			}
			out.Str[i] = binFormatNum(c.Num[i], from)
		}
	case from == KindString:
		for i := range n {
			if c.State[i] != Valid {
				out.Num[i] = math.NaN()
				continue
			}
			v, st := binParseAs(c.Str[i], to)
			out.Num[i], out.State[i] = v, st
			if st == Mismatch {
				if out.Str == nil {
					out.Str = make([]string, n)
				}
				out.Str[i] = c.Str[i]
			}
		}
	default: // numeric to int or bool
		copy(out.Num, c.Num)
		if c.Str != nil {
			out.Str = append([]string(nil), c.Str...)
		}
		for i := range n {
			if c.State[i] != Valid {
				continue
			}
			v := c.Num[i]
			fits := true
			switch to {
			case KindInt:
				fits = math.IsNaN(v) || math.IsInf(v, 0) || v == math.Trunc(v)
			case KindBool:
				fits = v == 0 || v == 1
			}
			if !fits {
				if out.Str == nil {
					out.Str = make([]string, n)
				}
				out.Str[i], out.State[i], out.Num[i] = binFormatNum(v, from), Mismatch, math.NaN()
			}
		}
	}
	return out
}

// binFormatNum is the text of a numeric value of kind k.
func binFormatNum(v float64, k Kind) string {
	if k == KindBool {
		if v != 0 {
			return "true"
		}
		return "false"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// binParseAs parses text for a numeric field of kind k.
func binParseAs(s string, k Kind) (float64, Cell) {
	if IsNullToken(s) {
		return math.NaN(), Null
	}
	if k == KindBool {
		switch s {
		case "true", "True", "TRUE", "1":
			return 1, Valid
		case "false", "False", "FALSE", "0":
			return 0, Valid
		}
		return math.NaN(), Mismatch
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !binIsRangeErr(err) {
		return math.NaN(), Mismatch
	}
	if k == KindInt && !math.IsNaN(v) && !math.IsInf(v, 0) && v != math.Trunc(v) {
		return math.NaN(), Mismatch
	}
	return v, Valid
}

func binIsRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// labelSource appends the single column of a label file to the rows of a
// data source, in lockstep: the two may batch differently, so label rows
// wait in a buffer until the data rows they belong to arrive.
type labelSource struct {
	src, lab   Source
	schema     Schema
	dataName   string
	labName    string
	labKind    Kind
	toKind     Kind
	buf        Column
	bufLen     int
	bufIssues  []RowIssue
	labDone    bool
	dataRows   int64
	err        error
	closedOnce bool
}

// withLabelFile opens opt.LabelFile (any format Open detects, one column)
// and appends its values as the column "label".
func withLabelFile(src Source, opt Options) (Source, error) {
	lopt := Options{InferRows: opt.InferRows, Lenient: opt.Lenient, BatchRows: opt.BatchRows,
		MaxField: opt.MaxField, MaxColumns: opt.MaxColumns}
	lab, err := Open(opt.LabelFile, lopt)
	if err != nil {
		return nil, err
	}
	dataName := "the data file"
	if c, ok := src.(*closing); ok {
		dataName = c.f.Name()
	}
	ls := lab.Schema()
	if len(ls.Fields) != 1 {
		lab.Close()
		return nil, &InputError{File: opt.LabelFile, Row: -1, Offset: -1,
			Err: fmt.Errorf("a label file must have one column, this one has %d", len(ls.Fields))}
	}
	have := src.Schema()
	if have.Index("label") >= 0 {
		lab.Close()
		return nil, &InputError{File: dataName, Row: -1, Column: "label", Offset: -1,
			Err: fmt.Errorf("the data already has a column named \"label\"; it cannot also take the labels of %s", opt.LabelFile)}
	}
	if nd, nl := src.Rows(), lab.Rows(); nd >= 0 && nl >= 0 && nd != nl {
		lab.Close()
		return nil, malformed(opt.LabelFile, 0, min(nd, nl), "", -1,
			"%s has %d rows but label file %s has %d: one ends at row %d", dataName, nd, opt.LabelFile, nl, min(nd, nl))
	}
	s := &labelSource{src: src, lab: lab, dataName: dataName, labName: opt.LabelFile, labKind: ls.Fields[0].Kind}
	s.toKind = s.labKind
	if opt.Schema != nil {
		if i := opt.Schema.Index("label"); i >= 0 {
			s.toKind = opt.Schema.Fields[i].Kind
		}
	}
	s.schema = Schema{Fields: append(append([]Field(nil), have.Fields...), Field{Name: "label", Kind: s.toKind}), Shape: have.Shape}
	return s, nil
}

func (s *labelSource) Schema() Schema { return s.schema }
func (s *labelSource) Rows() int64    { return s.src.Rows() }

func (s *labelSource) Close() error {
	if s.closedOnce {
		return nil
	}
	s.closedOnce = true
	err := s.src.Close()
	if lerr := s.lab.Close(); err == nil {
		err = lerr
	}
	return err
}

// Extra passes on the data source's unrequested columns.
func (s *labelSource) Extra() []string {
	if e, ok := s.src.(interface{ Extra() []string }); ok {
		return e.Extra()
	}
	return nil
}

// fill reads label batches until want rows wait in the buffer or the label
// file ends.
func (s *labelSource) fill(want int) error {
	for s.bufLen < want && !s.labDone {
		lb, err := s.lab.Next()
		if err == io.EOF {
			s.labDone = true
			break
		}
		if err != nil {
			return err
		}
		c := lb.Cols[0]
		if c.Str != nil || s.buf.Str != nil {
			if s.buf.Str == nil {
				s.buf.Str = make([]string, s.bufLen, s.bufLen+lb.Len)
			}
			if c.Str == nil {
				c.Str = make([]string, lb.Len)
			}
			s.buf.Str = append(s.buf.Str[:s.bufLen], c.Str[:lb.Len]...)
		}
		s.buf.Num = append(s.buf.Num[:s.bufLen], c.Num[:lb.Len]...)
		s.buf.State = append(s.buf.State[:s.bufLen], c.State[:lb.Len]...)
		s.bufLen += lb.Len
		for _, is := range lb.Issues {
			is.Detail = "label file: " + is.Detail
			s.bufIssues = append(s.bufIssues, is)
		}
	}
	return nil
}

func (s *labelSource) Next() (*Batch, error) {
	if s.err != nil {
		return nil, s.err
	}
	b, err := s.src.Next()
	if err == io.EOF {
		if ferr := s.fill(1); ferr != nil {
			s.err = ferr
			return nil, ferr
		}
		if s.bufLen > 0 {
			s.err = malformed(s.labName, 0, s.dataRows, "", -1,
				"label file %s has more rows than %s, which ends at row %d", s.labName, s.dataName, s.dataRows)
			return nil, s.err
		}
		s.err = io.EOF
		return nil, io.EOF
	}
	if err != nil {
		s.err = err
		return nil, err
	}
	if err := s.fill(b.Len); err != nil {
		s.err = err
		return nil, err
	}
	if s.bufLen < b.Len {
		end := b.Start + int64(s.bufLen)
		s.err = malformed(s.labName, 0, end, "", -1,
			"label file %s ends at row %d but %s has more rows", s.labName, end, s.dataName)
		return nil, s.err
	}
	n := b.Len
	col := Column{
		Num:   append([]float64(nil), s.buf.Num[:n]...),
		State: append([]Cell(nil), s.buf.State[:n]...),
	}
	if s.buf.Str != nil {
		col.Str = append([]string(nil), s.buf.Str[:n]...)
	}
	s.buf.Num = s.buf.Num[:copy(s.buf.Num, s.buf.Num[n:s.bufLen])]
	s.buf.State = s.buf.State[:copy(s.buf.State, s.buf.State[n:s.bufLen])]
	if s.buf.Str != nil {
		s.buf.Str = s.buf.Str[:copy(s.buf.Str, s.buf.Str[n:s.bufLen])]
	}
	s.bufLen -= n
	if s.labKind == KindString && col.Str == nil {
		col.Str = make([]string, n)
	}
	b.Cols = append(b.Cols, binConvertColumn(col, s.labKind, s.toKind, n))
	end := b.Start + int64(n)
	k := 0
	for k < len(s.bufIssues) && s.bufIssues[k].Row < end {
		k++
	}
	if k > 0 {
		b.Issues = append(b.Issues, s.bufIssues[:k]...)
		s.bufIssues = s.bufIssues[k:]
		sort.SliceStable(b.Issues, func(i, j int) bool { return b.Issues[i].Row < b.Issues[j].Row })
	}
	s.dataRows = end
	return b, nil
}
