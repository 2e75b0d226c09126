package numpy

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
	mzip "github.com/rampart-ai/rampart/internal/modelscan/zip"
)

// routingDouble is a TEST DOUBLE FOR ROUTING ONLY, not a pickle analyzer:
// it claims bytes that start like a pickle (PROTO 2..5) and calls them
// UNSAFE when they contain "system", so these tests check that object
// array pickles reach the engine without depending on the pickle package.
type routingDouble struct{}

func (routingDouble) Name() string { return "pickle-double" }
func (routingDouble) Match(h []byte) bool {
	return len(h) >= 2 && h[0] == 0x80 && h[1] >= 2 && h[1] <= 5
}
func (routingDouble) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	b := make([]byte, min(in.Size, 1<<20))
	if _, err := in.R.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	if bytes.Contains(b, []byte("system")) {
		return []modelscan.Finding{{Verdict: modelscan.Unsafe, Severity: rampart.SeverityCritical, Rule: "double.system", Offset: -1}}, nil
	}
	return nil, nil
}

func engine() *modelscan.Engine {
	return modelscan.New(modelscan.DefaultLimits(), nil, mzip.New(), New(), routingDouble{})
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		file   string
		format string
		want   modelscan.Verdict
		rule   string
		member string
		off    int64
	}{
		{"float.npy", "numpy", modelscan.Clean, "", "", 0},
		{"fortran.npy", "numpy", modelscan.Clean, "", "", 0},
		{"structured.npy", "numpy", modelscan.Clean, "", "", 0},
		{"datetime.npy", "numpy", modelscan.Clean, "", "", 0},
		{"unicode.npy", "numpy", modelscan.Clean, "", "", 0},
		{"v2.npy", "numpy", modelscan.Clean, "", "", 0},
		{"object.npy", "numpy", modelscan.Clean, "", "", 0},
		{"compressed.npz", "zip", modelscan.Clean, "", "", 0},
		{"object.npz", "zip", modelscan.Clean, "", "", 0},
		{"evil_object.npy", "numpy", modelscan.Unsafe, "double.system", "<object-array-pickle>", -1},
		{"evil_struct_object.npy", "numpy", modelscan.Unsafe, "double.system", "<object-array-pickle>", -1},
		{"evil.npz", "zip", modelscan.Unsafe, "double.system", "evil.npy!<object-array-pickle>", -1},
		{"truncated.npy", "numpy", modelscan.Unscannable, "npy.truncated", "", 141},
		{"trailing.npy", "numpy", modelscan.Suspicious, "npy.trailing-data", "", 144},
		{"eval_header.npy", "numpy", modelscan.Unscannable, "npy.bad-header", "", 10},
		{"extra_key.npy", "numpy", modelscan.Unscannable, "npy.bad-header", "", 10},
	}
	e := engine()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := e.ScanFile(context.Background(), filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Format != tc.format {
				t.Fatalf("%s %s, want %s %s; findings %+v", res.Format, res.Verdict, tc.format, tc.want, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			for _, f := range res.Findings {
				if f.Rule == tc.rule && f.Member == tc.member && f.Offset == tc.off {
					return
				}
			}
			t.Errorf("no %s at %q/%d: %+v", tc.rule, tc.member, tc.off, res.Findings)
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in       string
		ok       bool
		itemsize int64
		object   bool
	}{
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n", true, 4, false},
		{`{"descr": "<c16", "fortran_order": True, "shape": ()}`, true, 16, false},
		{"{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", true, 12, false},
		{"{'descr': [('a', '<f4'), ('b', '|O', (2,))], 'fortran_order': False, 'shape': (1,)}", true, 20, true},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3L,)}", true, 4, false},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", false, 0, false},
		{"{'descr': '<f4', 'descr': '<f4', 'shape': (1,)}", false, 0, false},
		{"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", false, 0, false},
		{"{'descr': '<q4', 'fortran_order': False, 'shape': (1,)}", false, 0, false},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} + x", false, 0, false},
		{"{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (1,)}", false, 0, false},
		{strings.Repeat("[", 100), false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			h, err := parseHeader(tc.in, false)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (h.itemsize != tc.itemsize || h.object != tc.object) {
				t.Errorf("itemsize %d object %v", h.itemsize, h.object)
			}
		})
	}
}

func TestShapeOverflow(t *testing.T) {
	hdr := "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), 0)
	b = append(b, hdr...)
	res, err := engine().Scan(context.Background(), "x.npy", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Unscannable || res.Findings[0].Rule != "npy.bad-shape" {
		t.Errorf("%s %+v", res.Verdict, res.Findings)
	}
}

func FuzzNpy(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".npy") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	e := modelscan.New(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second}, nil, New(), routingDouble{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.Scan(context.Background(), "f.npy", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}
