package joblib

import (
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/pickle"
)

func engine(l modelscan.Limits) *modelscan.Engine {
	return modelscan.New(l, nil, New(), pickle.New())
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		file   string
		want   modelscan.Verdict
		rules  []string
		member string
	}{
		{"model_zlib.joblib", modelscan.Clean, nil, ""},
		{"model_gzip.joblib", modelscan.Clean, nil, ""},
		{"model_bz2.joblib", modelscan.Clean, nil, ""},
		{"model_lzma.joblib", modelscan.Clean, nil, ""},
		{"model_xz.joblib", modelscan.Clean, nil, ""},
		{"evil_xz.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<xz>"},
		{"evil_lzma.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<lzma>"},
		{"evil_zlib.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<zlib>"},
		{"evil_zfile.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<joblib-zfile>"},
		{"evil_gzip.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<gzip>"},
		{"evil_bz2.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<bzip2>"},
		{"evil_zlib_corrupt.joblib", modelscan.Unsafe, []string{"compressed.corrupt", "pickle.unsafe-callable"}, "<zlib>"},
		{"evil_zlib_two_streams.joblib", modelscan.Unsafe, []string{"pickle.unsafe-callable"}, "<zlib>"},
	}
	e := engine(modelscan.DefaultLimits())
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			res, err := e.ScanFile(context.Background(), filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Format != "compressed" {
				t.Fatalf("%s %s, want %s; findings %+v", res.Format, res.Verdict, tc.want, res.Findings)
			}
			for _, rule := range tc.rules {
				found := false
				for _, f := range res.Findings {
					found = found || f.Rule == rule && (rule != "pickle.unsafe-callable" || f.Member == tc.member)
				}
				if !found {
					t.Errorf("no %s (member %q): %+v", rule, tc.member, res.Findings)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		head string
		want codec
	}{
		{"\x80\x04\x95", none},
		{"x\x9c\x00\x00", none}, // header ok, deflate data invalid
		{"xyz", none},
		{"BZh9notablock", none},
		{"]\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff", cLzma},
		{"]q\x00(K\x01K\x02e.", none}, // a protocol-1 pickle of a list
		{"\x04\x22\x4d\x18", cLz4},
	}
	for _, tc := range tests {
		if got := detect([]byte(tc.head)); got != tc.want {
			t.Errorf("detect(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

func TestBombBounded(t *testing.T) {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write([]byte("\x80\x02"))
	w.Write(make([]byte, 256<<20))
	w.Close()
	lim := modelscan.DefaultLimits()
	lim.MaxBytes = 16 << 20
	start := time.Now()
	res, err := engine(lim).Scan(context.Background(), "bomb", bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != modelscan.Unscannable || res.Findings[len(res.Findings)-1].Rule != "scan.budget" {
		t.Errorf("%s %+v", res.Verdict, res.Findings)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func FuzzCompressed(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".joblib") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	e := engine(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.Scan(context.Background(), "f", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}
