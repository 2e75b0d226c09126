package onnx

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

func engine() *modelscan.Engine { return modelscan.New(modelscan.DefaultLimits(), nil, New()) }

// stage copies a corpus model into a fresh directory beside a weights
// file, a symlink to a file outside it and a hard link to a file outside
// it, as a model directory on disk would hold them.
func stage(t *testing.T, file string) string {
	t.Helper()
	dir, outside := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	must(t, os.WriteFile(p, b, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "weights.bin"), make([]byte, 16), 0o644))
	secret := filepath.Join(outside, "secret")
	must(t, os.WriteFile(secret, []byte("secret"), 0o600))
	must(t, os.Symlink(secret, filepath.Join(dir, "link.bin")))
	if err := os.Link(secret, filepath.Join(dir, "hard.bin")); err != nil {
		t.Skipf("hard links unavailable: %v", err)
	}
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		file     string
		want     modelscan.Verdict
		rule     string
		callable string
	}{
		{"torch_export.onnx", modelscan.Clean, "", ""},
		{"external_ok.onnx", modelscan.Clean, "", ""},
		{"local_function.onnx", modelscan.Clean, "", ""},
		{"external_dotdot.onnx", modelscan.Unsafe, "onnx.external-data-escape", "../../etc/passwd"},
		{"external_abs.onnx", modelscan.Unsafe, "onnx.external-data-escape", "/etc/passwd"},
		{"external_symlink.onnx", modelscan.Unsafe, "onnx.external-data-symlink", "link.bin"},
		{"external_hardlink.onnx", modelscan.Unsafe, "onnx.external-data-hardlink", "hard.bin"},
		{"external_in_subgraph.onnx", modelscan.Unsafe, "onnx.external-data-escape", "../secret"},
		{"external_no_location.onnx", modelscan.Unscannable, "onnx.external-data", "w"},
		{"custom_domain.onnx", modelscan.Suspicious, "onnx.custom-domain", "com.attacker"},
		{"truncated.onnx", modelscan.Unscannable, "onnx.malformed", ""},
	}
	e := engine()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := e.ScanFile(context.Background(), stage(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Format != "onnx" {
				t.Fatalf("%s %s, want %s: %+v", res.Format, res.Verdict, tc.want, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			for _, f := range res.Findings {
				if f.Rule == tc.rule && f.Callable == tc.callable && f.Offset >= 0 {
					return
				}
			}
			t.Errorf("no %s for %q: %+v", tc.rule, tc.callable, res.Findings)
		})
	}
}

// TestMissingExternalData: scanned without its data file the model is not
// CLEAN, since the location could not be checked.
func TestMissingExternalData(t *testing.T) {
	res, err := engine().ScanFile(context.Background(), "testdata/external_ok.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Suspicious || res.Findings[0].Rule != "onnx.external-data-missing" {
		t.Errorf("%s %+v", res.Verdict, res.Findings)
	}
}

func TestMatch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_export.onnx")
	if err != nil {
		t.Fatal(err)
	}
	a := New()
	if !a.Match(b[:min(512, len(b))]) {
		t.Error("real export not matched")
	}
	for _, head := range []string{
		"\x80\x02}q\x00.",                  // pickle
		"\x08\x07\x50\x01",                 // field 10: not in ModelProto
		"\x08\x00\x12\x01x",                // ir_version 0
		"\x08\x07\x12",                     // too short
		"\x08\x07\x3a\x05hello\x41\x00",    // field 8 as fixed64
		"PK\x03\x04\x14\x00\x00\x00\x08",   // zip
		"GGUF\x03\x00\x00\x00\x00\x00\x00", // gguf
	} {
		if a.Match([]byte(head)) {
			t.Errorf("Match(%q) = true", head)
		}
	}
}

func FuzzONNX(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".onnx") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	a := New()
	// Match is strict; the parser must not depend on it, so the fuzzer
	// drives it through an analyzer that claims everything.
	e := modelscan.New(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second}, nil, claimAll{a})
	f.Fuzz(func(t *testing.T, b []byte) {
		a.Match(b[:min(len(b), 512)])
		if _, err := e.Scan(context.Background(), "f", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}

type claimAll struct{ modelscan.Analyzer }

func (claimAll) Match([]byte) bool { return true }
