package data

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// binFake serves fixed columns in batches of the given sizes.
type binFake struct {
	schema Schema
	cols   []Column
	sizes  []int
	next   int
	k      int
	rows   int64
	closed bool
}

func (f *binFake) Schema() Schema { return f.schema }
func (f *binFake) Rows() int64    { return f.rows }
func (f *binFake) Close() error   { f.closed = true; return nil }

func (f *binFake) Next() (*Batch, error) {
	total := len(f.cols[0].Num)
	if f.next >= total {
		return nil, io.EOF
	}
	n := f.sizes[f.k%len(f.sizes)]
	f.k++
	n = min(n, total-f.next)
	b := &Batch{Start: int64(f.next), Len: n}
	for _, c := range f.cols {
		nc := Column{Num: append([]float64(nil), c.Num[f.next:f.next+n]...), State: append([]Cell(nil), c.State[f.next:f.next+n]...)}
		if c.Str != nil {
			nc.Str = append([]string(nil), c.Str[f.next:f.next+n]...)
		}
		b.Cols = append(b.Cols, nc)
	}
	f.next += n
	return b, nil
}

func binFakeCol(n int, f func(i int) float64) Column {
	c := Column{Num: make([]float64, n), State: make([]Cell, n)}
	for i := range c.Num {
		c.Num[i] = f(i)
	}
	return c
}

// TestLabelRealign joins sources that batch differently.
func TestLabelRealign(t *testing.T) {
	for _, tc := range []struct {
		name         string
		data, labels []int
	}{
		{"labels smaller", []int{7}, []int{3}},
		{"labels larger", []int{2, 5}, []int{11}},
		{"ragged both", []int{1, 4, 2}, []int{3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 23
			data := &binFake{schema: Schema{Fields: []Field{{Name: "a", Kind: KindFloat}}}, rows: n, sizes: tc.data,
				cols: []Column{binFakeCol(n, func(i int) float64 { return float64(i) })}}
			lab := &binFake{schema: Schema{Fields: []Field{{Name: "y", Kind: KindInt}}}, rows: -1, sizes: tc.labels,
				cols: []Column{binFakeCol(n, func(i int) float64 { return float64(100 + i) })}}
			src := &labelSource{src: data, lab: lab, labName: "l", dataName: "d", labKind: KindInt, toKind: KindInt,
				schema: Schema{Fields: []Field{{Name: "a", Kind: KindFloat}, {Name: "label", Kind: KindInt}}}}
			tb, err := binReadAll(t, src, 7)
			if err != nil {
				t.Fatal(err)
			}
			if tb.rows != n {
				t.Fatalf("%d rows", tb.rows)
			}
			for i := range n {
				if tb.cols[1].Num[i] != tb.cols[0].Num[i]+100 {
					t.Fatalf("row %d: data %v label %v", i, tb.cols[0].Num[i], tb.cols[1].Num[i])
				}
			}
			if !data.closed || !lab.closed {
				t.Error("Close did not close both sources")
			}
		})
	}
}

func binWriteNPY(t *testing.T, dir, name, header string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, binNPY(header, data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLabelFile(t *testing.T) {
	dir := t.TempDir()
	x := binWriteNPY(t, dir, "x.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 2), }", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	y := binWriteNPY(t, dir, "y.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", []byte{10, 11, 12, 13, 14})
	short := binWriteNPY(t, dir, "short.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", []byte{10, 11, 12, 13})
	wide := binWriteNPY(t, dir, "wide.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 2), }", make([]byte, 10))
	// An IDX label file that claims 6 rows but holds 4: the count is
	// caught up front, the truncation while streaming.
	lying := filepath.Join(dir, "lying.idx")
	os.WriteFile(lying, binIDX(0x08, []uint32{5}, []byte{1, 2, 3}), 0o644)

	t.Run("npy labels", func(t *testing.T) {
		src, err := Open(x, Options{LabelFile: y, BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		s := src.Schema()
		if fmt.Sprint(s.Fields) != "[{x[0] int} {x[1] int} {label int}]" || fmt.Sprint(s.Shape) != "[2]" || src.Rows() != 5 {
			t.Fatalf("schema %+v rows %d", s, src.Rows())
		}
		tb, err := binReadAll(t, src, 2)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tb.cols[2].Num) != "[10 11 12 13 14]" || fmt.Sprint(tb.cols[1].Num) != "[1 3 5 7 9]" {
			t.Fatalf("values %v %v", tb.cols[1].Num, tb.cols[2].Num)
		}
	})
	t.Run("counts differ", func(t *testing.T) {
		_, err := Open(x, Options{LabelFile: short})
		ie := binWantInputError(t, err, x, short, "row 4")
		if ie.Row != 4 {
			t.Errorf("row %d", ie.Row)
		}
	})
	t.Run("labels end early", func(t *testing.T) {
		src, err := Open(x, Options{LabelFile: lying, BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = binReadAll(t, src, 2)
		binWantInputError(t, err, "lying.idx")
	})
	t.Run("two columns", func(t *testing.T) {
		_, err := Open(x, Options{LabelFile: wide})
		binWantInputError(t, err, "one column")
	})
	t.Run("schema with label", func(t *testing.T) {
		// Validation against a profile that was made with the labels.
		sch := &Schema{Fields: []Field{{Name: "x[1]", Kind: KindFloat}, {Name: "label", Kind: KindString}}}
		src, err := Open(x, Options{LabelFile: y, Schema: sch})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := binReadAll(t, src, DefaultBatchRows)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tb.schema.Fields) != "[{x[1] float} {label string}]" || strings.Join(tb.cols[1].Str, ",") != "10,11,12,13,14" {
			t.Fatalf("schema %v labels %q", tb.schema.Fields, tb.cols[1].Str)
		}
	})
	t.Run("csv labels", func(t *testing.T) {
		csv := filepath.Join(dir, "y.csv")
		os.WriteFile(csv, []byte("target\n1\n0\n1\n1\n0\n"), 0o644)
		src, err := Open(x, Options{LabelFile: csv, BatchRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := binReadAll(t, src, 3)
		if err != nil {
			t.Fatal(err)
		}
		if tb.schema.Fields[2].Name != "label" || fmt.Sprint(tb.cols[2].Num) != "[1 0 1 1 0]" {
			t.Fatalf("label %v = %v", tb.schema.Fields[2], tb.cols[2].Num)
		}
	})
}

func TestConvertColumn(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name     string
		in       Column
		from, to Kind
		num      string
		str      []string
		state    string
	}{
		{"float to string", Column{Num: []float64{1.5, nan, 3}, State: []Cell{Valid, Null, Valid}}, KindFloat, KindString,
			"", []string{"1.5", "", "3"}, "[0 1 0]"},
		{"bool to string", Column{Num: []float64{1, 0}, State: []Cell{Valid, Valid}}, KindBool, KindString,
			"", []string{"true", "false"}, "[0 0]"},
		{"string to float", Column{Num: make([]float64, 4), Str: []string{"2.5", "abc", "NA", "1e3"}, State: []Cell{Valid, Valid, Valid, Valid}}, KindString, KindFloat,
			"[2.5 NaN NaN 1000]", []string{"", "abc", "", ""}, "[0 2 1 0]"},
		{"string to int", Column{Num: make([]float64, 3), Str: []string{"7", "7.5", "-2"}, State: []Cell{Valid, Valid, Valid}}, KindString, KindInt,
			"[7 NaN -2]", []string{"", "7.5", ""}, "[0 2 0]"},
		{"float to int", Column{Num: []float64{2, 2.5}, State: []Cell{Valid, Valid}}, KindFloat, KindInt,
			"[2 NaN]", []string{"", "2.5"}, "[0 2]"},
		{"int to bool", Column{Num: []float64{0, 1, 2}, State: []Cell{Valid, Valid, Valid}}, KindInt, KindBool,
			"[0 1 NaN]", []string{"", "", "2"}, "[0 0 2]"},
		{"int to float", Column{Num: []float64{3}, State: []Cell{Valid}}, KindInt, KindFloat,
			"[3]", nil, "[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := binConvertColumn(tc.in, tc.from, tc.to, len(tc.in.State))
			if tc.num != "" && fmt.Sprint(got.Num) != tc.num {
				t.Errorf("Num %v, want %s", got.Num, tc.num)
			}
			if fmt.Sprint(got.Str) != fmt.Sprint(tc.str) {
				t.Errorf("Str %q, want %q", got.Str, tc.str)
			}
			if fmt.Sprint(got.State) != tc.state {
				t.Errorf("State %v, want %s", got.State, tc.state)
			}
		})
	}
}

func TestLabelCountsStreaming(t *testing.T) {
	for _, tc := range []struct {
		name       string
		nData, nLa int
		wantRow    int64
		want       string
	}{
		{"labels end", 10, 7, 7, "ends at row 7"},
		{"labels longer", 6, 9, 6, "more rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := &binFake{schema: Schema{Fields: []Field{{Name: "a", Kind: KindFloat}}}, rows: -1, sizes: []int{4},
				cols: []Column{binFakeCol(tc.nData, func(i int) float64 { return float64(i) })}}
			lab := &binFake{schema: Schema{Fields: []Field{{Name: "y", Kind: KindInt}}}, rows: -1, sizes: []int{3},
				cols: []Column{binFakeCol(tc.nLa, func(i int) float64 { return 1 })}}
			src := &labelSource{src: data, lab: lab, labName: "labels.csv", dataName: "data.csv", labKind: KindInt, toKind: KindInt,
				schema: Schema{Fields: []Field{{Name: "a", Kind: KindFloat}, {Name: "label", Kind: KindInt}}}}
			_, err := binReadAll(t, src, 4)
			ie := binWantInputError(t, err, "labels.csv", "data.csv", tc.want)
			if ie.Row != tc.wantRow {
				t.Errorf("row %d, want %d", ie.Row, tc.wantRow)
			}
		})
	}
}
