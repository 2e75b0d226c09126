package report

import (
	"io"
	"strings"

	"github.com/rivo/uniseg"
)

// Grid is a plain table for commands whose results are not scan verdicts
// (the data guard's profile, validate, drift and audit summaries).
type Grid struct {
	Header []string
	Rows   [][]string
	// Right aligns numeric columns (by column index).
	Right []bool
	// Flag paints a row (e.g. a drifted column) red when colour is on.
	Flag []bool
	// MaxWidth bounds a column; longer cells wrap (default 48).
	MaxWidth int
}

// WriteGrid renders g as a box-drawn table. Cells are sanitized for the
// terminal: data files name their own columns, and a column name is
// untrusted text.
func WriteGrid(w io.Writer, g Grid, color bool) error {
	maxw := g.MaxWidth
	if maxw <= 0 {
		maxw = 48
	}
	ncol := len(g.Header)
	widths := make([]int, ncol)
	for c, h := range g.Header {
		widths[c] = uniseg.StringWidth(Sanitize(h))
	}
	wrapped := make([][][]string, len(g.Rows))
	for i, row := range g.Rows {
		wrapped[i] = make([][]string, ncol)
		for c := 0; c < ncol; c++ {
			cell := ""
			if c < len(row) {
				cell = Sanitize(row[c])
			}
			lines := wrap(cell, maxw)
			wrapped[i][c] = lines
			for _, l := range lines {
				widths[c] = max(widths[c], uniseg.StringWidth(l))
			}
		}
	}
	var b strings.Builder
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
	line := func(cells []string, paint string) {
		b.WriteString("│")
		for c, cell := range cells {
			pad := strings.Repeat(" ", widths[c]-uniseg.StringWidth(cell))
			b.WriteByte(' ')
			right := c < len(g.Right) && g.Right[c]
			if right {
				b.WriteString(pad)
			}
			if paint != "" && cell != "" {
				b.WriteString(paint + cell + ansiReset)
			} else {
				b.WriteString(cell)
			}
			if !right {
				b.WriteString(pad)
			}
			b.WriteString(" │")
		}
		b.WriteByte('\n')
	}
	rule("┌", "┬", "┐")
	hdr := make([]string, ncol)
	for c, h := range g.Header {
		hdr[c] = Sanitize(h)
	}
	line(hdr, "")
	rule("├", "┼", "┤")
	for i := range g.Rows {
		paint := ""
		if color && i < len(g.Flag) && g.Flag[i] {
			paint = ansiRed
		}
		n := 1
		for _, lines := range wrapped[i] {
			n = max(n, len(lines))
		}
		for k := range n {
			cells := make([]string, ncol)
			for c, lines := range wrapped[i] {
				if k < len(lines) {
					cells[c] = lines[k]
				}
			}
			line(cells, paint)
		}
	}
	rule("└", "┴", "┘")
	_, err := io.WriteString(w, b.String())
	return err
}
