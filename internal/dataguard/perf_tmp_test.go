package dataguard

import (
	"os"
	"testing"

	"github.com/rampart-ai/rampart/internal/data"
)

func TestPerfTmp(t *testing.T) {
	f := os.Getenv("PERF_FILE")
	if f == "" {
		t.Skip()
	}
	if _, err := ProfileFiles([]string{f}, data.Options{}, ProfileOptions{Workers: 1}); err != nil {
		t.Fatal(err)
	}
}
