package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// render turns a cell into text for comparisons: numbers in %g, "<null>",
// "!raw" for a mismatch.
func render(c *Column, i int) string {
	switch c.State[i] {
	case Null:
		return "<null>"
	case Mismatch:
		return "!" + c.Str[i]
	}
	if c.Num != nil {
		return strconv.FormatFloat(c.Num[i], 'g', -1, 64)
	}
	return c.Str[i]
}

// drain reads a source to the end, checking the batch invariants, and
// returns the rendered rows, the issues and the error that ended it.
func drain(t testing.TB, src Source) ([][]string, []RowIssue, error) {
	t.Helper()
	var rows [][]string
	var issues []RowIssue
	sc := src.Schema()
	next := int64(0)
	for {
		b, err := src.Next()
		if err == io.EOF {
			if b != nil {
				t.Fatalf("batch with io.EOF")
			}
			if _, err2 := src.Next(); err2 != io.EOF {
				t.Fatalf("Next after EOF: %v", err2)
			}
			return rows, issues, nil
		}
		if err != nil {
			if _, err2 := src.Next(); !errors.Is(err2, err) && err2 != err {
				t.Fatalf("Next after error %v returned %v", err, err2)
			}
			return rows, issues, err
		}
		if err := checkBatch(b, sc, next); err != nil {
			t.Fatal(err)
		}
		next += int64(b.Len)
		for i := 0; i < b.Len; i++ {
			row := make([]string, len(b.Cols))
			for j := range b.Cols {
				row[j] = render(&b.Cols[j], i)
			}
			rows = append(rows, row)
		}
		issues = append(issues, b.Issues...)
	}
}

// checkBatch verifies the Batch contract.
func checkBatch(b *Batch, sc Schema, start int64) error {
	if b.Start != start {
		return fmt.Errorf("batch Start %d, want %d", b.Start, start)
	}
	if b.Len <= 0 {
		return fmt.Errorf("empty batch")
	}
	if len(b.Cols) != len(sc.Fields) {
		return fmt.Errorf("%d columns, schema has %d", len(b.Cols), len(sc.Fields))
	}
	for j, c := range b.Cols {
		k := sc.Fields[j].Kind
		if len(c.State) != b.Len {
			return fmt.Errorf("column %d: %d states for %d rows", j, len(c.State), b.Len)
		}
		if k.Numeric() {
			if len(c.Num) != b.Len {
				return fmt.Errorf("column %d: %d numbers for %d rows", j, len(c.Num), b.Len)
			}
			if c.Str != nil && len(c.Str) != b.Len {
				return fmt.Errorf("column %d: %d strings for %d rows", j, len(c.Str), b.Len)
			}
		} else if len(c.Str) != b.Len {
			return fmt.Errorf("string column %d: %d strings for %d rows", j, len(c.Str), b.Len)
		}
		for i, st := range c.State {
			switch st {
			case Valid:
			case Null:
				if k.Numeric() && !math.IsNaN(c.Num[i]) {
					return fmt.Errorf("column %d row %d: null with value %v", j, i, c.Num[i])
				}
			case Mismatch:
				if c.Str == nil {
					return fmt.Errorf("column %d row %d: mismatch without text", j, i)
				}
			default:
				return fmt.Errorf("column %d row %d: state %d", j, i, st)
			}
		}
	}
	for k := 1; k < len(b.Issues); k++ {
		if b.Issues[k].Row < b.Issues[k-1].Row {
			return fmt.Errorf("issues out of order")
		}
	}
	for _, is := range b.Issues {
		if is.Row < b.Start || is.Row >= b.Start+int64(b.Len) {
			return fmt.Errorf("issue row %d outside batch [%d,%d)", is.Row, b.Start, b.Start+int64(b.Len))
		}
	}
	return nil
}

func kindsOf(sc Schema) []Kind {
	var ks []Kind
	for _, f := range sc.Fields {
		ks = append(ks, f.Kind)
	}
	return ks
}

func TestCSVParsing(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		comma  byte
		header []string
		rows   [][]string
	}{
		{"simple", "a,b\nx,y\n", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"no final newline", "a,b\nx,y", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"crlf", "a,b\r\nx,y\r\nz,w\r\n", ',', []string{"a", "b"}, [][]string{{"x", "y"}, {"z", "w"}}},
		{"crlf no final", "a,b\r\nx,y", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"bom", "\ufeffa,b\nx,y\n", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"quoted", "a,b\n\"x,1\",\"y\"\n", ',', []string{"a", "b"}, [][]string{{"x,1", "y"}}},
		{"escaped quote", "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n", ',', []string{"a", "b"}, [][]string{{`say "hi"`, `"`}}},
		{"quoted newline", "a,b\n\"line1\nline2\",z\nq,r\n", ',', []string{"a", "b"}, [][]string{{"line1\nline2", "z"}, {"q", "r"}}},
		{"quoted crlf newline", "a,b\r\n\"l1\r\nl2\",z\r\n", ',', []string{"a", "b"}, [][]string{{"l1\r\nl2", "z"}}},
		{"quoted empty is null", "a,b\n\"\",x\n", ',', []string{"a", "b"}, [][]string{{"<null>", "x"}}},
		{"quoted header", "\"a,1\",\"b\"\"\"\nx,y\n", ',', []string{"a,1", `b"`}, [][]string{{"x", "y"}}},
		{"quoted last at eof", "a,b\nx,\"y\"", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"quoted last crlf eof", "a,b\nx,\"y\"\r", ',', []string{"a", "b"}, [][]string{{"x", "y"}}},
		{"blank lines skipped", "a,b\n\nx,y\n\r\n\nz,w\n", ',', []string{"a", "b"}, [][]string{{"x", "y"}, {"z", "w"}}},
		{"trailing empty field", "a,b\nx,\n", ',', []string{"a", "b"}, [][]string{{"x", "<null>"}}},
		{"null tokens", "a,b\nNA,None\nnull,N/A\nNULL,v\n", ',', []string{"a", "b"}, [][]string{{"<null>", "<null>"}, {"<null>", "<null>"}, {"<null>", "v"}}},
		{"tsv", "a\tb\nx,1\ty z\n", '\t', []string{"a", "b"}, [][]string{{"x,1", "y z"}}},
		{"tsv quoted", "a\tb\n\"x\ty\"\tz\n", '\t', []string{"a", "b"}, [][]string{{"x\ty", "z"}}},
		{"header only", "a,b\n", ',', []string{"a", "b"}, nil},
		{"header only no newline", "a,b", ',', []string{"a", "b"}, nil},
		{"utf8", "naïve,b\nçé,日本\n", ',', []string{"naïve", "b"}, [][]string{{"çé", "日本"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openCSV("t.csv", strings.NewReader(tc.in), tc.comma, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range src.Schema().Fields {
				names = append(names, f.Name)
			}
			if !reflect.DeepEqual(names, tc.header) {
				t.Fatalf("header %q, want %q", names, tc.header)
			}
			rows, _, err := drain(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, tc.rows) {
				t.Fatalf("rows %q, want %q", rows, tc.rows)
			}
		})
	}
}

// TestCSVSmallReads feeds the input one byte per Read, so that every
// record straddles buffer refills.
func TestCSVSmallReads(t *testing.T) {
	in := "a,b,c\n\"x\"\"\n1\",2,3\r\nfoo,\"\",4.5\n\"q\",\"r\",\"s\"\n"
	want := [][]string{{"x\"\n1", "2", "3"}, {"foo", "<null>", "4.5"}, {"q", "r", "s"}}
	src, err := openCSV("t.csv", &oneByteReader{r: strings.NewReader(in)}, ',', Options{InferRows: 1, Schema: &Schema{Fields: []Field{{"a", KindString}, {"b", KindString}, {"c", KindString}}}})
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := drain(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestCSVRagged(t *testing.T) {
	in := "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
	t.Run("strict", func(t *testing.T) {
		src, err := openCSV("r.csv", strings.NewReader(in), ',', Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = drain(t, src)
		assertInputErr(t, err, "r.csv", 3, 1, "c")
	})
	t.Run("strict after inference", func(t *testing.T) {
		src, err := openCSV("r.csv", strings.NewReader(in), ',', Options{InferRows: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = drain(t, src)
		assertInputErr(t, err, "r.csv", 3, 1, "c")
	})
	t.Run("lenient", func(t *testing.T) {
		src, err := openCSV("r.csv", strings.NewReader(in), ',', Options{Lenient: true, BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		rows, issues, err := drain(t, src)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"1", "2", "3"}, {"4", "5", "<null>"}, {"6", "7", "8"}, {"10", "11", "12"}}
		if !reflect.DeepEqual(rows, want) {
			t.Fatalf("rows %q, want %q", rows, want)
		}
		if len(issues) != 2 || issues[0].Row != 1 || issues[1].Row != 2 || issues[0].Kind != IssueRagged || issues[1].Kind != IssueRagged {
			t.Fatalf("issues %+v", issues)
		}
		if got := kindsOf(src.Schema()); !reflect.DeepEqual(got, []Kind{KindInt, KindInt, KindInt}) {
			t.Fatalf("kinds %v", got)
		}
	})
}

// assertInputErr checks an error is a malformed-input InputError at the
// given place, and that its message names them.
func assertInputErr(t *testing.T, err error, file string, line, row int64, col string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T), want *InputError", err, err)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v does not wrap ErrMalformed", err)
	}
	if ie.File != file || ie.Line != line || ie.Row != row || ie.Column != col {
		t.Fatalf("error at file %q line %d row %d column %q, want %q %d %d %q (%v)", ie.File, ie.Line, ie.Row, ie.Column, file, line, row, col, err)
	}
	msg := err.Error()
	for _, s := range []string{file, fmt.Sprintf(":%d", line)} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q does not mention %q", msg, s)
		}
	}
	if row >= 0 && !strings.Contains(msg, fmt.Sprintf("row %d", row)) {
		t.Errorf("message %q does not mention row %d", msg, row)
	}
	if col != "" && !strings.Contains(msg, strconv.Quote(col)) {
		t.Errorf("message %q does not mention column %q", msg, col)
	}
}

func TestCSVMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
		line int64
		row  int64
		col  string
		open bool // error from open rather than Next
	}{
		{"empty file", "", Options{}, 1, -1, "", true},
		{"only blank lines", "\n\r\n\n", Options{}, 1, -1, "", true},
		{"duplicate header", "a,b,a\n1,2,3\n", Options{}, 1, -1, "a", true},
		{"empty header name", "a,,c\n1,2,3\n", Options{}, 1, -1, "2", true},
		{"header bad utf8", "a,b\xff\n1,2\n", Options{}, 1, -1, "2", true},
		{"too many header columns", "a,b,c,d\n", Options{MaxColumns: 3}, 1, -1, "4", true},
		{"unterminated quote", "a,b\n1,2\n3,\"abc\n\n", Options{}, 3, 1, "b", false},
		{"unterminated quote in header", "a,\"b\n", Options{}, 1, -1, "2", true},
		{"bare quote", "a,b\n1,2\n3,ab\"c\n", Options{}, 3, 1, "b", false},
		{"text after closing quote", "a,b\n\"x\"y,2\n", Options{}, 2, 0, "a", false},
		{"bad utf8", "a,b\n1,2\nx,\xc3\x28\n", Options{}, 3, 1, "b", false},
		{"bad utf8 quoted", "a,b\n\"x\n\",\"\xff\"\n", Options{}, 2, 0, "b", false},
		{"field too long", "a,b\n1,2\n3,abcdefghijk\n", Options{MaxField: 10}, 3, 1, "b", false},
		{"quoted field too long", "a,b\n1,\"abcdefghijk\"\n", Options{MaxField: 10}, 2, 0, "b", false},
		{"too many columns", "a,b\n1,2,3,4\n", Options{MaxColumns: 3, Lenient: true}, 2, 0, "4", false},
		{"too many columns quoted", "a,b\n1,2,\"3\",4\n", Options{MaxColumns: 3, Lenient: true}, 2, 0, "4", false},
		{"ragged beyond header", "a,b\n1,2,3\n", Options{}, 2, 0, "3", false},
		{"ragged short", "a,b,c\n1\n", Options{}, 2, 0, "b", false},
		{"error after blank lines", "a,b\n\n\n1,\"x\"y\n", Options{}, 4, 0, "b", false},
		{"error after quoted newline", "a,b\n\"1\n2\n3\",4\n5,6\"\n", Options{}, 5, 1, "b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openCSV("bad.csv", strings.NewReader(tc.in), ',', tc.opt)
			if tc.open {
				if err == nil {
					t.Fatal("open succeeded")
				}
				assertInputErr(t, err, "bad.csv", tc.line, tc.row, tc.col)
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			_, _, err = drain(t, src)
			assertInputErr(t, err, "bad.csv", tc.line, tc.row, tc.col)
		})
	}
}

// TestCSVLongField checks that a field far longer than MaxField is refused
// without buffering all of it.
func TestCSVLongField(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		t.Run(fmt.Sprintf("quoted=%v", quoted), func(t *testing.T) {
			head := "a,b\n1,"
			if quoted {
				head += "\""
			}
			r := io.MultiReader(strings.NewReader(head), &repeatReader{b: 'x', n: 1 << 40})
			src, err := openCSV("long.csv", r, ',', Options{MaxField: 1000})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = drain(t, src)
			assertInputErr(t, err, "long.csv", 2, 0, "b")
			if !strings.Contains(err.Error(), "longer than") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

type repeatReader struct {
	b byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

func TestCSVInfer(t *testing.T) {
	tests := []struct {
		name string
		col  []string
		kind Kind
		vals []string
	}{
		{"ints", []string{"1", "-2", "+3", "", "NA"}, KindInt, []string{"1", "-2", "3", "<null>", "<null>"}},
		{"big int", []string{"123456789012345678901234"}, KindInt, []string{"1.2345678901234569e+23"}},
		{"floats", []string{"1", "2.5", "1e5", "-0.125"}, KindFloat, []string{"1", "2.5", "100000", "-0.125"}},
		{"nan inf", []string{"nan", "NaN", "inf", "-Inf", "Infinity", "3"}, KindFloat, []string{"NaN", "NaN", "+Inf", "-Inf", "+Inf", "3"}},
		{"bools", []string{"true", "False", "TRUE", "", "false"}, KindBool, []string{"1", "0", "1", "<null>", "0"}},
		{"zero one is int", []string{"0", "1"}, KindInt, []string{"0", "1"}},
		{"mixed is string", []string{"1", "x", "2.5"}, KindString, []string{"1", "x", "2.5"}},
		{"bool and number is string", []string{"true", "1"}, KindString, []string{"true", "1"}},
		{"all null is string", []string{"", "NA", "null"}, KindString, []string{"<null>", "<null>", "<null>"}},
		{"blanks around numbers", []string{" 1", "2 "}, KindInt, []string{"1", "2"}},
		{"hex is string", []string{"0x10"}, KindString, []string{"0x10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "v,w\n"
			for _, v := range tc.col {
				in += strconv.Quote(v) + ",z\n"
			}
			src, err := openCSV("i.csv", strings.NewReader(in), ',', Options{})
			if err != nil {
				t.Fatal(err)
			}
			if k := src.Schema().Fields[0].Kind; k != tc.kind {
				t.Fatalf("kind %s, want %s", k, tc.kind)
			}
			rows, _, err := drain(t, src)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r[0])
			}
			if !reflect.DeepEqual(got, tc.vals) {
				t.Fatalf("values %q, want %q", got, tc.vals)
			}
		})
	}
}

// TestCSVInferWindow: kinds come from the first InferRows rows only; later
// rows that do not fit are mismatches.
func TestCSVInferWindow(t *testing.T) {
	in := "a\n1\n2\nx\n3.5\n"
	src, err := openCSV("w.csv", strings.NewReader(in), ',', Options{InferRows: 2, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if k := src.Schema().Fields[0].Kind; k != KindInt {
		t.Fatalf("kind %s", k)
	}
	rows, _, err := drain(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"1"}, {"2"}, {"!x"}, {"3.5"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
}

func TestCSVSchema(t *testing.T) {
	in := "id,name,score,ok,extra\n1,ann,2.5,true,q\nx,bob,abc,yes,r\n3,,NaN,0,s\n4.5,7,-inf,1,t\n"
	sc := &Schema{Fields: []Field{{"score", KindFloat}, {"ok", KindBool}, {"id", KindInt}, {"name", KindString}}, Shape: []int{4}}
	src, err := openCSV("s.csv", strings.NewReader(in), ',', Options{Schema: sc})
	if err != nil {
		t.Fatal(err)
	}
	got := src.Schema()
	if !reflect.DeepEqual(got.Fields, sc.Fields) || !reflect.DeepEqual(got.Shape, sc.Shape) {
		t.Fatalf("schema %+v", got)
	}
	got.Fields[0].Name = "changed"
	if sc.Fields[0].Name != "score" {
		t.Fatal("Schema aliases the caller's fields")
	}
	ex, ok := src.(interface{ Extra() []string })
	if !ok || !reflect.DeepEqual(ex.Extra(), []string{"extra"}) {
		t.Fatalf("extra columns %v", ex)
	}
	rows, _, err := drain(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"2.5", "1", "1", "ann"},
		{"!abc", "!yes", "!x", "bob"},
		{"NaN", "0", "3", "<null>"},
		{"-Inf", "1", "4.5", "7"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	t.Run("missing column", func(t *testing.T) {
		_, err := openCSV("s.csv", strings.NewReader(in), ',', Options{Schema: &Schema{Fields: []Field{{"id", KindInt}, {"nope", KindInt}}}})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Column != "nope" || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("label must exist", func(t *testing.T) {
		_, err := openCSV("s.csv", strings.NewReader(in), ',', Options{Label: "target"})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Column != "target" {
			t.Fatalf("error %v", err)
		}
		if _, err := openCSV("s.csv", strings.NewReader(in), ',', Options{Label: "id"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCSVBatchBoundaries(t *testing.T) {
	const batch = 7
	for _, n := range []int{0, 1, batch - 1, batch, batch + 1, 2 * batch, 2*batch + 1} {
		for _, infer := range []int{1, batch - 1, batch, batch + 1, 1000} {
			t.Run(fmt.Sprintf("rows=%d/infer=%d", n, infer), func(t *testing.T) {
				var sb strings.Builder
				sb.WriteString("i,s\n")
				for i := 0; i < n; i++ {
					fmt.Fprintf(&sb, "%d,s%d\n", i, i)
				}
				src, err := openCSV("b.csv", strings.NewReader(sb.String()), ',', Options{BatchRows: batch, InferRows: infer})
				if err != nil {
					t.Fatal(err)
				}
				var lens []int
				total := 0
				for {
					b, err := src.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if err := checkBatch(b, src.Schema(), int64(total)); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < b.Len; i++ {
						if b.Cols[1].Str[i] != fmt.Sprintf("s%d", total+i) {
							t.Fatalf("row %d: %q", total+i, b.Cols[1].Str[i])
						}
						if n > 0 && src.Schema().Fields[0].Kind == KindInt && b.Cols[0].Num[i] != float64(total+i) {
							t.Fatalf("row %d: %v", total+i, b.Cols[0].Num[i])
						}
					}
					lens = append(lens, b.Len)
					total += b.Len
				}
				if total != n {
					t.Fatalf("%d rows, want %d", total, n)
				}
				for k, l := range lens {
					if k < len(lens)-1 && l != batch {
						t.Fatalf("batch sizes %v", lens)
					}
				}
			})
		}
	}
}

// TestCSVStrings checks that string cells do not alias the reused input
// buffer: batches kept across many refills must keep their text.
func TestCSVStrings(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("s\n")
	const n = 100000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "value-%d\n", i)
	}
	src, err := openCSV("s.csv", strings.NewReader(sb.String()), ',', Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kept []*Batch
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, b)
	}
	i := 0
	for _, b := range kept {
		for _, s := range b.Cols[0].Str {
			if s != fmt.Sprintf("value-%d", i) {
				t.Fatalf("row %d: %q", i, s)
			}
			i++
		}
	}
	if i != n {
		t.Fatalf("%d rows", i)
	}
}

// genReader produces a large numeric CSV on the fly.
type genReader struct {
	rows, cols int
	row        int
	buf        []byte
	rng        *rand.Rand
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.row > g.rows {
			return 0, io.EOF
		}
		if g.row == 0 {
			for j := 0; j < g.cols; j++ {
				if j > 0 {
					g.buf = append(g.buf, ',')
				}
				g.buf = append(g.buf, 'c')
				g.buf = strconv.AppendInt(g.buf, int64(j), 10)
			}
		} else {
			for j := 0; j < g.cols; j++ {
				if j > 0 {
					g.buf = append(g.buf, ',')
				}
				g.buf = strconv.AppendFloat(g.buf, g.rng.NormFloat64()*100, 'g', 10, 64)
			}
		}
		g.buf = append(g.buf, '\n')
		g.row++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// TestTextStreamingMemory reads ~50 MB through a pipe and checks the heap
// stays bounded while batches are dropped.
func TestTextStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	pr, pw := io.Pipe()
	gen := &genReader{rows: 300000, cols: 12, rng: rand.New(rand.NewSource(1))}
	go func() {
		_, err := io.CopyBuffer(pw, gen, make([]byte, 32<<10))
		pw.CloseWithError(err)
	}()
	src, err := openCSV("big.csv", pr, ',', Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Start from a collected heap: garbage of earlier tests is not ours.
	runtime.GC()
	var ms runtime.MemStats
	var peak uint64
	rows := 0
	for k := 0; ; k++ {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows += b.Len
		if k%16 == 0 {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
			}
		}
	}
	if rows != gen.rows {
		t.Fatalf("%d rows, want %d", rows, gen.rows)
	}
	if peak > 64<<20 {
		t.Fatalf("peak heap in use %d MiB", peak>>20)
	}
	t.Logf("%d rows, peak HeapInuse %.1f MiB", rows, float64(peak)/(1<<20))
}

func TestParseNumMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	fixed := []string{"0", "-0", "+0", "0.0", "1", "-1", ".5", "5.", "1e5", "1E-5", "1e+22", "1e23", "9007199254740993",
		"9007199254740992", "123456789012345678", "1234567890123456789", "12345678901234567890", "0.1", "0.3",
		"3.141592653589793", "2.2250738585072014e-308", "4.9e-324", "1e-400", "1.7976931348623157e308",
		"00012", "0.000000000000000000000000001", "1e22", "1e-22", "123.456e-10", "nan", "NaN", "inf", "+Inf",
		"-infinity", "Infinity", "12345678.87654321", "00000000000000000001", "1234567812345678", "-99999999.99999999e-3"}
	var cases []string
	cases = append(cases, fixed...)
	for i := 0; i < 200000; i++ {
		var s string
		switch i % 4 {
		case 0:
			s = strconv.FormatFloat(rng.NormFloat64()*math.Pow(10, float64(rng.Intn(40)-20)), 'g', -1, 64)
		case 1:
			s = strconv.FormatFloat(rng.Float64(), 'f', rng.Intn(18), 64)
		case 2:
			s = strconv.FormatInt(rng.Int63()>>uint(rng.Intn(63)), 10)
		case 3:
			s = strconv.FormatFloat(math.Float64frombits(rng.Uint64()), 'e', rng.Intn(20), 64)
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		want, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			continue
		}
		got, ok := parseNum([]byte(s))
		if !ok {
			t.Fatalf("parseNum(%q) failed", s)
		}
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("parseNum(%q) = %v, strconv %v", s, got, want)
		}
	}
	for _, s := range []string{"", "-", "+", ".", "e5", "1e", "1e+", "1..2", "1.2.3", "0x10", "1_000", "abc", "1a", "--1", "in", "nana", " ", "12345678x", "1234567:9", "123456789/", "1.2345678/", "1234\xff5678"} {
		if v, ok := parseNum([]byte(s)); ok {
			t.Errorf("parseNum(%q) = %v, want failure", s, v)
		}
	}
	// putRow parses numeric cells before testing for null tokens.
	for _, s := range NullTokens {
		if v, ok := parseNum([]byte(s)); ok {
			t.Errorf("null token %q parses as %v", s, v)
		}
	}
}

// TestTextFixtures reads the files under testdata/text through Open.
func TestTextFixtures(t *testing.T) {
	tests := []struct {
		file  string
		kinds []Kind
		rows  int
	}{
		{"mixed.csv", []Kind{KindInt, KindFloat, KindBool, KindString}, 4},
		{"quoted_crlf.csv", []Kind{KindInt, KindString}, 3},
		{"tabs.tsv", []Kind{KindString, KindFloat}, 2},
		{"events.jsonl", []Kind{KindInt, KindString, KindFloat, KindBool, KindString}, 3},
		{"mixed.csv.gz", []Kind{KindInt, KindFloat, KindBool, KindString}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "text", tc.file)
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
			src, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := kindsOf(src.Schema()); !reflect.DeepEqual(got, tc.kinds) {
				t.Fatalf("kinds %v, want %v", got, tc.kinds)
			}
			rows, _, err := drain(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.rows {
				t.Fatalf("%d rows, want %d", len(rows), tc.rows)
			}
		})
	}
}

func BenchmarkCSVFloats(b *testing.B) {
	const rows, cols = 200000, 20
	rng := rand.New(rand.NewSource(3))
	var buf []byte
	for j := 0; j < cols; j++ {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, fmt.Sprintf("f%d", j)...)
	}
	buf = append(buf, '\n')
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			if j > 0 {
				buf = append(buf, ',')
			}
			switch j % 4 {
			case 0:
				buf = strconv.AppendFloat(buf, rng.Float64(), 'f', 9, 64)
			case 1:
				buf = strconv.AppendFloat(buf, math.Round(rng.NormFloat64()*1000)/8, 'f', -1, 64)
			case 2:
				buf = strconv.AppendFloat(buf, rng.Float64()*1e-3, 'e', 3, 64)
			default:
				buf = strconv.AppendFloat(buf, rng.NormFloat64()*100, 'g', 8, 64)
			}
		}
		buf = append(buf, '\n')
	}
	b.SetBytes(int64(len(buf)))
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		src, err := openCSV("bench.csv", bytes.NewReader(buf), ',', Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			bt, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += bt.Len
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
	// The CPU-time rate (all threads, GC included) is what one core
	// sustains; it is stable when other processes compete for the cores.
	b.ReportMetric(float64(rows*cols)*float64(b.N)/(cpuSeconds()-cpu0), "cells/cpu-s")
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// TestCSVBatchGrowth: a huge BatchRows does not allocate it up front, and
// a very wide file gets fewer rows per batch.
func TestCSVBatchGrowth(t *testing.T) {
	t.Run("large BatchRows", func(t *testing.T) {
		var sb strings.Builder
		sb.WriteString("v\n")
		const n = 10000
		for i := 0; i < n; i++ {
			if i%3000 == 7 {
				sb.WriteString("x\n")
			} else {
				fmt.Fprintf(&sb, "%d\n", i)
			}
		}
		src, err := openCSV("g.csv", strings.NewReader(sb.String()), ',', Options{BatchRows: 1 << 30, InferRows: 5})
		if err != nil {
			t.Fatal(err)
		}
		b, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := checkBatch(b, src.Schema(), 0); err != nil {
			t.Fatal(err)
		}
		if b.Len != n {
			t.Fatalf("batch of %d rows, want %d", b.Len, n)
		}
		for i := 0; i < n; i++ {
			got := render(&b.Cols[0], i)
			want := fmt.Sprint(i)
			if i%3000 == 7 {
				want = "!x"
			}
			if got != want {
				t.Fatalf("row %d: %q, want %q", i, got, want)
			}
		}
	})
	t.Run("wide file", func(t *testing.T) {
		const cols = 5000
		var sb strings.Builder
		for j := 0; j < cols; j++ {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "c%d", j)
		}
		sb.WriteByte('\n')
		row := strings.Repeat("1,", cols-1) + "1\n"
		for i := 0; i < 900; i++ {
			sb.WriteString(row)
		}
		src, err := openCSV("w.csv", strings.NewReader(sb.String()), ',', Options{})
		if err != nil {
			t.Fatal(err)
		}
		var lens []int
		for {
			b, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Cols[cols-1].Num[b.Len-1] != 1 {
				t.Fatal("wrong value")
			}
			lens = append(lens, b.Len)
		}
		if want := []int{maxBatchCells / cols, 900 - maxBatchCells/cols}; !reflect.DeepEqual(lens, want) {
			t.Fatalf("batch sizes %v, want %v", lens, want)
		}
	})
}

// benchShortestCSV is a numeric CSV in the shape bench/datagen writes:
// shortest round-trip floats ('g', -1), mostly 16 and 17 significant digits.
func benchShortestCSV(rows, cols int) []byte {
	rng := rand.New(rand.NewSource(5))
	var buf []byte
	for j := 0; j < cols; j++ {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, fmt.Sprintf("c%d", j)...)
	}
	buf = append(buf, '\n')
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			if j > 0 {
				buf = append(buf, ',')
			}
			var v float64
			switch j % 4 {
			case 0:
				v = float64(j) + rng.NormFloat64()
			case 1:
				v = 100 * rng.Float64()
			case 2:
				v = -2 + rng.NormFloat64()
			default:
				v = math.Exp(0.5 * rng.NormFloat64())
			}
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
		}
		buf = append(buf, '\n')
	}
	return buf
}

// BenchmarkCSVShortestFloats reads what bench/datagen writes; its cells
// mostly take the 128-bit path of parseNum, not the Clinger one.
func BenchmarkCSVShortestFloats(b *testing.B) {
	const rows, cols = 100000, 20
	buf := benchShortestCSV(rows, cols)
	b.SetBytes(int64(len(buf)))
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		src, err := openCSV("bench.csv", bytes.NewReader(buf), ',', Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			bt, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += bt.Len
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
		src.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
	b.ReportMetric(float64(rows*cols)*float64(b.N)/(cpuSeconds()-cpu0), "cells/cpu-s")
}

// TestMulPow10 checks the 128-bit path against strconv: whenever it
// answers, it must answer exactly, and it must answer for nearly all
// 16 and 17 digit inputs.
func TestMulPow10(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	type tc struct {
		w uint64
		q int
	}
	cases := []tc{
		{45035996273704965, -1}, {45035996273704975, -1}, {9007199254740993, 0}, {9007199254740995, 0},
		{18014398509481985, 0}, {1, 0}, {1, -80}, {1, 80}, {math.MaxUint64, 0}, {math.MaxUint64, -80},
		{6490565380356467, -16}, {17976931348623157, 292}, {22250738585072014, -324}, {1, 23},
		{12345678901234567, -23}, {9999999999999999999, -19}, {5, -1}, {25, -2}, {125, -3},
	}
	for i := 0; i < 300000; i++ {
		var w uint64
		switch i % 3 {
		case 0: // 16 or 17 digits, the common case
			w = uint64(1e15) + uint64(rng.Int63n(int64(99e15)))
		case 1:
			w = rng.Uint64() >> uint(rng.Intn(64))
		default: // just above or below a halfway point
			w = (uint64(1)<<53+uint64(rng.Int63n(1<<20))*2+1)<<uint(rng.Intn(11)) + uint64(rng.Intn(3)) - 1
		}
		cases = append(cases, tc{w, rng.Intn(161) - 80})
	}
	answered := 0
	for _, c := range cases {
		for _, neg := range []bool{false, true} {
			got, ok := mulPow10(c.w, c.q, neg)
			if !ok {
				continue
			}
			answered++
			s := strconv.FormatUint(c.w, 10) + "e" + strconv.Itoa(c.q)
			if neg {
				s = "-" + s
			}
			want, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("%s: answered %v, strconv error %v", s, got, err)
			}
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("mulPow10(%s) = %v (%#x), strconv %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
			}
		}
	}
	if answered < 2*len(cases)*99/100 {
		t.Fatalf("answered %d of %d", answered, 2*len(cases))
	}
}

// readCSVWith drains a CSV reader with the given pipeline configuration.
func readCSVWith(t testing.TB, in []byte, comma byte, opt Options, par parConfig) (rows [][]string, issues []RowIssue, err error, openErr error) {
	t.Helper()
	src, err := openCSVPar("p.csv", bytes.NewReader(in), comma, opt, par)
	if err != nil {
		return nil, nil, nil, err
	}
	defer src.Close()
	rows, issues, err = drain(t, src)
	return rows, issues, err, nil
}

// sameAsSequential checks that the parallel reader returns what the
// sequential one does: the same rows and issues, or the same error after
// a prefix of the rows the sequential reader reads before it (batches do
// not line up, so the rows returned before an error may differ in count).
func sameAsSequential(t testing.TB, in []byte, comma byte, opt Options, par parConfig) {
	t.Helper()
	wantRows, wantIssues, wantErr, wantOpen := readCSVWith(t, in, comma, opt, parConfig{workers: 1})
	rows, issues, err, openErr := readCSVWith(t, in, comma, opt, par)
	if (wantOpen == nil) != (openErr == nil) || (wantOpen != nil && wantOpen.Error() != openErr.Error()) {
		t.Fatalf("open: parallel %v, sequential %v", openErr, wantOpen)
	}
	if wantOpen != nil {
		return
	}
	if (wantErr == nil) != (err == nil) || (wantErr != nil && wantErr.Error() != err.Error()) {
		t.Fatalf("chunk %d: parallel error %v, sequential %v", par.chunk, err, wantErr)
	}
	if wantErr == nil {
		if !reflect.DeepEqual(rows, wantRows) {
			t.Fatalf("chunk %d: parallel rows\n%q\nsequential\n%q", par.chunk, rows, wantRows)
		}
		if len(issues) != len(wantIssues) || (len(issues) > 0 && !reflect.DeepEqual(issues, wantIssues)) {
			t.Fatalf("chunk %d: parallel issues %v, sequential %v", par.chunk, issues, wantIssues)
		}
		return
	}
	// Every row before the error, read one row per batch.
	one := opt
	one.BatchRows = 1
	allRows, allIssues, _, _ := readCSVWith(t, in, comma, one, parConfig{workers: 1})
	if len(rows) > len(allRows) || (len(rows) > 0 && !reflect.DeepEqual(rows, allRows[:len(rows)])) {
		t.Fatalf("chunk %d: rows before the error\n%q\nare not a prefix of\n%q", par.chunk, rows, allRows)
	}
	k := 0
	for k < len(allIssues) && allIssues[k].Row < int64(len(rows)) {
		k++
	}
	if len(issues) != k || (k > 0 && !reflect.DeepEqual(issues, allIssues[:k])) {
		t.Fatalf("chunk %d: issues %v, want %v", par.chunk, issues, allIssues[:k])
	}
}

// TestCSVParallelChunkEdges puts a chunk edge at every byte of inputs
// with quoted newlines, CRLF, escaped quotes and blank lines, and checks
// the pipeline reads them as the sequential reader does.
func TestCSVParallelChunkEdges(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  Options
	}{
		{"plain", "a,b\n1,2\n3,4\n5,6\n7,8\n", Options{}},
		{"no final newline", "a,b\n1,2\n3,4", Options{}},
		{"crlf", "a,b\r\n1,x\r\n3,y\r\n\r\n5,z\r\n", Options{}},
		{"quoted newlines", "a,b\n\"1\n2\",\"x\r\ny\"\n\"\",\"\n\n\"\n3,4\n", Options{}},
		{"escaped quotes", "a,b\n\"\"\"\",\"a\"\"b\"\"\"\n\"x\"\"\n\"\"y\",2\n\"\"\"\"\"\",3\n", Options{}},
		{"quote then crlf", "a,b\r\n\"1\"\r\n\"2\",\"3\"\r\n4,\"5\"\r\n", Options{Lenient: true}},
		{"quoted at eof", "a,b\n1,\"x\"", Options{}},
		{"cr at eof", "a,b\n1,\"x\"\r", Options{}},
		{"blank lines", "a,b\n\n\n1,2\n\n\r\n3,4\n\n", Options{}},
		{"ragged lenient", "a,b,c\n1\n1,2,3,4\n\"x\ny\",2\n5,6,7\n", Options{Lenient: true}},
		{"mismatches", "a,b\n1,true\n2,false\nx,maybe\n\"4\",\"1\"\n", Options{InferRows: 2}},
		{"strings", "s,n\nhello,1\n\"wo\nrld\",2\nüñí,3\n\"\",4\n", Options{}},
		{"long quoted record", "a,b\n1,\"" + strings.Repeat("xy\n\"\"", 40) + "\"\n2,\"z\"\n", Options{}},
		{"bare quote", "a,b\n1,2\n3,x\"y\n5,6\n", Options{}},
		{"unterminated", "a,b\n1,2\n3,\"abc\n4,5\n", Options{}},
		{"text after quote", "a,b\n1,2\n\"3\"x,4\n", Options{}},
		{"ragged strict", "a,b\n1,2\n3\n4,5\n", Options{}},
		{"bad utf8", "a,b\n1,2\n3,\xff\n", Options{}},
		{"field too long", "a,b\n1,2\n3,abcdefghijk\n", Options{MaxField: 10}},
		{"too many columns", "a,b\n1,2\n1,2,3,4\n", Options{MaxColumns: 3, Lenient: true}},
		{"errors in two chunks", "a,b\n1,2\n3,\"x\"y\n5,6\n7,8\"\n9,10\n", Options{}},
		{"schema", "a,b\n1,x\n\"2\n\",y\nz,3\n", Options{Schema: &Schema{Fields: []Field{{"b", KindString}, {"a", KindInt}}}}},
		{"small infer window", "a,b\n1,2\n3,4\n5,\"6\n\"\n7,8\n", Options{InferRows: 1, BatchRows: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, comma := range []byte{',', '\t'} {
				in := []byte(tc.in)
				if comma == '\t' {
					in = bytes.ReplaceAll(in, []byte{','}, []byte{'\t'})
				}
				// Every small size puts edges everywhere; larger ones
				// leave whole records in a chunk.
				for chunk := 1; chunk <= len(in)+1; chunk++ {
					if chunk > 40 && chunk%11 != 0 {
						continue
					}
					sameAsSequential(t, in, comma, tc.opt, parConfig{workers: 2 + chunk%2, chunk: chunk, force: true})
				}
			}
		})
	}
}

// randomCSV writes a CSV of mostly well-formed records with quoted
// newlines, escapes, CRLF, blank lines and, when bad, a few malformed
// fields.
func randomCSV(rng *rand.Rand, rows int, bad bool) []byte {
	var b []byte
	b = append(b, "n,f,s,q\n"...)
	for i := 0; i < rows; i++ {
		switch rng.Intn(20) {
		case 0:
			b = append(b, '\n')
		case 1:
			b = append(b, "\r\n"...)
		}
		b = strconv.AppendInt(b, int64(rng.Intn(1000)), 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, rng.NormFloat64(), 'g', -1, 64)
		b = append(b, ',')
		b = append(b, "word"[:rng.Intn(5)]...)
		b = append(b, ',')
		if rng.Intn(2) == 0 {
			b = append(b, '"')
			for k := rng.Intn(6); k > 0; k-- {
				b = append(b, []string{"x", "\"\"", "\n", "\r\n", ",", "é"}[rng.Intn(6)]...)
			}
			b = append(b, '"')
		} else {
			b = append(b, "plain"...)
		}
		if bad && rng.Intn(60) == 0 {
			b = append(b, []string{"\"", "x\"", ",extra", "\xff"}[rng.Intn(4)]...)
		}
		if rng.Intn(3) == 0 {
			b = append(b, '\r')
		}
		b = append(b, '\n')
	}
	return b
}

// TestCSVParallelDeterminism compares pipeline and sequential reads of
// random inputs, well-formed and not, over many chunk sizes.
func TestCSVParallelDeterminism(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for k := 0; k < 60; k++ {
		bad := k%2 == 1
		in := randomCSV(rng, 20+rng.Intn(300), bad)
		opt := Options{InferRows: 1 + rng.Intn(20), BatchRows: 1 + rng.Intn(50), Lenient: rng.Intn(2) == 0}
		for _, chunk := range []int{1, 7, 64, 200 + rng.Intn(500), 4096} {
			t.Run(fmt.Sprintf("input%d/chunk%d", k, chunk), func(t *testing.T) {
				sameAsSequential(t, in, ',', opt, parConfig{workers: 1 + rng.Intn(4), chunk: chunk, force: true})
			})
		}
	}
}

// TestCSVParallelFirstErrorWins: errors in many chunks, the one reported
// is the first in the file, with its absolute line, row and column, and
// it sticks.
func TestCSVParallelFirstErrorWins(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b\n")
	line := int64(1)
	for i := 0; i < 3000; i++ {
		switch {
		case i == 1700:
			sb.WriteString("1,\"x\n\"y\n") // text after a closing quote, two lines
		case i > 1700 && i%50 == 0:
			sb.WriteString("1,2,3\n") // later errors, each in its own chunk
		case i%97 == 0:
			sb.WriteString("\n1,\"q\nq\"\n") // blank line and a quoted newline
		default:
			fmt.Fprintf(&sb, "%d,%d\n", i, i*2)
		}
		_ = line
	}
	in := []byte(sb.String())
	// Rows before 1700: one per i; lines: header, rows, plus an extra
	// blank line and quoted newline every 97 rows.
	extra := int64(0)
	for i := 0; i < 1700; i++ {
		if i%97 == 0 {
			extra += 2
		}
	}
	wantLine := 2 + 1700 + extra
	for _, chunk := range []int{16, 100, 1000} {
		for rep := 0; rep < 5; rep++ {
			src, err := openCSVPar("e.csv", bytes.NewReader(in), ',', Options{InferRows: 10}, parConfig{workers: 4, chunk: chunk, force: true})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = drain(t, src)
			assertInputErr(t, err, "e.csv", wantLine, 1700, "b")
			if !strings.Contains(err.Error(), "after closing quote") {
				t.Fatalf("error %v", err)
			}
			if _, err2 := src.Next(); err2 != err {
				t.Fatalf("Next after error: %v", err2)
			}
			src.Close()
		}
	}
}

// errAfterReader returns its bytes and then a read error.
type errAfterReader struct {
	r   io.Reader
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

// The rows of TestCSVParallelReadError: more than the sequential reader's
// first buffer, so that the error comes after the header.
const readErrRows = 120000

// TestCSVParallelReadError: a read error is reported after the complete
// records before it, with the position of the record it interrupted (the
// sequential reader names the record it was buffering, which depends on
// its buffer size); a reader's own InputError (a truncated gzip stream)
// keeps its text and gains that position.
func TestCSVParallelReadError(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b\n")
	for i := 0; i < readErrRows; i++ {
		fmt.Fprintf(&sb, "%d,\"%d\n\"\n", i, i)
	}
	sb.WriteString("1,\"partial")
	own := malformed("z.csv.gz", 0, -1, "", -1, "gzip stream after 9 decompressed bytes: unexpected EOF")
	for _, rerr := range []error{errors.New("disk on fire"), own} {
		for _, chunk := range []int{5000, 1 << 16, 1 << 20} {
			mk := func() io.Reader { return &errAfterReader{r: strings.NewReader(sb.String()), err: rerr} }
			seq, err := openCSVPar("r.csv", mk(), ',', Options{InferRows: 3}, parConfig{workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			_, _, want := drain(t, seq)
			par, err := openCSVPar("r.csv", mk(), ',', Options{InferRows: 3}, parConfig{workers: 3, chunk: chunk, force: true})
			if err != nil {
				t.Fatal(err)
			}
			_, _, got := drain(t, par)
			if want == nil || got == nil || !errors.Is(got, rerr) && rerr != own || !errors.Is(want, rerr) && rerr != own {
				t.Fatalf("chunk %d: parallel %v, sequential %v", chunk, got, want)
			}
			if rerr == own && (!errors.Is(got, ErrMalformed) || !strings.Contains(got.Error(), "gzip stream after 9") || got.Error() != want.Error()) {
				t.Fatalf("reader's InputError %v became %v (sequential %v)", own, got, want)
			}
			var ie *InputError
			if !errors.As(got, &ie) || ie.Line != 2+2*readErrRows || ie.Row != readErrRows {
				t.Fatalf("chunk %d: error %v, want it at line %d, row %d", chunk, got, 2+2*readErrRows, readErrRows)
			}
		}
	}
}

// pipelineGoroutines counts the goroutines running a CSV pipeline's
// splitter or parsers, from the stacks of all goroutines.
func pipelineGoroutines() int {
	buf := make([]byte, 1<<20)
	st := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(st, "\n\n") {
		if strings.Contains(g, "(*csvSource).splitter(") || strings.Contains(g, "(*csvSource).parseChunks(") {
			n++
		}
	}
	return n
}

// TestCSVParallelNoLeak: Close stops the splitter and the parsers at any
// point, and so do the end of the input and an error.
func TestCSVParallelNoLeak(t *testing.T) {
	in := randomCSV(rand.New(rand.NewSource(4)), 3000, false)
	bad := append(append([]byte(nil), in...), "1,2\n"...)
	gone := func(when string) {
		t.Helper()
		for k := 0; k < 100; k++ {
			if pipelineGoroutines() == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("%s: %d pipeline goroutines still running", when, pipelineGoroutines())
	}
	gone("before")
	for _, batches := range []int{0, 1, 3, -1} {
		for _, input := range [][]byte{in, bad} {
			src, err := openCSVPar("l.csv", bytes.NewReader(input), ',', Options{InferRows: 5, BatchRows: 7}, parConfig{workers: 4, chunk: 256, force: true})
			if err != nil {
				t.Fatal(err)
			}
			// Goroutines that have not run yet have no stack to show.
			n := 0
			for k := 0; k < 100 && n < 5; k++ {
				if n = pipelineGoroutines(); n < 5 {
					time.Sleep(time.Millisecond)
				}
			}
			if n != 5 {
				t.Fatalf("batches %d, input %d: %d pipeline goroutines, want 5, par %v", batches, len(input), n, src.(*csvSource).par != nil)
			}
			for k := 0; batches < 0 || k < batches; k++ {
				if _, err := src.Next(); err != nil {
					break
				}
			}
			if batches < 0 {
				gone("after the last Next") // the end of the input or an error stops it without Close
			}
			src.Close()
			gone("after Close")
		}
	}
}

// BenchmarkCSVShortestFloatsParallel is BenchmarkCSVShortestFloats through
// the pipeline with GOMAXPROCS parsers (sequential when that is 1).
func BenchmarkCSVShortestFloatsParallel(b *testing.B) {
	const rows, cols = 100000, 20
	buf := benchShortestCSV(rows, cols)
	b.SetBytes(int64(len(buf)))
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		src, err := openCSVPar("bench.csv", bytes.NewReader(buf), ',', Options{}, parConfig{workers: runtime.GOMAXPROCS(0), chunk: csvChunkBytes})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			bt, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += bt.Len
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
		src.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
	b.ReportMetric(float64(rows*cols)*float64(b.N)/(cpuSeconds()-cpu0), "cells/cpu-s")
}

// TestTruncatedGzipNamesLine: a .csv.gz cut short reports the line and
// row where the data stops, not only the decompressed byte count.
func TestTruncatedGzipNamesLine(t *testing.T) {
	for _, rows := range []int{200, 200000} { // sequential and parallel paths
		var raw bytes.Buffer
		raw.WriteString("a,b\n")
		for i := range rows {
			fmt.Fprintf(&raw, "%d,%d.5\n", i, i)
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(raw.Bytes())
		zw.Close()
		p := filepath.Join(t.TempDir(), "cut.csv.gz")
		os.WriteFile(p, z.Bytes()[:z.Len()*2/3], 0o644)
		src, err := Open(p, Options{})
		if err == nil {
			for err == nil {
				_, err = src.Next()
			}
			src.Close()
		}
		var ie *InputError
		if !errors.As(err, &ie) || ie.Line < 2 || ie.Row < 0 || !strings.Contains(err.Error(), "gzip") {
			t.Errorf("%d rows: got %v", rows, err)
		}
	}
}
