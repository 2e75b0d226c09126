package data

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// fuzzDrain reads a source to the end and checks the batch invariants and
// the error contract: any failure is an InputError, and it sticks.
func fuzzDrain(t *testing.T, src Source, err error) {
	if err != nil {
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("open error %v (%T) is not an InputError", err, err)
		}
		return
	}
	sc := src.Schema()
	next := int64(0)
	for k := 0; ; k++ {
		b, err := src.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v (%T) is not a malformed-input InputError", err, err)
			}
			if ie.Row >= 0 && ie.Row < next {
				t.Fatalf("error at row %d after %d rows were returned", ie.Row, next)
			}
			if _, err2 := src.Next(); err2 != err {
				t.Fatalf("Next after error: %v, want %v", err2, err)
			}
			return
		}
		if err := checkBatch(b, sc, next); err != nil {
			t.Fatal(err)
		}
		for j, f := range sc.Fields {
			if !f.Kind.Numeric() && b.Cols[j].Str == nil {
				t.Fatalf("string column %d without Str", j)
			}
		}
		next += int64(b.Len)
		if k > 1<<20 {
			t.Fatal("no end")
		}
	}
}

func FuzzCSV(f *testing.F) {
	seeds := []string{
		"a,b\n1,2\n",
		"a,b\r\n\"x\"\"y\",\"1\n2\"\r\n",
		"\ufeffa\tb\nx\ty\n",
		"a,b\n1\n1,2,3\n",
		"a,b\n\"unterminated\n",
		"a,b\nx\"y,1\n",
		"a,a\n",
		"a,b\n\xff,1\n",
		"a,b,c\nnan,true,\nInf,False,NA\n1e5,TRUE,x\n",
		"",
		"\n\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, in []byte, tab, lenient bool) {
		comma := byte(',')
		if tab {
			comma = '\t'
		}
		opt := Options{Lenient: lenient, BatchRows: 3, InferRows: 2, MaxField: 64, MaxColumns: 16}
		src, err := openCSV("f.csv", bytes.NewReader(in), comma, opt)
		fuzzDrain(t, src, err)
		// The same bytes arriving one at a time must read the same way.
		src2, err2 := openCSV("f.csv", &oneByteReader{r: bytes.NewReader(in)}, comma, opt)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("open: %v with whole reads, %v with byte reads", err, err2)
		}
		if err == nil {
			r1, _, e1 := drain(t, src2)
			src3, _ := openCSV("f.csv", bytes.NewReader(in), comma, opt)
			r2, _, e2 := drain(t, src3)
			if (e1 == nil) != (e2 == nil) || len(r1) != len(r2) {
				t.Fatalf("byte reads: %d rows, %v; whole reads: %d rows, %v", len(r1), e1, len(r2), e2)
			}
		}
		// The parallel pipeline, with chunk edges every few bytes, reads
		// what the sequential reader does.
		sameAsSequential(t, in, comma, opt, parConfig{workers: 3, chunk: 1 + len(in)%13, force: true})
		// With a schema of strings, every cell is Valid or Null.
		if err == nil {
			sc := Schema{}
			for _, fl := range src.Schema().Fields {
				sc.Fields = append(sc.Fields, Field{Name: fl.Name, Kind: KindString})
			}
			opt.Schema = &sc
			src4, err := openCSV("f.csv", bytes.NewReader(in), comma, opt)
			fuzzDrain(t, src4, err)
		}
	})
}

func FuzzJSONL(f *testing.F) {
	seeds := []string{
		`{"a":1,"b":"x","c":true,"d":null,"e":[1,{"k":2}]}` + "\n" + `{"a":2.5}`,
		`{"a":"\u00e9\ud800"}`,
		`{"a":1,"a":2}`,
		`[1]`,
		`{"a":{"b":{"c":{}}}}`,
		"{\"a\":\"\xff\"}",
		`{"a":1}` + "\n" + `{"b":2}` + "\n" + `{"c":3}`,
		"\n\n{}\n",
		`{"a":-0.0e+1,"b":1E400}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, lenient bool) {
		opt := Options{Lenient: lenient, BatchRows: 2, InferRows: 2, MaxField: 64, MaxColumns: 16}
		src, err := openJSONL("f.jsonl", bytes.NewReader(in), opt)
		fuzzDrain(t, src, err)
		src2, err2 := openJSONL("f.jsonl", &oneByteReader{r: bytes.NewReader(in)}, opt)
		fuzzDrain(t, src2, err2)
	})
}

// FuzzParseNum checks the hand-written number parser against
// strconv.ParseFloat, which it must match bit for bit.
func FuzzParseNum(f *testing.F) {
	for _, s := range []string{"1", "-0.5", "1e5", "12345678.123456789", "inf", " 2 ", "0x1p3", "1_0", ".5e-3", "99999999999999999999", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseNum([]byte(s))
		trimmed := strings.Trim(s, " \t")
		want, err := strconv.ParseFloat(trimmed, 64)
		wantOK := (err == nil || errors.Is(err, strconv.ErrRange)) && !strings.ContainsAny(trimmed, "xX_pP")
		if ok != wantOK {
			t.Fatalf("parseNum(%q) ok=%v, strconv err=%v", s, ok, err)
		}
		if ok && math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("parseNum(%q) = %v, strconv %v", s, got, want)
		}
	})
}
