package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// driftDoc is a drift report with every chart kind, open-ended bins,
// hostile names and a flagged table.
func driftDoc() HTMLDoc {
	inf := math.Inf(1)
	edges := []float64{math.Inf(-1), 0, 10, 20, 30, 40, 50, 60, 70, inf}
	ages := HistogramPair{
		Title: "age", Edges: edges,
		Base:      []float64{3, 40, 120, 180, 160, 110, 60, 25, 2},
		Current:   []float64{1, 10, 50, 110, 170, 190, 140, 70, 9},
		BaseLabel: "train.csv", CurrentLabel: "today.csv",
	}
	fine := HistogramPair{Title: "income (finite edges)", Edges: []float64{0, 0.25, 0.5, 0.75, 1},
		Base: []float64{5, 10, 10, 5}, Current: []float64{5, 10, 10, 5}}
	cats := CategoryPair{
		Title:  "country",
		Labels: []string{"DE", "FR", "US", "a very long category name that is cut", "<script>alert(1)</script>"},
		Base:   []float64{400, 300, 200, 50, 50}, Current: []float64{200, 300, 400, 0, 100},
		BaseLabel: "train.csv", CurrentLabel: "today.csv",
	}
	stat := Bars{
		Title:     "PSI per column",
		Labels:    []string{"age", "income", "country", `"><img src=x onerror=alert(1)>`, "zip"},
		Values:    []float64{0.31, 0.02, 0.45, 0.08, math.NaN()},
		Flag:      []bool{true, false, true, false, false},
		Threshold: 0.2, XLabel: "population stability index",
	}
	logBars := Bars{
		Title: "p-value per column", Labels: []string{"age", "income", "country"},
		Values: []float64{1e-6, 0.3, 0}, Flag: []bool{true, false, false},
		Threshold: 0.01, XLabel: "p-value", LogScale: true,
	}
	r := rand.New(rand.NewPCG(1, 2))
	scores := make([]float64, 500)
	marked := make([]bool, len(scores))
	for i := range scores {
		scores[i] = r.NormFloat64()
		if i%97 == 0 {
			scores[i] = 4 + r.Float64()
		}
		marked[i] = scores[i] > 3
	}
	scores[7] = math.NaN()
	out := ScoreHistogram{Title: "outlier score", Scores: scores, Marked: marked, Threshold: 3, XLabel: "isolation score"}
	return HTMLDoc{
		Title:    "Data drift: train.csv → today.csv",
		Subtitle: "base: train.csv · current: today.csv",
		Verdict:  "DRIFT in 2 of 5 columns",
		Bad:      true,
		Sections: []HTMLSection{
			{
				Heading: "Summary",
				Text:    "Two columns moved past the PSI threshold of 0.2.\nThe rest are stable.\n\nNumbers are proportions of rows.",
				Table: &HTMLTable{
					Columns: []string{"column", "kind", "PSI", "p-value"},
					Rows: [][]string{
						{"age", "numeric", "0.31", "1e-06"},
						{"income", "numeric", "0.02", "0.3"},
						{"country", "categorical", "0.45", "0"},
						{"zip", "numeric"},
					},
					Flag:    []bool{true, false, true},
					Numeric: []bool{false, false, true, true},
				},
				Charts: []Chart{stat, logBars},
			},
			{Heading: "Distributions", Charts: []Chart{ages, &fine, cats}},
			{Heading: "Outliers", Text: "Rows scoring above 3 are flagged.", Charts: []Chart{out}},
		},
	}
}

func renderHTML(t testing.TB, doc HTMLDoc) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, doc); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.Bytes()
}

func TestHTMLGolden(t *testing.T) {
	got := renderHTML(t, driftDoc())
	path := filepath.Join("testdata", "html", "drift.golden.html")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update and review the diff)", path)
	}
	if again := renderHTML(t, driftDoc()); !bytes.Equal(got, again) {
		t.Error("two renderings of the same document differ")
	}
	checkSafe(t, got)
	for _, want := range []string{
		"&lt; 0",            // open-ended low bin
		"&gt; 70",           // open-ended high bin
		"threshold 0.2",     // Bars threshold legend
		`class="thr"`,       // threshold line
		"flagged (2)",       // Bars legend
		"(log scale)",       // log axis
		`<tr class="flag">`, // flagged row
		`<th scope="col" class="num">PSI</th>`,
		"DRIFT in 2 of 5 columns", // verdict
		`class="verdict bad"`,
		"<p>Numbers are proportions of rows.</p>",
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := bytes.Count(got, []byte("<svg ")); n != 6 {
		t.Errorf("%d svg elements, want 6", n)
	}
}

// checkSafe parses page as a browser would and fails on anything that could
// run or fetch: a script element, an event-handler attribute, or a URL
// attribute that leaves the page.
func checkSafe(t *testing.T, page []byte) {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var csp bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "iframe", "object", "embed", "link", "image", "use", "foreignObject", "foreignobject":
				t.Errorf("page contains a <%s> element", n.Data)
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") {
					t.Errorf("<%s> has event handler %s=%q", n.Data, a.Key, a.Val)
				}
				if (k == "href" || k == "src" || k == "xlink:href" || a.Namespace == "xlink") && !strings.HasPrefix(a.Val, "#") {
					t.Errorf("<%s> has external %s=%q", n.Data, a.Key, a.Val)
				}
				if n.Data == "meta" && k == "http-equiv" && strings.EqualFold(a.Val, "Content-Security-Policy") {
					csp = true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	checkGeometry(t, root)
	if !csp {
		t.Error("no Content-Security-Policy meta tag")
	}
	if bytes.Contains(page, []byte("http://")) && bytes.Count(page, []byte("http://")) != bytes.Count(page, []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Error("page mentions an http:// URL other than the SVG namespace")
	}
	if bytes.Contains(page, []byte("https://")) {
		t.Error("page mentions an https:// URL")
	}
}

// geometryProblems lists shapes and labels of charts that lie outside
// their viewBox (a layout bug that would clip them), have a negative size
// or a coordinate that is not a number.
func geometryProblems(root *html.Node) []string {
	var out []string
	errorf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var walk func(n *html.Node, w, h float64)
	walk = func(n *html.Node, w, h float64) {
		if n.Type == html.ElementNode {
			attr := map[string]float64{}
			for _, a := range n.Attr {
				if a.Key == "viewbox" || a.Key == "viewBox" {
					if _, err := fmt.Sscanf(a.Val, "0 0 %g %g", &w, &h); err != nil {
						errorf("viewBox %q: %v", a.Val, err)
					}
				}
				switch a.Key {
				case "x", "y", "x1", "x2", "y1", "y2", "width", "height":
					v, err := strconv.ParseFloat(a.Val, 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						errorf("<%s %s=%q> is not a finite number", n.Data, a.Key, a.Val)
					}
					attr[a.Key] = v
				}
			}
			if n.Data != "svg" && w > 0 {
				const eps = 0.05
				for _, k := range []string{"x", "x1", "x2"} {
					if v, ok := attr[k]; ok && (v < -eps || v > w+eps) {
						errorf("<%s %s=%v> outside width %v", n.Data, k, v, w)
					}
				}
				for _, k := range []string{"y", "y1", "y2"} {
					if v, ok := attr[k]; ok && (v < -eps || v > h+eps) {
						errorf("<%s %s=%v> outside height %v", n.Data, k, v, h)
					}
				}
				if v, ok := attr["width"]; ok && (v < 0 || attr["x"]+v > w+eps) {
					errorf("<%s x=%v width=%v> outside width %v", n.Data, attr["x"], v, w)
				}
				if v, ok := attr["height"]; ok && (v < 0 || attr["y"]+v > h+eps) {
					errorf("<%s y=%v height=%v> outside height %v", n.Data, attr["y"], v, h)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, w, h)
		}
	}
	walk(root, 0, 0)
	return out
}

func checkGeometry(t *testing.T, root *html.Node) {
	t.Helper()
	for _, p := range geometryProblems(root) {
		t.Error(p)
	}
}

func TestGeometryProblems(t *testing.T) {
	for name, svg := range map[string]string{
		"right":    `<svg viewBox="0 0 100 50"><rect x="90" y="0" width="20" height="5"/></svg>`,
		"below":    `<svg viewBox="0 0 100 50"><text x="5" y="51">a</text></svg>`,
		"negative": `<svg viewBox="0 0 100 50"><rect x="5" y="5" width="-1" height="5"/></svg>`,
		"nan":      `<svg viewBox="0 0 100 50"><line x1="NaN" y1="0" x2="1" y2="1"/></svg>`,
	} {
		t.Run(name, func(t *testing.T) {
			root, err := html.Parse(strings.NewReader("<!DOCTYPE html><body>" + svg))
			if err != nil {
				t.Fatal(err)
			}
			if len(geometryProblems(root)) == 0 {
				t.Errorf("no problem found in %s", svg)
			}
		})
	}
	root, _ := html.Parse(strings.NewReader(`<!DOCTYPE html><body><svg viewBox="0 0 100 50"><rect x="0" y="0" width="100" height="50"/></svg>`))
	if p := geometryProblems(root); len(p) != 0 {
		t.Errorf("problems in a fitting rect: %v", p)
	}
}

func TestHTMLEscapesHostileStrings(t *testing.T) {
	hostile := []string{
		`<script>alert(1)</script>`,
		`"><img src=x onerror=alert(1)>`,
		`]]>`,
		`</svg><script>alert(2)</script>`,
		`' onmouseover='alert(3)`,
		"</style><script>alert(4)</script>",
		"</title><script>alert(5)</script>",
	}
	for i, h := range hostile {
		t.Run(fmt.Sprintf("string%d", i), func(t *testing.T) {
			doc := HTMLDoc{
				Title: h, Subtitle: h, Verdict: h, Bad: i%2 == 0,
				Sections: []HTMLSection{
					{Heading: h, Text: h + "\n\n" + h,
						Table: &HTMLTable{Columns: []string{h, "n"}, Rows: [][]string{{h, h}, {h}}, Flag: []bool{true}},
						Charts: []Chart{
							HistogramPair{Title: h, Edges: []float64{0, 1, 2}, Base: []float64{1, 2}, Current: []float64{2, 1}, BaseLabel: h, CurrentLabel: h},
							CategoryPair{Title: h, Labels: []string{h, "b"}, Base: []float64{1, 2}, Current: []float64{2, 1}, BaseLabel: h, CurrentLabel: h},
							Bars{Title: h, Labels: []string{h}, Values: []float64{1}, XLabel: h, Threshold: 0.5},
							ScoreHistogram{Title: h, Scores: []float64{1, 2, 3}, Marked: []bool{false, false, true}, XLabel: h},
						}},
				},
			}
			page := renderHTML(t, doc)
			checkSafe(t, page)
			for _, bad := range []string{"<script", "<img", "</svg><script", "onerror=alert(1)>", "' onmouseover='", "</style><", "</title><script"} {
				if bytes.Contains(page, []byte(bad)) {
					t.Errorf("raw %q in output", bad)
				}
			}
			// The text must still be there, escaped, for the reader.
			if !bytes.Contains(page, []byte("&lt;")) && strings.Contains(h, "<") {
				t.Error("hostile text vanished instead of being escaped")
			}
			if bytes.Count(page, []byte("<svg ")) != 4 || bytes.Count(page, []byte("</svg>")) != 4 {
				t.Error("an svg element was opened or closed by input")
			}
		})
	}
}

func TestHTMLChartErrors(t *testing.T) {
	tests := []struct {
		name  string
		chart Chart
	}{
		{"histogram edges", HistogramPair{Title: "h1", Edges: []float64{0, 1}, Base: []float64{1, 2}, Current: []float64{1, 2}}},
		{"histogram series", HistogramPair{Title: "h2", Edges: []float64{0, 1, 2}, Base: []float64{1, 2}, Current: []float64{1}}},
		{"category", CategoryPair{Title: "c1", Labels: []string{"a"}, Base: []float64{1, 2}, Current: []float64{1}}},
		{"bars values", Bars{Title: "b1", Labels: []string{"a", "b"}, Values: []float64{1}}},
		{"bars flags", Bars{Title: "b2", Labels: []string{"a"}, Values: []float64{1}, Flag: []bool{true, false}}},
		{"scores", ScoreHistogram{Title: "s1", Scores: []float64{1}, Marked: []bool{true, true}}},
		{"nil chart", nil},
		{"nil pointer", (*Bars)(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteHTML(&b, HTMLDoc{Sections: []HTMLSection{{Heading: "sec", Charts: []Chart{tc.chart}}}})
			if !errors.Is(err, ErrChart) {
				t.Fatalf("err = %v, want ErrChart", err)
			}
			if !strings.Contains(err.Error(), `section "sec"`) {
				t.Errorf("error %q does not name the section", err)
			}
			if title := chartTitle(tc.chart); title != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", title)) {
				t.Errorf("error %q does not name chart %q", err, title)
			}
			if b.Len() != 0 {
				t.Errorf("%d bytes written despite the error", b.Len())
			}
		})
	}
}

func chartTitle(c Chart) string {
	switch c := c.(type) {
	case HistogramPair:
		return c.Title
	case CategoryPair:
		return c.Title
	case Bars:
		return c.Title
	case ScoreHistogram:
		return c.Title
	}
	return ""
}

// TestHTMLOddData draws degenerate inputs that must render, not fail.
func TestHTMLOddData(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name  string
		chart Chart
		want  string // a fragment the drawing must contain
	}{
		{"empty histogram", HistogramPair{Title: "e"}, "no observations"},
		{"all-zero histogram", HistogramPair{Title: "z", Edges: []float64{0, 1, 2}, Base: []float64{0, 0}, Current: []float64{0, 0}}, "no observations"},
		{"single bin", HistogramPair{Title: "one", Edges: []float64{5, 6}, Base: []float64{3}, Current: []float64{4}}, "100%"},
		{"single open bin", HistogramPair{Title: "all", Edges: []float64{-inf, inf}, Base: []float64{3}, Current: []float64{4}}, "all values"},
		{"two open bins", HistogramPair{Title: "split", Edges: []float64{-inf, 3, inf}, Base: []float64{3, 1}, Current: []float64{4, 0}}, "&lt; 3"},
		{"constant column", HistogramPair{Title: "k", Edges: []float64{2, 2}, Base: []float64{3}, Current: []float64{4}}, "<polyline"},
		{"nan edges and counts", HistogramPair{Title: "n", Edges: []float64{nan, 1, nan}, Base: []float64{nan, 1}, Current: []float64{inf, -3}}, "<polyline"},
		{"decreasing edges", HistogramPair{Title: "d", Edges: []float64{3, 2, 1}, Base: []float64{1, 1}, Current: []float64{1, 1}}, "<polyline"},
		{"empty categories", CategoryPair{Title: "c"}, "no observations"},
		{"nan categories", CategoryPair{Title: "c", Labels: []string{"a", "b"}, Base: []float64{nan, 1}, Current: []float64{inf, 1}}, "100%"},
		{"empty bars", Bars{Title: "b"}, "no values to draw"},
		{"nan bars", Bars{Title: "b", Labels: []string{"a", "b"}, Values: []float64{nan, inf}}, "no values to draw"},
		{"negative bars", Bars{Title: "b", Labels: []string{"a", "b"}, Values: []float64{-2, 3}}, ">-2</text>"},
		{"log bars non-positive", Bars{Title: "b", Labels: []string{"a", "b"}, Values: []float64{0, -1}, LogScale: true}, "no values to draw"},
		{"log bars one value", Bars{Title: "b", Labels: []string{"a"}, Values: []float64{1}, LogScale: true}, ">0.1</text>"},
		{"log bars huge", Bars{Title: "b", Labels: []string{"a", "b"}, Values: []float64{1.5e308, 5e-324}, LogScale: true, Threshold: 1e300}, "1e300"},
		{"empty scores", ScoreHistogram{Title: "s"}, "no finite scores"},
		{"nan scores", ScoreHistogram{Title: "s", Scores: []float64{nan, inf, -inf}}, "no finite scores"},
		{"constant scores", ScoreHistogram{Title: "s", Scores: []float64{2, 2, 2}}, "3 rows"},
		{"unmarked scores legend", ScoreHistogram{Title: "s", Scores: []float64{1, 2}}, ">rows (2)</text>"},
		{"unflagged bars legend", Bars{Title: "b", Labels: []string{"a"}, Values: []float64{1}}, `<g class="legend"></g>`},
		{"one score", ScoreHistogram{Title: "s", Scores: []float64{0.5}}, "1 row,"},
		{"huge range scores", ScoreHistogram{Title: "s", Scores: []float64{-1e308, 1e308}, Threshold: 1}, "<svg"},
		{"tiny scores", ScoreHistogram{Title: "s", Scores: []float64{1e-300, 2e-300, 5e-300}}, "<svg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := renderHTML(t, HTMLDoc{Sections: []HTMLSection{{Charts: []Chart{tc.chart}}}})
			if !bytes.Contains(page, []byte(tc.want)) {
				t.Errorf("output lacks %q", tc.want)
			}
			if bytes.Contains(page, []byte("NaN\"")) || bytes.Contains(page, []byte("Inf\"")) {
				t.Error("a non-finite number reached an attribute")
			}
			checkSafe(t, page)
		})
	}
}

// TestHTMLLimits checks that large inputs are cut down to readable,
// bounded charts and that big tables still render.
func TestHTMLLimits(t *testing.T) {
	t.Run("histogram bins merged", func(t *testing.T) {
		n := 1000
		edges := make([]float64, n+1)
		a, b := make([]float64, n), make([]float64, n)
		for i := range edges {
			edges[i] = float64(i)
		}
		for i := range a {
			a[i], b[i] = float64(i%7), float64(i%5)
		}
		page := renderHTML(t, HTMLDoc{Sections: []HTMLSection{{Charts: []Chart{HistogramPair{Title: "big", Edges: edges, Base: a, Current: b}}}}})
		if hits := bytes.Count(page, []byte(`class="hit"`)); hits > maxHistBins || hits < maxHistBins/2 {
			t.Errorf("%d bins drawn, want between %d and %d", hits, maxHistBins/2, maxHistBins)
		}
	})
	t.Run("categories folded", func(t *testing.T) {
		var c CategoryPair
		for i := range 100 {
			c.Labels = append(c.Labels, fmt.Sprintf("cat%d", i))
			c.Base = append(c.Base, 1)
			c.Current = append(c.Current, 2)
		}
		page := renderHTML(t, HTMLDoc{Sections: []HTMLSection{{Charts: []Chart{c}}}})
		if hits := bytes.Count(page, []byte(`class="hit"`)); hits != maxCategories {
			t.Errorf("%d categories drawn, want %d", hits, maxCategories)
		}
		if !bytes.Contains(page, []byte("(71 others)")) {
			t.Error("no row for the folded categories")
		}
	})
	t.Run("bars keep flagged", func(t *testing.T) {
		var c Bars
		for i := range 500 {
			c.Labels = append(c.Labels, fmt.Sprintf("col%d", i))
			c.Values = append(c.Values, float64(i))
			c.Flag = append(c.Flag, i == 3)
		}
		page := renderHTML(t, HTMLDoc{Sections: []HTMLSection{{Charts: []Chart{c}}}})
		if hits := bytes.Count(page, []byte(`class="hit"`)); hits != maxBars {
			t.Errorf("%d bars drawn, want %d", hits, maxBars)
		}
		for _, want := range []string{">col3<", ">col499<"} {
			if !bytes.Contains(page, []byte(want)) {
				t.Errorf("kept bars lack %s", want)
			}
		}
		if bytes.Contains(page, []byte(">col100<")) {
			t.Error("a small unflagged bar was kept over larger ones")
		}
	})
	t.Run("many charts and rows", func(t *testing.T) {
		var sec HTMLSection
		tab := &HTMLTable{Columns: []string{"row", "value"}, Numeric: []bool{false, true}}
		for i := range 5000 {
			tab.Rows = append(tab.Rows, []string{fmt.Sprint(i), fmt.Sprint(i * 3)})
			tab.Flag = append(tab.Flag, i%100 == 0)
		}
		sec.Table = tab
		for i := range 300 {
			sec.Charts = append(sec.Charts, HistogramPair{Title: fmt.Sprint("col", i),
				Edges: []float64{0, 1, 2, 3}, Base: []float64{1, 2, 3}, Current: []float64{3, 2, 1}})
		}
		start := time.Now()
		page := renderHTML(t, HTMLDoc{Sections: []HTMLSection{sec}})
		if bytes.Count(page, []byte("<tr")) != 5001 {
			t.Errorf("%d table rows, want 5001", bytes.Count(page, []byte("<tr")))
		}
		if perChart := (len(page) - 5000*40) / 300; perChart > 8000 {
			t.Errorf("about %d bytes per small chart", perChart)
		}
		t.Logf("5000 rows + 300 charts: %d bytes in %v", len(page), time.Since(start))
	})
}

func TestHTMLParagraphsAndTable(t *testing.T) {
	page := renderHTML(t, HTMLDoc{Verdict: "no drift", Sections: []HTMLSection{{
		Heading: "only",
		Text:    "\n\nfirst\nline two\n  \t\nsecond\r\n\r\nthird\n\n\n",
		Table:   &HTMLTable{Columns: []string{"a"}, Rows: [][]string{{"1", "2", "3"}}},
	}}})
	s := string(page)
	for _, want := range []string{"<p>first\nline two</p>", "<p>second</p>", "<p>third</p>",
		`class="verdict ok"`, "<td>3</td>", "<th scope=\"col\"></th>"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(s, "<nav") {
		t.Error("a table of contents for a single section")
	}
	if strings.Count(s, "<p>") != 3 {
		t.Errorf("%d paragraphs, want 3", strings.Count(s, "<p>"))
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0, 0.37, 4, []float64{0, 0.1, 0.2, 0.3, 0.4}},
		{-3, 7, 5, []float64{-4, -2, 0, 2, 4, 6, 8}},
		{5, 5, 4, []float64{4.5, 4.75, 5, 5.25, 5.5}},
		{0, 0, 4, []float64{-1, -0.5, 0, 0.5, 1}},
		{1000, 9000, 4, []float64{0, 2000, 4000, 6000, 8000, 10000}},
		{0.013, 0.087, 3, []float64{0, 0.025, 0.05, 0.075, 0.1}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.lo, "..", tc.hi), func(t *testing.T) {
			got := niceTicks(tc.lo, tc.hi, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("niceTicks = %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Fatalf("niceTicks = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.30000000000000004: "0.3", 12345: "1.234e4", 1e-6: "1e-6", 0.001: "0.001",
		-2.5: "-2.5", math.Inf(1): "+∞", 1234: "1234",
	} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

// randomDoc builds a document from r with odd lengths, non-finite values
// and hostile strings.
func randomDoc(r *rand.Rand) HTMLDoc {
	strs := []string{"", "a", "<b>", `"'&`, "]]>", "</svg>", "ünïcødé", strings.Repeat("x", 200)}
	str := func() string { return strs[r.IntN(len(strs))] }
	fl := func() float64 {
		switch r.IntN(8) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*r.IntN(2))
		case 2:
			return 0
		case 3:
			return -r.Float64()
		case 4:
			return r.Float64() * 1e9
		}
		return r.Float64()
	}
	floats := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = fl()
		}
		return out
	}
	sorted := func(n int) []float64 {
		out := make([]float64, n)
		v := r.NormFloat64()
		for i := range out {
			out[i] = v
			v += r.Float64() * float64(r.IntN(3))
		}
		if n > 1 && r.IntN(3) == 0 {
			out[0] = math.Inf(-1)
		}
		if n > 1 && r.IntN(3) == 0 {
			out[n-1] = math.Inf(1)
		}
		return out
	}
	bools := func(n int) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = r.IntN(2) == 0
		}
		return out
	}
	strsN := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = str()
		}
		return out
	}
	odd := func(n int) int { // usually n, sometimes off by one
		if r.IntN(10) == 0 {
			return max(0, n+r.IntN(3)-1)
		}
		return n
	}
	var doc HTMLDoc
	doc.Title, doc.Subtitle, doc.Verdict, doc.Bad = str(), str(), str(), r.IntN(2) == 0
	for range r.IntN(4) {
		sec := HTMLSection{Heading: str(), Text: str()}
		if r.IntN(2) == 0 {
			n, m := r.IntN(20), r.IntN(5)
			tab := &HTMLTable{Columns: strsN(m), Flag: bools(r.IntN(n + 1)), Numeric: bools(r.IntN(m + 2))}
			for range n {
				tab.Rows = append(tab.Rows, strsN(r.IntN(m+2)))
			}
			sec.Table = tab
		}
		for range r.IntN(5) {
			n := r.IntN(150)
			switch r.IntN(4) {
			case 0:
				sec.Charts = append(sec.Charts, HistogramPair{Title: str(), Edges: sorted(odd(n + 1)), Base: floats(odd(n)), Current: floats(n), BaseLabel: str()})
			case 1:
				sec.Charts = append(sec.Charts, CategoryPair{Title: str(), Labels: strsN(odd(n)), Base: floats(n), Current: floats(n)})
			case 2:
				sec.Charts = append(sec.Charts, Bars{Title: str(), Labels: strsN(n), Values: floats(odd(n)), Flag: bools(odd(n) * r.IntN(2)), Threshold: fl(), LogScale: r.IntN(2) == 0, XLabel: str()})
			case 3:
				sec.Charts = append(sec.Charts, ScoreHistogram{Title: str(), Scores: floats(n * 10), Marked: bools(odd(n*10) * r.IntN(2)), Threshold: fl()})
			}
		}
		doc.Sections = append(doc.Sections, sec)
	}
	return doc
}

func TestHTMLRandomDocs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ok, failed := 0, 0
	for i := range 300 {
		doc := randomDoc(r)
		var b bytes.Buffer
		err := WriteHTML(&b, doc)
		if err != nil {
			if !errors.Is(err, ErrChart) {
				t.Fatalf("doc %d: unexpected error %v", i, err)
			}
			failed++
			continue
		}
		ok++
		checkSafe(t, b.Bytes())
		if bytes.Contains(b.Bytes(), []byte(`="NaN`)) || bytes.Contains(b.Bytes(), []byte("Inf\"")) {
			t.Fatalf("doc %d: non-finite number in an attribute", i)
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("%d rendered, %d rejected: the generator should produce both", ok, failed)
	}
}

// FuzzWriteHTML drives every chart from arbitrary bytes and strings.
func FuzzWriteHTML(f *testing.F) {
	f.Add("age", "<script>", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add("", "]]></svg>", []byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Add("x", "y", []byte("hello world, this is a longer seed for more values"))
	f.Fuzz(func(t *testing.T, title, label string, data []byte) {
		var vals []float64
		for i := 0; i+8 <= len(data); i += 8 {
			var u uint64
			for _, c := range data[i : i+8] {
				u = u<<8 | uint64(c)
			}
			vals = append(vals, math.Float64frombits(u))
		}
		for _, c := range data {
			vals = append(vals, float64(int8(c)))
		}
		n := len(vals)
		labels := make([]string, n)
		flags := make([]bool, n)
		for i := range labels {
			labels[i] = label
			flags[i] = vals[i] > 0
		}
		edges := make([]float64, n+1)
		copy(edges, vals)
		thr := 0.0
		if n > 0 {
			thr = vals[0]
		}
		doc := HTMLDoc{Title: title, Verdict: label, Sections: []HTMLSection{{Heading: title, Text: label,
			Table: &HTMLTable{Columns: labels, Rows: [][]string{labels}, Flag: flags},
			Charts: []Chart{
				HistogramPair{Title: title, Edges: edges, Base: vals, Current: vals, BaseLabel: label},
				CategoryPair{Title: title, Labels: labels, Base: vals, Current: vals},
				Bars{Title: title, Labels: labels, Values: vals, Flag: flags, Threshold: thr, XLabel: label},
				Bars{Title: title, Labels: labels, Values: vals, LogScale: true},
				ScoreHistogram{Title: title, Scores: vals, Marked: flags},
			}}}}
		var b bytes.Buffer
		if err := WriteHTML(&b, doc); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		root, err := html.Parse(&b)
		if err != nil {
			t.Fatal(err)
		}
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "script" {
				t.Fatal("script element in output")
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(root)
	})
}

// TestHTMLRendersInChromium screenshots the golden page when Debian's
// chromium is installed; it only proves the page renders to a non-trivial
// image, the eye does the rest.
func TestHTMLRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "drift.html")
	if err := os.WriteFile(page, renderHTML(t, driftDoc()), 0o644); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "drift.png")
	cmd := exec.Command(bin, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
		"--window-size=1280,2400", "--screenshot="+png, "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	fi, err := os.Stat(png)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 20000 {
		t.Errorf("screenshot is only %d bytes", fi.Size())
	}
	if keep := os.Getenv("RAMPART_HTML_PNG"); keep != "" {
		b, _ := os.ReadFile(png)
		_ = os.WriteFile(keep, b, 0o644)
	}
}
