package numpy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/pickle"
	mzip "github.com/rampart-ai/rampart/internal/modelscan/zip"
)

func engine() *modelscan.Engine {
	return modelscan.New(modelscan.DefaultLimits(), nil, mzip.New(), New(), pickle.New())
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
		{"evil_object.npy", "numpy", modelscan.Unsafe, "pickle.unsafe-callable", "<object-array-pickle>", 30},
		{"evil_struct_object.npy", "numpy", modelscan.Unsafe, "pickle.unsafe-callable", "<object-array-pickle>", 30},
		{"evil.npz", "zip", modelscan.Unsafe, "pickle.unsafe-callable", "evil.npy!<object-array-pickle>", 30},
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
	e := modelscan.New(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second}, nil, New(), pickle.New())
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.Scan(context.Background(), "f.npy", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}
