package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// binTable is a whole source read into memory, column by column.
type binTable struct {
	schema Schema
	cols   []Column
	rows   int
	issues []RowIssue
}

// binReadAll drains src, checking the batch invariants of the Source
// contract on the way, and closes it.
func binReadAll(t testing.TB, src Source, batchRows int) (binTable, error) {
	t.Helper()
	return binReadFrom(t, src, batchRows, 0)
}

// binReadFrom is binReadAll for a source whose next row is start.
func binReadFrom(t testing.TB, src Source, batchRows int, start int64) (binTable, error) {
	t.Helper()
	defer src.Close()
	tb := binTable{schema: src.Schema()}
	tb.cols = make([]Column, len(tb.schema.Fields))
	for {
		b, err := src.Next()
		if err == io.EOF {
			if b != nil {
				t.Fatalf("Next returned a batch with io.EOF")
			}
			if _, err2 := src.Next(); err2 != io.EOF {
				t.Fatalf("Next after EOF = %v, want io.EOF again", err2)
			}
			return tb, nil
		}
		if err != nil {
			if _, err2 := src.Next(); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Next after error %v = %v, want the same error", err, err2)
			}
			return tb, err
		}
		binCheckBatch(t, tb.schema, b, start+int64(tb.rows), batchRows)
		for j, c := range b.Cols {
			d := &tb.cols[j]
			d.Num = append(d.Num, c.Num...)
			d.State = append(d.State, c.State...)
			if c.Str != nil || d.Str != nil {
				if d.Str == nil {
					d.Str = make([]string, tb.rows)
				}
				if c.Str == nil {
					c.Str = make([]string, b.Len)
				}
				d.Str = append(d.Str, c.Str...)
			}
		}
		tb.rows += b.Len
		tb.issues = append(tb.issues, b.Issues...)
	}
}

// binCheckBatch checks one batch against the contract.
func binCheckBatch(t testing.TB, s Schema, b *Batch, start int64, batchRows int) {
	t.Helper()
	if b.Start != start {
		t.Fatalf("batch Start = %d, want %d", b.Start, start)
	}
	if b.Len <= 0 || (batchRows > 0 && b.Len > batchRows) {
		t.Fatalf("batch Len = %d, want 1..%d", b.Len, batchRows)
	}
	if len(b.Cols) != len(s.Fields) {
		t.Fatalf("batch has %d columns, schema %d", len(b.Cols), len(s.Fields))
	}
	for j, c := range b.Cols {
		if len(c.Num) != b.Len || len(c.State) != b.Len {
			t.Fatalf("column %s: Num %d State %d, want %d", s.Fields[j].Name, len(c.Num), len(c.State), b.Len)
		}
		if s.Fields[j].Kind == KindString && len(c.Str) != b.Len {
			t.Fatalf("string column %s: Str has %d, want %d", s.Fields[j].Name, len(c.Str), b.Len)
		}
		if c.Str != nil && len(c.Str) != b.Len {
			t.Fatalf("column %s: Str has %d, want %d", s.Fields[j].Name, len(c.Str), b.Len)
		}
		for i, st := range c.State {
			if st > Mismatch {
				t.Fatalf("column %s row %d: state %d", s.Fields[j].Name, i, st)
			}
			if st == Mismatch && s.Fields[j].Kind.Numeric() && c.Str == nil {
				t.Fatalf("column %s row %d: Mismatch without Str", s.Fields[j].Name, i)
			}
		}
	}
}

// binWantInputError fails unless err is an *InputError whose text holds
// every part.
func binWantInputError(t *testing.T, err error, parts ...string) *InputError {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error = %v (%T), want *InputError", err, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
	return ie
}

type binExpected struct {
	Shape  []int64 `json:"shape"`
	Kind   Kind    `json:"kind"`
	Values []any   `json:"values"`
}

func binLoadExpected(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile("testdata/binary/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func binValue(t *testing.T, v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		switch x {
		case "nan":
			return math.NaN()
		case "inf":
			return math.Inf(1)
		case "-inf":
			return math.Inf(-1)
		}
	}
	t.Fatalf("bad expected value %v", v)
	return 0
}

func binSame(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

// binCheckArray compares the columns of one array (fields named after
// array, starting at column first) with the expected values.
func binCheckArray(t *testing.T, tb binTable, array string, first int, want binExpected) {
	t.Helper()
	if int64(tb.rows) != want.Shape[0] {
		t.Fatalf("%s: %d rows, want %d", array, tb.rows, want.Shape[0])
	}
	width := 1
	for _, d := range want.Shape[1:] {
		width *= int(d)
	}
	for j := range width {
		f := tb.schema.Fields[first+j]
		if f.Kind != want.Kind {
			t.Fatalf("%s: field %s kind %s, want %s", array, f.Name, f.Kind, want.Kind)
		}
		if len(want.Shape) == 1 && f.Name != array {
			t.Fatalf("field name %q, want %q", f.Name, array)
		}
		if len(want.Shape) > 1 && !strings.HasPrefix(f.Name, array+"[") {
			t.Fatalf("field name %q, want %s[…]", f.Name, array)
		}
		for i := range tb.rows {
			w := binValue(t, want.Values[i*width+j])
			if got := tb.cols[first+j].Num[i]; !binSame(got, w) {
				t.Fatalf("%s row %d element %d (%s) = %v, want %v", array, i, j, f.Name, got, w)
			}
			if tb.cols[first+j].State[i] != Valid {
				t.Fatalf("%s row %d element %d: state %d", array, i, j, tb.cols[first+j].State[i])
			}
		}
	}
}

func TestNPYFixtures(t *testing.T) {
	exp := binLoadExpected(t)
	for name, raw := range exp {
		if !strings.HasSuffix(name, ".npy") {
			continue
		}
		var want binExpected
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata/binary", name)
		t.Run(name, func(t *testing.T) {
			src, err := Open(path, Options{BatchRows: 2})
			if err != nil {
				t.Fatal(err)
			}
			if src.Rows() != want.Shape[0] {
				t.Errorf("Rows = %d, want %d", src.Rows(), want.Shape[0])
			}
			s := src.Schema()
			if len(want.Shape) > 1 {
				if fmt.Sprint(s.Shape) != fmt.Sprint(want.Shape[1:]) {
					t.Errorf("Shape = %v, want %v", s.Shape, want.Shape[1:])
				}
				last := make([]int, len(want.Shape)-1)
				for i, d := range want.Shape[1:] {
					last[i] = int(d) - 1
				}
				if got, w := s.Fields[len(s.Fields)-1].Name, TensorName("x", last); got != w {
					t.Errorf("last field %q, want %q", got, w)
				}
			} else if s.Shape != nil {
				t.Errorf("Shape = %v for a 1-D array", s.Shape)
			}
			tb, err := binReadAll(t, src, 2)
			if err != nil {
				t.Fatal(err)
			}
			binCheckArray(t, tb, "x", 0, want)
		})
		t.Run(name+".gz", func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			gz := filepath.Join(t.TempDir(), name+".gz")
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := Open(gz, Options{BatchRows: 3})
			if err != nil {
				t.Fatal(err)
			}
			tb, err := binReadAll(t, src, 3)
			if err != nil {
				t.Fatal(err)
			}
			binCheckArray(t, tb, "x", 0, want)
		})
	}
}

func TestNPYRefused(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"object.npy", "pickles"},
		{"structured.npy", "structured"},
		{"unicode.npy", "unsupported dtype"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Open(filepath.Join("testdata/binary", tc.file), Options{})
			binWantInputError(t, err, tc.want, tc.file)
		})
	}
}

// binNPY builds a version 1.0 .npy file.
func binNPY(header string, data []byte) []byte {
	pad := 64 - (10+len(header)+1)%64
	h := header + strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

func TestNPYHeader(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		ok           bool
		want         string
	}{
		{"plain", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }", true, ""},
		{"double quotes, no trailing comma", `{"descr": "<f8", "fortran_order": False, "shape": (0,)}`, true, ""},
		{"long suffix", "{'descr': '<i4', 'fortran_order': False, 'shape': (0L, 3L), }", true, ""},
		{"missing shape", "{'descr': '<f8', 'fortran_order': False}", false, "keys"},
		{"extra key", "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), 'x': 1}", false, "keys"},
		{"duplicate key", "{'descr': '<f8', 'descr': '<f8', 'shape': (0,)}", false, "duplicate"},
		{"shape list", "{'descr': '<f8', 'fortran_order': False, 'shape': [0]}", false, "tuple"},
		{"code", "{'descr': __import__('os'), 'fortran_order': False, 'shape': (0,)}", false, "unexpected"},
		{"negative", "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", false, "negative dimension"},
		{"0-d", "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", false, "0-dimensional"},
		{"complex", "{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}", false, "unsupported dtype"},
		{"datetime", "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1,)}", false, "unsupported dtype"},
		{"object", "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", false, "pickles"},
		{"huge row", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4294967296, 4294967296)}", false, "elements"},
		{"overflow", "{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 2)}", false, "too large"},
		{"fortran too big", "{'descr': '<f8', 'fortran_order': True, 'shape': (100000000, 2)}", false, "Fortran"},
		{"not a dict", "('<f8', False, (1,))", false, "not a dict"},
		{"unterminated", "{'descr': '<f8", false, "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openNPY("h.npy", bytes.NewReader(binNPY(tc.header, nil)), Options{})
			if tc.ok {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if src.Rows() != 0 {
					t.Fatalf("Rows = %d", src.Rows())
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			binWantInputError(t, err, tc.want, "h.npy")
		})
	}
}

func TestNPYTruncated(t *testing.T) {
	data := make([]byte, 5*3*8)
	for i := range 15 {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i)))
	}
	file := binNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (5, 3), }", data)
	hdr := len(file) - len(data)
	for _, cut := range []int{0, 1, 2*24 + 5, 4 * 24} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			src, err := openNPY("t.npy", bytes.NewReader(file[:hdr+cut]), Options{BatchRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			tb, err := binReadAll(t, src, 1)
			ie := binWantInputError(t, err, "t.npy")
			if ie.Row != int64(cut/24) || ie.Offset != int64(hdr+cut) {
				t.Errorf("row %d offset %d, want row %d offset %d", ie.Row, ie.Offset, cut/24, hdr+cut)
			}
			if tb.rows != cut/24 {
				t.Errorf("%d rows before the error, want %d", tb.rows, cut/24)
			}
		})
	}
	t.Run("header", func(t *testing.T) {
		_, err := openNPY("t.npy", bytes.NewReader(file[:20]), Options{})
		binWantInputError(t, err, "truncated header")
	})
}

// binCountingReader counts the bytes read through it.
type binCountingReader struct {
	r io.Reader
	n int64
}

func (c *binCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestNPYStreams checks that a batch reads its rows and not the file.
func TestNPYStreams(t *testing.T) {
	const rows, cols = 20000, 10
	data := make([]byte, rows*cols*4)
	for i := range rows * cols {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)))
	}
	file := binNPY(fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols), data)
	cr := &binCountingReader{r: bytes.NewReader(file)}
	src, err := openNPY("s.npy", cr, Options{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Next()
	if err != nil {
		t.Fatal(err)
	}
	if b.Cols[3].Num[99] != float64(99*cols+3) {
		t.Fatalf("value %v", b.Cols[3].Num[99])
	}
	if limit := int64(len(file)-len(data)) + 100*cols*4; cr.n > limit {
		t.Fatalf("read %d bytes for the first batch, want at most %d", cr.n, limit)
	}
	tb, err := binReadFrom(t, src, 100, 100)
	if err != nil || tb.rows != rows-100 {
		t.Fatalf("rest: %d rows, %v", tb.rows, err)
	}
	if got := tb.cols[9].Num[rows-101]; got != float64(rows*cols-1) {
		t.Fatalf("last value %v", got)
	}
}

func TestHalfFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float64
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, math.Ldexp(1, -24)},
		{0x0000, 0}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)}, {0x3555, 0.333251953125},
	} {
		if got := halfToFloat64(tc.h); got != tc.want {
			t.Errorf("half %#04x = %v, want %v", tc.h, got, tc.want)
		}
	}
	if !math.IsNaN(halfToFloat64(0x7e00)) {
		t.Error("half NaN is not NaN")
	}
}
