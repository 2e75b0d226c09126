package report

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file draws the charts of the HTML report as inline SVG. Every string
// that reaches the markup goes through svgw.text or svgw.attr (which escape
// it); everything else written is either a constant or a number formatted
// here, so no input can open an element or an attribute.

// ErrChart is wrapped by every error about a chart whose data cannot be
// drawn (slices whose lengths disagree, a nil chart).
var ErrChart = errors.New("invalid chart")

// Limits that keep one chart small however large the input: a report with
// hundreds of columns has hundreds of charts.
const (
	maxHistBins   = 60 // bins drawn by HistogramPair and ScoreHistogram
	maxCategories = 30 // categories drawn by CategoryPair (rest merged)
	maxBars       = 80 // bars drawn by Bars (flagged and largest kept)
	maxLabelRunes = 20 // row labels longer than this are cut (full text in <title>)
	legendRunes   = 28
)

// Chart is one plot in an [HTMLSection]. It is implemented by exactly
// [HistogramPair], [CategoryPair], [Bars] and [ScoreHistogram] (as values
// or pointers).
type Chart interface{ isChart() }

// HistogramPair compares a numeric column's binned distribution in two
// data sets. len(Edges) must be len(Base)+1 and len(Current)+1. Each series
// is normalised to proportions before drawing, so the two may have
// different row counts. The first edge may be -Inf and the last +Inf: those
// open-ended bins are drawn at a nominal width and labelled "< x" / "> x".
// Negative or non-finite counts are drawn as zero. More than 60 bins are
// merged pairwise (or more) into at most 60.
type HistogramPair struct {
	Title                   string
	Edges                   []float64
	Base, Current           []float64
	BaseLabel, CurrentLabel string // default "base" and "current"
}

// CategoryPair compares a categorical column's frequencies in two data sets
// as grouped horizontal bars, each series normalised to proportions.
// Labels, Base and Current must have the same length. Past 30 categories
// the rest are merged into one "other" row.
type CategoryPair struct {
	Title                   string
	Labels                  []string
	Base, Current           []float64
	BaseLabel, CurrentLabel string
}

// Bars is a horizontal bar chart of one value per label, e.g. a drift
// statistic per column. Flag (empty, or one per label) colours bars red.
// Threshold, when finite and non-zero, is drawn as a dashed line. With
// LogScale the axis is logarithmic and values <= 0 are shown as "n/a". Past
// 80 bars only the flagged and then the largest are kept, in input order.
type Bars struct {
	Title     string
	Labels    []string
	Values    []float64
	Threshold float64
	Flag      []bool
	XLabel    string
	LogScale  bool
}

// ScoreHistogram is the distribution of per-row scores (outlier, label
// noise), with the Marked rows (empty, or one per score) stacked in the
// alarm colour. NaN and infinite scores are ignored. Threshold, when finite
// and non-zero, is drawn as a dashed line.
type ScoreHistogram struct {
	Title     string
	Scores    []float64
	Marked    []bool
	Threshold float64
	XLabel    string
}

func (HistogramPair) isChart()  {}
func (CategoryPair) isChart()   {}
func (Bars) isChart()           {}
func (ScoreHistogram) isChart() {}

// svgw accumulates one SVG element.
type svgw struct {
	b strings.Builder
}

func (s *svgw) raw(markup string) { s.b.WriteString(markup) }

// text writes v as element content.
func (s *svgw) text(v string) { s.b.WriteString(template.HTMLEscapeString(v)) }

// attr writes name="v" with v escaped.
func (s *svgw) attr(name, v string) {
	s.b.WriteByte(' ')
	s.b.WriteString(name)
	s.b.WriteString(`="`)
	s.b.WriteString(template.HTMLEscapeString(v))
	s.b.WriteByte('"')
}

// num writes a coordinate attribute.
func (s *svgw) num(name string, v float64) {
	s.b.WriteByte(' ')
	s.b.WriteString(name)
	s.b.WriteString(`="`)
	s.b.WriteString(svgCoord(v))
	s.b.WriteByte('"')
}

func (s *svgw) rect(class string, x, y, w, h float64, title string) {
	s.raw("<rect")
	s.attr("class", class)
	s.num("x", x)
	s.num("y", y)
	s.num("width", math.Max(w, 0))
	s.num("height", math.Max(h, 0))
	if title == "" {
		s.raw("/>")
		return
	}
	s.raw("><title>")
	s.text(title)
	s.raw("</title></rect>")
}

func (s *svgw) line(class string, x1, y1, x2, y2 float64) {
	s.raw("<line")
	s.attr("class", class)
	s.num("x1", x1)
	s.num("y1", y1)
	s.num("x2", x2)
	s.num("y2", y2)
	s.raw("/>")
}

// label writes a text element; anchor is start, middle or end.
func (s *svgw) label(class, anchor string, x, y float64, v string) {
	s.raw("<text")
	if class != "" {
		s.attr("class", class)
	}
	if anchor != "start" {
		s.attr("text-anchor", anchor)
	}
	s.num("x", x)
	s.num("y", y)
	s.raw(">")
	s.text(v)
	s.raw("</text>")
}

// open starts the svg element with an accessible name and description.
func (s *svgw) open(id string, w, h float64, title, desc string) {
	s.raw(`<svg xmlns="http://www.w3.org/2000/svg" role="img"`)
	s.num("width", w)
	s.num("height", h)
	s.raw(` viewBox="0 0 `)
	s.raw(svgCoord(w) + " " + svgCoord(h))
	s.raw(`"`)
	s.attr("aria-labelledby", id+"t "+id+"d")
	s.raw("><title")
	s.attr("id", id+"t")
	s.raw(">")
	s.text(title)
	s.raw("</title><desc")
	s.attr("id", id+"d")
	s.raw(">")
	s.text(desc)
	s.raw("</desc>")
}

func (s *svgw) close() template.HTML {
	s.raw("</svg>")
	// The markup is built only from constants, formatted numbers and
	// escaped strings (see the file comment), so it is safe as HTML.
	return template.HTML(s.b.String()) // #nosec G203 -- escaped above
}

// svgCoord formats a pixel coordinate with one decimal, the same bytes on
// every platform. Non-finite values (which the layout code avoids) become 0
// rather than an attribute a browser would reject.
func svgCoord(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	v = math.Round(v*10) / 10
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// fmtNum formats a data value for axes and tooltips: 4 significant digits,
// exponents written short ("1.2e5").
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+∞"
	case math.IsInf(v, -1):
		return "−∞"
	case v == 0:
		return "0"
	}
	s := strconv.FormatFloat(v, 'g', 4, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := ""
		if exp[0] == '-' {
			sign = "-"
		}
		exp = strings.TrimLeft(exp[1:], "0")
		s = mant + "e" + sign + exp
	}
	return s
}

// svgRows says how many rows, singular or plural.
func svgRows(n float64) string {
	if n == 1 {
		return "1 row"
	}
	return fmtNum(n) + " rows"
}

// fmtPct formats a proportion as a percentage.
func fmtPct(p float64) string {
	if p == 0 {
		return "0%"
	}
	return fmtNum(p*100) + "%"
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceTicks returns round values covering [lo, hi] with about n intervals:
// the first tick is <= lo and the last >= hi, so the axis ends on a label.
// It falls back to {lo, hi} for a range it cannot divide.
func niceTicks(lo, hi float64, n int) []float64 {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []float64{0, 1}
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	step := niceStep((hi - lo) / float64(n))
	start := math.Floor(lo/step+1e-9) * step
	k := int(math.Ceil((hi-start)/step - 1e-9))
	if math.IsInf(step, 0) || math.IsNaN(start) || k < 1 || k > 4*n+4 {
		return []float64{lo, hi}
	}
	out := make([]float64, 0, k+1)
	for i := 0; i <= k; i++ {
		v := start + float64(i)*step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}

// cutRunes shortens s to n runes with an ellipsis.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// finiteCount treats anything that cannot be a count as zero.
func finiteCount(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// proportions normalises counts to sum to 1 (all zero when they sum to 0).
func proportions(c []float64) ([]float64, float64) {
	out := make([]float64, len(c))
	total := 0.0
	for i, v := range c {
		out[i] = finiteCount(v)
		total += out[i]
	}
	if total > 0 && !math.IsInf(total, 0) {
		for i := range out {
			out[i] /= total
		}
	} else {
		clear(out)
		total = 0
	}
	return out, total
}

// Chart geometry shared by the plots (pixels in the viewBox).
const (
	chartW   = 480.0
	plotTop  = 30.0 // room for the legend
	padRight = 14.0
	labelW   = 148.0 // left margin for row labels of horizontal bar charts
)

// yAxis draws horizontal grid lines and labels for a vertical value axis
// from 0 to ts[len-1] and returns the mapping from value to y.
func yAxis(s *svgw, ts []float64, left, right, top, bottom float64, pct bool) func(float64) float64 {
	ymax := ts[len(ts)-1]
	y := func(v float64) float64 {
		if ymax <= 0 {
			return bottom
		}
		return bottom - (bottom-top)*math.Min(v/ymax, 1)
	}
	s.raw(`<g class="ax">`)
	for _, t := range ts {
		yy := y(t)
		s.line("grid", left, yy, right, yy)
		l := fmtNum(t)
		if pct {
			l = fmtPct(t)
		}
		s.label("", "end", left-4, yy+3.5, l)
	}
	s.raw("</g>")
	return y
}

// legendItem is one swatch in a chart legend.
type legendItem struct {
	class string // swatch class
	line  bool   // draw the swatch as a line (threshold, step series)
	text  string
}

func svgLegend(s *svgw, x float64, items []legendItem) {
	s.raw(`<g class="legend">`)
	for _, it := range items {
		t := cutRunes(it.text, legendRunes)
		if it.line {
			s.line(it.class, x, 12, x+14, 12)
		} else {
			s.rect(it.class, x, 7, 12, 10, "")
		}
		s.label("", "start", x+18, 16, t)
		// Approximate advance for an 11px sans-serif label.
		x += 18 + 6.2*float64(len([]rune(t))) + 14
	}
	s.raw("</g>")
}

func svgPlaceholder(s *svgw, w, h float64, msg string) {
	s.label("empty", "middle", w/2, h/2, msg)
}

// ---- HistogramPair ----

// mergeBins sums groups of adjacent bins so at most maxHistBins remain.
func mergeBins(edges, a, b []float64) ([]float64, []float64, []float64) {
	n := len(a)
	if n <= maxHistBins {
		return edges, a, b
	}
	k := (n + maxHistBins - 1) / maxHistBins
	var e2, a2, b2 []float64
	e2 = append(e2, edges[0])
	for i := 0; i < n; i += k {
		j := min(i+k, n)
		sa, sb := 0.0, 0.0
		for t := i; t < j; t++ {
			sa += a[t]
			sb += b[t]
		}
		a2 = append(a2, sa)
		b2 = append(b2, sb)
		e2 = append(e2, edges[j])
	}
	return e2, a2, b2
}

// numericEdges reports whether edges can be laid out on a numeric axis:
// no NaN, non-decreasing, infinite only at the ends, and a finite part of
// positive width.
func numericEdges(e []float64) bool {
	n := len(e)
	finite := 0
	for i, v := range e {
		if math.IsNaN(v) {
			return false
		}
		if math.IsInf(v, -1) && i != 0 || math.IsInf(v, 1) && i != n-1 {
			return false
		}
		if i > 0 && v < e[i-1] {
			return false
		}
		if !math.IsInf(v, 0) {
			finite++
		}
	}
	if finite < 2 {
		return false
	}
	lo, hi := e[0], e[n-1]
	if math.IsInf(lo, 0) {
		lo = e[1]
	}
	if math.IsInf(hi, 0) {
		hi = e[n-2]
	}
	return hi > lo && !math.IsInf(hi-lo, 0)
}

func binRange(lo, hi float64) string {
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		return "all values"
	case math.IsInf(lo, -1):
		return "< " + fmtNum(hi)
	case math.IsInf(hi, 1):
		return "≥ " + fmtNum(lo)
	}
	return "[" + fmtNum(lo) + ", " + fmtNum(hi) + ")"
}

func (c HistogramPair) validate() error {
	if len(c.Base) != len(c.Current) || len(c.Edges) != len(c.Base)+1 {
		if len(c.Base) == 0 && len(c.Current) == 0 && len(c.Edges) == 0 {
			return nil
		}
		return fmt.Errorf("histogram %q: %d edges, %d base and %d current bins (want n+1, n, n): %w",
			c.Title, len(c.Edges), len(c.Base), len(c.Current), ErrChart)
	}
	return nil
}

func (c HistogramPair) svg(id string) template.HTML {
	const h = 250.0
	left, right, bottom := 46.0, chartW-padRight, h-34
	bl, cl := orDefault(c.BaseLabel, "base"), orDefault(c.CurrentLabel, "current")
	var s svgw
	pb, tb := proportions(c.Base)
	pc, tc := proportions(c.Current)
	s.open(id, chartW, h, c.Title, fmt.Sprintf("Histogram of proportions per bin: %s (%s rows) against %s (%s rows), %d bins.",
		bl, fmtNum(tb), cl, fmtNum(tc), len(c.Base)))
	svgLegend(&s, left, []legendItem{{class: "b", text: bl}, {class: "c", line: true, text: cl}})
	if len(pb) == 0 || tb == 0 && tc == 0 {
		svgPlaceholder(&s, chartW, h, "no observations")
		return s.close()
	}
	edges, pb, pc := mergeBins(c.Edges, pb, pc)
	n := len(pb)

	// x: position of each edge in pixels.
	xs := make([]float64, n+1)
	type tick struct {
		x float64
		l string
	}
	var xt []tick
	if numericEdges(edges) {
		openL, openR := math.IsInf(edges[0], -1), math.IsInf(edges[n], 1)
		f0, f1 := 0, n
		if openL {
			f0 = 1
		}
		if openR {
			f1 = n - 1
		}
		lo, hi := edges[f0], edges[f1]
		span := hi - lo
		nominal := math.Max(span/float64(max(f1-f0, 1)), span/6)
		start := 0.0
		if openL {
			start = nominal
		}
		total := span + start
		if openR {
			total += nominal
		}
		px := func(v float64) float64 { return left + (right-left)*(start+v-lo)/total }
		for i, v := range edges {
			switch {
			case i == 0 && openL:
				xs[i] = left
			case i == n && openR:
				xs[i] = right
			default:
				xs[i] = px(v)
			}
		}
		var openX []float64
		if openL {
			openX = append(openX, (xs[0]+xs[1])/2)
			xt = append(xt, tick{(xs[0] + xs[1]) / 2, "< " + fmtNum(lo)})
		}
		if openR {
			openX = append(openX, (xs[n-1]+xs[n])/2)
			xt = append(xt, tick{(xs[n-1] + xs[n]) / 2, "> " + fmtNum(hi)})
		}
		for _, t := range niceTicks(lo, hi, 5) {
			if t < lo-span*1e-9 || t > hi+span*1e-9 {
				continue
			}
			x := px(t)
			if slices.ContainsFunc(openX, func(o float64) bool { return math.Abs(o-x) < 34 }) {
				continue // would collide with an open-bin label
			}
			xt = append(xt, tick{x, fmtNum(t)})
		}
	} else {
		// Bins of zero total width (a constant column) or odd edges: draw
		// equal-width bins and label a few of their boundaries.
		for i := range xs {
			xs[i] = left + (right-left)*float64(i)/float64(n)
		}
		every := max(1, (n+5)/6)
		for i := 0; i <= n; i += every {
			xt = append(xt, tick{xs[i], fmtNum(edges[i])})
		}
	}

	ymax := math.Max(slices.Max(pb), slices.Max(pc))
	y := yAxis(&s, niceTicks(0, ymax, 4), left, right, plotTop, bottom, true)

	// Base: one path of bars.
	var d strings.Builder
	for i, p := range pb {
		if p <= 0 {
			continue
		}
		fmt.Fprintf(&d, "M%s %sH%sV%sH%sZ", svgCoord(xs[i]), svgCoord(bottom), svgCoord(xs[i+1]), svgCoord(y(p)), svgCoord(xs[i]))
	}
	if d.Len() > 0 {
		s.raw(`<path class="b" d="` + d.String() + `"/>`)
	}
	// Current: a step line.
	var pts strings.Builder
	pts.WriteString(svgCoord(xs[0]) + "," + svgCoord(bottom))
	for i, p := range pc {
		yy := svgCoord(y(p))
		pts.WriteString(" " + svgCoord(xs[i]) + "," + yy + " " + svgCoord(xs[i+1]) + "," + yy)
	}
	pts.WriteString(" " + svgCoord(xs[n]) + "," + svgCoord(bottom))
	s.raw(`<polyline class="c" points="` + pts.String() + `"/>`)

	s.line("axis", left, bottom, right, bottom)
	s.raw(`<g class="ax">`)
	for _, t := range xt {
		s.line("tick", t.x, bottom, t.x, bottom+4)
		s.label("", "middle", t.x, bottom+15, t.l)
	}
	s.raw("</g>")
	// Hover targets carry the exact numbers.
	for i := range n {
		s.rect("hit", xs[i], plotTop, xs[i+1]-xs[i], bottom-plotTop,
			binRange(edges[i], edges[i+1])+": "+bl+" "+fmtPct(pb[i])+", "+cl+" "+fmtPct(pc[i]))
	}
	s.label("ax", "middle", (left+right)/2, h-4, "share of rows per bin")
	return s.close()
}

// ---- CategoryPair ----

func (c CategoryPair) validate() error {
	if len(c.Labels) != len(c.Base) || len(c.Labels) != len(c.Current) {
		return fmt.Errorf("category chart %q: %d labels, %d base and %d current values (want equal): %w",
			c.Title, len(c.Labels), len(c.Base), len(c.Current), ErrChart)
	}
	return nil
}

func (c CategoryPair) svg(id string) template.HTML {
	bl, cl := orDefault(c.BaseLabel, "base"), orDefault(c.CurrentLabel, "current")
	pb, tb := proportions(c.Base)
	pc, tc := proportions(c.Current)
	labels := c.Labels
	if len(labels) > maxCategories {
		// Keep the first categories (callers order them, usually by
		// frequency) and fold the rest into one row so the chart stays small.
		k := maxCategories - 1
		rb, rc := 0.0, 0.0
		for i := k; i < len(labels); i++ {
			rb += pb[i]
			rc += pc[i]
		}
		labels = append(slices.Clone(labels[:k]), fmt.Sprintf("(%d others)", len(labels)-k))
		pb = append(pb[:k:k], rb)
		pc = append(pc[:k:k], rc)
	}
	const rowH, barH = 22.0, 8.0
	left, right := labelW, chartW-padRight
	bottom := plotTop + 4 + rowH*float64(max(len(labels), 1))
	h := bottom + 34
	var s svgw
	s.open(id, chartW, h, c.Title, fmt.Sprintf("Share of rows per category: %s (%s rows) against %s (%s rows), %d categories.",
		bl, fmtNum(tb), cl, fmtNum(tc), len(c.Labels)))
	svgLegend(&s, left, []legendItem{{class: "b", text: bl}, {class: "cb", text: cl}})
	if len(labels) == 0 || tb == 0 && tc == 0 {
		svgPlaceholder(&s, chartW, h, "no observations")
		return s.close()
	}
	pmax := math.Max(slices.Max(pb), slices.Max(pc))
	ts := niceTicks(0, pmax, 4)
	xmax := ts[len(ts)-1]
	x := func(v float64) float64 { return left + (right-left)*math.Min(v/xmax, 1) }
	s.raw(`<g class="ax">`)
	for _, t := range ts {
		s.line("grid", x(t), plotTop, x(t), bottom)
		s.label("", "middle", x(t), bottom+15, fmtPct(t))
	}
	s.raw("</g>")
	for i, l := range labels {
		y0 := plotTop + 4 + rowH*float64(i)
		s.label("cat", "end", left-6, y0+barH+3, cutRunes(l, maxLabelRunes))
		s.rect("b", left, y0, x(pb[i])-left, barH, "")
		s.rect("cb", left, y0+barH, x(pc[i])-left, barH, "")
		s.rect("hit", 0, y0-2, right, rowH, l+": "+bl+" "+fmtPct(pb[i])+", "+cl+" "+fmtPct(pc[i]))
	}
	s.line("axis", left, plotTop, left, bottom)
	s.label("ax", "middle", (left+right)/2, h-4, "share of rows")
	return s.close()
}

// ---- Bars ----

func (c Bars) validate() error {
	if len(c.Labels) != len(c.Values) || len(c.Flag) != 0 && len(c.Flag) != len(c.Labels) {
		return fmt.Errorf("bar chart %q: %d labels, %d values and %d flags (want equal; flags may be empty): %w",
			c.Title, len(c.Labels), len(c.Values), len(c.Flag), ErrChart)
	}
	return nil
}

// pickBars chooses which bars to draw when there are too many: flagged
// first, then the largest values, shown in input order.
func pickBars(values []float64, flag []bool) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	if len(idx) <= maxBars {
		return idx
	}
	key := func(i int) float64 {
		v := values[i]
		if math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		fa, fb := len(flag) > 0 && flag[a], len(flag) > 0 && flag[b]
		if fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		ka, kb := key(a), key(b)
		switch {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return 0
	})
	idx = idx[:maxBars]
	slices.Sort(idx)
	return idx
}

func (c Bars) svg(id string) template.HTML {
	show := pickBars(c.Values, c.Flag)
	const rowH, barH = 16.0, 11.0
	left, right := labelW, chartW-padRight-44 // room for value labels
	bottom := plotTop + 4 + rowH*float64(max(len(show), 1))
	h := bottom + 36
	thr := c.Threshold
	hasThr := thr != 0 && !math.IsNaN(thr) && !math.IsInf(thr, 0) && (!c.LogScale || thr > 0)
	nflag := 0
	for _, f := range c.Flag {
		if f {
			nflag++
		}
	}
	desc := fmt.Sprintf("Bar chart of %d values", len(c.Values))
	if len(show) < len(c.Values) {
		desc += fmt.Sprintf(", %d shown (flagged first, then largest)", len(show))
	}
	if hasThr {
		desc += ", threshold " + fmtNum(thr)
	}
	desc += fmt.Sprintf(", %d flagged.", nflag)
	var s svgw
	s.open(id, chartW, h, c.Title, desc)
	var items []legendItem
	if len(c.Flag) > 0 {
		items = append(items, legendItem{class: "f", text: fmt.Sprintf("flagged (%d)", nflag)})
	}
	if hasThr {
		items = append(items, legendItem{class: "thr", line: true, text: "threshold " + fmtNum(thr)})
	}
	svgLegend(&s, left, items)

	// Value range over what is drawable.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, i := range show {
		v := c.Values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || c.LogScale && v <= 0 {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hasThr {
		lo, hi = math.Min(lo, thr), math.Max(hi, thr)
	}
	if math.IsInf(lo, 1) {
		svgPlaceholder(&s, chartW, h, "no values to draw")
		return s.close()
	}
	var x func(float64) float64
	var origin float64
	s.raw(`<g class="ax">`)
	if c.LogScale {
		// The floor sits below the smallest value so that its bar has
		// length: a bar of zero length would read as "no value".
		e0, e1 := math.Floor(math.Log10(lo)-1e-9), math.Ceil(math.Log10(hi))
		e1 = math.Min(e1, 308) // 1e309 overflows
		if e1 <= e0 {
			e0 = e1 - 1
		}
		x = func(v float64) float64 {
			f := (math.Log10(v) - e0) / (e1 - e0)
			return left + (right-left)*math.Min(math.Max(f, 0), 1)
		}
		origin = left
		// Label at most seven decades, counting down from the top one so
		// the end of the axis is always labelled.
		every := math.Ceil((e1 - e0) / 6)
		for e := e1; e >= e0; e -= every {
			v := math.Pow(10, e)
			s.line("grid", x(v), plotTop, x(v), bottom)
			s.label("", "middle", x(v), bottom+15, fmtNum(v))
		}
	} else {
		ts := niceTicks(math.Min(lo, 0), math.Max(hi, 0), 5)
		t0, t1 := ts[0], ts[len(ts)-1]
		x = func(v float64) float64 { return left + (right-left)*(v-t0)/(t1-t0) }
		origin = x(0)
		for _, t := range ts {
			s.line("grid", x(t), plotTop, x(t), bottom)
			s.label("", "middle", x(t), bottom+15, fmtNum(t))
		}
	}
	s.raw("</g>")
	for row, i := range show {
		v := c.Values[i]
		y0 := plotTop + 4 + rowH*float64(row)
		flagged := len(c.Flag) > 0 && c.Flag[i]
		class := "bar"
		if flagged {
			class = "f"
		}
		s.label("cat", "end", left-6, y0+barH-1.5, cutRunes(c.Labels[i], maxLabelRunes))
		tip := c.Labels[i] + ": " + fmtNum(v)
		if flagged {
			tip += " (flagged)"
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || c.LogScale && v <= 0 {
			s.label("val", "start", origin+4, y0+barH-1.5, "n/a")
		} else {
			x1 := x(v)
			s.rect(class, math.Min(origin, x1), y0, math.Abs(x1-origin), barH, "")
			s.label("val", "start", math.Max(origin, x1)+4, y0+barH-1.5, fmtNum(v))
		}
		s.rect("hit", 0, y0-2, chartW, rowH, tip)
	}
	s.line("axis", origin, plotTop, origin, bottom)
	if hasThr {
		s.line("thr", x(thr), plotTop-2, x(thr), bottom)
	}
	xl := c.XLabel
	if c.LogScale {
		xl = strings.TrimSpace(xl + " (log scale)")
	}
	s.label("ax", "middle", (left+right)/2, h-4, xl)
	return s.close()
}

// ---- ScoreHistogram ----

func (c ScoreHistogram) validate() error {
	if len(c.Marked) != 0 && len(c.Marked) != len(c.Scores) {
		return fmt.Errorf("score histogram %q: %d scores and %d marks (want equal, or no marks): %w",
			c.Title, len(c.Scores), len(c.Marked), ErrChart)
	}
	return nil
}

func (c ScoreHistogram) svg(id string) template.HTML {
	const h = 250.0
	left, right, bottom := 46.0, chartW-padRight, h-34
	thr := c.Threshold
	hasThr := thr != 0 && !math.IsNaN(thr) && !math.IsInf(thr, 0)
	lo, hi := math.Inf(1), math.Inf(-1)
	n, nm := 0, 0
	for i, v := range c.Scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		n++
		if len(c.Marked) > 0 && c.Marked[i] {
			nm++
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var s svgw
	desc := fmt.Sprintf("Histogram of %d finite scores, %d flagged", n, nm)
	if hasThr {
		desc += ", threshold " + fmtNum(thr)
	}
	s.open(id, chartW, h, c.Title, desc+".")
	items := []legendItem{{class: "bar", text: fmt.Sprintf("not flagged (%d)", n-nm)}}
	if len(c.Marked) > 0 {
		items = append(items, legendItem{class: "f", text: fmt.Sprintf("flagged (%d)", nm)})
	} else {
		items[0].text = fmt.Sprintf("rows (%d)", n)
	}
	if hasThr {
		items = append(items, legendItem{class: "thr", line: true, text: "threshold " + fmtNum(thr)})
	}
	svgLegend(&s, left, items)
	if n == 0 {
		svgPlaceholder(&s, chartW, h, "no finite scores")
		return s.close()
	}
	if hasThr {
		lo, hi = math.Min(lo, thr), math.Max(hi, thr)
	}
	// Bins on round boundaries from the axis ticks' step.
	xt := niceTicks(lo, hi, 5)
	step := niceStep((hi - lo) / 40)
	if hi == lo || math.IsInf(hi-lo, 0) {
		step = (xt[len(xt)-1] - xt[0]) / 10
	}
	x0, x1 := xt[0], xt[len(xt)-1]
	nb := int(math.Ceil((x1 - x0) / step))
	if !(step > 0) || nb < 1 || nb > 100*maxHistBins {
		nb, step = 1, x1-x0
	}
	for nb > maxHistBins {
		step *= 2
		nb = int(math.Ceil((x1 - x0) / step))
	}
	plain, marked := make([]float64, nb), make([]float64, nb)
	for i, v := range c.Scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		b := min(max(int((v-x0)/step), 0), nb-1)
		if len(c.Marked) > 0 && c.Marked[i] {
			marked[b]++
		} else {
			plain[b]++
		}
	}
	top := 0.0
	for i := range plain {
		top = math.Max(top, plain[i]+marked[i])
	}
	yt := niceTicks(0, top, 4)
	if yt[1]-yt[0] < 1 { // counts: no fractional ticks
		yt = []float64{0, 1}
		for t := 2.0; t < top; t++ {
			yt = append(yt, t)
		}
		if top > 1 {
			yt = append(yt, math.Ceil(top))
		}
	}
	y := yAxis(&s, yt, left, right, plotTop, bottom, false)
	span := x1 - x0
	x := func(v float64) float64 { return left + (right-left)*(v-x0)/span }
	for i := range nb {
		a := x0 + float64(i)*step
		xa, xb := x(a), x(math.Min(a+step, x1))
		if plain[i] > 0 {
			s.rect("bar", xa, y(plain[i]), xb-xa, bottom-y(plain[i]), "")
		}
		if marked[i] > 0 {
			yt := y(plain[i] + marked[i])
			s.rect("f", xa, yt, xb-xa, y(plain[i])-yt, "")
		}
		if plain[i]+marked[i] > 0 {
			s.rect("hit", xa, plotTop, xb-xa, bottom-plotTop, fmt.Sprintf("%s: %s, %s flagged",
				binRange(a, a+step), svgRows(plain[i]+marked[i]), fmtNum(marked[i])))
		}
	}
	s.line("axis", left, bottom, right, bottom)
	s.raw(`<g class="ax">`)
	for _, t := range xt {
		s.line("tick", x(t), bottom, x(t), bottom+4)
		s.label("", "middle", x(t), bottom+15, fmtNum(t))
	}
	s.raw("</g>")
	if hasThr {
		s.line("thr", x(thr), plotTop-2, x(thr), bottom)
	}
	s.label("ax", "middle", (left+right)/2, h-4, orDefault(c.XLabel, "score"))
	return s.close()
}

// chartSVG validates and draws one chart.
func chartSVG(c Chart, id string) (template.HTML, error) {
	switch c := c.(type) {
	case HistogramPair:
		return drawChart(c, id)
	case *HistogramPair:
		if c != nil {
			return drawChart(*c, id)
		}
	case CategoryPair:
		return drawChart(c, id)
	case *CategoryPair:
		if c != nil {
			return drawChart(*c, id)
		}
	case Bars:
		return drawChart(c, id)
	case *Bars:
		if c != nil {
			return drawChart(*c, id)
		}
	case ScoreHistogram:
		return drawChart(c, id)
	case *ScoreHistogram:
		if c != nil {
			return drawChart(*c, id)
		}
	}
	return "", fmt.Errorf("chart %T is nil or not drawable: %w", c, ErrChart)
}

type drawable interface {
	validate() error
	svg(id string) template.HTML
}

func drawChart(d drawable, id string) (template.HTML, error) {
	if err := d.validate(); err != nil {
		return "", err
	}
	return d.svg(id), nil
}
