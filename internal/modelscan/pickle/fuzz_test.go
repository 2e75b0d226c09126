package pickle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// FuzzEmulate: any bytes get findings, never a panic, in bounded time, and
// every finding's offset lies within the input.
func FuzzEmulate(f *testing.F) {
	for _, dir := range []string{"testdata/malicious", "testdata/benign"} {
		ents, _ := os.ReadDir(dir)
		for _, en := range ents {
			if b, err := os.ReadFile(filepath.Join(dir, en.Name())); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		for i, size := range []int64{int64(len(data)), 0, int64(len(data))} {
			fs, _, err := ScanWith(context.Background(), bytes.NewReader(data), Options{Size: size, Joblib: i == 2})
			if err != nil {
				t.Fatalf("error on an in-memory stream: %v", err)
			}
			for _, x := range fs {
				if x.Offset < 0 || x.Offset > int64(len(data)) {
					t.Fatalf("offset %d outside %d bytes: %+v", x.Offset, len(data), x)
				}
			}
			if i < 2 && len(data) > 0 && modelscan.Worst(fs) == modelscan.Clean && !bytes.Contains(data, []byte{'.'}) {
				t.Fatalf("CLEAN without a STOP: %q", data)
			}
		}
		New().Match(data)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v on %d bytes", d, len(data))
		}
	})
}
