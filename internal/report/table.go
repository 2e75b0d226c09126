package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/rivo/uniseg"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// ANSI SGR codes for verdicts; only written when Options.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[1;31m"
	ansiYellow = "\x1b[33m"
	ansiPurple = "\x1b[35m"
	ansiGreen  = "\x1b[32m"
)

func verdictColor(v modelscan.Verdict) string {
	switch v {
	case modelscan.Clean:
		return ansiGreen
	case modelscan.Suspicious:
		return ansiYellow
	case modelscan.Unscannable:
		return ansiPurple
	}
	return ansiRed
}

// Column widths beyond which cells wrap, so one long message or path does
// not push the table off an 80-to-160 column terminal.
var tableMax = [...]int{11, 44, 11, 30, 8, 24, 48}

var tableHeader = [...]string{"VERDICT", "FILE", "FORMAT", "FINDING", "SEVERITY", "WHERE", "DETAIL"}

type tableRow struct {
	cells [len(tableHeader)]string
	// verdict colours the first cell when set and colour is on.
	verdict   modelscan.Verdict
	colored   bool
	separator bool // draw a rule above this row
}

// WriteTable writes r as a table for people: one row per finding (one row
// for a file without findings), the file's verdict and path on its first
// row, then the errors and a one-line summary.
//
// Every string that came from a scanned file (member names, callables,
// messages quoting file content) is escaped, so a hostile model cannot
// write terminal control sequences through the report.
func WriteTable(w io.Writer, r *Report, opt Options) error {
	var rows []tableRow
	for i, res := range r.Results {
		first := tableRow{verdict: res.Verdict, colored: true, separator: i > 0}
		first.cells[0] = res.Verdict.String()
		first.cells[1] = Sanitize(res.Path)
		first.cells[2] = Sanitize(res.Format)
		if len(res.Findings) == 0 {
			rows = append(rows, first)
			continue
		}
		for j, f := range res.Findings {
			row := first
			if j > 0 {
				row = tableRow{}
			}
			row.cells[3] = Sanitize(f.Rule)
			if f.Verdict != res.Verdict {
				// Say which findings drive the file's verdict when they differ.
				row.cells[3] += " (" + f.Verdict.String() + ")"
			}
			row.cells[4] = f.Severity.String()
			row.cells[5] = Sanitize(where(f))
			detail := f.Message
			if f.Callable != "" {
				detail = f.Callable + ": " + detail
			}
			row.cells[6] = Sanitize(detail)
			rows = append(rows, row)
		}
	}

	var b strings.Builder
	if len(rows) > 0 {
		// With nothing judged (every path failed) the errors and the
		// summary say it all.
		drawTable(&b, rows, opt.Color)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s: %s\n", Sanitize(e.Path), Sanitize(e.Error))
	}
	b.WriteString(r.Summarize().String())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// drawTable writes rows as a box-drawn table, wrapping long cells.
func drawTable(b *strings.Builder, rows []tableRow, color bool) {
	// Wrap cells, then size columns to their widest line.
	wrapped := make([][len(tableHeader)][]string, len(rows))
	var widths [len(tableHeader)]int
	for c, h := range tableHeader {
		widths[c] = uniseg.StringWidth(h)
	}
	for i, row := range rows {
		for c, cell := range row.cells {
			lines := wrap(cell, tableMax[c])
			wrapped[i][c] = lines
			for _, l := range lines {
				widths[c] = max(widths[c], uniseg.StringWidth(l))
			}
		}
	}

	rule := func(left, mid, right string) {
		b.WriteString(left)
		for c, wd := range widths {
			if c > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", wd+2))
		}
		b.WriteString(right)
		b.WriteByte('\n')
	}
	line := func(cells [len(tableHeader)]string, paint string) {
		b.WriteString("│")
		for c, cell := range cells {
			b.WriteByte(' ')
			if c == 0 && paint != "" && cell != "" {
				b.WriteString(paint + cell + ansiReset)
			} else {
				b.WriteString(cell)
			}
			b.WriteString(strings.Repeat(" ", widths[c]-uniseg.StringWidth(cell)+1))
			b.WriteString("│")
		}
		b.WriteByte('\n')
	}
	rule("┌", "┬", "┐")
	line(tableHeader, "")
	rule("├", "┼", "┤")
	for i, row := range rows {
		if row.separator {
			rule("├", "┼", "┤")
		}
		paint := ""
		if color && row.colored {
			paint = verdictColor(row.verdict)
		}
		n := 1
		for _, lines := range wrapped[i] {
			n = max(n, len(lines))
		}
		for k := range n {
			var cells [len(tableHeader)]string
			for c, lines := range wrapped[i] {
				if k < len(lines) {
					cells[c] = lines[k]
				}
			}
			if k > 0 {
				paint = ""
			}
			line(cells, paint)
		}
	}
	rule("└", "┴", "┘")
}

// where is the location inside the file: member and byte offset.
func where(f modelscan.Finding) string {
	s := f.Member
	if f.Offset >= 0 {
		if s != "" {
			s += " "
		}
		s += "@" + strconv.FormatInt(f.Offset, 10)
	}
	return s
}

// Sanitize makes s safe to print on a terminal: control characters,
// invalid UTF-8 and other non-printing runes are written as Go escapes.
func Sanitize(s string) string {
	clean := true
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == unicode.ReplacementChar && strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(r)
		case r == unicode.ReplacementChar:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// wrap breaks s into lines at most width columns wide: after a space, a
// path separator or a member separator when it can, inside a word when it
// must.
func wrap(s string, width int) []string {
	if uniseg.StringWidth(s) <= width {
		return []string{s}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW = 0
	}
	for _, word := range splitAfterAny(s, " /!") {
		ww := uniseg.StringWidth(strings.TrimRight(word, " "))
		if curW > 0 && curW+ww > width {
			flush()
		}
		if ww <= width {
			cur.WriteString(word)
			curW += uniseg.StringWidth(word)
			continue
		}
		// A word wider than the column: split it by grapheme clusters.
		g := uniseg.NewGraphemes(word)
		for g.Next() {
			cw := g.Width()
			if curW+cw > width && curW > 0 {
				flush()
			}
			cur.WriteString(g.Str())
			curW += cw
		}
	}
	if cur.Len() > 0 {
		flush()
	}
	return lines
}

// splitAfterAny cuts s after every byte in seps.
func splitAfterAny(s, seps string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexAny(s, seps)
		if i < 0 {
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}
