package oip

import (
	"errors"
	"testing"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
)

// FuzzDecodeInfer decodes arbitrary bodies, with and without a binary
// header length, and checks the decoder's promises on success: element
// counts match shapes and data, and binary sizes add up.
func FuzzDecodeInfer(f *testing.F) {
	for _, tc := range inferCases {
		f.Add([]byte(tc.body), -1)
	}
	hdr := `{"inputs":[{"name":"a","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}`
	body, n := binaryBody(hdr, le32(1, 2), bytesElems("ab"))
	f.Add(body, n)
	f.Add([]byte(`{"inputs":[{"name":"h","datatype":"FP16","shape":[1],"parameters":{"binary_data_size":2}}]}`+"\x00\x7c"), 92)
	lim := protocol.Limits{MaxBodyBytes: 1 << 16, MaxDepth: 8, MaxTensors: 4, MaxElements: 4096, MaxStringLen: 256}
	f.Fuzz(func(t *testing.T, body []byte, jsonLen int) {
		var inf rampart.Inference
		err := DecodeInfer(body, jsonLen, lim, &inf)
		if err != nil {
			var re *rampart.Error
			if !errors.As(err, &re) || re.Message == "" {
				t.Fatalf("error %v is not a *rampart.Error with a message", err)
			}
			return
		}
		binTotal := 0
		for _, ts := range inf.Tensors {
			n, ok := product(ts.Shape, lim.MaxElements)
			if !ok || n != ts.Elements {
				t.Fatalf("tensor %q: elements %d for shape %v", ts.Name, ts.Elements, ts.Shape)
			}
			binTotal += ts.BinarySize
			switch {
			case ts.Datatype == "BYTES":
				if len(ts.Strings) != n {
					t.Fatalf("tensor %q: %d strings for %d elements", ts.Name, len(ts.Strings), n)
				}
			case ts.BinarySize > 0:
				if ts.Numbers != nil {
					t.Fatalf("binary tensor %q has numbers", ts.Name)
				}
			default:
				if len(ts.Numbers) != n {
					t.Fatalf("tensor %q: %d numbers for %d elements", ts.Name, len(ts.Numbers), n)
				}
			}
		}
		if binTotal != inf.BinaryBytes {
			t.Fatalf("binary sizes add to %d, BinaryBytes %d", binTotal, inf.BinaryBytes)
		}
	})
}

func FuzzParseModelMetadata(f *testing.F) {
	f.Add([]byte(`{"name":"resnet","versions":["1"],"platform":"p","inputs":[{"name":"x","datatype":"FP32","shape":[-1,3]}],"outputs":[]}`))
	f.Add([]byte(`{"name":"m","inputs":[{"name":"x","datatype":"F","shape":[1]}]}`))
	f.Add([]byte(`{"name":"m","name":"n"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		md, err := ParseModelMetadata(body)
		if err != nil {
			if rampart.ErrorMessage(err) == "internal error" {
				t.Fatalf("error without a safe message: %v", err)
			}
			return
		}
		if md.Name == "" {
			t.Fatal("accepted metadata without a name")
		}
		for _, ts := range append(md.Inputs, md.Outputs...) {
			if lookupDatatype([]byte(ts.Datatype)) == nil || ts.Name == "" {
				t.Fatalf("accepted tensor %+v", ts)
			}
			for _, d := range ts.Shape {
				if d < -1 {
					t.Fatalf("accepted shape %v", ts.Shape)
				}
			}
		}
	})
}
