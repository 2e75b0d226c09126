// Package dataguard runs the data guard's engines over the streams that
// package data reads: profile (and merge), validate, drift and audit.
//
// A [Profile] is computed once on a trusted dataset and is the reference
// for everything else: validation checks new batches against its schema
// and ranges, drift compares a dataset (or another profile) with it, and a
// later gateway stage compiles it into per-request checks. It is therefore
// a versioned, documented JSON format (docs/data.md) built only from
// mergeable summaries: the profile of a whole is the merge of the profiles
// of its shards. It holds no raw rows and no free-text values: numeric
// columns keep moments and a KLL quantile sketch (whose retained items are
// single values, never rows), string columns keep hashes of frequent values,
// and only when asked (ProfileOptions.IncludeDomain) the values of a
// low-cardinality categorical column. Label values (class names) are kept,
// because per-class counts are meaningless without them.
package dataguard

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rampart-ai/rampart/internal/data"
	"github.com/rampart-ai/rampart/internal/stats"
)

// ProfileFormat and ProfileVersion identify a profile file. Version changes
// whenever a field's meaning changes, including the hash of categorical
// values (stats.HashString).
const (
	ProfileFormat  = "rampart.data.profile"
	ProfileVersion = 1
)

// Defaults for profiling.
const (
	// DefaultMaxCategories: a string column with at most this many
	// distinct values is categorical (its value hashes are the domain).
	DefaultMaxCategories = 256
	// DefaultMaxCovColumns bounds the multivariate summary (d² numbers).
	DefaultMaxCovColumns = 256
	// DefaultMaxClasses bounds the label's distinct classes.
	DefaultMaxClasses = 1000
)

// ProfileOptions tune profiling.
type ProfileOptions struct {
	// Label names the label column (class counts are kept for it).
	Label string `json:"label,omitempty"`
	// IncludeDomain stores the values of categorical columns (at most
	// MaxCategories of them); by default only their hashes are stored.
	IncludeDomain bool `json:"include_domain,omitempty"`
	MaxCategories int  `json:"max_categories"`
	MaxCovColumns int  `json:"max_cov_columns"`
	KLLK          int  `json:"kll_k"`
	// Workers is the number of goroutines summarising batches (default
	// GOMAXPROCS). Each owns a fixed share of the columns and sees every
	// batch, so the result does not depend on scheduling.
	Workers int `json:"-"`
	// Progress, when set, is called with the number of rows read so far.
	Progress func(rows int64) `json:"-"`
	// KeepValues, when positive, keeps up to that many finite numeric
	// values in memory (all columns together) for exact two-sample tests;
	// past it the profile falls back to its sketches. Never serialised.
	KeepValues int64 `json:"-"`
}

func (o ProfileOptions) withDefaults() ProfileOptions {
	if o.MaxCategories <= 0 {
		o.MaxCategories = DefaultMaxCategories
	}
	if o.MaxCovColumns <= 0 {
		o.MaxCovColumns = DefaultMaxCovColumns
	}
	if o.KLLK <= 0 {
		o.KLLK = stats.DefaultKLLK
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Profile is the summary of a trusted dataset. See docs/data.md.
type Profile struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Tool    string         `json:"tool,omitempty"`
	Options ProfileOptions `json:"options"`
	Sources []SourceInfo   `json:"sources"`
	Rows    int64          `json:"rows"`
	Label   string         `json:"label,omitempty"`
	// Shape is the per-row tensor shape for array sources.
	Shape   []int           `json:"shape,omitempty"`
	Columns []ColumnProfile `json:"columns"`
	// Classes counts rows per label value, sorted by value.
	Classes []ClassCount `json:"classes,omitempty"`
	// Multivariate is the mean and covariance of the numeric feature
	// columns (label excluded), for Mahalanobis distances; absent when
	// there are more than MaxCovColumns of them.
	Multivariate *Multivariate `json:"multivariate,omitempty"`

	// exact holds every finite value of each numeric column (by column
	// index, sorted) when ProfileOptions.KeepValues allowed it.
	exact map[int][]float64
}

// Exact returns the sorted finite values of the named numeric column when
// the profile was made with KeepValues large enough to hold them all.
func (p *Profile) Exact(name string) ([]float64, bool) {
	for i := range p.Columns {
		if p.Columns[i].Name == name {
			v, ok := p.exact[i]
			return v, ok
		}
	}
	return nil, false
}

// SourceInfo names a profiled file (base name only: profiles travel).
type SourceInfo struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Rows   int64  `json:"rows"`
}

// ClassCount is one label value and its rows.
type ClassCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Multivariate summarises the joint distribution of numeric features.
type Multivariate struct {
	Columns []string   `json:"columns"`
	Skipped int64      `json:"skipped_rows"` // rows with a missing or non-finite feature
	Cov     *stats.Cov `json:"cov"`
}

// ColumnProfile summarises one column.
type ColumnProfile struct {
	Name string    `json:"name"`
	Kind data.Kind `json:"kind"`
	// Categorical: a string or bool column with few distinct values, or
	// the label.
	Categorical bool `json:"categorical,omitempty"`
	// Count is the number of present values of the column's kind
	// (NaN and ±Inf included for numeric columns).
	Count   int64 `json:"count"`
	Nulls   int64 `json:"nulls"`
	Invalid int64 `json:"invalid"` // present values that were not of the kind
	NaN     int64 `json:"nan,omitempty"`
	PosInf  int64 `json:"pos_inf,omitempty"`
	NegInf  int64 `json:"neg_inf,omitempty"`
	// Numeric columns.
	Min       *float64       `json:"min,omitempty"`
	Max       *float64       `json:"max,omitempty"`
	Integral  bool           `json:"integral,omitempty"` // every finite value is a whole number
	Moments   *stats.Moments `json:"moments,omitempty"`
	Quantiles *stats.KLL     `json:"quantiles,omitempty"`
	// String columns: value lengths in bytes and frequent value hashes.
	Length   *stats.Moments  `json:"length,omitempty"`
	Frequent *stats.Frequent `json:"frequent,omitempty"`
	// Domain holds a categorical column's values (sorted), only when
	// profiled with IncludeDomain.
	Domain []string `json:"domain,omitempty"`
	// Distinct estimates the number of distinct present values.
	Distinct      *stats.HLL `json:"distinct_sketch"`
	DistinctCount uint64     `json:"distinct"`
}

// Numeric reports whether the column holds numbers.
func (c *ColumnProfile) Numeric() bool { return c.Kind.Numeric() }

// Column returns the profile of the named column, or nil.
func (p *Profile) Column(name string) *ColumnProfile {
	for i := range p.Columns {
		if p.Columns[i].Name == name {
			return &p.Columns[i]
		}
	}
	return nil
}

// Schema is the profile's schema, as readers take it.
func (p *Profile) Schema() data.Schema {
	s := data.Schema{Shape: slices.Clone(p.Shape)}
	for _, c := range p.Columns {
		s.Fields = append(s.Fields, data.Field{Name: c.Name, Kind: c.Kind})
	}
	return s
}

// ProfileFiles profiles the datasets at paths, which must share a schema,
// as one dataset.
func ProfileFiles(paths []string, dopt data.Options, opt ProfileOptions) (*Profile, error) {
	if len(paths) == 0 {
		return nil, errors.New("no data files given")
	}
	opt = opt.withDefaults()
	dopt.Label = opt.Label
	var acc *accumulator
	var infos []SourceInfo
	var base int64
	for _, path := range paths {
		src, err := data.Open(path, dopt)
		if err != nil {
			return nil, err
		}
		format, _ := data.Detect(path)
		schema := src.Schema()
		if acc == nil {
			acc, err = newAccumulator(schema, opt)
			if err != nil {
				src.Close()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			// Later files are parsed with the first file's kinds so a
			// column is summarised consistently.
			first := schema
			dopt.Schema = &first
		} else if err := sameSchema(acc.schema, schema); err != nil {
			src.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows, err := acc.consume(src, base)
		src.Close()
		if err != nil {
			return nil, err
		}
		base += rows
		infos = append(infos, SourceInfo{Name: filepath.Base(path), Format: format, Rows: rows})
	}
	p, err := acc.finish()
	if err != nil {
		return nil, err
	}
	p.Sources = infos
	// Class names are stored as they are, so a "label" whose values
	// hardly repeat (free text, an identifier, a regression target) would
	// put its values in the profile.
	if p.Label != "" && p.Rows >= 20 && int64(len(p.Classes))*2 > p.Rows {
		return nil, fmt.Errorf("label column %q has %d distinct values in %d rows: class labels repeat, and a profile stores them as they are; is it really a label?", p.Label, len(p.Classes), p.Rows)
	}
	return p, nil
}

func sameSchema(a, b data.Schema) error {
	if len(a.Fields) != len(b.Fields) {
		return fmt.Errorf("has %d columns, the first file has %d", len(b.Fields), len(a.Fields))
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name {
			return fmt.Errorf("column %d is %q, in the first file %q", i+1, b.Fields[i].Name, a.Fields[i].Name)
		}
	}
	if !slices.Equal(a.Shape, b.Shape) {
		return fmt.Errorf("tensor shape %v differs from the first file's %v", b.Shape, a.Shape)
	}
	return nil
}

// accumulator summarises batches with a pool of workers.
type accumulator struct {
	schema   data.Schema
	opt      ProfileOptions
	label    int   // index of the label column or -1
	covCols  []int // numeric feature columns in the multivariate summary
	partials []*partial
	rows     int64
	// kept counts values kept for exact tests; past KeepValues, keeping
	// stops everywhere (overflow) and the kept values are dropped.
	kept     atomic.Int64
	overflow atomic.Bool
}

// partial is one worker's summary.
type partial struct {
	cols    []colAcc
	classes map[string]int64
	cov     *stats.Cov
	covSkip int64
	block   []float64
	keep    [][]float64 // per column, when keeping values
}

type colAcc struct {
	kind                       data.Kind
	count, nulls, invalid      int64
	nan, posInf, negInf        int64
	nonIntegral                bool
	mom                        *stats.Moments
	kll                        *stats.KLL
	hll                        *stats.HLL
	length                     *stats.Moments
	freq                       *stats.Frequent
	domain                     map[string]struct{}
	domainOverflow, wantDomain bool
	maxDomain                  int
}

func newAccumulator(schema data.Schema, opt ProfileOptions) (*accumulator, error) {
	a := &accumulator{schema: schema, opt: opt, label: -1}
	if opt.Label != "" {
		a.label = schema.Index(opt.Label)
		if a.label < 0 {
			return nil, fmt.Errorf("label column %q is not in the data (columns: %s)", opt.Label, fieldList(schema))
		}
	}
	for i, f := range schema.Fields {
		if i != a.label && f.Kind.Numeric() {
			a.covCols = append(a.covCols, i)
		}
	}
	if len(a.covCols) > opt.MaxCovColumns || len(a.covCols) == 0 {
		a.covCols = nil
	}
	for w := range opt.Workers {
		a.partials = append(a.partials, a.newPartial(w))
	}
	return a, nil
}

func fieldList(s data.Schema) string {
	var names []string
	for i, f := range s.Fields {
		if i == 8 {
			names = append(names, fmt.Sprintf("… %d more", len(s.Fields)-8))
			break
		}
		names = append(names, strconv.Quote(f.Name))
	}
	return fmt.Sprint(names)
}

func (a *accumulator) newPartial(worker int) *partial {
	p := &partial{cols: make([]colAcc, len(a.schema.Fields))}
	for i, f := range a.schema.Fields {
		c := &p.cols[i]
		c.kind = f.Kind
		c.hll = stats.NewHLL()
		if f.Kind.Numeric() {
			c.mom = &stats.Moments{}
			c.kll = stats.NewKLL(a.opt.KLLK)
			// Each column (and worker) samples and compacts with its own
			// random stream, so the values the sketches of different
			// columns keep do not come from the same rows.
			c.kll.SetSeed(stats.HashString(f.Name) + uint64(worker)*0x9e3779b97f4a7c15)
		} else {
			c.length = &stats.Moments{}
			c.freq = stats.NewFrequent(a.opt.MaxCategories)
			c.wantDomain = a.opt.IncludeDomain
			c.maxDomain = a.opt.MaxCategories
		}
	}
	if a.label >= 0 {
		p.classes = map[string]int64{}
	}
	if a.covCols != nil {
		p.cov = stats.NewCov(len(a.covCols))
	}
	if a.opt.KeepValues > 0 {
		p.keep = make([][]float64, len(a.schema.Fields))
	}
	return p
}

// keepValues copies the finite values of a numeric column while the
// budget lasts.
func (a *accumulator) keepValues(p *partial, ci int, col *data.Column, n int) {
	if p.keep == nil || a.overflow.Load() {
		p.keep = nil
		return
	}
	if a.kept.Add(int64(n)) > a.opt.KeepValues {
		a.overflow.Store(true)
		p.keep = nil
		return
	}
	for r := 0; r < n; r++ {
		x := col.Num[r]
		if col.State[r] == data.Valid && !math.IsNaN(x) && !math.IsInf(x, 0) {
			p.keep[ci] = append(p.keep[ci], x)
		}
	}
}

// consume reads src to the end, numbering rows from base.
func (a *accumulator) consume(src data.Source, base int64) (int64, error) {
	w := len(a.partials)
	chans := make([]chan *data.Batch, w)
	errs := make([]error, w)
	var wg sync.WaitGroup
	for i := range w {
		chans[i] = make(chan *data.Batch, 2)
		wg.Add(1)
		go func(p *partial, in <-chan *data.Batch) {
			defer wg.Done()
			for b := range in {
				if errs[i] == nil {
					errs[i] = a.add(p, b, i, w)
				}
			}
		}(a.partials[i], chans[i])
	}
	var rows int64
	var readErr error
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if len(b.Issues) > 0 {
			iss := b.Issues[0]
			readErr = fmt.Errorf("row %d: %s: %s", iss.Row+base, iss.Kind, iss.Detail)
			break
		}
		rows += int64(b.Len)
		// Every worker sees every batch and summarises its own columns
		// (column c belongs to worker c mod w): each column's sketches
		// see the whole stream, in order, whatever the scheduling.
		for _, c := range chans {
			c <- b
		}
		if a.opt.Progress != nil {
			a.opt.Progress(a.rows + rows)
		}
	}
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	a.rows += rows
	if readErr != nil {
		return rows, readErr
	}
	return rows, errors.Join(errs...)
}

// add summarises worker's share of one batch into p: the columns whose
// index is worker mod workers, and (worker 0) the multivariate summary.
func (a *accumulator) add(p *partial, b *data.Batch, worker, workers int) error {
	for ci := range b.Cols {
		if ci%workers != worker {
			continue
		}
		col := &b.Cols[ci]
		c := &p.cols[ci]
		if c.kind.Numeric() {
			addNumeric(c, col, b.Len)
			a.keepValues(p, ci, col, b.Len)
		} else {
			addStrings(c, col, b.Len)
		}
		if ci == a.label {
			for r := 0; r < b.Len; r++ {
				if col.State[r] != data.Valid {
					continue
				}
				if len(p.classes) >= DefaultMaxClasses {
					if _, ok := p.classes[labelText(col, r, c.kind)]; !ok {
						return fmt.Errorf("label column %q has more than %d classes: is it really a label?", a.schema.Fields[ci].Name, DefaultMaxClasses)
					}
				}
				p.classes[labelText(col, r, c.kind)]++
			}
		}
	}
	if p.cov != nil && worker == 0 {
		d := len(a.covCols)
		if cap(p.block) < d*b.Len {
			p.block = make([]float64, d*b.Len)
		}
		block := p.block[:0]
		n := 0
		for r := 0; r < b.Len; r++ {
			ok := true
			for _, ci := range a.covCols {
				x := b.Cols[ci].Num[r]
				if b.Cols[ci].State[r] != data.Valid || math.IsNaN(x) || math.IsInf(x, 0) {
					ok = false
					break
				}
			}
			if !ok {
				p.covSkip++
				continue
			}
			for _, ci := range a.covCols {
				block = append(block, b.Cols[ci].Num[r])
			}
			n++
		}
		p.cov.AddRows(block, n)
	}
	return nil
}

// labelText is the class name of a label cell.
func labelText(col *data.Column, r int, kind data.Kind) string {
	if kind.Numeric() {
		return strconv.FormatFloat(col.Num[r], 'g', -1, 64)
	}
	return col.Str[r]
}

func addNumeric(c *colAcc, col *data.Column, n int) {
	for r := 0; r < n; r++ {
		switch col.State[r] {
		case data.Null:
			c.nulls++
			continue
		case data.Mismatch:
			c.invalid++
			continue
		}
		x := col.Num[r]
		switch {
		case math.IsNaN(x):
			c.nan++
			continue
		case math.IsInf(x, 1):
			c.posInf++
		case math.IsInf(x, -1):
			c.negInf++
		default:
			if !c.nonIntegral && x != math.Trunc(x) {
				c.nonIntegral = true
			}
		}
		c.hll.AddHash(stats.HashFloat(x))
	}
	// count covers every cell; the profile subtracts nulls and mismatches.
	c.count += int64(n)
	c.mom.AddSlice(col.Num[:n]) // skips NaN, nulls (NaN) and ±Inf
	c.kll.AddSlice(col.Num[:n]) // skips NaN; keeps ±Inf
}

func addStrings(c *colAcc, col *data.Column, n int) {
	for r := 0; r < n; r++ {
		switch col.State[r] {
		case data.Null:
			c.nulls++
			continue
		case data.Mismatch:
			c.invalid++
			continue
		}
		s := col.Str[r]
		h := stats.HashString(s)
		c.hll.AddHash(h)
		c.freq.Add(h, 1)
		c.length.Add(float64(len(s)))
		if c.wantDomain && !c.domainOverflow {
			if c.domain == nil {
				c.domain = map[string]struct{}{}
			}
			if _, ok := c.domain[s]; !ok {
				if len(c.domain) >= c.maxDomain {
					c.domainOverflow = true
					c.domain = nil
				} else {
					c.domain[s] = struct{}{}
				}
			}
		}
	}
	c.count += int64(n)
}

// merge folds q into p.
func (p *partial) merge(q *partial) error {
	for i := range p.cols {
		a, b := &p.cols[i], &q.cols[i]
		a.count += b.count
		a.nulls += b.nulls
		a.invalid += b.invalid
		a.nan += b.nan
		a.posInf += b.posInf
		a.negInf += b.negInf
		a.nonIntegral = a.nonIntegral || b.nonIntegral
		a.hll.Merge(b.hll)
		if a.mom != nil {
			a.mom.Merge(b.mom)
			if err := a.kll.Merge(b.kll); err != nil {
				return err
			}
		}
		if a.length != nil {
			a.length.Merge(b.length)
			a.freq.Merge(b.freq)
		}
		if a.wantDomain {
			switch {
			case a.domainOverflow || b.domainOverflow:
				a.domainOverflow, a.domain = true, nil
			default:
				for s := range b.domain {
					if a.domain == nil {
						a.domain = map[string]struct{}{}
					}
					a.domain[s] = struct{}{}
				}
				if len(a.domain) > a.maxDomain {
					a.domainOverflow, a.domain = true, nil
				}
			}
		}
	}
	for k, v := range q.classes {
		p.classes[k] += v
	}
	if p.cov != nil {
		if err := p.cov.Merge(q.cov); err != nil {
			return err
		}
		p.covSkip += q.covSkip
	}
	return nil
}

func (a *accumulator) finish() (*Profile, error) {
	p := a.partials[0]
	for _, q := range a.partials[1:] {
		// Sketches made by one process with one k always merge; an error
		// here is a bug, reported rather than panicking.
		if err := p.merge(q); err != nil {
			return nil, fmt.Errorf("merging worker summaries: %w", err)
		}
	}
	prof := &Profile{
		Format: ProfileFormat, Version: ProfileVersion, Tool: toolName(),
		Options: a.opt, Rows: a.rows, Label: a.opt.Label, Shape: slices.Clone(a.schema.Shape),
	}
	for i, f := range a.schema.Fields {
		prof.Columns = append(prof.Columns, p.cols[i].profile(f, i == a.label, a.opt))
	}
	if a.label >= 0 {
		prof.Classes = classList(p.classes)
	}
	if a.opt.KeepValues > 0 && !a.overflow.Load() {
		prof.exact = map[int][]float64{}
		for i, f := range a.schema.Fields {
			if !f.Kind.Numeric() {
				continue
			}
			var all []float64
			for _, q := range a.partials {
				if q.keep != nil {
					all = append(all, q.keep[i]...)
				}
			}
			slices.Sort(all)
			prof.exact[i] = all
		}
	}
	if a.covCols != nil {
		mv := &Multivariate{Cov: p.cov, Skipped: p.covSkip}
		for _, ci := range a.covCols {
			mv.Columns = append(mv.Columns, a.schema.Fields[ci].Name)
		}
		prof.Multivariate = mv
	}
	return prof, nil
}

func classList(m map[string]int64) []ClassCount {
	out := make([]ClassCount, 0, len(m))
	for k, v := range m {
		out = append(out, ClassCount{Value: k, Count: v})
	}
	slices.SortFunc(out, func(x, y ClassCount) int { return compareLabels(x.Value, y.Value) })
	return out
}

// compareLabels orders numeric labels numerically and others as text.
func compareLabels(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil {
		return cmp.Compare(fa, fb)
	}
	return cmp.Compare(a, b)
}

func (c *colAcc) profile(f data.Field, isLabel bool, opt ProfileOptions) ColumnProfile {
	cp := ColumnProfile{
		Name: f.Name, Kind: f.Kind,
		Nulls: c.nulls, Invalid: c.invalid, NaN: c.nan, PosInf: c.posInf, NegInf: c.negInf,
		Distinct: c.hll, DistinctCount: c.hll.Estimate(),
	}
	if f.Kind.Numeric() {
		cp.Count = c.count - c.nulls - c.invalid
		cp.Moments, cp.Quantiles = c.mom, c.kll
		if c.mom.N > 0 {
			// The range of the finite values: infinities are counted
			// apart (and JSON has no infinity).
			lo, hi := c.mom.Min, c.mom.Max
			cp.Min, cp.Max = &lo, &hi
		}
		if c.kll.N() > 0 && !c.nonIntegral {
			cp.Integral = true
		}
		if f.Kind == data.KindInt && c.nonIntegral {
			cp.Kind = data.KindFloat
		}
		cp.Categorical = f.Kind == data.KindBool || isLabel
		return cp
	}
	cp.Count = c.count - c.nulls - c.invalid
	cp.Length, cp.Frequent = c.length, c.freq
	cp.Categorical = isLabel || isCategorical(cp.Count, cp.DistinctCount, c.freq.Exact(), opt.MaxCategories)
	if !cp.Categorical {
		// Free text: hashes of its values would only help a dictionary
		// attack; keep neither frequent-value hashes nor the exact
		// distinct-count list.
		cp.Frequent = nil
		cp.Distinct.Dense()
	}
	if cp.Categorical && c.wantDomain && !c.domainOverflow {
		for s := range c.domain {
			cp.Domain = append(cp.Domain, s)
		}
		slices.Sort(cp.Domain)
	}
	return cp
}

// isCategorical: a string column is categorical when it has few distinct
// values and they repeat (at most half as many distinct values as
// present ones), so a short column of free text (a few e-mail addresses)
// is not mistaken for categories and its values' hashes are not kept.
func isCategorical(count int64, distinct uint64, exact bool, maxCats int) bool {
	return count > 0 && exact && int(distinct) <= maxCats && 2*int64(distinct) <= count
}

// WriteProfile writes p as indented JSON.
func WriteProfile(w io.Writer, p *Profile) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(p)
}

// LoadProfile reads and checks a profile file.
func LoadProfile(path string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := DecodeProfile(io.LimitReader(f, maxProfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// maxProfileBytes bounds a profile file.
const maxProfileBytes = 1 << 30

// IsProfile reports whether the file at path is a profile: a JSON object
// whose first member is "format": "rampart.data.profile", as WriteProfile
// writes it.
func IsProfile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 4096))
	var toks [3]json.Token
	for i := range toks {
		if toks[i], err = dec.Token(); err != nil {
			return false
		}
	}
	return toks[0] == json.Delim('{') && toks[1] == "format" && toks[2] == ProfileFormat
}
