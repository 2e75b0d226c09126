package dataguard

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mathext"

	"github.com/rampart-ai/rampart/internal/data"
	"github.com/rampart-ai/rampart/internal/learn"
	"github.com/rampart-ai/rampart/internal/stats"
)

// Finding kinds reported by Audit.
const (
	KindDuplicate     = "duplicate"          // a row identical to an earlier one (features and label)
	KindNearDuplicate = "near_duplicate"     // features within NearTolerance of an earlier row
	KindConflict      = "conflicting_labels" // identical features, different labels
	KindLeakage       = "leakage"            // a row that also appears in the --against file
	KindOutlier       = "outlier"            // far from the bulk of the data
	KindImbalance     = "class_imbalance"    // a class far rarer than the others, or shifted against --against
	KindLabelNoise    = "label_noise"        // a label the out-of-fold model confidently disagrees with
)

// Audit defaults (docs/data.md explains them).
const (
	// DefaultNearTolerance: two rows are near duplicates when the root
	// mean square of their standardized feature differences is at most
	// this (5% of a standard deviation per feature), or less for data with
	// few features (see NearTolerance).
	DefaultNearTolerance = 0.05
	// nearChance is the probability, per pair, that two independent rows
	// of standard Gaussian data fall within the default tolerance.
	nearChance = 1e-12
	// DefaultMaxCells bounds the feature matrix an audit holds in memory.
	DefaultMaxCells = 200_000_000
	// DefaultMinClassShare: a class with fewer rows than this fraction
	// of the mean class size is reported as rare.
	DefaultMinClassShare = 0.2
	// DefaultOutlierTop: a row is an outlier only when it ranks in the
	// top 1% of the ensemble (and is isolated: see auditOutliers).
	DefaultOutlierTop = 0.01
)

// nearPairBudget bounds the work (feature comparisons) of the near
// duplicate and near leakage searches; past it a search stops and says so.
// A variable so tests can lower it.
var nearPairBudget int64 = 2_000_000_000

// maxLabelBytes bounds one label value held by the audit.
const maxLabelBytes = 4096

// AuditOptions tune Audit.
type AuditOptions struct {
	Label string
	// Against is a second file (a test set): rows of the audited data
	// that also appear there are leakage.
	Against       string
	NearTolerance float64
	MaxCells      int64
	MinClassShare float64
	// OutlierTop is the largest fraction of rows flagged as outliers;
	// OutlierIsolation the isolation score a flagged row must exceed (0:
	// calibrated on Gaussian data of the same shape).
	OutlierTop       float64
	OutlierIsolation float64
	Folds            int
	Seed             uint64
	// Skip lists analyses to leave out: label_noise, outlier, near_duplicate.
	Skip     []string
	Progress func(stage string)
}

// NearTolerance is the default near-duplicate tolerance for d features:
// 0.05, or less when d is small. With few features, two unrelated rows are
// often close (in one dimension, any two values within 0.05 standard
// deviations), so the tolerance shrinks until two independent rows of
// standard Gaussian data are within it with probability at most 1e-12:
// their difference is N(0, 2I), so |Δ|² / 2 is chi-squared with d degrees
// of freedom, and the RMS tolerance is √(2q/d) for q its 1e-12 quantile.
func NearTolerance(d int) float64 {
	if d <= 0 {
		return DefaultNearTolerance
	}
	a := float64(d) / 2
	lo, hi := 0.0, float64(d)
	for range 200 {
		mid := (lo + hi) / 2
		if mathext.GammaIncReg(a, mid/2) < nearChance {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Min(DefaultNearTolerance, math.Sqrt(2*lo/float64(d)))
}

func (o AuditOptions) withDefaults() AuditOptions {
	if o.MaxCells <= 0 {
		o.MaxCells = DefaultMaxCells
	}
	if o.MinClassShare <= 0 {
		o.MinClassShare = DefaultMinClassShare
	}
	if o.OutlierTop <= 0 {
		o.OutlierTop = DefaultOutlierTop
	}
	if o.Folds < 2 {
		o.Folds = 5
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return o
}

// Finding is one audit result. Row is the 0-based data row it concerns,
// or nil for findings about the whole dataset (class balance).
type Finding struct {
	Kind      string  `json:"kind"`
	Row       *int64  `json:"row,omitempty"`
	Score     float64 `json:"score"`
	Reason    string  `json:"reason"`
	Related   []int64 `json:"related_rows,omitempty"`
	Given     string  `json:"given_label,omitempty"`
	Suggested string  `json:"suggested_label,omitempty"`
	Class     string  `json:"class,omitempty"`
}

// AuditResult is everything Audit found.
type AuditResult struct {
	Data     string         `json:"data"`
	Against  string         `json:"against,omitempty"`
	Rows     int64          `json:"rows"`
	Features int            `json:"features"`
	Label    string         `json:"label,omitempty"`
	Classes  []ClassCount   `json:"classes,omitempty"`
	Summary  map[string]int `json:"summary"`
	Findings []Finding      `json:"findings"`
	Notes    []string       `json:"notes,omitempty"`

	// Scores holds every row's scores when asked for (WithScores):
	// "outlier" (the ensemble score) and "label_noise" (1 − the out-of-
	// fold probability of the given label; null for unlabelled rows).
	Scores map[string][]*float64 `json:"scores,omitempty"`

	// Per-row scores for reports.
	OutlierScores []float64 `json:"-"`
	OutlierFlag   []bool    `json:"-"`
	NoiseScores   []float64 `json:"-"`
	NoiseFlag     []bool    `json:"-"`
}

// WithScores fills r.Scores from the per-row scores.
func (r *AuditResult) WithScores() {
	r.Scores = map[string][]*float64{}
	for name, xs := range map[string][]float64{"outlier": r.OutlierScores, "label_noise": r.NoiseScores} {
		if xs == nil {
			continue
		}
		out := make([]*float64, len(xs))
		for i, x := range xs {
			if !math.IsNaN(x) {
				v := x
				out[i] = &v
			}
		}
		r.Scores[name] = out
	}
}

// table is a dataset held in memory for auditing.
type table struct {
	names    []string  // numeric feature columns
	x        []float64 // rows × len(names), NaN for missing
	rows     int
	strCols  []string   // string feature columns (duplicates only)
	strs     [][]uint64 // per string column: value hashes (compared only for equality)
	label    []string   // label text per row ("" when missing)
	hasLabel []bool
}

// loadTable reads the dataset at path into memory. When labelOptional is
// set, a file without the label column (a test set without labels) loads
// unlabelled instead of failing.
func loadTable(path string, dopt data.Options, label string, labelOptional bool, maxCells int64, want []string) (*table, error) {
	dopt.Label = label
	if labelOptional {
		dopt.Label = "" // the readers refuse a label they cannot find
	}
	src, err := data.Open(path, dopt)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	s := src.Schema()
	li := -1
	if label != "" {
		li = s.Index(label)
		if li < 0 && !labelOptional {
			return nil, fmt.Errorf("%s: label column %q is not in the data (columns: %s)", path, label, fieldList(s))
		}
	}
	if li < 0 {
		label = ""
	}
	t := &table{}
	var numIdx, strIdx []int
	for i, f := range s.Fields {
		if i == li {
			continue
		}
		if want != nil && !slices.Contains(want, f.Name) {
			continue
		}
		if f.Kind.Numeric() {
			numIdx = append(numIdx, i)
			t.names = append(t.names, f.Name)
		} else {
			strIdx = append(strIdx, i)
			t.strCols = append(t.strCols, f.Name)
		}
	}
	t.strs = make([][]uint64, len(strIdx))
	labels := map[string]string{}
	d := len(numIdx)
	width := int64(max(d+len(strIdx), 1))
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if int64(t.rows+b.Len)*width > maxCells {
			return nil, fmt.Errorf("%s: more than %d cells: the audit holds the feature matrix in memory; audit a sample or raise --max-cells", path, maxCells)
		}
		for r := 0; r < b.Len; r++ {
			for _, ci := range numIdx {
				x := b.Cols[ci].Num[r]
				if b.Cols[ci].State[r] != data.Valid || math.IsInf(x, 0) {
					x = math.NaN()
				}
				t.x = append(t.x, x)
			}
			for k, ci := range strIdx {
				// Only the hash is kept: text is compared for equality
				// only, and a row of long strings must not cost its
				// length in memory. Missing is 0; values hash with a
				// 1 prefix so "" and missing differ.
				var h uint64
				if b.Cols[ci].State[r] == data.Valid {
					h = stats.HashString("\x01"+b.Cols[ci].Str[r]) | 1
				}
				t.strs[k] = append(t.strs[k], h)
			}
			if li >= 0 {
				col := &b.Cols[li]
				ok := col.State[r] == data.Valid
				txt := ""
				if ok {
					txt = labelText(col, r, s.Fields[li].Kind)
					if len(txt) > maxLabelBytes {
						return nil, fmt.Errorf("%s: row %d: a label of %d bytes (at most %d): is %q really a label?", path, t.rows+r, len(txt), maxLabelBytes, label)
					}
					if v, seen := labels[txt]; seen {
						txt = v // one copy of each class name
					} else if len(labels) >= DefaultMaxClasses {
						return nil, fmt.Errorf("%s: label column %q has more than %d classes: is it really a label?", path, label, DefaultMaxClasses)
					} else {
						labels[txt] = txt
					}
				}
				t.label = append(t.label, txt)
				t.hasLabel = append(t.hasLabel, ok)
			}
		}
		t.rows += b.Len
	}
	return t, nil
}

func (t *table) row(i int) []float64 { d := len(t.names); return t.x[i*d : (i+1)*d] }

// rowHash hashes a row's features (numbers by value, -0 = 0, NaN = NaN,
// and string columns); withLabel adds the label.
func (t *table) rowHash(i int, withLabel bool) uint64 {
	var buf []byte
	for _, x := range t.row(i) {
		buf = binary.LittleEndian.AppendUint64(buf, stats.HashFloat(x))
	}
	for k := range t.strs {
		buf = binary.LittleEndian.AppendUint64(buf, t.strs[k][i])
	}
	if withLabel && t.label != nil {
		buf = append(buf, 0xff)
		buf = append(buf, t.label[i]...)
	}
	return stats.HashBytes(buf)
}

// sameFeatures compares two rows exactly (hash collisions are possible).
func sameFeatures(a *table, i int, b *table, j int) bool {
	ra, rb := a.row(i), b.row(j)
	for k := range ra {
		if ra[k] != rb[k] && !(math.IsNaN(ra[k]) && math.IsNaN(rb[k])) {
			return false
		}
	}
	for k := range a.strs {
		if a.strs[k][i] != b.strs[k][j] {
			return false
		}
	}
	return true
}

// Audit looks for poisoning and integrity problems in the dataset at path.
func Audit(path string, dopt data.Options, opt AuditOptions) (*AuditResult, error) {
	opt = opt.withDefaults()
	opt.Progress("reading")
	t, err := loadTable(path, dopt, opt.Label, false, opt.MaxCells, nil)
	if err != nil {
		return nil, err
	}
	res := &AuditResult{Data: path, Against: opt.Against, Rows: int64(t.rows), Features: len(t.names) + len(t.strCols),
		Label: opt.Label, Summary: map[string]int{}, Findings: []Finding{}}
	if t.rows == 0 {
		res.Notes = append(res.Notes, "no rows")
		return res, nil
	}
	z, center, scale := standardize(t)
	if opt.NearTolerance <= 0 {
		opt.NearTolerance = NearTolerance(len(t.names))
	}
	opt.Progress("duplicates")
	dupOf := auditDuplicates(t, res)
	if !slices.Contains(opt.Skip, "near_duplicate") && len(t.names) > 0 {
		opt.Progress("near duplicates")
		auditNear(t, z, dupOf, opt.NearTolerance, res)
	}
	if opt.Against != "" {
		opt.Progress("leakage")
		o, err := loadTable(opt.Against, dopt, opt.Label, true, opt.MaxCells, append(slices.Clone(t.names), t.strCols...))
		if err != nil {
			return nil, err
		}
		if err := auditLeakage(t, o, z, center, scale, opt.NearTolerance, res); err != nil {
			return nil, err
		}
		if opt.Label != "" && o.label != nil {
			auditClassShift(t, o, res)
		}
	}
	if opt.Label != "" {
		auditClasses(t, opt.MinClassShare, res)
	}
	if !slices.Contains(opt.Skip, "outlier") && len(t.names) > 0 && t.rows >= 10 {
		opt.Progress("outliers")
		auditOutliers(t, z, opt, res)
	}
	if opt.Label != "" && !slices.Contains(opt.Skip, "label_noise") && len(t.names) > 0 {
		opt.Progress("label noise")
		if err := auditLabelNoise(t, z, opt, res); err != nil {
			res.Notes = append(res.Notes, "label noise not measured: "+err.Error())
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		if c := cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(rowOf(a), rowOf(b))
	})
	for _, f := range res.Findings {
		res.Summary[f.Kind]++
	}
	return res, nil
}

func kindRank(k string) int {
	return slices.Index([]string{KindLeakage, KindConflict, KindDuplicate, KindNearDuplicate, KindLabelNoise, KindOutlier, KindImbalance}, k)
}

func rowOf(f Finding) int64 {
	if f.Row == nil {
		return -1
	}
	return *f.Row
}

func ptr(i int) *int64 { v := int64(i); return &v }

// standardize z-scores the numeric features (NaN imputed with the column
// mean, which standardizes to 0). Constant columns get scale 1.
func standardize(t *table) (z *stats.Matrix, center, scale []float64) {
	d := len(t.names)
	center, scale = make([]float64, d), make([]float64, d)
	for j := range d {
		var m stats.Moments
		for i := range t.rows {
			if x := t.x[i*d+j]; !math.IsNaN(x) {
				m.Add(x)
			}
		}
		center[j], scale[j] = m.Mean, m.Std()
		if m.N == 0 {
			center[j] = 0
		}
		if !(scale[j] > 0) {
			scale[j] = 1
		}
	}
	z = &stats.Matrix{Rows: t.rows, Cols: d, Data: make([]float64, t.rows*d)}
	for i := range t.rows {
		for j := range d {
			x := t.x[i*d+j]
			if math.IsNaN(x) {
				continue
			}
			z.Data[i*d+j] = (x - center[j]) / scale[j]
		}
	}
	return z, center, scale
}

// auditDuplicates reports exact duplicates and identical features with
// different labels. It returns, per row, the first row of its identical-
// features group (or -1), so the near-duplicate search can skip them.
func auditDuplicates(t *table, res *AuditResult) []int {
	groups := map[uint64][]int{}
	for i := range t.rows {
		h := t.rowHash(i, false)
		groups[h] = append(groups[h], i)
	}
	dupOf := make([]int, t.rows)
	for i := range dupOf {
		dupOf[i] = -1
	}
	var keys []uint64
	for h, g := range groups {
		if len(g) > 1 {
			keys = append(keys, h)
		}
	}
	slices.SortFunc(keys, func(a, b uint64) int { return cmp.Compare(groups[a][0], groups[b][0]) })
	for _, h := range keys {
		// Split the hash group into classes of truly identical rows.
		rest := groups[h]
		for len(rest) > 1 {
			first := rest[0]
			same, other := []int{first}, []int{}
			for _, j := range rest[1:] {
				if sameFeatures(t, first, t, j) {
					same = append(same, j)
				} else {
					other = append(other, j)
				}
			}
			rest = other
			if len(same) < 2 {
				continue
			}
			for _, j := range same {
				dupOf[j] = first
			}
			labels := map[string]bool{}
			if t.label != nil {
				for _, j := range same {
					labels[t.label[j]] = true
				}
			}
			if len(labels) > 1 {
				var ls []string
				for l := range labels {
					ls = append(ls, strconv.Quote(l))
				}
				slices.Sort(ls)
				for _, j := range same {
					res.Findings = append(res.Findings, Finding{Kind: KindConflict, Row: ptr(j), Score: 1,
						Given:   t.label[j],
						Related: others(same, j),
						Reason:  fmt.Sprintf("identical features to %s with labels %s", rowsText(others(same, j)), strings.Join(ls, ", "))})
				}
				continue
			}
			for _, j := range same[1:] {
				res.Findings = append(res.Findings, Finding{Kind: KindDuplicate, Row: ptr(j), Score: 1,
					Related: []int64{int64(first)},
					Reason:  fmt.Sprintf("identical to row %d", first)})
			}
		}
	}
	return dupOf
}

func others(g []int, self int) []int64 {
	var out []int64
	for _, j := range g {
		if j != self {
			out = append(out, int64(j))
			if len(out) == 8 {
				break
			}
		}
	}
	return out
}

func rowsText(rows []int64) string {
	if len(rows) == 1 {
		return fmt.Sprintf("row %d", rows[0])
	}
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = strconv.FormatInt(r, 10)
	}
	return "rows " + strings.Join(s, ", ")
}

// principalDirection is the leading eigenvector of the standardized
// data's covariance, by power iteration: sorting rows by their projection
// on it spreads them out the most, which keeps the sweep's windows small.
func principalDirection(z *stats.Matrix) []float64 {
	d := z.Cols
	v := make([]float64, d)
	for j := range v {
		v[j] = 1 / math.Sqrt(float64(d)) * (1 + 0.01*float64(j%7))
	}
	w := make([]float64, d)
	for range 30 {
		clear(w)
		for i := range z.Rows {
			r := z.Row(i)
			var p float64
			for j, x := range r {
				p += x * v[j]
			}
			for j, x := range r {
				w[j] += p * x
			}
		}
		var norm float64
		for _, x := range w {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			break
		}
		for j := range v {
			v[j] = w[j] / norm
		}
	}
	return v
}

func project(z *stats.Matrix, v []float64) []float64 {
	out := make([]float64, z.Rows)
	for i := range z.Rows {
		var p float64
		for j, x := range z.Row(i) {
			p += x * v[j]
		}
		out[i] = p
	}
	return out
}

// rms is the root mean square difference of two standardized rows,
// stopping early once it exceeds limit (returned as +Inf).
func rms(a, b []float64, limit float64) float64 {
	lim := limit * limit * float64(len(a))
	var s float64
	for k := range a {
		d := a[k] - b[k]
		s += d * d
		if s > lim {
			return math.Inf(1)
		}
	}
	return math.Sqrt(s / float64(len(a)))
}

// auditNear finds pairs of rows whose standardized features are within
// tol (RMS) of each other. Rows are sorted by their projection on the
// first principal direction; since a projection on a unit vector never
// exceeds the distance, only rows whose projections differ by at most
// tol·√d can be near, and the sweep compares only those. The search is
// exact; nearPairBudget stops it on pathological data, and says so.
func auditNear(t *table, z *stats.Matrix, dupOf []int, tol float64, res *AuditResult) {
	d := z.Cols
	v := principalDirection(z)
	p := project(z, v)
	order := make([]int, t.rows)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	window := tol * math.Sqrt(float64(d))
	parent := make([]int, t.rows)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	best := make([]float64, t.rows)
	for i := range best {
		best[i] = math.Inf(1)
	}
	var work int64
	incomplete := false
	for a := 0; a < len(order) && !incomplete; a++ {
		i := order[a]
		if dupOf[i] >= 0 && dupOf[i] != i {
			continue // an exact copy: its group's first row stands for it
		}
		for b := a + 1; b < len(order); b++ {
			j := order[b]
			if p[j]-p[i] > window {
				break
			}
			work += int64(d)
			if work > nearPairBudget {
				incomplete = true
				break
			}
			if dupOf[j] >= 0 && dupOf[j] != j {
				continue
			}
			if r := rms(z.Row(i), z.Row(j), tol); r <= tol {
				ri, rj := find(i), find(j)
				if ri != rj {
					parent[max(ri, rj)] = min(ri, rj)
				}
				best[i], best[j] = min(best[i], r), min(best[j], r)
			}
		}
	}
	if incomplete {
		res.Notes = append(res.Notes, "near-duplicate search stopped at its work budget: the data is too concentrated along its main direction; results are partial")
	}
	groups := map[int][]int{}
	for i := range t.rows {
		if !math.IsInf(best[i], 1) {
			r := find(i)
			groups[r] = append(groups[r], i)
		}
	}
	for root, g := range groups {
		slices.Sort(g)
		for _, j := range g {
			if j == root {
				continue
			}
			reason := fmt.Sprintf("features within %.3g standard deviations (RMS) of row %d", best[j], root)
			if t.label != nil && t.label[j] != t.label[root] {
				reason += fmt.Sprintf(", with a different label (%q vs %q)", t.label[j], t.label[root])
			}
			res.Findings = append(res.Findings, Finding{Kind: KindNearDuplicate, Row: ptr(j), Score: 1 - best[j]/tol/2,
				Related: []int64{int64(root)}, Reason: reason})
		}
	}
}

// auditLeakage reports rows of t that appear (exactly, or within tol) in o.
func auditLeakage(t, o *table, z *stats.Matrix, center, scale []float64, tol float64, res *AuditResult) error {
	if !slices.Equal(t.names, o.names) || !slices.Equal(t.strCols, o.strCols) {
		return fmt.Errorf("%s: the features differ from the audited data's (%d numeric, %d text against %d, %d)", res.Against, len(o.names), len(o.strCols), len(t.names), len(t.strCols))
	}
	idx := map[uint64][]int{}
	for j := range o.rows {
		h := o.rowHash(j, false)
		idx[h] = append(idx[h], j)
	}
	leaked := make([]bool, t.rows)
	for i := range t.rows {
		var hits []int64
		for _, j := range idx[t.rowHash(i, false)] {
			if sameFeatures(t, i, o, j) {
				hits = append(hits, int64(j))
			}
		}
		if len(hits) > 0 {
			leaked[i] = true
			res.Findings = append(res.Findings, Finding{Kind: KindLeakage, Row: ptr(i), Score: 1,
				Related: hits[:min(len(hits), 8)],
				Reason:  fmt.Sprintf("identical to %s of %s", rowsText(hits[:min(len(hits), 8)]), res.Against)})
		}
	}
	if len(t.names) == 0 {
		return nil
	}
	// Near leakage: standardize the other file with the audited data's
	// scaling and sweep both sets together, comparing only across sets.
	d := len(t.names)
	oz := &stats.Matrix{Rows: o.rows, Cols: d, Data: make([]float64, o.rows*d)}
	for j := range o.rows {
		for k, x := range o.row(j) {
			if !math.IsNaN(x) {
				oz.Data[j*d+k] = (x - center[k]) / scale[k]
			}
		}
	}
	v := principalDirection(z)
	pt, po := project(z, v), project(oz, v)
	type pt2 struct {
		p     float64
		i     int
		other bool
	}
	all := make([]pt2, 0, t.rows+o.rows)
	for i, p := range pt {
		all = append(all, pt2{p, i, false})
	}
	for j, p := range po {
		all = append(all, pt2{p, j, true})
	}
	slices.SortFunc(all, func(a, b pt2) int { return cmp.Compare(a.p, b.p) })
	window := tol * math.Sqrt(float64(d))
	best := make([]float64, t.rows)
	near := make([]int, t.rows)
	for i := range best {
		best[i] = math.Inf(1)
	}
	var work int64
	for a := range all {
		for b := a + 1; b < len(all) && all[b].p-all[a].p <= window; b++ {
			// Every step counts against the budget, skipped pairs
			// included: many identical rows on one side would otherwise
			// make the sweep quadratic for free.
			if work += int64(d); work > nearPairBudget {
				res.Notes = append(res.Notes, "near-leakage search stopped at its work budget; results are partial")
				goto report
			}
			if all[a].other == all[b].other {
				continue
			}
			i, j := all[a].i, all[b].i
			if all[a].other {
				i, j = j, i
			}
			if leaked[i] {
				continue
			}
			if r := rms(z.Row(i), oz.Row(j), tol); r < best[i] {
				best[i], near[i] = r, j
			}
		}
	}
report:
	for i := range t.rows {
		if !math.IsInf(best[i], 1) && best[i] <= tol {
			res.Findings = append(res.Findings, Finding{Kind: KindLeakage, Row: ptr(i), Score: 1 - best[i]/tol/2,
				Related: []int64{int64(near[i])},
				Reason:  fmt.Sprintf("within %.3g standard deviations (RMS) of row %d of %s", best[i], near[i], res.Against)})
		}
	}
	return nil
}

// classCounts counts labelled rows per class, classes in label order.
func (t *table) classCounts() []ClassCount {
	m := map[string]int64{}
	for i, l := range t.label {
		if t.hasLabel[i] {
			m[l]++
		}
	}
	return classList(m)
}

// auditClasses reports classes much rarer than the mean class size.
func auditClasses(t *table, minShare float64, res *AuditResult) {
	cc := t.classCounts()
	res.Classes = cc
	missing := 0
	for _, ok := range t.hasLabel {
		if !ok {
			missing++
		}
	}
	if missing > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d rows have no label; label checks skip them", missing))
	}
	if len(cc) < 2 {
		res.Findings = append(res.Findings, Finding{Kind: KindImbalance, Score: 1,
			Reason: fmt.Sprintf("only %d class in the label column %q", len(cc), res.Label)})
		return
	}
	var n int64
	for _, c := range cc {
		n += c.Count
	}
	mean := float64(n) / float64(len(cc))
	for _, c := range cc {
		if float64(c.Count) < minShare*mean {
			res.Findings = append(res.Findings, Finding{Kind: KindImbalance, Class: c.Value,
				Score:  1 - float64(c.Count)/(minShare*mean),
				Reason: fmt.Sprintf("class %q has %d rows, %.1f%% of the mean class size %.0f", c.Value, c.Count, 100*float64(c.Count)/mean, mean)})
		}
	}
}

// auditClassShift compares class proportions with the --against file.
func auditClassShift(t, o *table, res *AuditResult) {
	a, b := t.classCounts(), o.classCounts()
	keys := map[string][2]float64{}
	for _, c := range a {
		v := keys[c.Value]
		v[0] = float64(c.Count)
		keys[c.Value] = v
	}
	for _, c := range b {
		v := keys[c.Value]
		v[1] = float64(c.Count)
		keys[c.Value] = v
	}
	var ta, tb []float64
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	slices.SortFunc(names, compareLabels)
	for _, k := range names {
		ta, tb = append(ta, keys[k][0]), append(tb, keys[k][1])
	}
	stat, p, _, err := stats.ChiSquareContingency([][]float64{ta, tb})
	if err != nil || p >= 1e-3 {
		return
	}
	res.Findings = append(res.Findings, Finding{Kind: KindImbalance, Score: 1 - p,
		Reason: fmt.Sprintf("class proportions differ from %s (chi-squared %.4g, p = %.2g)", res.Against, stat, p)})
}

// auditOutliers ranks every row with the ensemble score (the mean rank of
// ECOD and a robust Mahalanobis distance, which ranks outliers best on the
// evaluation sets) and flags a row only when it is both in the top
// OutlierTop of that ranking and isolated in absolute terms: its isolation
// forest score exceeds a cut-off. The ensemble is rank based, so it cannot
// say by itself whether anything is anomalous at all. The isolation score
// can, but what counts as high depends on the number of features (tail
// points of low-dimensional data isolate quickly), so the default cut-off
// is calibrated: the highest score the same forest settings give any row
// of a standard Gaussian sample of the same size and width. Gaussian-like
// clean data therefore gets no outlier findings rather than a quota.
func auditOutliers(t *table, z *stats.Matrix, opt AuditOptions, res *AuditResult) {
	scores, parts := stats.OutlierScore(z, opt.Seed)
	iso := parts["iforest"]
	cut := opt.OutlierIsolation
	if cut <= 0 {
		cut = gaussianIsolationCut(z.Rows, z.Cols, opt.Seed)
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	top := int(math.Ceil(opt.OutlierTop * float64(len(scores))))
	res.OutlierScores = scores
	res.OutlierFlag = make([]bool, len(scores))
	for rank, i := range order[:min(top, len(order))] {
		if iso == nil || iso[i] <= cut {
			continue
		}
		res.OutlierFlag[i] = true
		res.Findings = append(res.Findings, Finding{Kind: KindOutlier, Row: ptr(i), Score: scores[i],
			Reason: fmt.Sprintf("ranks %d of %d by the outlier ensemble (score %.3f); isolation score %.3f above the cut-off %.3f", rank+1, len(scores), scores[i], iso[i], cut)})
	}
}

// gaussianIsolationCut is the largest isolation score of a seeded standard
// Gaussian sample with rows (at most 20000) × cols values.
func gaussianIsolationCut(rows, cols int, seed uint64) float64 {
	rows = min(rows, 20000)
	r := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	g := &stats.Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
	for i := range g.Data {
		g.Data[i] = r.NormFloat64()
	}
	return slices.Max(stats.IsolationForest(g, stats.IForestOptions{Seed: seed}))
}

// auditLabelNoise trains a model out of fold and runs confident learning.
func auditLabelNoise(t *table, z *stats.Matrix, opt AuditOptions, res *AuditResult) error {
	cc := t.classCounts()
	if len(cc) < 2 {
		return errors.New("fewer than two classes")
	}
	classIdx := map[string]int{}
	for i, c := range cc {
		classIdx[c.Value] = i
	}
	var rows []int
	for i := range t.rows {
		if t.hasLabel[i] {
			rows = append(rows, i)
		}
	}
	x := &stats.Matrix{Rows: len(rows), Cols: z.Cols, Data: make([]float64, 0, len(rows)*z.Cols)}
	y := make([]int, len(rows))
	for k, i := range rows {
		x.Data = append(x.Data, z.Row(i)...)
		y[k] = classIdx[t.label[i]]
	}
	for _, c := range cc {
		if c.Count < int64(opt.Folds) {
			return fmt.Errorf("class %q has %d rows, fewer than the %d folds", c.Value, c.Count, opt.Folds)
		}
	}
	issues, probs, err := learn.DetectLabelIssuesProba(x, y, len(cc), learn.Options{Folds: opt.Folds, Seed: opt.Seed})
	if err != nil {
		return err
	}
	res.NoiseScores = make([]float64, t.rows)
	res.NoiseFlag = make([]bool, t.rows)
	for i := range res.NoiseScores {
		res.NoiseScores[i] = math.NaN()
	}
	for k, i := range rows {
		res.NoiseScores[i] = 1 - probAt(probs, k, y[k])
	}
	for _, is := range issues {
		i := rows[is.Row]
		res.NoiseFlag[i] = true
		res.Findings = append(res.Findings, Finding{Kind: KindLabelNoise, Row: ptr(i), Score: is.Score,
			Given: cc[is.Given].Value, Suggested: cc[is.Suggested].Value,
			Reason: fmt.Sprintf("labelled %q; the out-of-fold model gives it %.2f and %q %.2f",
				cc[is.Given].Value, probAt(probs, is.Row, is.Given), cc[is.Suggested].Value, probAt(probs, is.Row, is.Suggested))})
	}
	return nil
}

// probAt is the out-of-fold probability of class c for row i.
func probAt(p *stats.Matrix, i, c int) float64 { return p.Row(i)[c] }
