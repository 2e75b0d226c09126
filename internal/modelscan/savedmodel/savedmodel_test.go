package savedmodel

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func node(name, op string) []byte {
	return bytesField(1, msg(bytesField(1, []byte(name)), bytesField(2, []byte(op)), bytesField(3, []byte("input:0"))))
}

// savedModel builds saved_model.pb bytes: schema version 1 and one meta
// graph whose graph holds nodes, plus library functions holding fnNodes.
func savedModel(nodes [][]byte, fnNodes [][]byte) []byte {
	graph := msg(nodes...)
	if len(fnNodes) > 0 {
		var fn []byte
		for _, n := range fnNodes {
			// FunctionDef.node_def is field 3; reuse the node body.
			_, _, l := protowire.ConsumeTag(n)
			body, _ := protowire.ConsumeBytes(n[l:])
			fn = append(fn, bytesField(3, body)...)
		}
		graph = append(graph, bytesField(2, bytesField(1, fn))...)
	}
	meta := msg(bytesField(1, []byte("meta_info")), bytesField(2, graph))
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	return append(b, bytesField(2, meta)...)
}

func scan(t testing.TB, b []byte) modelscan.Result {
	e := modelscan.New(modelscan.DefaultLimits(), nil, New())
	res, err := e.Scan(context.Background(), "saved_model.pb", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSavedModel(t *testing.T) {
	serving := [][]byte{node("x", "Placeholder"), node("w", "VarHandleOp"), node("mm", "MatMul"), node("save", "SaveV2"), node("restore", "RestoreV2")}
	tests := []struct {
		name     string
		pb       []byte
		verdict  modelscan.Verdict
		callable string
	}{
		{"serving graph with checkpoint ops", savedModel(serving, nil), modelscan.Clean, ""},
		{"PyFunc in the graph", savedModel(append(serving, node("evil", "PyFunc")), nil), modelscan.Unsafe, "PyFunc"},
		{"ReadFile in a library function", savedModel(serving, [][]byte{node("leak", "ReadFile")}), modelscan.Unsafe, "ReadFile"},
		{"WriteFile", savedModel(append(serving, node("drop", "WriteFile")), nil), modelscan.Unsafe, "WriteFile"},
		{"memory-mapped constant", savedModel(append(serving, node("c", "ImmutableConst")), nil), modelscan.Suspicious, "ImmutableConst"},
		{"truncated", savedModel(serving, nil)[:40], modelscan.Unscannable, ""},
		{"no graph", savedModel(nil, nil), modelscan.Unscannable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !New().Match(tc.pb) {
				t.Fatal("not matched")
			}
			res := scan(t, tc.pb)
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s: %+v", res.Verdict, tc.verdict, res.Findings)
			}
			if tc.callable != "" && (len(res.Findings) == 0 || res.Findings[0].Callable != tc.callable || res.Findings[0].Offset <= 0) {
				t.Fatalf("findings %+v lack %s with an offset", res.Findings, tc.callable)
			}
		})
	}
}

func TestMatchIsNotONNX(t *testing.T) {
	onnx := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8) // ir_version 8
	onnx = append(onnx, bytesField(2, []byte("pytorch"))...)
	if New().Match(onnx) {
		t.Fatal("an ONNX model was claimed as a SavedModel")
	}
}

func FuzzSavedModel(f *testing.F) {
	f.Add(savedModel([][]byte{node("a", "PyFunc")}, [][]byte{node("b", "ReadFile")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		b = append([]byte{0x08, 0x01, 0x12}, b...)
		scan(t, b)
	})
}
