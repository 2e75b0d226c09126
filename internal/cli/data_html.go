package cli

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/rampart-ai/rampart/internal/dataguard"
	"github.com/rampart-ai/rampart/internal/report"
)

// maxHTMLCharts bounds the per-column plots in a drift report; drifted
// columns come first.
const maxHTMLCharts = 60

func validateHTML(w io.Writer, profile string, results []*dataguard.Validation) error {
	doc := report.HTMLDoc{Title: "Rampart data validation", Subtitle: "profile: " + profile}
	bad := 0
	for _, v := range results {
		sec := report.HTMLSection{Heading: v.Data}
		if v.Valid {
			sec.Text = fmt.Sprintf("%d rows, no violations.", v.Rows)
		} else {
			bad++
			sec.Text = fmt.Sprintf("%d rows, %d violations.", v.Rows, len(v.Violations))
			t := &report.HTMLTable{Columns: []string{"column", "violation", "count", "example rows", "detail"},
				Numeric: []bool{false, false, true, false, false}}
			bars := report.Bars{Title: "violations per column and kind", XLabel: "rows", LogScale: true}
			for _, x := range v.Violations {
				t.Rows = append(t.Rows, []string{x.Column, x.Kind, strconv.FormatInt(x.Count, 10), rowList(x.Rows), x.Detail})
				t.Flag = append(t.Flag, true)
				bars.Labels = append(bars.Labels, x.Column+" "+x.Kind)
				bars.Values = append(bars.Values, float64(x.Count))
				bars.Flag = append(bars.Flag, true)
			}
			sec.Table = t
			sec.Charts = []report.Chart{bars}
		}
		doc.Sections = append(doc.Sections, sec)
	}
	doc.Bad = bad > 0
	doc.Verdict = fmt.Sprintf("%d of %d files conform", len(results)-bad, len(results))
	return report.WriteHTML(w, doc)
}

func driftHTML(w io.Writer, r *dataguard.DriftResult) error {
	doc := report.HTMLDoc{Title: "Rampart drift report", Subtitle: "base: " + r.Base + " · current: " + r.Current, Bad: r.Drift}
	doc.Verdict = fmt.Sprintf("no drift in %d columns", len(r.Columns))
	if r.Drift {
		doc.Verdict = fmt.Sprintf("DRIFT in %d of %d columns", r.Drifted, len(r.Columns))
	}
	t := &report.HTMLTable{Columns: []string{"column", "kind", "test", "statistic", "p", "p adjusted", "PSI", "JS", "Wasserstein", "drift", "method"},
		Numeric: []bool{false, false, false, true, true, true, true, true, true, false, false}}
	bars := report.Bars{Title: "−log10 adjusted p-value per column", XLabel: "−log10 p (BH)", Threshold: -math.Log10(r.Alpha)}
	for _, c := range r.Columns {
		d := ""
		if c.Drift {
			d = "yes"
		}
		t.Rows = append(t.Rows, []string{c.Name, c.Kind, c.Test, num(c.Statistic), pText(c.PValue), pText(c.PAdjusted),
			num(c.PSI), num(c.JS), num(c.Wasserstein), d, c.Describe()})
		t.Flag = append(t.Flag, c.Drift)
		if c.Test == dataguard.TestKS || c.Test == dataguard.TestChi2 {
			bars.Labels = append(bars.Labels, c.Name)
			bars.Values = append(bars.Values, math.Min(-math.Log10(math.Max(c.PAdjusted, 1e-300)), 300))
			bars.Flag = append(bars.Flag, c.Drift)
		}
	}
	doc.Sections = append(doc.Sections, report.HTMLSection{Heading: "Columns",
		Text:  fmt.Sprintf("p-values adjusted with Benjamini–Hochberg over %d tested columns; a column drifts when its adjusted p-value is below %g.", r.Tested, r.Alpha),
		Table: t, Charts: []report.Chart{bars}})
	var charts []report.Chart
	for pass := 0; pass < 2; pass++ {
		for _, c := range r.Columns {
			if c.Drift != (pass == 0) || len(charts) >= maxHTMLCharts || c.BaseHist == nil {
				continue
			}
			title := c.Name
			if c.Drift {
				title += " (drift)"
			}
			if c.Edges != nil {
				charts = append(charts, report.HistogramPair{Title: title, Edges: c.Edges, Base: c.BaseHist, Current: c.CurHist, BaseLabel: "base", CurrentLabel: "current"})
			} else {
				charts = append(charts, report.CategoryPair{Title: title, Labels: c.Labels, Base: c.BaseHist, Current: c.CurHist, BaseLabel: "base", CurrentLabel: "current"})
			}
		}
	}
	if len(charts) > 0 {
		doc.Sections = append(doc.Sections, report.HTMLSection{Heading: "Distributions, base against current",
			Text: "Numeric columns in base-quantile bins; categorical columns by category (hashed values are shown as hashes).", Charts: charts})
	}
	return report.WriteHTML(w, doc)
}

func auditHTML(w io.Writer, r *dataguard.AuditResult) error {
	doc := report.HTMLDoc{Title: "Rampart data audit", Subtitle: r.Data, Bad: len(r.Findings) > 0}
	doc.Verdict = "no findings"
	if len(r.Findings) > 0 {
		doc.Verdict = fmt.Sprintf("%d findings in %d rows", len(r.Findings), r.Rows)
	}
	sum := report.Bars{Title: "findings by kind", XLabel: "findings"}
	for _, k := range []string{dataguard.KindLeakage, dataguard.KindConflict, dataguard.KindDuplicate, dataguard.KindNearDuplicate,
		dataguard.KindLabelNoise, dataguard.KindOutlier, dataguard.KindImbalance} {
		if r.Summary[k] > 0 {
			sum.Labels = append(sum.Labels, k)
			sum.Values = append(sum.Values, float64(r.Summary[k]))
			sum.Flag = append(sum.Flag, true)
		}
	}
	text := fmt.Sprintf("%d rows, %d features.", r.Rows, r.Features)
	for _, n := range r.Notes {
		text += "\n\nNote: " + n
	}
	sec := report.HTMLSection{Heading: "Summary", Text: text}
	if len(sum.Labels) > 0 {
		sec.Charts = append(sec.Charts, sum)
	}
	if r.OutlierScores != nil {
		sec.Charts = append(sec.Charts, report.ScoreHistogram{Title: "outlier scores", Scores: r.OutlierScores, Marked: r.OutlierFlag, XLabel: "ensemble score"})
	}
	if r.NoiseScores != nil {
		sec.Charts = append(sec.Charts, report.ScoreHistogram{Title: "label-noise scores (1 − out-of-fold probability of the given label)", Scores: r.NoiseScores, Marked: r.NoiseFlag, XLabel: "1 − p(given label)"})
	}
	if len(r.Classes) > 0 {
		cls := report.Bars{Title: "rows per class", XLabel: "rows"}
		for _, c := range r.Classes {
			cls.Labels = append(cls.Labels, c.Value)
			cls.Values = append(cls.Values, float64(c.Count))
		}
		sec.Charts = append(sec.Charts, cls)
	}
	doc.Sections = append(doc.Sections, sec)
	if len(r.Findings) > 0 {
		t := &report.HTMLTable{Columns: []string{"kind", "row", "score", "given", "suggested", "reason"},
			Numeric: []bool{false, true, true, false, false, false}}
		for i, f := range r.Findings {
			if i == 5000 {
				break
			}
			row := ""
			if f.Row != nil {
				row = strconv.FormatInt(*f.Row, 10)
			}
			t.Rows = append(t.Rows, []string{f.Kind, row, strconv.FormatFloat(f.Score, 'f', 3, 64), f.Given, f.Suggested, f.Reason})
		}
		txt := ""
		if len(r.Findings) > 5000 {
			txt = fmt.Sprintf("The first 5000 of %d findings; the JSON output lists all.", len(r.Findings))
		}
		doc.Sections = append(doc.Sections, report.HTMLSection{Heading: "Findings", Text: txt, Table: t})
	}
	return report.WriteHTML(w, doc)
}
