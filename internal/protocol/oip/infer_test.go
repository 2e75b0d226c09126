package oip

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

func tensorReq(name, dt, shape, data string) string {
	return `{"inputs":[{"name":"` + name + `","datatype":"` + dt + `","shape":` + shape + `,"data":` + data + `}]}`
}

type inferCase struct {
	name string
	body string
	// want, when set, is the only tensor expected.
	want *rampart.Tensor
	code rampart.Code // expected error code, "" for success
	msg  string       // substring of the error message
}

var inferCases = []inferCase{
	{name: "bool", body: tensorReq("b", "BOOL", "[3]", "[true,false,true]"),
		want: &rampart.Tensor{Name: "b", Datatype: "BOOL", Shape: []int64{3}, Elements: 3, Numbers: []float64{1, 0, 1}}},
	{name: "int8 bounds", body: tensorReq("x", "INT8", "[2]", "[-128,127]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT8", Shape: []int64{2}, Elements: 2, Numbers: []float64{-128, 127}}},
	{name: "int16", body: tensorReq("x", "INT16", "[2]", "[-32768,32767]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT16", Shape: []int64{2}, Elements: 2, Numbers: []float64{-32768, 32767}}},
	{name: "int32", body: tensorReq("x", "INT32", "[1]", "[-2147483648]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT32", Shape: []int64{1}, Elements: 1, Numbers: []float64{-2147483648}}},
	{name: "int64 bounds", body: tensorReq("x", "INT64", "[2]", "[-9223372036854775808,9223372036854775807]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT64", Shape: []int64{2}, Elements: 2, Numbers: []float64{math.MinInt64, math.MaxInt64}}},
	{name: "uint8", body: tensorReq("x", "UINT8", "[2]", "[0,255]"),
		want: &rampart.Tensor{Name: "x", Datatype: "UINT8", Shape: []int64{2}, Elements: 2, Numbers: []float64{0, 255}}},
	{name: "uint16", body: tensorReq("x", "UINT16", "[1]", "[65535]"),
		want: &rampart.Tensor{Name: "x", Datatype: "UINT16", Shape: []int64{1}, Elements: 1, Numbers: []float64{65535}}},
	{name: "uint32", body: tensorReq("x", "UINT32", "[1]", "[4294967295]"),
		want: &rampart.Tensor{Name: "x", Datatype: "UINT32", Shape: []int64{1}, Elements: 1, Numbers: []float64{4294967295}}},
	{name: "uint64", body: tensorReq("x", "UINT64", "[1]", "[18446744073709551615]"),
		want: &rampart.Tensor{Name: "x", Datatype: "UINT64", Shape: []int64{1}, Elements: 1, Numbers: []float64{math.MaxUint64}}},
	{name: "integral float literal for int", body: tensorReq("x", "INT32", "[2]", "[1.0,2e3]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT32", Shape: []int64{2}, Elements: 2, Numbers: []float64{1, 2000}}},
	{name: "negative zero uint", body: tensorReq("x", "UINT8", "[1]", "[-0]"),
		want: &rampart.Tensor{Name: "x", Datatype: "UINT8", Shape: []int64{1}, Elements: 1, Numbers: []float64{0}}},
	{name: "fp16", body: tensorReq("x", "FP16", "[2]", "[65504,-0.5]"),
		want: &rampart.Tensor{Name: "x", Datatype: "FP16", Shape: []int64{2}, Elements: 2, Numbers: []float64{65504, -0.5}}},
	{name: "fp32", body: tensorReq("x", "FP32", "[1,3]", "[0.25,-1.5,3]"),
		want: &rampart.Tensor{Name: "x", Datatype: "FP32", Shape: []int64{1, 3}, Elements: 3, Numbers: []float64{0.25, -1.5, 3}}},
	{name: "fp64 exponent", body: tensorReq("x", "FP64", "[2]", "[1e300,-2.5E-3]"),
		want: &rampart.Tensor{Name: "x", Datatype: "FP64", Shape: []int64{2}, Elements: 2, Numbers: []float64{1e300, -2.5e-3}}},
	{name: "fp32 nan and inf strings", body: tensorReq("x", "FP32", "[4]", `["NaN","Inf","-Infinity",1]`),
		want: &rampart.Tensor{Name: "x", Datatype: "FP32", Shape: []int64{4}, Elements: 4, Numbers: []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1}, NaNs: 1, Infs: 2}},
	{name: "bytes", body: tensorReq("s", "BYTES", "[2]", `["hello","w\u00f6rld"]`),
		want: &rampart.Tensor{Name: "s", Datatype: "BYTES", Shape: []int64{2}, Elements: 2, Strings: []string{"hello", "wörld"}}},
	{name: "nested", body: tensorReq("x", "INT32", "[2,3]", "[[1,2,3],[4,5,6]]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT32", Shape: []int64{2, 3}, Elements: 6, Numbers: []float64{1, 2, 3, 4, 5, 6}}},
	{name: "nested three levels", body: tensorReq("x", "INT8", "[2,1,2]", "[[[1,2]],[[3,4]]]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT8", Shape: []int64{2, 1, 2}, Elements: 4, Numbers: []float64{1, 2, 3, 4}}},
	{name: "flat for rank 2", body: tensorReq("x", "INT32", "[2,2]", "[1,2,3,4]"),
		want: &rampart.Tensor{Name: "x", Datatype: "INT32", Shape: []int64{2, 2}, Elements: 4, Numbers: []float64{1, 2, 3, 4}}},
	{name: "scalar shape", body: tensorReq("x", "FP64", "[]", "[7]"),
		want: &rampart.Tensor{Name: "x", Datatype: "FP64", Shape: []int64{}, Elements: 1, Numbers: []float64{7}}},
	{name: "zero elements", body: tensorReq("x", "FP32", "[0,4]", "[]"),
		want: &rampart.Tensor{Name: "x", Datatype: "FP32", Shape: []int64{0, 4}, Elements: 0, Numbers: []float64{}}},
	{name: "data before shape and datatype",
		body: `{"inputs":[{"data":[[1,2],[3,4]],"name":"x","shape":[2,2],"datatype":"UINT8"}]}`,
		want: &rampart.Tensor{Name: "x", Datatype: "UINT8", Shape: []int64{2, 2}, Elements: 4, Numbers: []float64{1, 2, 3, 4}}},
	{name: "full request", body: `{"id":"r1","parameters":{"priority":1,"tag":"a","deep":{"x":1},"flag":true},
		"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],"parameters":{"content_type":"np"}}],
		"outputs":[{"name":"y","parameters":{"binary_data":false}}]}`,
		want: &rampart.Tensor{Name: "x", Datatype: "FP32", Shape: []int64{1}, Elements: 1, Numbers: []float64{1}}},

	// Element and shape errors.
	{name: "too few elements", body: tensorReq("x", "FP32", "[2,3]", "[1,2,3,4,5]"), code: rampart.CodeInvalid,
		msg: `input "x": shape [2,3] needs 6 elements, data has 5`},
	{name: "too many elements", body: tensorReq("x", "FP32", "[2]", "[1,2,3]"), code: rampart.CodeInvalid, msg: "needs 2 elements, data has 3"},
	{name: "int8 overflow", body: tensorReq("x", "INT8", "[1]", "[128]"), code: rampart.CodeInvalid, msg: `INT8 element 0 ("128") is out of range`},
	{name: "int8 underflow", body: tensorReq("x", "INT8", "[1]", "[-129]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "int64 overflow", body: tensorReq("x", "INT64", "[1]", "[9223372036854775808]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "int64 float overflow", body: tensorReq("x", "INT64", "[1]", "[9.3e18]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "uint negative", body: tensorReq("x", "UINT32", "[1]", "[-1]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "uint64 overflow", body: tensorReq("x", "UINT64", "[1]", "[18446744073709551616]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "int fraction", body: tensorReq("x", "INT32", "[1]", "[1.5]"), code: rampart.CodeInvalid, msg: "is not an integer"},
	{name: "int string", body: tensorReq("x", "INT32", "[1]", `["1"]`), code: rampart.CodeInvalid, msg: "must be an integer, not string"},
	{name: "bool number", body: tensorReq("x", "BOOL", "[1]", "[1]"), code: rampart.CodeInvalid, msg: "must be true or false"},
	{name: "bytes number", body: tensorReq("x", "BYTES", "[1]", "[1]"), code: rampart.CodeInvalid, msg: "must be a string"},
	{name: "fp16 overflow", body: tensorReq("x", "FP16", "[1]", "[65505]"), code: rampart.CodeInvalid, msg: "FP16 element 0 is out of range"},
	{name: "fp32 overflow", body: tensorReq("x", "FP32", "[1]", "[1e39]"), code: rampart.CodeInvalid, msg: "out of range"},
	{name: "fp64 overflow", body: tensorReq("x", "FP64", "[1]", "[1e309]"), code: rampart.CodeInvalid, msg: "number out of range"},
	{name: "fp bad string", body: tensorReq("x", "FP32", "[1]", `["nan"]`), code: rampart.CodeInvalid, msg: `not "nan"`},
	{name: "fp bool", body: tensorReq("x", "FP32", "[1]", `[true]`), code: rampart.CodeInvalid, msg: "must be a number, not boolean"},
	{name: "fp null", body: tensorReq("x", "FP32", "[1]", `[null]`), code: rampart.CodeInvalid, msg: "must be a number, not null"},
	{name: "nested wrong length", body: tensorReq("x", "INT32", "[2,3]", "[[1,2,3],[4,5]]"), code: rampart.CodeInvalid, msg: "nested data has 2 entries at depth 2"},
	{name: "nested too deep", body: tensorReq("x", "INT32", "[2]", "[[1],[2]]"), code: rampart.CodeInvalid, msg: "nested deeper than shape"},
	{name: "nested mixed", body: tensorReq("x", "INT32", "[2,1]", "[[1],2]"), code: rampart.CodeInvalid, msg: "must be arrays at depth 1"},
	{name: "nested leaf array", body: tensorReq("x", "INT32", "[1,1]", "[[[1]]]"), code: rampart.CodeInvalid, msg: "nested deeper than shape"},
	{name: "flat then array", body: tensorReq("x", "INT32", "[2]", "[1,[2]]"), code: rampart.CodeInvalid, msg: "must be an integer, not array"},
	{name: "data not array", body: tensorReq("x", "INT32", "[1]", "1"), code: rampart.CodeInvalid, msg: "data must be an array, not number"},
	{name: "late data not array", body: `{"inputs":[{"data":1,"name":"x","datatype":"INT32","shape":[1]}]}`, code: rampart.CodeInvalid, msg: "data must be an array"},
	{name: "late data wrong type", body: `{"inputs":[{"data":["a"],"name":"x","datatype":"INT32","shape":[1]}]}`, code: rampart.CodeInvalid, msg: "must be an integer, not string"},
	{name: "negative dim", body: tensorReq("x", "INT32", "[-1]", "[]"), code: rampart.CodeInvalid, msg: `shape dimension "-1" is not a non-negative integer`},
	{name: "fraction dim", body: tensorReq("x", "INT32", "[1.5]", "[1]"), code: rampart.CodeInvalid, msg: "not a non-negative integer"},
	{name: "shape not array", body: tensorReq("x", "INT32", `"2"`, "[1]"), code: rampart.CodeInvalid, msg: "shape must be an array"},
	{name: "shape of strings", body: tensorReq("x", "INT32", `["2"]`, "[1]"), code: rampart.CodeInvalid, msg: "shape must be an array of integers"},
	{name: "shape too many elements", body: tensorReq("x", "INT8", "[1048577]", "[]"), code: rampart.CodeTooLarge, msg: "has more than 1048576 elements"},
	{name: "shape product overflow", body: tensorReq("x", "INT8", "[4294967296,4294967296,4294967296]", "[]"), code: rampart.CodeTooLarge},
	{name: "rank too high", body: tensorReq("x", "INT8", "["+strings.Repeat("1,", 32)+"1]", "[1]"), code: rampart.CodeInvalid, msg: "more than 32 dimensions"},
	{name: "unknown datatype", body: tensorReq("x", "FP8", "[1]", "[1]"), code: rampart.CodeInvalid, msg: `unknown datatype "FP8"`},
	{name: "lower-case datatype", body: tensorReq("x", "fp32", "[1]", "[1]"), code: rampart.CodeInvalid, msg: "unknown datatype"},

	// Structure errors.
	{name: "not an object", body: `[1]`, code: rampart.CodeInvalid, msg: "must be a JSON object, not array"},
	{name: "no inputs", body: `{"id":"x"}`, code: rampart.CodeInvalid, msg: `no "inputs"`},
	{name: "empty inputs", body: `{"inputs":[]}`, code: rampart.CodeInvalid, msg: "has no inputs"},
	{name: "unknown top field", body: `{"inputs":[],"raw_input_contents":[]}`, code: rampart.CodeInvalid, msg: "has no inputs"},
	{name: "unknown top field first", body: `{"raw_input_contents":[],"inputs":[]}`, code: rampart.CodeInvalid, msg: `unknown field "raw_input_contents"`},
	{name: "unknown input field", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1],"contents":{}}]}`, code: rampart.CodeInvalid, msg: `input "x": unknown field "contents"`},
	{name: "no name", body: `{"inputs":[{"datatype":"INT8","shape":[1],"data":[1]}]}`, code: rampart.CodeInvalid, msg: "inputs[0] has no name"},
	{name: "empty name", body: tensorReq("", "INT8", "[1]", "[1]"), code: rampart.CodeInvalid, msg: "name must be 1 to 256 bytes"},
	{name: "no datatype", body: `{"inputs":[{"name":"x","shape":[1],"data":[1]}]}`, code: rampart.CodeInvalid, msg: `input "x" has no datatype`},
	{name: "no shape", body: `{"inputs":[{"name":"x","datatype":"INT8","data":[1]}]}`, code: rampart.CodeInvalid, msg: "has no shape"},
	{name: "no data", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1]}]}`, code: rampart.CodeInvalid, msg: "has no data"},
	{name: "duplicate input", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]},{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]}`,
		code: rampart.CodeInvalid, msg: `input "x" appears more than once`},
	{name: "input not object", body: `{"inputs":[1]}`, code: rampart.CodeInvalid, msg: "inputs[0] must be an object"},
	{name: "name not string", body: `{"inputs":[{"name":1}]}`, code: rampart.CodeInvalid, msg: "inputs[0] name must be a string"},
	{name: "id not string", body: `{"id":1,"inputs":[]}`, code: rampart.CodeInvalid, msg: "id must be a string"},
	{name: "parameters not object", body: `{"parameters":[],"inputs":[]}`, code: rampart.CodeInvalid, msg: "parameters must be an object"},
	{name: "shared memory input", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"parameters":{"shared_memory_region":"r"}}]}`,
		code: rampart.CodeInvalid, msg: "shared-memory inputs are not supported"},
	{name: "shared memory output", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{"name":"y","parameters":{"shared_memory_region":"r"}}]}`,
		code: rampart.CodeInvalid, msg: "shared-memory parameters are not supported"},
	{name: "output without name", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{}]}`, code: rampart.CodeInvalid, msg: "outputs[0] has no name"},
	{name: "output unknown field", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{"name":"y","classification":3}]}`,
		code: rampart.CodeInvalid, msg: `outputs[0]: unknown field "classification"`},
	{name: "outputs not array", body: `{"outputs":{},"inputs":[]}`, code: rampart.CodeInvalid, msg: "outputs must be an array"},
	{name: "binary size without header", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"parameters":{"binary_data_size":1}}]}`,
		code: rampart.CodeInvalid, msg: "needs the Inference-Header-Content-Length header"},
	{name: "data and binary", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1],"parameters":{"binary_data_size":1}}]}`,
		code: rampart.CodeInvalid, msg: "has both data and binary_data_size"},
	{name: "binary size not integer", body: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"parameters":{"binary_data_size":-1}}]}`,
		code: rampart.CodeInvalid, msg: "binary_data_size"},

	// Strict JSON.
	{name: "duplicate key", body: `{"inputs":[{"name":"x","name":"y","datatype":"INT8","shape":[1],"data":[1]}]}`, code: rampart.CodeInvalid, msg: `invalid JSON at byte 23: duplicate object key "name"`},
	{name: "duplicate escaped key", body: `{"inputs":[],"\u0069nputs":[]}`, code: rampart.CodeInvalid, msg: "has no inputs"},
	{name: "trailing data", body: tensorReq("x", "INT8", "[1]", "[1]") + "{}", code: rampart.CodeInvalid, msg: "trailing data"},
	{name: "invalid utf8", body: tensorReq("x\xff", "INT8", "[1]", "[1]"), code: rampart.CodeInvalid, msg: "invalid UTF-8"},
	{name: "truncated", body: `{"inputs":[{"name":"x"`, code: rampart.CodeInvalid, msg: "unexpected end of input"},
	{name: "empty body", body: ``, code: rampart.CodeInvalid, msg: "unexpected end of input"},
}

func TestDecodeInfer(t *testing.T) {
	for _, tc := range inferCases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			err := DecodeInfer([]byte(tc.body), -1, protocol.DefaultLimits(), &inf)
			checkErr(t, err, tc.code, tc.msg)
			if err != nil || tc.want == nil {
				return
			}
			if len(inf.Tensors) != 1 {
				t.Fatalf("got %d tensors, want 1", len(inf.Tensors))
			}
			assertTensor(t, &inf.Tensors[0], tc.want)
			if inf.Protocol != rampart.ProtocolOIP || inf.BodyBytes != len(tc.body) {
				t.Errorf("protocol %q body bytes %d", inf.Protocol, inf.BodyBytes)
			}
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
		t.Fatalf("no error, want %s %q", code, msg)
	}
	var re *rampart.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v is %T, not *rampart.Error", err, err)
	}
	if re.Code != code {
		t.Errorf("code %s, want %s (%v)", re.Code, code, err)
	}
	if !strings.Contains(re.Message, msg) {
		t.Errorf("message %q does not contain %q", re.Message, msg)
	}
}

func assertTensor(t *testing.T, got, want *rampart.Tensor) {
	t.Helper()
	g, w := *got, *want
	if len(g.Numbers) != len(w.Numbers) {
		t.Fatalf("numbers %v, want %v", g.Numbers, w.Numbers)
	}
	for i := range g.Numbers {
		a, b := g.Numbers[i], w.Numbers[i]
		if !(a == b || (math.IsNaN(a) && math.IsNaN(b))) {
			t.Errorf("numbers[%d] = %v, want %v", i, a, b)
		}
	}
	g.Numbers, w.Numbers = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("tensor\n got %+v\nwant %+v", g, w)
	}
}

func TestDecodeInferParameters(t *testing.T) {
	body := `{"parameters":{"priority":2,"tag":"a","deep":{"x":1},"flag":true,"nil":null},"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]}`
	var inf rampart.Inference
	if err := DecodeInfer([]byte(body), -1, protocol.DefaultLimits(), &inf); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"priority": 2.0, "tag": "a", "flag": true, "nil": nil}
	if !reflect.DeepEqual(inf.Parameters, want) {
		t.Errorf("parameters %v, want %v", inf.Parameters, want)
	}
}

func TestDecodeInferLimits(t *testing.T) {
	small := protocol.Limits{MaxBodyBytes: 200, MaxDepth: 4, MaxTensors: 2, MaxElements: 20, MaxStringLen: 8}
	cases := []struct {
		name string
		body string
		msg  string
	}{
		{"body", tensorReq("x", "INT8", "[1]", "[1]") + strings.Repeat(" ", 200), "request body is"},
		{"depth", tensorReq("x", "INT8", "[1,1,1]", "[[[1]]]"), "nesting depth exceeds the limit of 4"},
		{"tensors", `{"inputs":[` + strings.Repeat(`{"name":"x","datatype":"INT8","shape":[1],"data":[1]},`, 2) + `{}]}`, "more than 2 inputs"},
		{"outputs", `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}],"outputs":[{"name":"a"},{"name":"b"},{}]}`, "more than 2 outputs"},
		{"elements", tensorReq("x", "INT8", "[2]", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]"), "number of array elements and object members exceeds"},
		{"shape elements", tensorReq("x", "INT8", "[21]", "[]"), "has more than 20 elements"},
		{"string", tensorReq("abcdefghij", "INT8", "[1]", "[1]"), "string length exceeds the limit of 8"},
		{"number", tensorReq("x", "FP64", "[1]", "[1.000000001]"), "number length exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var inf rampart.Inference
			err := DecodeInfer([]byte(tc.body), -1, small, &inf)
			checkErr(t, err, rampart.CodeTooLarge, tc.msg)
		})
	}
}

// binaryBody builds a Triton binary-extension request: the JSON header and
// the raw tensor bytes after it.
func binaryBody(header string, data ...[]byte) ([]byte, int) {
	b := []byte(header)
	for _, d := range data {
		b = append(b, d...)
	}
	return b, len(header)
}

func le32(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func bytesElems(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestDecodeInferBinary(t *testing.T) {
	fp := le32(1, float32(math.NaN()), float32(math.Inf(1)), 2)
	strs := bytesElems("ab", "", "cde")
	hdr := `{"inputs":[{"name":"a","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}},` +
		`{"name":"j","datatype":"INT8","shape":[2],"data":[1,2]},` +
		`{"name":"s","datatype":"BYTES","shape":[3],"parameters":{"binary_data_size":17}}],"outputs":[{"name":"o","parameters":{"binary_data":true}}]}`
	body, n := binaryBody(hdr, fp, strs)
	var inf rampart.Inference
	if err := DecodeInfer(body, n, protocol.DefaultLimits(), &inf); err != nil {
		t.Fatal(err)
	}
	if inf.BinaryBytes != 33 || inf.BodyBytes != len(body) {
		t.Errorf("binary bytes %d body %d", inf.BinaryBytes, inf.BodyBytes)
	}
	a := inf.Tensors[0]
	if a.BinarySize != 16 || a.Elements != 4 || a.NaNs != 1 || a.Infs != 1 || a.Numbers != nil {
		t.Errorf("tensor a = %+v", a)
	}
	if s := inf.Tensors[2]; !reflect.DeepEqual(s.Strings, []string{"ab", "", "cde"}) || s.BinarySize != 17 {
		t.Errorf("tensor s = %+v", s)
	}

	half := []byte{0x00, 0x7c, 0x01, 0x7c, 0x00, 0x3c} // +Inf, NaN, 1.0
	fp64 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Inf(-1)))
	cases := []struct {
		name  string
		hdr   string
		data  [][]byte
		nans  int
		infs  int
		code  rampart.Code
		msg   string
		split int // jsonLen override when > 0
	}{
		{name: "fp16 nan inf", hdr: `{"inputs":[{"name":"h","datatype":"FP16","shape":[3],"parameters":{"binary_data_size":6}}]}`, data: [][]byte{half}, nans: 1, infs: 1},
		{name: "fp64 inf", hdr: `{"inputs":[{"name":"d","datatype":"FP64","shape":[1],"parameters":{"binary_data_size":8}}]}`, data: [][]byte{fp64}, infs: 1},
		{name: "zero size", hdr: `{"inputs":[{"name":"z","datatype":"INT32","shape":[0],"parameters":{"binary_data_size":0}}]}`},
		{name: "header only", hdr: `{"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]}`},
		{name: "size mismatch with shape", hdr: `{"inputs":[{"name":"a","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":16}}]}`, data: [][]byte{fp},
			code: rampart.CodeInvalid, msg: `input "a": shape [3] of FP32 needs 12 bytes of binary data, binary_data_size is 16`},
		{name: "sum mismatch", hdr: `{"inputs":[{"name":"a","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":16}}]}`, data: [][]byte{fp, {0}},
			code: rampart.CodeInvalid, msg: "binary data is 17 bytes but the inputs declare 16"},
		{name: "bytes truncated prefix", hdr: `{"inputs":[{"name":"s","datatype":"BYTES","shape":[3],"parameters":{"binary_data_size":9}}]}`, data: [][]byte{bytesElems("abcde")},
			code: rampart.CodeInvalid, msg: "room for at most 2"},
		{name: "bytes truncated element", hdr: `{"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}`, data: [][]byte{bytesElems("abcde")[:6]},
			code: rampart.CodeInvalid, msg: "is 5 bytes, only 2 remain"},
		{name: "bytes trailing", hdr: `{"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":8}}]}`, data: [][]byte{bytesElems("ab"), {1, 2}},
			code: rampart.CodeInvalid, msg: "2 bytes of binary data follow the last BYTES element"},
		{name: "bytes short prefix", hdr: `{"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":8}}]}`, data: [][]byte{bytesElems("a"), {1, 0, 0}},
			code: rampart.CodeInvalid, msg: "element 1 is truncated"},
		{name: "header length beyond body", hdr: `{}`, split: 100, code: rampart.CodeInvalid, msg: "Inference-Header-Content-Length is 100 but the body is only 2 bytes"},
		{name: "header cut", hdr: `{"inputs":[]}`, split: 5, code: rampart.CodeInvalid, msg: "invalid JSON at byte 1: unterminated string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, n := binaryBody(tc.hdr, tc.data...)
			if tc.split > 0 {
				n = tc.split
			}
			var inf rampart.Inference
			err := DecodeInfer(body, n, protocol.DefaultLimits(), &inf)
			checkErr(t, err, tc.code, tc.msg)
			if err != nil {
				return
			}
			if inf.Tensors[0].NaNs != tc.nans || inf.Tensors[0].Infs != tc.infs {
				t.Errorf("nans %d infs %d, want %d %d", inf.Tensors[0].NaNs, inf.Tensors[0].Infs, tc.nans, tc.infs)
			}
		})
	}
}

// TestDecodeInferHugeShapeSmallBody guards against a request that declares
// a shape of a million elements with a tiny body: preallocation must follow
// the bytes present, not the shape the client claims.
func TestDecodeInferHugeShapeSmallBody(t *testing.T) {
	body := []byte(tensorReq("x", "FP64", "[1048576]", "[1]"))
	var ms1, ms2 runtimeMem
	ms1.read()
	var inf rampart.Inference
	err := DecodeInfer(body, -1, protocol.DefaultLimits(), &inf)
	ms2.read()
	checkErr(t, err, rampart.CodeInvalid, "needs 1048576 elements, data has 1")
	if d := ms2.total - ms1.total; d > 64<<10 {
		t.Errorf("decoding allocated %d bytes for a %d-byte body", d, len(body))
	}
}

// TestDecodeInferHugeBinaryBytesShape: a BYTES tensor declaring a million
// elements over 8 bytes of binary data must fail before allocating.
func TestDecodeInferHugeBinaryBytesShape(t *testing.T) {
	body, n := binaryBody(`{"inputs":[{"name":"s","datatype":"BYTES","shape":[1048576],"parameters":{"binary_data_size":8}}]}`, make([]byte, 8))
	var inf rampart.Inference
	checkErr(t, DecodeInfer(body, n, protocol.DefaultLimits(), &inf), rampart.CodeInvalid, "room for at most 2")
}

func TestDecodeInferAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	body := smallFP32Body(30)
	lim := protocol.DefaultLimits()
	allocs := testing.AllocsPerRun(100, func() {
		var inf rampart.Inference
		if err := DecodeInfer(body, -1, lim, &inf); err != nil {
			t.Fatal(err)
		}
	})
	// Tensors, name, shape, numbers.
	if allocs > 6 {
		t.Errorf("decoding a 30-element FP32 request allocates %v times", allocs)
	}
}
