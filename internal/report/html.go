package report

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// HTMLDoc is a self-contained HTML report for the data guard (drift, audit,
// validate): a headline verdict and sections of text, tables and charts.
// Every string in it is treated as untrusted (it may come from column
// names, file names or cell values) and is escaped on output.
type HTMLDoc struct {
	Title    string
	Subtitle string // e.g. "base: train.csv · current: today.csv"
	Verdict  string // short headline, e.g. "DRIFT in 3 of 30 columns"
	Bad      bool   // colours the verdict as a failure rather than a pass
	Sections []HTMLSection
}

// HTMLSection is one heading with optional text, table and charts.
type HTMLSection struct {
	Heading string
	Text    string // plain text; blank lines separate paragraphs
	Table   *HTMLTable
	Charts  []Chart // laid out in a responsive grid
}

// HTMLTable is a table with a sticky header. Rows shorter than the header
// are padded with empty cells; Flag and Numeric may be shorter than the
// rows and columns they describe (missing entries are false).
type HTMLTable struct {
	Columns []string
	Rows    [][]string
	Flag    []bool // per row: highlight (drifted column, violation)
	Numeric []bool // per column: right-align
}

// WriteHTML renders doc as one HTML file that loads nothing: inline CSS,
// inline SVG charts, no scripts, and a Content-Security-Policy that forbids
// any fetch should a browser find something to fetch. Output is a pure
// function of doc, so it can be compared byte for byte.
//
// A chart whose slices disagree in length is an error (wrapping
// [ErrChart] and naming the chart); nothing is written then. Odd values
// (NaN, infinities, all-zero counts, empty data) are drawn as best they
// can be, never rejected.
func WriteHTML(w io.Writer, doc HTMLDoc) error {
	page := htmlPage{
		Title:    doc.Title,
		Subtitle: doc.Subtitle,
		Verdict:  doc.Verdict,
		Bad:      doc.Bad,
	}
	if page.Title == "" {
		page.Title = "rampart report"
	}
	nchart := 0
	for i, sec := range doc.Sections {
		ps := htmlSec{
			ID:      "s" + strconv.Itoa(i+1),
			Heading: sec.Heading,
			Paras:   paragraphs(sec.Text),
			Table:   tableData(sec.Table),
		}
		for j, c := range sec.Charts {
			nchart++
			svg, err := chartSVG(c, "c"+strconv.Itoa(nchart))
			if err != nil {
				return fmt.Errorf("html report: section %q, chart %d: %w", sec.Heading, j+1, err)
			}
			ps.Charts = append(ps.Charts, svg)
		}
		page.Sections = append(page.Sections, ps)
	}
	// Render fully before writing so an error never leaves half a file.
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

type htmlPage struct {
	Title, Subtitle, Verdict string
	Bad                      bool
	Sections                 []htmlSec
}

type htmlSec struct {
	ID, Heading string
	Paras       []string
	Table       *htmlTable
	Charts      []template.HTML
}

type htmlTable struct {
	Columns []htmlCell
	Rows    []htmlRow
}

type htmlRow struct {
	Flag  bool
	Cells []htmlCell
}

type htmlCell struct {
	Text string
	Num  bool
}

var blankLines = regexp.MustCompile(`\n[ \t\r]*\n`)

// paragraphs splits text at blank lines, dropping empty paragraphs.
func paragraphs(text string) []string {
	var out []string
	for _, p := range blankLines.Split(strings.ReplaceAll(text, "\r\n", "\n"), -1) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func tableData(t *HTMLTable) *htmlTable {
	if t == nil || len(t.Columns) == 0 && len(t.Rows) == 0 {
		return nil
	}
	width := len(t.Columns)
	for _, r := range t.Rows {
		width = max(width, len(r))
	}
	num := func(j int) bool { return j < len(t.Numeric) && t.Numeric[j] }
	out := &htmlTable{Columns: make([]htmlCell, width), Rows: make([]htmlRow, len(t.Rows))}
	for j := range width {
		out.Columns[j].Num = num(j)
		if j < len(t.Columns) {
			out.Columns[j].Text = t.Columns[j]
		}
	}
	for i, r := range t.Rows {
		row := htmlRow{Flag: i < len(t.Flag) && t.Flag[i], Cells: make([]htmlCell, width)}
		for j := range width {
			row.Cells[j].Num = num(j)
			if j < len(r) {
				row.Cells[j].Text = r[j]
			}
		}
		out.Rows[i] = row
	}
	return out
}

// pageCSS styles the page in light and dark schemes and for print. Chart
// colours are CSS variables so the SVGs follow the scheme too.
const pageCSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--grid:#e6eaef;--head:#f6f8fa;
--base:#3b75af;--cur:#e8710a;--bar:#6e7781;--bad:#cf222e;--ok:#1a7f37;--flagbg:#ffebe9;--hover:rgba(0,0,0,.06)}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--grid:#262c36;--head:#151b23;
--base:#6cb6ff;--cur:#ffa657;--bar:#9198a1;--bad:#ff7b72;--ok:#3fb950;--flagbg:#3c1618;--hover:rgba(255,255,255,.08)}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px;overflow-wrap:anywhere}
h2{font-size:18px;margin:36px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.sub{color:var(--muted);margin:0 0 16px;overflow-wrap:anywhere}
.verdict{display:inline-block;font-size:20px;font-weight:600;padding:8px 16px;border-radius:6px;border:2px solid;overflow-wrap:anywhere}
.verdict.bad{color:var(--bad);border-color:var(--bad)}
.verdict.ok{color:var(--ok);border-color:var(--ok)}
nav{margin:16px 0 0;color:var(--muted)}
nav ol{margin:4px 0 0;padding-left:20px;columns:3 220px}
nav a{color:inherit}
section p{white-space:pre-line;max-width:80ch;overflow-wrap:anywhere}
.tablewrap{max-height:70vh;overflow:auto;border:1px solid var(--line);border-radius:6px;margin:12px 0}
table{border-collapse:separate;border-spacing:0;width:100%;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{position:sticky;top:0;z-index:1;background:var(--head);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.flag td{background:var(--flagbg)}
tr.flag td:first-child{box-shadow:inset 4px 0 var(--bad)}
tbody tr:hover td{background-image:linear-gradient(var(--hover),var(--hover))}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:16px;margin:12px 0}
figure{margin:0;padding:8px;border:1px solid var(--line);border-radius:6px;break-inside:avoid}
figure svg{display:block;width:100%;height:auto}
svg{font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg text{fill:var(--fg)}
svg .ax text,svg text.ax,svg text.val{fill:var(--muted)}
svg text.empty{fill:var(--muted);font-size:14px}
svg .grid{stroke:var(--grid)}
svg .axis,svg .tick{stroke:var(--muted)}
svg .b{fill:var(--base);fill-opacity:.55}
svg .c{fill:none;stroke:var(--cur);stroke-width:2;stroke-linejoin:round}
svg .cb{fill:var(--cur);fill-opacity:.85}
svg .bar{fill:var(--bar)}
svg .f{fill:var(--bad)}
svg .thr{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:5 3}
svg .hit{fill:transparent}
svg .hit:hover{fill:var(--hover)}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{:root{color-scheme:light;--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--grid:#ddd;--head:#eee;
--base:#3b75af;--cur:#e8710a;--bar:#6e7781;--bad:#cf222e;--ok:#1a7f37;--flagbg:#ffebe9}
main{max-width:none;padding:0}
nav{display:none}
.tablewrap{max-height:none;overflow:visible;border:0}
th{position:static}
thead{display:table-header-group}
tr{break-inside:avoid}
h2{break-after:avoid}
.charts{grid-template-columns:repeat(2,1fr)}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
`

// pageTmpl is parsed once; html/template escapes every field by context.
// The only unescaped values are the charts, which svg.go builds from
// escaped strings.
var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="rampart">
<title>{{.Title}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
{{- if .Subtitle}}
<p class="sub">{{.Subtitle}}</p>
{{- end}}
{{- if .Verdict}}
<div class="verdict {{if .Bad}}bad{{else}}ok{{end}}" role="status">{{if .Bad}}✗{{else}}✓{{end}} {{.Verdict}}</div>
{{- end}}
{{- if gt (len .Sections) 1}}
<nav aria-label="Contents">Contents<ol>
{{- range .Sections}}
<li><a href="#{{.ID}}">{{or .Heading .ID}}</a></li>
{{- end}}
</ol></nav>
{{- end}}
</header>
{{- range .Sections}}
<section id="{{.ID}}">
{{- if .Heading}}
<h2>{{.Heading}}</h2>
{{- end}}
{{- range .Paras}}
<p>{{.}}</p>
{{- end}}
{{- with .Table}}
<div class="tablewrap"><table>
<thead><tr>{{range .Columns}}<th scope="col"{{if .Num}} class="num"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr{{if .Flag}} class="flag"{{end}}>{{range .Cells}}<td{{if .Num}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table></div>
{{- end}}
{{- if .Charts}}
<div class="charts">
{{- range .Charts}}
<figure>{{.}}</figure>
{{- end}}
</div>
{{- end}}
</section>
{{- end}}
<footer>Written by rampart. This file is self-contained: it loads nothing from the network and runs no scripts.</footer>
</main>
</body>
</html>
`))
