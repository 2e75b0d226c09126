package all

import (
	"encoding/binary"
	"testing"
)

// claimant is the analyzer the engine would pick for head.
func claimant(head []byte) string {
	for _, a := range Analyzers() {
		if a.Match(head) {
			return a.Name()
		}
	}
	return ""
}

func TestMatchOrder(t *testing.T) {
	// A safetensors header of 640 bytes starts 0x80 0x02: PROTO 2 to a
	// pickle matcher. The table must give it to safetensors.
	st := binary.LittleEndian.AppendUint64(nil, 640)
	st = append(st, `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`...)
	for _, tc := range []struct {
		name string
		head []byte
		want string
	}{
		{"safetensors that reads as PROTO 2", st, "safetensors"},
		{"gguf", []byte("GGUF\x03\x00\x00\x00"), "gguf"},
		{"savedmodel", []byte{0x08, 0x01, 0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x0a}, "savedmodel"},
		{"onnx", []byte{0x08, 0x08, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h', 0x1a, 0x03, '2', '.', '1'}, "onnx"},
		{"npy", []byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4'"), "numpy"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), "zip"},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, "compressed"},
		{"safetensors index", []byte(`{"metadata": {}, "weight_map": {"a": "model-00001.safetensors"}}`), "safetensors-index"},
		{"keras config", []byte(`{"class_name": "Sequential", "config": {}}`), "json"},
		{"pickle protocol 2", []byte("\x80\x02}q\x00."), "pickle"},
		{"pickle protocol 0 (ASCII)", []byte("cposix\nsystem\n(S'id'\ntR."), "pickle"},
		{"text", []byte("# Model card\n\nA small classifier.\n"), "text"},
		{"unknown binary", []byte{0xde, 0xad, 0xbe, 0xef, 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimant(tc.head); got != tc.want {
				t.Errorf("claimed by %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	as := Analyzers()
	seen := map[string]bool{}
	for _, a := range as {
		if a.Name() == "" || seen[a.Name()] {
			t.Errorf("analyzer name %q empty or repeated", a.Name())
		}
		seen[a.Name()] = true
	}
	if last := as[len(as)-1].Name(); last != "text" {
		t.Errorf("last analyzer is %q; text must come last (a protocol-0 pickle is text too)", last)
	}
}
