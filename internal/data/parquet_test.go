package data

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type binPQRow struct {
	A   float64  `parquet:"a"`
	B   int64    `parquet:"b"`
	C   int32    `parquet:"c"`
	S   string   `parquet:"s"`
	D   string   `parquet:"d,dict"`
	O   *float64 `parquet:"o,optional"`
	OS  *string  `parquet:"os,optional"`
	OI  *int64   `parquet:"oi,optional,dict"`
	Bo  bool     `parquet:"bo"`
	OB  *bool    `parquet:"ob,optional"`
	F   float32  `parquet:"f"`
	U   uint32   `parquet:"u"`
	U64 uint64   `parquet:"u64"`
	T   string   `parquet:"t"`
	Raw []byte   `parquet:"raw"`
}

func binPQMake(i int) binPQRow {
	r := binPQRow{
		A: float64(i) * 1.5, B: int64(i) - 10, C: int32(i * 3), S: "s" + strconv.Itoa(i),
		D: []string{"red", "green", "blue"}[i%3], Bo: i%2 == 0, F: float32(i) / 4,
		U: math.MaxUint32 - uint32(i), U64: 1<<63 + uint64(i)*2048, Raw: []byte{'r', byte('a' + i%26)},
	}
	r.T = []string{"1.5", "abc", "", "-7"}[i%4]
	if i%3 != 0 {
		o := float64(i) / 8
		r.O = &o
		oi := int64(i % 4)
		r.OI = &oi
	}
	if i%4 != 1 {
		s := "é" + strconv.Itoa(i)
		r.OS = &s
	}
	if i%5 != 2 {
		b := i%3 == 0
		r.OB = &b
	}
	return r
}

func binWritePQ[T any](t testing.TB, rows []T, opts ...parquet.WriterOption) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParquetTypes(t *testing.T) {
	const n = 31
	rows := make([]binPQRow, n)
	for i := range rows {
		rows[i] = binPQMake(i)
	}
	for _, tc := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"one group", nil},
		{"row groups and pages v2", []parquet.WriterOption{parquet.MaxRowsPerRowGroup(7), parquet.PageBufferSize(64)}},
		{"pages v1 snappy", []parquet.WriterOption{parquet.MaxRowsPerRowGroup(10), parquet.PageBufferSize(32),
			parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := binWritePQ(t, rows, tc.opts...)
			src, err := Open(path, Options{BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			if src.Rows() != n {
				t.Fatalf("Rows = %d", src.Rows())
			}
			want := "[{a float} {b int} {c int} {s string} {d string} {o float} {os string} {oi int} {bo bool} {ob bool} {f float} {u int} {u64 int} {t string} {raw string}]"
			if got := fmt.Sprint(src.Schema().Fields); got != want {
				t.Fatalf("fields %s\nwant   %s", got, want)
			}
			tb, err := binReadAll(t, src, 4)
			if err != nil {
				t.Fatal(err)
			}
			if tb.rows != n {
				t.Fatalf("%d rows", tb.rows)
			}
			col := func(name string) Column { return tb.cols[tb.schema.Index(name)] }
			for i := range n {
				r := binPQMake(i)
				check := func(name string, got, want float64) {
					t.Helper()
					if got != want {
						t.Fatalf("row %d %s = %v, want %v", i, name, got, want)
					}
				}
				check("a", col("a").Num[i], r.A)
				check("b", col("b").Num[i], float64(r.B))
				check("c", col("c").Num[i], float64(r.C))
				check("f", col("f").Num[i], float64(r.F))
				check("u", col("u").Num[i], float64(r.U))
				check("u64", col("u64").Num[i], float64(r.U64))
				check("bo", col("bo").Num[i], map[bool]float64{true: 1}[r.Bo])
				if col("s").Str[i] != r.S || col("d").Str[i] != r.D || col("t").Str[i] != r.T || col("raw").Str[i] != string(r.Raw) {
					t.Fatalf("row %d strings %q %q %q %q", i, col("s").Str[i], col("d").Str[i], col("t").Str[i], col("raw").Str[i])
				}
				nullable := func(name string, isNull bool, want float64) {
					t.Helper()
					c := col(name)
					if isNull {
						if c.State[i] != Null || !math.IsNaN(c.Num[i]) {
							t.Fatalf("row %d %s: state %d num %v, want Null", i, name, c.State[i], c.Num[i])
						}
						return
					}
					if c.State[i] != Valid {
						t.Fatalf("row %d %s: state %d", i, name, c.State[i])
					}
					check(name, c.Num[i], want)
				}
				nullable("o", r.O == nil, derefOr(r.O))
				nullable("oi", r.OI == nil, float64(derefOr(r.OI)))
				nullable("ob", r.OB == nil, map[bool]float64{true: 1}[derefOr(r.OB)])
				if c := col("os"); r.OS == nil {
					if c.State[i] != Null || c.Str[i] != "" {
						t.Fatalf("row %d os: %d %q", i, c.State[i], c.Str[i])
					}
				} else if c.State[i] != Valid || c.Str[i] != *r.OS {
					t.Fatalf("row %d os: %d %q, want %q", i, c.State[i], c.Str[i], *r.OS)
				}
			}
		})
	}
}

func derefOr[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

func TestParquetSchema(t *testing.T) {
	rows := make([]binPQRow, 9)
	for i := range rows {
		rows[i] = binPQMake(i)
	}
	path := binWritePQ(t, rows, parquet.MaxRowsPerRowGroup(4))
	t.Run("project and convert", func(t *testing.T) {
		sch := &Schema{Fields: []Field{
			{Name: "t", Kind: KindFloat},  // text parsed
			{Name: "b", Kind: KindString}, // number as text
			{Name: "a", Kind: KindInt},    // 1.5 is not an int
			{Name: "os", Kind: KindString},
		}}
		src, err := Open(path, Options{Schema: sch, BatchRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		ex, ok := src.(interface{ Extra() []string })
		if !ok {
			t.Fatal("no Extra method")
		}
		if got := strings.Join(ex.Extra(), ","); got != "c,s,d,o,oi,bo,ob,f,u,u64,raw" {
			t.Errorf("Extra = %s", got)
		}
		tb, err := binReadAll(t, src, 3)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tb.schema.Fields) != fmt.Sprint(sch.Fields) {
			t.Fatalf("fields %v", tb.schema.Fields)
		}
		if got := fmt.Sprint(tb.cols[0].State[:4], tb.cols[0].Num[:4], tb.cols[0].Str[1]); got != "[0 2 1 0] [1.5 NaN NaN -7]abc" {
			t.Errorf("t as float: %s", got)
		}
		if got := strings.Join(tb.cols[1].Str, ","); got != "-10,-9,-8,-7,-6,-5,-4,-3,-2" {
			t.Errorf("b as string: %s", got)
		}
		if got := fmt.Sprint(tb.cols[2].State[:3], tb.cols[2].Str[1]); got != "[0 2 0]1.5" {
			t.Errorf("a as int: %s", got)
		}
		if tb.cols[3].State[1] != Null || tb.cols[3].Str[0] != "é0" {
			t.Errorf("os: %v %q", tb.cols[3].State, tb.cols[3].Str)
		}
	})
	t.Run("missing column", func(t *testing.T) {
		_, err := Open(path, Options{Schema: &Schema{Fields: []Field{{Name: "a", Kind: KindFloat}, {Name: "zz", Kind: KindFloat}}}})
		ie := binWantInputError(t, err, `"zz"`)
		if ie.Column != "zz" {
			t.Errorf("column %q", ie.Column)
		}
	})
}

func TestParquetRefused(t *testing.T) {
	type sub struct {
		X int32 `parquet:"x"`
	}
	type listRow struct {
		A float64 `parquet:"a"`
		L []int32 `parquet:"l"`
	}
	type groupRow struct {
		A float64 `parquet:"a"`
		G sub     `parquet:"g"`
	}
	type badRow struct {
		A   float64 `parquet:"a"`
		Raw []byte  `parquet:"raw"`
	}
	t.Run("list", func(t *testing.T) {
		p := binWritePQ(t, []listRow{{1, []int32{1, 2}}})
		_, err := Open(p, Options{})
		binWantInputError(t, err, `column "l"`, "nested columns are not supported")
	})
	t.Run("group", func(t *testing.T) {
		p := binWritePQ(t, []groupRow{{1, sub{2}}})
		_, err := Open(p, Options{})
		binWantInputError(t, err, `column "g"`, "nested columns are not supported")
		// A nested column that the schema does not ask for is only extra.
		src, err := Open(p, Options{Schema: &Schema{Fields: []Field{{Name: "a", Kind: KindFloat}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := binReadAll(t, src, DefaultBatchRows); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("invalid utf-8", func(t *testing.T) {
		rows := []badRow{{1, []byte("ok")}, {2, []byte("ok")}, {3, []byte{'a', 0xff}}, {4, []byte("ok")}}
		src, err := Open(binWritePQ(t, rows), Options{BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		tb, err := binReadAll(t, src, 2)
		ie := binWantInputError(t, err, "UTF-8")
		if ie.Row != 2 || ie.Column != "raw" || tb.rows != 2 {
			t.Errorf("row %d column %q after %d rows", ie.Row, ie.Column, tb.rows)
		}
	})
}

func TestParquetCorrupt(t *testing.T) {
	rows := make([]binPQRow, 50)
	for i := range rows {
		rows[i] = binPQMake(i)
	}
	good, err := os.ReadFile(binWritePQ(t, rows, parquet.MaxRowsPerRowGroup(20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("truncated", func(t *testing.T) {
		for _, cut := range []int{0, 3, 4, 100, len(good) / 2, len(good) - 8, len(good) - 1} {
			b := good[:cut]
			_, err := openParquet("c.parquet", bytes.NewReader(b), int64(len(b)), Options{})
			binWantInputError(t, err, "c.parquet")
		}
	})
	t.Run("flipped bytes", func(t *testing.T) {
		// Any outcome but a panic or a silent success with wrong shapes.
		rng := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			b := append([]byte(nil), good...)
			for range 1 + rng.IntN(4) {
				switch i := rng.IntN(len(b)); rng.IntN(3) {
				case 0:
					b[i] ^= byte(1 + rng.IntN(255))
				case 1:
					b = append(b[:i], b[min(len(b), i+1+rng.IntN(8)):]...)
				default:
					b = append(b[:i], append([]byte{byte(rng.IntN(256)), 0xff}, b[i:]...)...)
				}
				if len(b) < 16 {
					break
				}
			}
			src, err := openParquet("c.parquet", bytes.NewReader(b), int64(len(b)), Options{BatchRows: 7})
			if err != nil {
				binWantInputError(t, err, "c.parquet")
				continue
			}
			if _, err := binReadAll(t, src, 7); err != nil {
				binWantInputError(t, err, "c.parquet")
			}
		}
	})
}

// binOrdered keeps the columns of a generated schema in order.
type binOrdered struct {
	parquet.Group
	order []string
}

func (g binOrdered) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g.order))
	for i, n := range g.order {
		out[i] = binField{Node: g.Group[n], name: n}
	}
	return out
}

type binField struct {
	parquet.Node
	name string
}

func (f binField) Name() string { return f.name }
func (f binField) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(f.name))
}

// binWriteDoubles writes rows × cols random DOUBLE values.
func binWriteDoubles(t testing.TB, path string, rows, cols int, opts ...parquet.WriterOption) {
	t.Helper()
	names := make([]string, cols)
	g := binOrdered{Group: parquet.Group{}, order: names}
	for j := range names {
		names[j] = "c" + strconv.Itoa(j)
		g.Group[names[j]] = parquet.Leaf(parquet.DoubleType)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewWriter(f, append([]parquet.WriterOption{parquet.NewSchema("t", g)}, opts...)...)
	rng := rand.New(rand.NewPCG(3, 4))
	batch := make([]parquet.Row, 0, 1024)
	for r := range rows {
		row := make(parquet.Row, cols)
		for j := range row {
			row[j] = parquet.DoubleValue(rng.NormFloat64()).Level(0, 0, j)
		}
		batch = append(batch, row)
		if len(batch) == cap(batch) || r == rows-1 {
			if _, err := w.WriteRows(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetDoublesOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.parquet")
	binWriteDoubles(t, path, 1000, 12, parquet.MaxRowsPerRowGroup(300))
	src, err := Open(path, Options{BatchRows: 128})
	if err != nil {
		t.Fatal(err)
	}
	if src.Schema().Fields[11].Name != "c11" || src.Schema().Fields[2].Name != "c2" {
		t.Fatalf("fields %v", src.Schema().Fields)
	}
	tb, err := binReadAll(t, src, 128)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		for j := range 12 {
			if w := rng.NormFloat64(); tb.cols[j].Num[i] != w {
				t.Fatalf("row %d col %d = %v, want %v", i, j, tb.cols[j].Num[i], w)
			}
		}
	}
}

// BenchmarkParquetDoubles reads a 20-column DOUBLE file; the cells/s
// metric is the one the profiling throughput goal is stated in.
func BenchmarkParquetDoubles(b *testing.B) {
	const rows, cols = 1 << 18, 20
	for _, tc := range []struct {
		name string
		opt  parquet.WriterOption
	}{
		{"snappy", parquet.Compression(&parquet.Snappy)},
		{"none", parquet.Compression(&parquet.Uncompressed)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "d.parquet")
			binWriteDoubles(b, path, rows, cols, tc.opt, parquet.MaxRowsPerRowGroup(128<<10))
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			b.SetBytes(st.Size())
			b.ResetTimer()
			var sum float64
			for b.Loop() {
				src, err := openParquet(path, f, st.Size(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					bt, err := src.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					sum += bt.Cols[0].Num[0]
				}
				src.Close()
			}
			b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
			_ = sum
		})
	}
}

// TestParquetHostileFooter: sizes that parquet-go would allocate before
// reading are refused first.
func TestParquetHostileFooter(t *testing.T) {
	file := func(footer []byte, declared uint32) []byte {
		b := append([]byte("PAR1"), footer...)
		b = append(b, byte(declared), byte(declared>>8), byte(declared>>16), byte(declared>>24))
		return append(b, "PAR1"...)
	}
	// FileMetaData{version: 1, schema: list<struct> of 2^30 elements}.
	lying := []byte{0x15, 0x02, 0x19, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x04, 0x00}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"footer longer than file", file(lying, 1<<31), "footer of"},
		{"list longer than footer", file(lying, uint32(len(lying))), "list of 1073741824 elements"},
		{"encrypted", append(file(lying, uint32(len(lying)))[:4+len(lying)+4], "PARE"...), "encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openParquet("h.parquet", bytes.NewReader(tc.b), int64(len(tc.b)), Options{})
			binWantInputError(t, err, tc.want)
		})
	}
}

func TestParquetLogicalTypes(t *testing.T) {
	type row struct {
		D32 int32    `parquet:"d32,decimal(2:9)"`
		D64 int64    `parquet:"d64,decimal(3:18)"`
		ID  [16]byte `parquet:"id,uuid"`
		E   string   `parquet:"e,enum"`
		U8  uint8    `parquet:"u8"`
		I16 int16    `parquet:"i16"`
	}
	rows := []row{
		{D32: 12345, D64: -5, ID: [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8}, E: "on", U8: 255, I16: -300},
		{D32: -1, D64: 1000, E: "off", U8: 0, I16: 7},
	}
	src, err := Open(binWritePQ(t, rows), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "[{d32 float} {d64 float} {id string} {e string} {u8 int} {i16 int}]"
	if got := fmt.Sprint(src.Schema().Fields); got != want {
		t.Fatalf("fields %s, want %s", got, want)
	}
	tb, err := binReadAll(t, src, DefaultBatchRows)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(tb.cols[0].Num, tb.cols[1].Num, tb.cols[2].Str, tb.cols[3].Str, tb.cols[4].Num, tb.cols[5].Num)
	if w := "[123.45 -0.01] [-0.005 1] [12345678-9abc-def0-0102-030405060708 00000000-0000-0000-0000-000000000000] [on off] [255 0] [-300 7]"; got != w {
		t.Fatalf("values\n%s\nwant\n%s", got, w)
	}
}

func TestPQDecimalBytes(t *testing.T) {
	for _, tc := range []struct {
		b     []byte
		scale float64
		want  float64
	}{
		{[]byte{0x01, 0x00}, 1, 256},
		{[]byte{0xff, 0xfe}, 10, -0.2},
		{[]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0}, 1, -math.Pow(2, 71)},
		{[]byte{0x00, 0, 0, 0, 0, 0, 0, 0, 0x05}, 100, 0.05},
	} {
		if got := pqDecimal(tc.b, tc.scale); got != tc.want {
			t.Errorf("decimal % x / %v = %v, want %v", tc.b, tc.scale, got, tc.want)
		}
	}
}
