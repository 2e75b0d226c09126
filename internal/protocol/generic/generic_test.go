package generic

import (
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustCompile(t testing.TB) *Validator {
	t.Helper()
	v, err := Compile(filepath.Join("testdata", "request.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCompileErrors(t *testing.T) {
	for _, name := range []string{"missing.schema.json", "bad.schema.json", "broken.schema.json"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			_, err := Compile(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("Compile(%s) = %v, want an error naming the file", path, err)
			}
		})
	}
}

var genericCases = []struct {
	name string
	body string
	code rampart.Code
	msg  string
}{
	{name: "valid", body: `{"model":"fraud-v2","stream":true,"threshold":0.5,"email":"a@example.com","note":"hi","features":[{"name":"amount","value":12.5}]}`},
	{name: "missing required", body: `{"features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: `at "" (required)`},
	{name: "nested type", body: `{"model":"m","features":[{"name":"a","value":"x"}]}`, code: rampart.CodeInvalid, msg: `at "/features/0/value" (type)`},
	{name: "pattern", body: `{"model":"m","features":[{"name":"A B","value":1}]}`, code: rampart.CodeInvalid, msg: `at "/features/0/name" (pattern)`},
	{name: "format asserted", body: `{"model":"m","email":"not-an-email","features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: `at "/email" (format)`},
	{name: "maximum", body: `{"model":"m","threshold":2,"features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: `at "/threshold" (maximum)`},
	{name: "additional property", body: `{"model":"m","evil":1,"features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: "(additionalProperties)"},
	{name: "min items", body: `{"model":"m","features":[]}`, code: rampart.CodeInvalid, msg: `at "/features" (minItems)`},
	{name: "pointer escaping", body: `{"model":"m","a/b~c":1,"features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: "additionalProperties"},
	{name: "insane model", body: `{"model":"../x","features":[{"name":"a","value":1}]}`, code: rampart.CodeInvalid, msg: "model must be"},
	{name: "duplicate key", body: `{"model":"m","model":"n","features":[]}`, code: rampart.CodeInvalid, msg: "duplicate object key"},
	{name: "invalid utf8", body: "{\"model\":\"\xff\"}", code: rampart.CodeInvalid, msg: "invalid UTF-8"},
	{name: "trailing", body: `{} []`, code: rampart.CodeInvalid, msg: "trailing data"},
	{name: "not json", body: `model=m`, code: rampart.CodeInvalid, msg: "invalid JSON at byte 0"},
}

func TestDecode(t *testing.T) {
	v := mustCompile(t)
	for _, tc := range genericCases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			err := v.Decode([]byte(tc.body), protocol.DefaultLimits(), &inf)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *rampart.Error
			if !errors.As(err, &re) || re.Code != tc.code || !strings.Contains(re.Message, tc.msg) {
				t.Fatalf("error %v, want %s containing %q", err, tc.code, tc.msg)
			}
			if strings.Contains(re.Message, "request.schema.json") || strings.Contains(re.Message, "file://") {
				t.Errorf("message leaks the schema location: %q", re.Message)
			}
		})
	}
}

func TestDecodeFills(t *testing.T) {
	v := mustCompile(t)
	var inf rampart.Inference
	body := `{"model":"fraud-v2","stream":true,"threshold":0.5,"note":"hello","features":[{"name":"amount","value":12.5}]}`
	if err := v.Decode([]byte(body), protocol.DefaultLimits(), &inf); err != nil {
		t.Fatal(err)
	}
	if inf.Protocol != rampart.ProtocolGeneric || inf.Model != "fraud-v2" || !inf.Stream || inf.BodyBytes != len(body) {
		t.Errorf("inference %+v", inf)
	}
	if want := map[string]any{"threshold": 0.5, "note": "hello"}; !reflect.DeepEqual(inf.Parameters, want) {
		t.Errorf("parameters %v", inf.Parameters)
	}
	want := []rampart.TextPart{{Role: "input", Text: "amount"}, {Role: "input", Text: "fraud-v2"}, {Role: "input", Text: "hello"}}
	if !reflect.DeepEqual(inf.Texts, want) {
		t.Errorf("texts %v", inf.Texts)
	}
}

func TestDecodeLimits(t *testing.T) {
	v := mustCompile(t)
	lim := protocol.Limits{MaxBodyBytes: 100, MaxDepth: 3, MaxElements: 10, MaxStringLen: 8}
	cases := []struct{ name, body, msg string }{
		{"body", `{"model":"` + strings.Repeat("m", 100) + `"}`, "request body is"},
		{"depth", `{"features":[{"x":[1]}]}`, "nesting depth"},
		{"string", `{"model":"abcdefghi"}`, "string length"},
		{"elements", `{"features":[1,2,3,4,5,6,7,8,9,10]}`, "number of array elements"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			err := v.Decode([]byte(tc.body), lim, &inf)
			if rampart.ErrorCode(err) != rampart.CodeTooLarge || !strings.Contains(rampart.ErrorMessage(err), tc.msg) {
				t.Errorf("error %v", err)
			}
		})
	}
}

func TestWriteErrorGolden(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, 400, `request body does not match the schema at "/features/0/value" (type)`, "req-7")
	if rec.Code != 400 || rec.Header().Get("X-Request-Id") != "req-7" {
		t.Errorf("status %d headers %v", rec.Code, rec.Header())
	}
	path := filepath.Join("testdata", "error.golden")
	if *update {
		if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != string(want) {
		t.Errorf("body %s, want %s", rec.Body.String(), want)
	}
}

func FuzzGeneric(f *testing.F) {
	for _, tc := range genericCases {
		f.Add([]byte(tc.body))
	}
	v := mustCompile(f)
	lim := protocol.Limits{MaxBodyBytes: 1 << 16, MaxDepth: 8, MaxElements: 1024, MaxStringLen: 256}
	f.Fuzz(func(t *testing.T, body []byte) {
		var inf rampart.Inference
		err := v.Decode(body, lim, &inf)
		if err == nil {
			return
		}
		if c := rampart.ErrorCode(err); c != rampart.CodeInvalid && c != rampart.CodeTooLarge {
			t.Fatalf("code %s for %q: %v", c, body, err)
		}
	})
}
