package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func names(sc Schema) []string {
	var n []string
	for _, f := range sc.Fields {
		n = append(n, f.Name)
	}
	return n
}

func TestJSONLInfer(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		names []string
		kinds []Kind
		rows  [][]string
	}{
		{"ints", `{"a":1}` + "\n" + `{"a":-2}`, []string{"a"}, []Kind{KindInt}, [][]string{{"1"}, {"-2"}}},
		{"int and float", `{"a":1}` + "\n" + `{"a":2.5}` + "\n" + `{"a":1e3}`, []string{"a"}, []Kind{KindFloat}, [][]string{{"1"}, {"2.5"}, {"1000"}}},
		{"bools", `{"a":true}` + "\n" + `{"a":false}`, []string{"a"}, []Kind{KindBool}, [][]string{{"1"}, {"0"}}},
		{"strings", `{"a":"x"}` + "\n" + `{"a":""}`, []string{"a"}, []Kind{KindString}, [][]string{{"x"}, {""}}},
		{"number and string", `{"a":1.50}` + "\n" + `{"a":"x"}`, []string{"a"}, []Kind{KindString}, [][]string{{"1.50"}, {"x"}}},
		{"bool and number", `{"a":true}` + "\n" + `{"a":3}`, []string{"a"}, []Kind{KindString}, [][]string{{"true"}, {"3"}}},
		{"nested", `{"a":{"k": [1, 2, {"z" : null}]}}` + "\n" + `{"a":[ ]}`, []string{"a"}, []Kind{KindString}, [][]string{{`{"k":[1,2,{"z":null}]}`}, {"[]"}}},
		{"nulls and missing", `{"a":1,"b":null}` + "\n" + `{"b":null}` + "\n" + `{}`, []string{"a", "b"}, []Kind{KindInt, KindString}, [][]string{{"1", "<null>"}, {"<null>", "<null>"}, {"<null>", "<null>"}}},
		{"key order of first appearance", `{"b":1}` + "\n" + `{"a":2,"b":3,"c":4}`, []string{"b", "a", "c"}, []Kind{KindInt, KindInt, KindInt}, [][]string{{"1", "<null>", "<null>"}, {"3", "2", "4"}}},
		{"escapes", `{"a\u00e9":"x\"y\\z\n\u00e9\ud83d\ude00\ud800"}`, []string{"aé"}, []Kind{KindString}, [][]string{{"x\"y\\z\né😀\ufffd"}}},
		{"blank lines crlf bom", "\ufeff{\"a\":1}\r\n\r\n   \n{\"a\":2}\r\n", []string{"a"}, []Kind{KindInt}, [][]string{{"1"}, {"2"}}},
		{"empty input", "", nil, nil, nil},
		{"whitespace around", "  { \"a\" : 1 , \"b\" : \"x\" }  \n", []string{"a", "b"}, []Kind{KindInt, KindString}, [][]string{{"1", "x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openJSONL("t.jsonl", strings.NewReader(tc.in), Options{})
			if err != nil {
				t.Fatal(err)
			}
			sc := src.Schema()
			if !reflect.DeepEqual(names(sc), tc.names) || !reflect.DeepEqual(kindsOf(sc), tc.kinds) {
				t.Fatalf("schema %+v, want %v %v", sc, tc.names, tc.kinds)
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

func TestJSONLUnknownKeys(t *testing.T) {
	in := `{"a":1}` + "\n" + `{"a":2}` + "\n" + `{"a":3,"z":true}` + "\n" + `{"z":1,"y":2}` + "\n"
	t.Run("strict", func(t *testing.T) {
		src, err := openJSONL("u.jsonl", strings.NewReader(in), Options{InferRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		rows, _, err := drain(t, src)
		assertInputErr(t, err, "u.jsonl", 3, 2, "z")
		if rows != nil {
			t.Fatalf("rows %q before the error", rows)
		}
	})
	t.Run("lenient", func(t *testing.T) {
		src, err := openJSONL("u.jsonl", strings.NewReader(in), Options{InferRows: 2, Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		rows, issues, err := drain(t, src)
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]string{{"1"}, {"2"}, {"3"}, {"<null>"}}; !reflect.DeepEqual(rows, want) {
			t.Fatalf("rows %q", rows)
		}
		want := []RowIssue{{2, IssueUnknown, "z"}, {3, IssueUnknown, "z"}, {3, IssueUnknown, "y"}}
		if !reflect.DeepEqual(issues, want) {
			t.Fatalf("issues %+v", issues)
		}
		if ex := src.(interface{ Extra() []string }).Extra(); !reflect.DeepEqual(ex, []string{"z", "y"}) {
			t.Fatalf("extra %v", ex)
		}
	})
}

func TestJSONLSchema(t *testing.T) {
	in := strings.Join([]string{
		`{"n":1,"s":"a","b":true,"f":2.5,"x":9}`,
		`{"n":"7","s":12.50,"b":1,"f":{"k":1}}`,
		`{"n":2.5,"s":false,"b":"yes","f":null}`,
		`{"n":1e400,"s":[1, 2],"b":2,"f":true}`,
	}, "\n")
	sc := &Schema{Fields: []Field{{"f", KindFloat}, {"n", KindInt}, {"s", KindString}, {"b", KindBool}, {"gone", KindInt}}}
	for _, lenient := range []bool{false, true} {
		t.Run(fmt.Sprintf("lenient=%v", lenient), func(t *testing.T) {
			src, err := openJSONL("s.jsonl", strings.NewReader(in), Options{Schema: sc, Lenient: lenient})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(src.Schema().Fields, sc.Fields) {
				t.Fatalf("schema %+v", src.Schema())
			}
			rows, issues, err := drain(t, src)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{
				{"2.5", "1", "a", "1", "<null>"},
				{`!{"k":1}`, "!7", "12.50", "1", "<null>"},
				{"<null>", "2.5", "false", "!yes", "<null>"},
				{"!true", "+Inf", "[1,2]", "!2", "<null>"},
			}
			if !reflect.DeepEqual(rows, want) {
				t.Fatalf("rows %q, want %q", rows, want)
			}
			if lenient != (len(issues) == 1) {
				t.Fatalf("issues %+v", issues)
			}
			if ex := src.(interface{ Extra() []string }).Extra(); !reflect.DeepEqual(ex, []string{"x"}) {
				t.Fatalf("extra %v", ex)
			}
		})
	}
}

func TestJSONLMalformed(t *testing.T) {
	deep := strings.Repeat("[", 70) + strings.Repeat("]", 70)
	tests := []struct {
		name string
		in   string
		opt  Options
		line int64
		row  int64
		col  string
		off  int64
	}{
		{"not an object", "{\"a\":1}\n[1,2]\n", Options{}, 2, 1, "", 8},
		{"scalar line", "{\"a\":1}\n\n42\n", Options{}, 3, 1, "", 9},
		{"duplicate key", "{\"a\":1,\"b\":2,\"a\":3}\n", Options{}, 1, 0, "a", 13},
		{"duplicate key after inference", "{\"a\":1}\n{\"a\":1,\"a\":2}\n", Options{InferRows: 1}, 2, 1, "a", 15},
		{"duplicate unknown key", "{\"a\":1}\n{\"z\":1,\"z\":2}\n", Options{InferRows: 1, Lenient: true}, 2, 1, "z", 15},
		{"duplicate nested key", "{\"a\":{\"k\":1,\"k\":2}}\n", Options{}, 1, 0, "a", 12},
		{"too deep", "{\"a\":" + deep + "}\n", Options{}, 1, 0, "a", 68},
		{"bad utf8", "{\"a\":\"x\xff\"}\n", Options{}, 1, 0, "", 7},
		{"trailing garbage", "{\"a\":1} x\n", Options{}, 1, 0, "", 8},
		{"unterminated string", "{\"a\":\"x}\n", Options{}, 1, 0, "a", 5},
		{"bad number", "{\"a\":01}\n", Options{}, 1, 0, "", 6},
		{"bad literal", "{\"a\":tru}\n", Options{}, 1, 0, "a", 5},
		{"missing colon", "{\"a\" 1}\n", Options{}, 1, 0, "a", 5},
		{"control char", "{\"a\":\"x\ty\"}\n", Options{}, 1, 0, "a", 7},
		{"bad escape", "{\"a\":\"\\x\"}\n", Options{}, 1, 0, "a", 6},
		{"value too long", "{\"a\":\"0123456789abc\"}\n", Options{MaxField: 10}, 1, 0, "a", 1},
		{"error after rows", "{\"a\":1}\n{\"a\":2}\n{\"a\":\n", Options{}, 3, 2, "a", 21},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := openJSONL("bad.jsonl", strings.NewReader(tc.in), tc.opt)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			_, _, err = drain(t, src)
			assertInputErr(t, err, "bad.jsonl", tc.line, tc.row, tc.col)
			var ie *InputError
			errors.As(err, &ie)
			if ie.Offset != tc.off {
				t.Fatalf("offset %d, want %d (%v)", ie.Offset, tc.off, err)
			}
		})
	}
}

func TestJSONLLongLine(t *testing.T) {
	r := io.MultiReader(strings.NewReader("{\"a\":1}\n{\"a\":\""), &repeatReader{b: 'x', n: 1 << 40})
	src, err := openJSONL("long.jsonl", r, Options{MaxField: 1000, MaxColumns: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = drain(t, src)
	assertInputErr(t, err, "long.jsonl", 2, 1, "")
	if !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error %v", err)
	}
}

func TestJSONLBatchBoundaries(t *testing.T) {
	const batch = 5
	for _, n := range []int{0, 1, batch - 1, batch, batch + 1, 3*batch + 1} {
		for _, infer := range []int{1, batch, batch + 1, 1000} {
			t.Run(fmt.Sprintf("rows=%d/infer=%d", n, infer), func(t *testing.T) {
				var sb strings.Builder
				for i := 0; i < n; i++ {
					fmt.Fprintf(&sb, "{\"i\":%d,\"s\":\"s%d\"}\n", i, i)
				}
				src, err := openJSONL("b.jsonl", strings.NewReader(sb.String()), Options{BatchRows: batch, InferRows: infer})
				if err != nil {
					t.Fatal(err)
				}
				rows, _, err := drain(t, src)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != n {
					t.Fatalf("%d rows, want %d", len(rows), n)
				}
				for i, r := range rows {
					if r[0] != fmt.Sprint(i) || r[1] != fmt.Sprintf("s%d", i) {
						t.Fatalf("row %d: %q", i, r)
					}
				}
			})
		}
	}
}

func TestJSONLLabel(t *testing.T) {
	in := `{"x":1,"y":0}`
	if _, err := openJSONL("l.jsonl", strings.NewReader(in), Options{Label: "y"}); err != nil {
		t.Fatal(err)
	}
	_, err := openJSONL("l.jsonl", strings.NewReader(in), Options{Label: "target"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Column != "target" {
		t.Fatalf("error %v", err)
	}
}

// jsonGen produces JSON Lines on the fly.
type jsonGen struct {
	rows, row int
	buf       []byte
}

func (g *jsonGen) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.row >= g.rows {
			return 0, io.EOF
		}
		g.buf = fmt.Appendf(g.buf, `{"id":%d,"x":%g,"name":"n%d","ok":%v,"tags":[%d,"t"]}`+"\n", g.row, float64(g.row)/7, g.row%100, g.row%3 == 0, g.row%5)
		g.row++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func TestTextStreamingMemoryJSONL(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	// Collect what earlier tests left on the heap: the peak below must
	// measure this reader, not their garbage.
	runtime.GC()
	gen := &jsonGen{rows: 400000}
	src, err := openJSONL("big.jsonl", gen, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{KindInt, KindFloat, KindString, KindBool, KindString}
	if got := kindsOf(src.Schema()); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v", got)
	}
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
		if b.Cols[0].Num[0] != float64(rows) {
			t.Fatalf("row %d: id %v", rows, b.Cols[0].Num[0])
		}
		rows += b.Len
		if k%16 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if rows != gen.rows {
		t.Fatalf("%d rows", rows)
	}
	if peak > 64<<20 {
		t.Fatalf("peak heap in use %d MiB", peak>>20)
	}
	t.Logf("%d rows, peak HeapInuse %.1f MiB", rows, float64(peak)/(1<<20))
}

func BenchmarkJSONL(b *testing.B) {
	const rows = 100000
	data, _ := io.ReadAll(&jsonGen{rows: rows})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		src, err := openJSONL("bench.jsonl", bytes.NewReader(data), Options{})
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
	b.ReportMetric(float64(rows*5)*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}
