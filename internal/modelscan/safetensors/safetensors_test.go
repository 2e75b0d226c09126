package safetensors

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func engine() *modelscan.Engine {
	return modelscan.New(modelscan.DefaultLimits(), nil, New(), NewIndex())
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		file   string
		format string
		want   modelscan.Verdict
		rule   string
		off    int64
	}{
		{"valid.safetensors", "safetensors", modelscan.Clean, "", 0},
		{"model-00001-of-00002.safetensors", "safetensors", modelscan.Clean, "", 0},
		{"model-00002-of-00002.safetensors", "safetensors", modelscan.Clean, "", 0},
		{"model.safetensors.index.json", "safetensors-index", modelscan.Clean, "", 0},
		{"evil.safetensors.index.json", "safetensors-index", modelscan.Unsafe, "safetensors.index-path-traversal", -1},
		{"overlap.safetensors", "safetensors", modelscan.Suspicious, "safetensors.overlap", 128},
		{"out_of_file.safetensors", "safetensors", modelscan.Unscannable, "safetensors.out-of-file", -2},
		{"size_mismatch.safetensors", "safetensors", modelscan.Unscannable, "safetensors.bad-tensor", 8},
		{"gap.safetensors", "safetensors", modelscan.Suspicious, "safetensors.gap", -2},
		{"huge_header.safetensors", "safetensors", modelscan.Unscannable, "safetensors.header-size", 0},
		{"duplicate_key.safetensors", "safetensors", modelscan.Unscannable, "safetensors.bad-header", 8},
		{"bad_utf8.safetensors", "safetensors", modelscan.Unscannable, "safetensors.bad-header", 8},
		{"bad_metadata.safetensors", "safetensors", modelscan.Unscannable, "safetensors.bad-metadata", 8},
	}
	e := engine()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := e.ScanFile(context.Background(), filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Format != tc.format {
				t.Fatalf("%s %s, want %s %s: %+v", res.Format, res.Verdict, tc.format, tc.want, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			for _, f := range res.Findings {
				if f.Rule == tc.rule && (tc.off == -2 || f.Offset == tc.off) {
					return
				}
			}
			t.Errorf("no %s at %d: %+v", tc.rule, tc.off, res.Findings)
		})
	}
}

func TestStrictJSON(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"a":1}`:             true,
		`{"a":1}   `:          true,
		`{"a":1,"a":2}`:       false,
		`{"a":{"b":1,"b":1}}`: false,
		`{"a":1} x`:           false,
		"{\"\xc3\":1}":        false,
		`{"a":[1,2,{"c":3}]}`: true,
		strings.Repeat("[", 100) + strings.Repeat("]", 100): false,
	} {
		if _, err := StrictJSON([]byte(in)); (err == nil) != ok {
			t.Errorf("StrictJSON(%q) err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestParseTensor(t *testing.T) {
	tests := []struct {
		json string
		ok   bool
	}{
		{`{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`, true},
		{`{"dtype":"F32","shape":[],"data_offsets":[4,8]}`, true},
		{`{"dtype":"F4","shape":[3],"data_offsets":[0,2]}`, false},
		{`{"dtype":"F4","shape":[4],"data_offsets":[0,2]}`, true},
		{`{"dtype":"X","shape":[1],"data_offsets":[0,4]}`, false},
		{`{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}`, false},
		{`{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}`, false},
		{`{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}`, false},
		{`{"dtype":"F32","shape":[1],"data_offsets":[8,4]}`, false},
		{`{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}`, false},
		{`{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999999]}`, false},
	}
	for _, tc := range tests {
		v, err := StrictJSON([]byte(tc.json))
		if err != nil {
			t.Fatal(err)
		}
		if _, why := parseTensor("t", v); (why == "") != tc.ok {
			t.Errorf("%s: %q, want ok=%v", tc.json, why, tc.ok)
		}
	}
}

func FuzzSafetensors(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".py") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	e := modelscan.New(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second}, nil, New(), NewIndex())
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.Scan(context.Background(), "f", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}
