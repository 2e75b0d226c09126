package hdf5

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func scan(t *testing.T, b []byte) modelscan.Result {
	t.Helper()
	e := modelscan.New(modelscan.DefaultLimits(), nil, New())
	res, err := e.Scan(context.Background(), "t.h5", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hasRule(fs []modelscan.Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func TestCorpus(t *testing.T) {
	for _, tc := range []struct {
		file    string
		verdict modelscan.Verdict
		rule    string
	}{
		{"benign_fixed.h5", modelscan.Clean, ""},
		{"benign_vlen.h5", modelscan.Clean, ""},
		{"benign_latest.h5", modelscan.Clean, ""},
		{"benign_vlen_latest.h5", modelscan.Clean, ""},
		{"benign_v18.h5", modelscan.Clean, ""},
		{"benign_continuation.h5", modelscan.Clean, ""},
		{"benign_ochk.h5", modelscan.Clean, ""},
		{"huge_vlen.h5", modelscan.Clean, ""},
		{"weights_only.h5", modelscan.Clean, ""},
		{"weights_only_latest.h5", modelscan.Clean, ""},
		{"lambda.h5", modelscan.Unsafe, "keras.lambda"},
		{"lambda_vlen.h5", modelscan.Unsafe, "keras.lambda"},
		{"lambda_latest.h5", modelscan.Unsafe, "keras.lambda"},
		{"lambda_continuation.h5", modelscan.Unsafe, "keras.lambda"},
		{"lambda_ochk.h5", modelscan.Unsafe, "keras.lambda"},
		{"os_system.h5", modelscan.Unsafe, "keras.dangerous-import"},
		{"os_system_vlen_latest.h5", modelscan.Unsafe, "keras.dangerous-import"},
		{"benign_dense_huge.h5", modelscan.Clean, ""},
		{"benign_dense_many.h5", modelscan.Clean, ""},
		{"benign_dense_vlen.h5", modelscan.Clean, ""},
		{"lambda_dense_huge.h5", modelscan.Unsafe, "keras.lambda"},
		{"lambda_dense_many.h5", modelscan.Unsafe, "keras.lambda"},
		{"os_system_dense_vlen.h5", modelscan.Unsafe, "keras.dangerous-import"},
		{"lambda_dense_deep.h5", modelscan.Unsafe, "keras.lambda"},
		{"benign_dense_deep.h5", modelscan.Clean, ""},
		{"truncated.h5", modelscan.Unscannable, "hdf5.malformed"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := scan(t, read(t, tc.file))
			if res.Format != "hdf5" || res.Verdict != tc.verdict {
				t.Fatalf("%s %s, want hdf5 %s: %+v", res.Format, res.Verdict, tc.verdict, res.Findings)
			}
			if tc.rule != "" && !hasRule(res.Findings, tc.rule) {
				t.Fatalf("no %s finding: %+v", tc.rule, res.Findings)
			}
			for _, f := range res.Findings {
				if f.Offset < 0 || f.Offset >= res.Size {
					t.Errorf("finding offset %d outside the file: %+v", f.Offset, f)
				}
			}
		})
	}
}

// TestConfigsRead checks that the configs are really read (a reader that
// found no attribute would call every file CLEAN).
func TestConfigsRead(t *testing.T) {
	for _, name := range []string{"benign_fixed.h5", "benign_vlen.h5", "benign_latest.h5", "benign_vlen_latest.h5",
		"benign_v18.h5", "benign_continuation.h5", "benign_ochk.h5", "huge_vlen.h5",
		"benign_dense_huge.h5", "benign_dense_many.h5", "benign_dense_vlen.h5", "benign_dense_deep.h5"} {
		t.Run(name, func(t *testing.T) {
			b := read(t, name)
			f, err := Open(bytes.NewReader(b), int64(len(b)), 0)
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := f.RootAttributes(func(n string) bool { return configAttrs[n] })
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, a := range attrs {
				if len(a.Strings) == 1 {
					got[a.Name] = string(a.Strings[0])
				}
			}
			if mc := got["model_config"]; len(mc) < 20 || mc[0] != '{' || mc[len(mc)-1] != '}' {
				t.Errorf("model_config = %.40q", mc)
			}
			if tc := got["training_config"]; len(tc) < 10 || tc[0] != '{' {
				t.Errorf("training_config = %.40q", tc)
			}
			// Every attribute the generator wrote is listed, none twice.
			want := 4
			if strings.Contains(name, "dense_many") || strings.Contains(name, "dense_vlen") {
				want += 20
			} else if strings.Contains(name, "dense_deep") {
				want += 300
			} else if strings.Contains(name, "continuation") {
				want += 40
			} else if strings.Contains(name, "ochk") {
				want += 2
			}
			seen := map[string]bool{}
			for _, a := range attrs {
				seen[a.Name] = true
			}
			if len(attrs) != want || len(seen) != want {
				t.Errorf("%d attributes (%d names), want %d", len(attrs), len(seen), want)
			}
		})
	}
}

// TestTruncated: every truncation of a save is refused, never CLEAN.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"benign_fixed.h5", "benign_vlen_latest.h5", "benign_ochk.h5", "benign_dense_many.h5",
		"benign_dense_huge.h5"} {
		t.Run(name, func(t *testing.T) {
			b := read(t, name)
			for n := 8; n < len(b); n += 1 + n/64 {
				if res := scan(t, b[:n]); res.Verdict != modelscan.Unscannable {
					t.Fatalf("truncated to %d: %s %+v", n, res.Verdict, res.Findings)
				}
			}
		})
	}
}

// TestMutations: a config in a form the reader does not read, and
// corrupt headers, are UNSCANNABLE.
func TestMutations(t *testing.T) {
	mutate := func(name string, fn func(b []byte, at int)) []byte {
		b := read(t, name)
		at := bytes.Index(b, []byte("model_config\x00"))
		if at < 0 {
			t.Fatal("model_config not found")
		}
		fn(b, at)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		rule string
	}{
		// Version 1 attribute message: the name is padded to 16 bytes,
		// then the datatype; class 0 is an integer.
		{"config not a string", mutate("lambda.h5", func(b []byte, at int) { b[at+16] &^= 0x0f }), "hdf5.unsupported-config"},
		{"v1 attribute with flags", mutate("lambda.h5", func(b []byte, at int) { b[at-7] = 1 }), "hdf5.malformed"},
		// Version 3 attribute message: flags one byte after the version.
		{"shared datatype", mutate("lambda_latest.h5", func(b []byte, at int) { b[at-8] |= 1 }), "hdf5.unsupported-config"},
		{"name length overruns", mutate("lambda_latest.h5", func(b []byte, at int) { b[at-7], b[at-6] = 0xff, 0xff }), "hdf5.malformed"},
		{"heap reference broken", mutate("lambda_vlen.h5", func(b []byte, at int) {
			g := bytes.LastIndex(b, []byte("GCOL"))
			copy(b[g:], "XXXX")
		}), "hdf5.malformed"},
		{"null inside the config", func() []byte {
			b := read(t, "benign_fixed.h5")
			at := bytes.Index(b, []byte(`"units": 2`))
			b[at] = 0
			return b
		}(), "json.invalid"},
		{"superblock version", func() []byte { b := read(t, "lambda.h5"); b[8] = 7; return b }(), "hdf5.unsupported"},
		{"offset size", func() []byte { b := read(t, "lambda.h5"); b[13] = 3; return b }(), "hdf5.malformed"},
		{"root outside", func() []byte {
			b := read(t, "lambda_latest.h5")
			copy(b[36:44], "\xff\xff\xff\xff\xff\xff\xff\x7f")
			return b
		}(), "hdf5.malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := scan(t, tc.b)
			if res.Verdict != modelscan.Unscannable || !hasRule(res.Findings, tc.rule) {
				t.Fatalf("%s, want UNSCANNABLE %s: %+v", res.Verdict, tc.rule, res.Findings)
			}
		})
	}
}

// TestContinuationLoop: a continuation pointing back at its own header
// must end, refused.
func TestContinuationLoop(t *testing.T) {
	b := read(t, "benign_continuation.h5")
	f, err := Open(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Find the first continuation message of the root header (version 1):
	// type 0x0010, and point it at the first chunk again.
	root := int(f.root)
	first := root + 16
	for p := first; p+8 < len(b); {
		typ := int(b[p]) | int(b[p+1])<<8
		n := int(b[p+2]) | int(b[p+3])<<8
		if typ == 0x0010 {
			for i := 0; i < 8; i++ {
				b[p+8+i] = byte(uint64(first) >> (8 * i))
			}
			size := int(b[root+8]) | int(b[root+9])<<8 | int(b[root+10])<<16
			for i := 0; i < 8; i++ {
				b[p+16+i] = byte(uint64(size) >> (8 * i))
			}
			break
		}
		p += 8 + n
	}
	res := scan(t, b)
	if res.Verdict != modelscan.Unscannable || !strings.Contains(res.Findings[0].Message, "chunks") {
		t.Fatalf("%s %+v", res.Verdict, res.Findings)
	}
}

func TestMatch(t *testing.T) {
	a := New()
	for _, tc := range []struct {
		head []byte
		want bool
	}{
		{[]byte(Signature + "\x00"), true},
		{[]byte(Signature[:7]), false},
		{[]byte("{\"class_name\": 1}"), false},
		{append(make([]byte, 512), Signature...), false},
	} {
		if got := a.Match(tc.head); got != tc.want {
			t.Errorf("Match(%.12q) = %v", tc.head, got)
		}
	}
	if a.Name() != "hdf5" {
		t.Error(a.Name())
	}
}

func FuzzReader(f *testing.F) {
	for _, name := range []string{"benign_fixed.h5", "lambda_vlen.h5", "lambda_latest.h5", "benign_ochk.h5", "lambda_dense_many.h5", "lambda_dense_deep.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(superblockV1("model_config", `{"class_name": "Lambda"}`))
	e := modelscan.New(modelscan.DefaultLimits(), nil, New())
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := e.Scan(context.Background(), "f.h5", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Format == "hdf5" && len(res.Findings) == 0 && len(b) < 48 {
			t.Fatalf("%d-byte file CLEAN", len(b))
		}
	})
}
