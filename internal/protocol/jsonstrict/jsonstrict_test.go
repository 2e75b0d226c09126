package jsonstrict

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

var validateCases = []struct {
	name string
	in   string
	code rampart.Code
	msg  string
}{
	{name: "object", in: `{"a":[1,2.5,-3e2,true,false,null,"x"],"b":{"c":{}}}`},
	{name: "whitespace", in: " \t\r\n[ 1 , 2 ]\n"},
	{name: "scalar", in: `"just a string"`},
	{name: "escapes", in: `"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00"`},
	{name: "utf8", in: `"héllo 世界 😀"`},
	{name: "same key different objects", in: `[{"a":1},{"a":2}]`},
	{name: "same key nested", in: `{"a":{"a":{"a":1}}}`},
	{name: "many keys", in: manyKeys(100, false)},

	{name: "empty", in: ``, code: rampart.CodeInvalid, msg: "at byte 0: unexpected end of input"},
	{name: "trailing", in: `{} {}`, code: rampart.CodeInvalid, msg: "at byte 3: trailing data"},
	{name: "trailing comma", in: `[1,]`, code: rampart.CodeInvalid, msg: "at byte 3: unexpected ']'"},
	{name: "trailing comma object", in: `{"a":1,}`, code: rampart.CodeInvalid, msg: "at byte 7: want object key"},
	{name: "missing colon", in: `{"a" 1}`, code: rampart.CodeInvalid, msg: "want ':'"},
	{name: "missing comma", in: `[1 2]`, code: rampart.CodeInvalid, msg: "at byte 3: want ',' or ']'"},
	{name: "single quotes", in: `{'a':1}`, code: rampart.CodeInvalid, msg: "want object key"},
	{name: "leading zero", in: `[01]`, code: rampart.CodeInvalid, msg: "at byte 2"},
	{name: "bare dot", in: `[1.]`, code: rampart.CodeInvalid, msg: "no digits after '.'"},
	{name: "bare exponent", in: `[1e]`, code: rampart.CodeInvalid, msg: "no digits in exponent"},
	{name: "plus sign", in: `[+1]`, code: rampart.CodeInvalid, msg: "unexpected '+'"},
	{name: "minus alone", in: `[-]`, code: rampart.CodeInvalid, msg: "invalid number"},
	{name: "nan literal", in: `[NaN]`, code: rampart.CodeInvalid, msg: "unexpected 'N'"},
	{name: "bad literal", in: `[tru]`, code: rampart.CodeInvalid, msg: "want boolean"},
	{name: "duplicate key", in: `{"a":1,"b":2,"a":3}`, code: rampart.CodeInvalid, msg: `at byte 13: duplicate object key "a"`},
	{name: "duplicate escaped key", in: `{"a":1,"\u0061":2}`, code: rampart.CodeInvalid, msg: `duplicate object key "a"`},
	{name: "duplicate nested key", in: `[{"x":{"k":1,"k":2}}]`, code: rampart.CodeInvalid, msg: "duplicate object key"},
	{name: "duplicate among many keys", in: manyKeys(100, true), code: rampart.CodeInvalid, msg: `duplicate object key "k7"`},
	{name: "invalid utf8 in string", in: "\"a\xffb\"", code: rampart.CodeInvalid, msg: "at byte 2: invalid UTF-8"},
	{name: "overlong utf8", in: "\"\xc0\xaf\"", code: rampart.CodeInvalid, msg: "invalid UTF-8"},
	{name: "utf8 surrogate bytes", in: "\"\xed\xa0\x80\"", code: rampart.CodeInvalid, msg: "invalid UTF-8"},
	{name: "invalid utf8 outside string", in: "[1,\xff]", code: rampart.CodeInvalid, msg: "byte 0xff"},
	{name: "bom", in: "\xef\xbb\xbf{}", code: rampart.CodeInvalid, msg: "at byte 0"},
	{name: "control char", in: "\"a\nb\"", code: rampart.CodeInvalid, msg: "control character"},
	{name: "bad escape", in: `"\x"`, code: rampart.CodeInvalid, msg: "invalid escape"},
	{name: "short unicode escape", in: `"\u12"`, code: rampart.CodeInvalid, msg: "invalid \\u escape"},
	{name: "lone high surrogate", in: `"\ud800"`, code: rampart.CodeInvalid, msg: "unpaired UTF-16 surrogate"},
	{name: "lone low surrogate", in: `"\udc00"`, code: rampart.CodeInvalid, msg: "unpaired UTF-16 surrogate"},
	{name: "reversed surrogates", in: `"\ude00\ud83d"`, code: rampart.CodeInvalid, msg: "unpaired"},
	{name: "unterminated string", in: `"abc`, code: rampart.CodeInvalid, msg: "unterminated string"},
	{name: "unterminated escape string", in: `"ab\n`, code: rampart.CodeInvalid, msg: "unterminated string"},
	{name: "unterminated array", in: `[1,2`, code: rampart.CodeInvalid, msg: "unexpected end of input"},
	{name: "huge number", in: `[1e400]`},
}

func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	if dup {
		b.WriteString(`,"k7":2`)
	}
	b.WriteByte('}')
	return b.String()
}

func TestValidate(t *testing.T) {
	for _, tc := range validateCases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(tc.in), protocol.DefaultLimits())
			checkErr(t, err, tc.code, tc.msg)
		})
	}
}

func checkErr(t *testing.T, err error, code rampart.Code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want %s %q", code, msg)
	}
	if got := rampart.ErrorCode(err); got != code {
		t.Errorf("code %s, want %s (%v)", got, code, err)
	}
	if !strings.Contains(rampart.ErrorMessage(err), msg) {
		t.Errorf("message %q does not contain %q", rampart.ErrorMessage(err), msg)
	}
}

func TestLimits(t *testing.T) {
	lim := protocol.Limits{MaxDepth: 3, MaxElements: 5, MaxStringLen: 4}
	cases := []struct {
		name, in string
		code     rampart.Code
		msg      string
	}{
		{"depth ok", `[[[1]]]`, "", ""},
		{"depth", `[[[[1]]]]`, rampart.CodeTooLarge, "at byte 3: nesting depth exceeds the limit of 3"},
		{"depth objects", `{"a":{"b":{"c":{}}}}`, rampart.CodeTooLarge, "nesting depth"},
		{"elements ok", `[1,2,3,4,5]`, "", ""},
		{"elements", `[1,2,3,4,5,6]`, rampart.CodeTooLarge, "number of array elements and object members exceeds the limit of 5"},
		{"elements across arrays", `[[1,2],[3,4]]`, rampart.CodeTooLarge, "exceeds the limit of 5"},
		{"members count", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}`, rampart.CodeTooLarge, "exceeds the limit of 5"},
		{"string ok", `"abcd"`, "", ""},
		{"string", `"abcde"`, rampart.CodeTooLarge, "string length exceeds the limit of 4"},
		{"escaped string counts decoded bytes", `"\u00e9\u00e9"`, "", ""},
		{"escaped string", `"\u00e9\u00e9\u00e9"`, rampart.CodeTooLarge, "string length"},
		{"key", `{"abcde":1}`, rampart.CodeTooLarge, "string length"},
		{"number", `12345`, rampart.CodeTooLarge, "number length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, Validate([]byte(tc.in), lim), tc.code, tc.msg)
		})
	}
}

func TestFloat(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1", "0.1", "0.000123", "123.456", "-1.5", "3.4028235e38", "1e-7",
		"9007199254740993", "123456789012345678901234567890", "0.30000000000000004", "2.2250738585072014e-308",
		"4.9e-324", "1.7976931348623157e308", "0.1234567890123456789", "100000000000000000000000"}
	for _, s := range cases {
		d := Get([]byte(s), protocol.DefaultLimits())
		got, err := d.Float()
		Put(d)
		want, _ := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("Float(%s) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"1e400", "-1e999"} {
		d := Get([]byte(s), protocol.DefaultLimits())
		_, err := d.Float()
		Put(d)
		checkErr(t, err, rampart.CodeInvalid, "number out of range")
	}
}

func TestPullAPI(t *testing.T) {
	d := Get([]byte(`{"name":"x\n","n":[1,2],"ok":true,"z":null,"o":{"p":"q"}}`), protocol.DefaultLimits())
	defer Put(d)
	if err := d.BeginObject(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		k, ok, err := d.Key()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		key := string(k)
		switch key {
		case "name":
			s, err := d.Text()
			if err != nil || s != "x\n" {
				t.Fatalf("name %q %v", s, err)
			}
		case "n":
			if err := d.BeginArray(); err != nil {
				t.Fatal(err)
			}
			for {
				more, err := d.More()
				if err != nil {
					t.Fatal(err)
				}
				if !more {
					break
				}
				if _, err := d.Float(); err != nil {
					t.Fatal(err)
				}
			}
		case "ok", "z":
			v, ok, err := d.Scalar()
			if !ok || err != nil || (key == "ok" && v != true) || (key == "z" && v != nil) {
				t.Fatalf("scalar %v %v %v", v, ok, err)
			}
		case "o":
			if _, ok, _ := d.Scalar(); ok {
				t.Fatal("object read as scalar")
			}
			if err := d.Skip(); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, key)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "name,n,ok,z,o" {
		t.Errorf("keys %v", got)
	}
	if d.Depth() != 0 {
		t.Errorf("depth %d", d.Depth())
	}
}

// FuzzStrictJSON checks that whatever the strict reader accepts,
// encoding/json accepts too, and that numbers it converts match strconv.
func FuzzStrictJSON(f *testing.F) {
	for _, tc := range validateCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`[0.1,-2.5,1e10,123456789012345678,0.000001]`))
	lim := protocol.Limits{MaxDepth: 16, MaxElements: 1000, MaxStringLen: 1000}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Validate(data, lim)
		if err != nil {
			if c := rampart.ErrorCode(err); c != rampart.CodeInvalid && c != rampart.CodeTooLarge {
				t.Fatalf("error code %s: %v", c, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("accepted %q, encoding/json says %v", data, err)
		}
		if n, ok := v.(json.Number); ok {
			want, werr := strconv.ParseFloat(string(n), 64)
			d := Get(data, lim)
			got, err := d.Float()
			Put(d)
			if (err == nil) != (werr == nil) || (err == nil && math.Float64bits(got) != math.Float64bits(want)) {
				t.Fatalf("Float(%s) = %v, %v; strconv %v, %v", data, got, err, want, werr)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Hello there, how are you today?"}],"temperature":0.7,"max_tokens":128}`)
	lim := protocol.DefaultLimits()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(body, lim); err != nil {
			b.Fatal(err)
		}
	}
}
