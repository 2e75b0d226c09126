// Package text judges plain text found next to or inside model files:
// READMEs, vocabularies, licences, merges files. Text is data, except
// Python source: a model repository's modeling_*.py runs when a loader is
// told to trust remote code, so it is reported as executable content.
//
// It must come last in the analyzer table: a protocol-0 pickle is ASCII
// text too, and the pickle analyzer has to see it first.
package text

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

type analyzer struct{}

// New returns the analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "text" }

// Match claims UTF-8 without NUL or other control bytes (tabs and line
// breaks aside). A truncated rune at the end of the head is allowed.
func (analyzer) Match(head []byte) bool { return isText(head, true) }

func isText(b []byte, partial bool) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return partial && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7f {
			return false
		}
		b = b[n:]
	}
	return true
}

// chunk is how much is read at a time; text of any size is checked whole.
const chunk = 1 << 20

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	buf := make([]byte, chunk+utf8.UTFMax)
	carry := 0
	python, lines := 0, 0
	var off int64
	for off < in.Size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := in.R.ReadAt(buf[carry:carry+chunk], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s: %w", in.Name, err)
		}
		if n == 0 {
			break
		}
		if err := in.Charge(int64(n)); err != nil {
			return nil, err
		}
		data := buf[:carry+n]
		last := off+int64(n) >= in.Size
		// Keep an incomplete rune at the end for the next round.
		cut := len(data)
		if !last {
			for i := 1; i <= utf8.UTFMax && i <= len(data); i++ {
				if utf8.RuneStart(data[len(data)-i]) {
					if !utf8.FullRune(data[len(data)-i:]) {
						cut = len(data) - i
					}
					break
				}
			}
		}
		if !isText(data[:cut], false) {
			return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "text.binary",
				Message: "starts as text but holds binary data: not a known model format", Offset: off}}, nil
		}
		p, l := pythonLines(data[:cut])
		python, lines = python+p, lines+l
		carry = copy(buf, data[cut:])
		off += int64(n)
	}
	// Python source, not prose that quotes a little of it.
	if python >= 3 && python*5 >= lines {
		return []modelscan.Finding{{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium, Rule: "text.python-source",
			Message: "Python source: it runs if a loader is told to trust remote code", Offset: 0}}, nil
	}
	return nil, nil
}

// pythonLines counts lines that only Python source has at their start, and
// non-empty lines.
func pythonLines(b []byte) (n, lines int) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimLeft(line, " \t")
		if len(bytes.TrimSpace(line)) > 0 {
			lines++
		}
		for _, p := range [][]byte{[]byte("import "), []byte("from "), []byte("def "), []byte("class "), []byte("exec("), []byte("eval(")} {
			if bytes.HasPrefix(line, p) && (p[0] != 'f' || bytes.Contains(line, []byte(" import "))) {
				n++
				break
			}
		}
	}
	return n, lines
}
