package dataguard

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/rampart-ai/rampart/internal/data"
)

// MergeProfiles combines profiles of shards of one dataset into the profile
// of the whole. The shards must have the same columns in the same order,
// the same label and tensor shape, and have been made with the same sketch
// settings; an int column merged with a float one becomes float. The
// result reuses (and changes) the sketches of ps[0].
func MergeProfiles(ps []*Profile) (*Profile, error) {
	if len(ps) == 0 {
		return nil, errors.New("no profiles to merge")
	}
	out := ps[0]
	for i, q := range ps[1:] {
		if err := mergeInto(out, q); err != nil {
			return nil, fmt.Errorf("profile %d: %w", i+2, err)
		}
	}
	out.Tool = toolName()
	// The result must be a profile this version would accept.
	if err := out.check(); err != nil {
		return nil, fmt.Errorf("merged profile: %w", err)
	}
	return out, nil
}

func mergeInto(p, q *Profile) error {
	if p.Options.KLLK != q.Options.KLLK || p.Options.MaxCategories != q.Options.MaxCategories {
		return fmt.Errorf("made with different sketch settings (kll_k %d vs %d, max_categories %d vs %d)",
			p.Options.KLLK, q.Options.KLLK, p.Options.MaxCategories, q.Options.MaxCategories)
	}
	if p.Label != q.Label {
		return fmt.Errorf("label %q differs from %q", q.Label, p.Label)
	}
	if !slices.Equal(p.Shape, q.Shape) {
		return fmt.Errorf("tensor shape %v differs from %v", q.Shape, p.Shape)
	}
	if len(p.Columns) != len(q.Columns) {
		return fmt.Errorf("has %d columns, the first profile %d", len(q.Columns), len(p.Columns))
	}
	for i := range p.Columns {
		a, b := &p.Columns[i], &q.Columns[i]
		if a.Name != b.Name {
			return fmt.Errorf("column %d is %q, in the first profile %q", i+1, b.Name, a.Name)
		}
		if err := mergeColumn(a, b, p.Options.MaxCategories); err != nil {
			return fmt.Errorf("column %q: %w", a.Name, err)
		}
	}
	if p.Rows > math.MaxInt64-q.Rows {
		return errors.New("row counts overflow")
	}
	p.Rows += q.Rows
	p.Sources = append(p.Sources, q.Sources...)
	p.Options.IncludeDomain = p.Options.IncludeDomain && q.Options.IncludeDomain
	classes := map[string]int64{}
	for _, c := range p.Classes {
		classes[c.Value] += c.Count
	}
	for _, c := range q.Classes {
		classes[c.Value] += c.Count
	}
	if p.Label != "" {
		p.Classes = classList(classes)
	}
	switch {
	case p.Multivariate == nil || q.Multivariate == nil:
		p.Multivariate = nil
	case !slices.Equal(p.Multivariate.Columns, q.Multivariate.Columns):
		p.Multivariate = nil
	default:
		if err := p.Multivariate.Cov.Merge(q.Multivariate.Cov); err != nil {
			return fmt.Errorf("multivariate: %w", err)
		}
		p.Multivariate.Skipped += q.Multivariate.Skipped
	}
	return nil
}

func mergeColumn(a, b *ColumnProfile, maxCats int) error {
	if a.Numeric() != b.Numeric() {
		return fmt.Errorf("kind %s cannot merge with %s", b.Kind, a.Kind)
	}
	if a.Numeric() && a.Kind != b.Kind {
		if a.Kind == data.KindBool || b.Kind == data.KindBool {
			return fmt.Errorf("kind %s cannot merge with %s", b.Kind, a.Kind)
		}
		a.Kind = data.KindFloat
	}
	a.Count += b.Count
	a.Nulls += b.Nulls
	a.Invalid += b.Invalid
	a.NaN += b.NaN
	a.PosInf += b.PosInf
	a.NegInf += b.NegInf
	a.Distinct.Merge(b.Distinct)
	a.DistinctCount = a.Distinct.Estimate()
	if a.Numeric() {
		a.Integral = (a.Integral || a.Moments.N == 0) && (b.Integral || b.Moments.N == 0)
		a.Moments.Merge(b.Moments)
		if err := a.Quantiles.Merge(b.Quantiles); err != nil {
			return err
		}
		if b.Min != nil && (a.Min == nil || *b.Min < *a.Min) {
			v := *b.Min
			a.Min = &v
		}
		if b.Max != nil && (a.Max == nil || *b.Max > *a.Max) {
			v := *b.Max
			a.Max = &v
		}
		a.Categorical = a.Categorical && b.Categorical
		return nil
	}
	a.Length.Merge(b.Length)
	switch {
	case a.Frequent == nil || b.Frequent == nil:
		a.Frequent, a.Categorical, a.Domain = nil, false, nil
	default:
		a.Frequent.Merge(b.Frequent)
		a.Categorical = a.Categorical && b.Categorical && isCategorical(a.Count, a.DistinctCount, a.Frequent.Exact(), maxCats)
		if !a.Categorical {
			a.Frequent, a.Domain = nil, nil
		}
	}
	if !a.Categorical {
		a.Distinct.Dense()
	}
	if a.Categorical && a.Domain != nil && b.Domain != nil {
		u := append(slices.Clone(a.Domain), b.Domain...)
		slices.Sort(u)
		u = slices.Compact(u)
		if len(u) > maxCats {
			u = nil
		}
		a.Domain = u
	} else {
		a.Domain = nil
	}
	return nil
}
