package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// FuzzWriters feeds strings a hostile model controls (member names,
// callables, messages quoting file content) through every writer: no
// panic, no control bytes in the table, aligned table lines, valid JSON.
func FuzzWriters(f *testing.F) {
	f.Add("posix.system", "archive/data.pkl", "calls \x1b[2J", "model.pt", int64(12))
	f.Add("日本語", "a!b!c", strings.Repeat("x", 200), "dir/\xff.bin", int64(-1))
	f.Add("", "", "", "", int64(0))
	f.Fuzz(func(t *testing.T, callable, member, msg, path string, off int64) {
		r := &Report{
			Tool: Tool{Name: "rampart", Version: "fuzz"},
			Results: []modelscan.Result{{Path: path, Format: "pickle", Verdict: modelscan.Unsafe, Findings: []modelscan.Finding{
				{Verdict: modelscan.Unsafe, Severity: rampart.SeverityCritical, Rule: "pickle." + callable, Message: msg,
					Callable: callable, Member: member, Offset: off},
			}}},
			Errors: []FileError{{Path: path, Error: msg}},
		}
		var b bytes.Buffer
		if err := WriteTable(&b, r, Options{}); err != nil {
			t.Fatal(err)
		}
		width := -1
		for _, line := range strings.Split(b.String(), "\n") {
			for _, c := range []byte(line) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("control byte %#x in table line %q", c, line)
				}
			}
			if !utf8.ValidString(line) {
				t.Fatalf("invalid UTF-8 in table line %q", line)
			}
			if strings.HasPrefix(line, "│") || strings.HasPrefix(line, "├") || strings.HasPrefix(line, "└") || strings.HasPrefix(line, "┌") {
				w := uniseg.StringWidth(line)
				if width < 0 {
					width = w
				} else if w != width {
					t.Fatalf("table line %q is %d columns wide, want %d:\n%s", line, w, width, b.String())
				}
			}
		}
		for _, w := range []func() error{
			func() error { b.Reset(); return WriteJSON(&b, r) },
			func() error { b.Reset(); return WriteSARIF(&b, r) },
		} {
			if err := w(); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b.Bytes()) {
				t.Fatalf("invalid JSON:\n%s", b.String())
			}
		}
	})
}
