package dataguard

import (
	"fmt"
	"math"
	"slices"

	"github.com/rampart-ai/rampart/internal/data"
	"github.com/rampart-ai/rampart/internal/stats"
)

// Drift defaults (docs/data.md explains them).
const (
	// DefaultAlpha is the false discovery rate the dataset verdict keeps:
	// p-values are adjusted with Benjamini–Hochberg over the tested
	// columns and a column drifts when its adjusted p-value is below it.
	DefaultAlpha = 0.05
	// DefaultBins is the number of base-quantile bins for PSI and
	// Jensen–Shannon on numeric columns.
	DefaultBins = 10
	// DefaultKeepValues bounds the values held for exact tests when a
	// side is a dataset (8 bytes each: 512 MiB).
	DefaultKeepValues = 64 << 20
)

// Test names in drift results.
const (
	TestKS       = "ks"       // two-sample Kolmogorov–Smirnov (numeric)
	TestChi2     = "chi2"     // chi-squared test of homogeneity (categorical)
	TestPresence = "presence" // the column exists on one side only
	TestNone     = "none"     // free text: not tested
)

// DriftOptions tune Drift.
type DriftOptions struct {
	Alpha float64
	Bins  int
}

// ColumnDrift is one column's result.
type ColumnDrift struct {
	Name      string  `json:"name"`
	Kind      string  `json:"kind"`
	Test      string  `json:"test"`
	Statistic float64 `json:"statistic"`
	PValue    float64 `json:"p_value"`
	// PAdjusted is the Benjamini–Hochberg adjusted p-value.
	PAdjusted float64 `json:"p_adjusted"`
	Drift     bool    `json:"drift"`
	// Method: exact (all values), sketch (quantile sketches), counts.
	Method string `json:"method"`
	// Effect sizes.
	PSI         float64 `json:"psi"`
	JS          float64 `json:"js"`
	Wasserstein float64 `json:"wasserstein,omitempty"`
	NBase       int64   `json:"n_base"`
	NCurrent    int64   `json:"n_current"`
	// MissingRate on each side: nulls and invalid values over rows.
	MissingBase    float64 `json:"missing_base"`
	MissingCurrent float64 `json:"missing_current"`
	Note           string  `json:"note,omitempty"`

	// Histogram for reports: bin edges and counts on each side (numeric),
	// or category labels and counts (categorical).
	Edges    []float64 `json:"-"`
	Labels   []string  `json:"-"`
	BaseHist []float64 `json:"-"`
	CurHist  []float64 `json:"-"`
}

// DriftResult compares two datasets.
type DriftResult struct {
	Base       string        `json:"base"`
	Current    string        `json:"current"`
	Alpha      float64       `json:"alpha"`
	Correction string        `json:"correction"`
	Drift      bool          `json:"drift"`
	Drifted    int           `json:"drifted"`
	Tested     int           `json:"tested"`
	Columns    []ColumnDrift `json:"columns"`
}

// Drift compares base with current, column by column. Columns are matched
// by name; a column on one side only is reported as drift (the schema
// changed).
func Drift(base, cur *Profile, opt DriftOptions) (*DriftResult, error) {
	if opt.Alpha <= 0 || opt.Alpha >= 1 {
		opt.Alpha = DefaultAlpha
	}
	if opt.Bins < 2 {
		opt.Bins = DefaultBins
	}
	res := &DriftResult{Alpha: opt.Alpha, Correction: "benjamini-hochberg", Columns: []ColumnDrift{}}
	var tested []int
	for i := range base.Columns {
		b := &base.Columns[i]
		c := cur.Column(b.Name)
		if c == nil {
			res.Columns = append(res.Columns, ColumnDrift{Name: b.Name, Kind: string(b.Kind), Test: TestPresence,
				Statistic: 1, PValue: 0, PAdjusted: 0, Drift: true, Method: "schema", NBase: b.Count,
				Note: "missing from current"})
			continue
		}
		cd, err := driftColumn(base, cur, b, c, opt)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", b.Name, err)
		}
		if cd.Test == TestKS || cd.Test == TestChi2 {
			tested = append(tested, len(res.Columns))
		}
		res.Columns = append(res.Columns, cd)
	}
	for i := range cur.Columns {
		c := &cur.Columns[i]
		if base.Column(c.Name) == nil {
			res.Columns = append(res.Columns, ColumnDrift{Name: c.Name, Kind: string(c.Kind), Test: TestPresence,
				Statistic: 1, PValue: 0, PAdjusted: 0, Drift: true, Method: "schema", NCurrent: c.Count,
				Note: "not in base"})
		}
	}
	ps := make([]float64, len(tested))
	for k, i := range tested {
		ps[k] = res.Columns[i].PValue
	}
	adj := stats.BenjaminiHochberg(ps)
	for k, i := range tested {
		res.Columns[i].PAdjusted = adj[k]
		res.Columns[i].Drift = adj[k] < opt.Alpha
	}
	res.Tested = len(tested)
	for _, c := range res.Columns {
		if c.Drift {
			res.Drifted++
		}
	}
	res.Drift = res.Drifted > 0
	return res, nil
}

func missingRate(c *ColumnProfile, rows int64) float64 {
	if rows == 0 {
		return 0
	}
	return float64(c.Nulls+c.Invalid) / float64(rows)
}

func driftColumn(bp, cp *Profile, b, c *ColumnProfile, opt DriftOptions) (ColumnDrift, error) {
	cd := ColumnDrift{Name: b.Name, Kind: string(b.Kind),
		MissingBase: missingRate(b, bp.Rows), MissingCurrent: missingRate(c, cp.Rows)}
	if b.Numeric() != c.Numeric() {
		cd.Test, cd.Statistic, cd.Drift, cd.Method = TestPresence, 1, true, "schema"
		cd.Note = fmt.Sprintf("kind changed from %s to %s", b.Kind, c.Kind)
		return cd, nil
	}
	switch {
	case b.Name == bp.Label && len(bp.Classes) > 0 && len(cp.Classes) > 0:
		return driftCounts(cd, classCounts(bp.Classes), classCounts(cp.Classes), true), nil
	case b.Kind == data.KindBool && c.Kind == data.KindBool:
		return driftCounts(cd, boolCounts(b), boolCounts(c), true), nil
	case b.Numeric():
		return driftNumeric(cd, bp, cp, b, c, opt)
	case b.Categorical && c.Categorical && b.Frequent != nil && c.Frequent != nil:
		bc, bExact := hashCounts(b)
		cc, cExact := hashCounts(c)
		cd = driftCounts(cd, bc, cc, bExact && cExact)
		return cd, nil
	}
	cd.Test, cd.Method = TestNone, "none"
	cd.NBase, cd.NCurrent = b.Count, c.Count
	cd.Note = "free text (more distinct values than categories): not tested"
	return cd, nil
}

// counts maps a category to its count; "" keys are not used.
type counts struct {
	keys []string
	n    map[string]float64
}

func classCounts(cl []ClassCount) counts {
	c := counts{n: map[string]float64{}}
	for _, x := range cl {
		c.keys = append(c.keys, x.Value)
		c.n[x.Value] = float64(x.Count)
	}
	return c
}

func boolCounts(c *ColumnProfile) counts {
	ones := math.Round(c.Moments.Mean * c.Moments.N)
	return counts{keys: []string{"false", "true"}, n: map[string]float64{"false": c.Moments.N - ones, "true": ones}}
}

// hashCounts lists a categorical column's value hashes and counts. When
// the frequent-items summary is not exact, what it does not list is
// lumped into "(other)".
func hashCounts(c *ColumnProfile) (counts, bool) {
	out := counts{n: map[string]float64{}}
	var listed float64
	for _, it := range c.Frequent.Items() {
		k := fmt.Sprintf("%016x", it.Key)
		out.keys = append(out.keys, k)
		out.n[k] = float64(it.Count)
		listed += float64(it.Count)
	}
	exact := c.Frequent.Exact()
	if rest := float64(c.Frequent.N()) - listed; !exact && rest > 0 {
		out.keys = append(out.keys, "(other)")
		out.n["(other)"] = rest
	}
	return out, exact
}

// driftCounts runs the chi-squared test of homogeneity on a 2×k table of
// category counts.
func driftCounts(cd ColumnDrift, b, c counts, exact bool) ColumnDrift {
	keys := slices.Clone(b.keys)
	for _, k := range c.keys {
		if _, ok := b.n[k]; !ok {
			keys = append(keys, k)
		}
	}
	bh := make([]float64, len(keys))
	ch := make([]float64, len(keys))
	var nb, nc float64
	for i, k := range keys {
		bh[i], ch[i] = b.n[k], c.n[k]
		nb += bh[i]
		nc += ch[i]
	}
	cd.Test, cd.Method = TestChi2, "counts"
	if !exact {
		cd.Method = "frequent-items"
	}
	cd.NBase, cd.NCurrent = int64(nb), int64(nc)
	cd.Labels, cd.BaseHist, cd.CurHist = keys, bh, ch
	if nb == 0 || nc == 0 {
		cd.PValue, cd.Note = 1, "no values on one side"
		return cd
	}
	stat, p, _, err := stats.ChiSquareContingency([][]float64{bh, ch})
	if err != nil {
		// One category in all: the distributions are identical.
		stat, p = 0, 1
	}
	cd.Statistic, cd.PValue = stat, p
	cd.PSI = stats.PSI(bh, ch)
	cd.JS = stats.JensenShannon(bh, ch)
	return cd
}

func driftNumeric(cd ColumnDrift, bp, cp *Profile, b, c *ColumnProfile, opt DriftOptions) (ColumnDrift, error) {
	cd.Test = TestKS
	bx, bok := bp.Exact(b.Name)
	cx, cok := cp.Exact(c.Name)
	var bv, bw, cv, cw []float64
	if bok && cok {
		cd.Method = "exact"
		cd.NBase, cd.NCurrent = int64(len(bx)), int64(len(cx))
		if len(bx) == 0 || len(cx) == 0 {
			cd.PValue, cd.Note = 1, "no finite values on one side"
			return cd, nil
		}
		r, err := stats.KS2(bx, cx)
		if err != nil {
			return cd, err
		}
		cd.Statistic, cd.PValue = r.Statistic, r.PValue
		cd.Wasserstein = stats.Wasserstein1(bx, cx)
		bv, cv = bx, cx
	} else {
		cd.Method = "sketch"
		bv, bw = finiteItems(b.Quantiles)
		cv, cw = finiteItems(c.Quantiles)
		cd.NBase, cd.NCurrent = int64(sum(bw)), int64(sum(cw))
		if len(bv) == 0 || len(cv) == 0 {
			cd.PValue, cd.Note = 1, "no finite values on one side"
			return cd, nil
		}
		r, err := stats.KS2Weighted(bv, bw, cv, cw)
		if err != nil {
			return cd, err
		}
		// A sketch's CDF is off by up to its rank error, so the distance
		// between two sketched CDFs may be that much larger than the true
		// one. Testing the statistic less those errors keeps the false
		// alarm rate at alpha (at some cost in power); the reported
		// statistic is the sketched one.
		cd.Statistic = r.Statistic
		slack := sketchError(b.Quantiles) + sketchError(c.Quantiles)
		if slack > 0 {
			r.PValue = stats.KS2AsymptoticSF(float64(cd.NBase), float64(cd.NCurrent), math.Max(r.Statistic-slack, 0))
			cd.Note = fmt.Sprintf("sketch: statistic tested less the sketches' rank error %.3g", slack)
		}
		cd.PValue = r.PValue
		cd.Wasserstein = stats.Wasserstein1Weighted(bv, bw, cv, cw)
	}
	edges := stats.HistogramEdges(bv, bw, opt.Bins)
	bh := stats.Bin(edges, bv, bw)
	ch := stats.Bin(edges, cv, cw)
	cd.PSI = stats.PSI(bh, ch)
	cd.JS = stats.JensenShannon(bh, ch)
	cd.Edges, cd.BaseHist, cd.CurHist = edges, bh, ch
	return cd, nil
}

// sketchError is the sketch's stated rank error, or 0 while it still
// holds every value it was given.
func sketchError(s *stats.KLL) float64 {
	if s.N() <= uint64(s.K()) {
		return 0
	}
	return s.RankError()
}

// finiteItems are a sketch's retained values without ±Inf, as weights.
func finiteItems(s *stats.KLL) (v, w []float64) {
	vals, ws := s.Items()
	for i, x := range vals {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			continue
		}
		v = append(v, x)
		w = append(w, float64(ws[i]))
	}
	return v, w
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// Describe is a one-line summary of a drift column for tables.
func (c *ColumnDrift) Describe() string {
	if c.Note != "" {
		return c.Note
	}
	return c.Method
}
