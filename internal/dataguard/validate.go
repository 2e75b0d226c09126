package dataguard

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/rampart-ai/rampart/internal/data"
	"github.com/rampart-ai/rampart/internal/stats"
)

// Violation kinds reported by Validate.
const (
	VMissingColumn  = "missing_column"  // a profiled column is absent
	VExtraColumn    = "extra_column"    // a column the profile does not know
	VShape          = "shape"           // tensor shape or row width differs
	VRagged         = "ragged"          // a row with the wrong number of fields
	VUnknownKey     = "unknown_column"  // a JSON Lines key outside the schema
	VType           = "type"            // a value not of the column's kind
	VMissing        = "missing"         // a null where the profile had none
	VNaN            = "nan"             // NaN where the profile had none
	VInf            = "inf"             // ±Inf where the profile had none
	VOutOfRange     = "out_of_range"    // below the profile's min or above its max
	VUnseenCategory = "unseen_category" // a categorical value the profile never saw
)

// MaxExamples is how many example rows a violation lists.
const MaxExamples = 5

// Violation counts one kind of problem in one column (or in the rows).
type Violation struct {
	Column string  `json:"column,omitempty"`
	Kind   string  `json:"kind"`
	Count  int64   `json:"count"`
	Rows   []int64 `json:"rows,omitempty"` // the first few 0-based data rows
	Detail string  `json:"detail,omitempty"`
}

// ValidateOptions tune validation.
type ValidateOptions struct {
	// RangeSlack widens the profile's [min, max] by this fraction of its
	// width on each side before a value counts as out of range.
	RangeSlack float64
	Progress   func(rows int64)
}

// Validation is the result of validating one dataset.
type Validation struct {
	Data       string      `json:"data"`
	Rows       int64       `json:"rows"`
	Valid      bool        `json:"valid"`
	Violations []Violation `json:"violations"`
}

// Validate checks the dataset at path against p.
func Validate(path string, p *Profile, dopt data.Options, opt ValidateOptions) (*Validation, error) {
	res := &Validation{Data: path, Violations: []Violation{}}
	dopt.Lenient = true
	dopt.Schema = nil
	dopt.Label = ""
	src, err := data.Open(path, dopt)
	if err != nil {
		return nil, err
	}
	fileSchema := src.Schema()
	format, _ := data.Detect(path)
	if len(p.Shape) > 0 || len(fileSchema.Shape) > 0 {
		if !slices.Equal(p.Shape, fileSchema.Shape) {
			src.Close()
			res.Violations = append(res.Violations, Violation{Kind: VShape, Count: 1,
				Detail: fmt.Sprintf("tensor shape %v, the profile has %v", fileSchema.Shape, p.Shape)})
			return res.done(), nil
		}
	}
	// Columns present and missing.
	var present data.Schema
	present.Shape = p.Shape
	for _, c := range p.Columns {
		i := fileSchema.Index(c.Name)
		if i < 0 {
			res.Violations = append(res.Violations, Violation{Column: c.Name, Kind: VMissingColumn, Count: 1,
				Detail: "the profile has this column; the data does not"})
			continue
		}
		present.Fields = append(present.Fields, data.Field{Name: c.Name, Kind: c.Kind})
	}
	for _, f := range fileSchema.Fields {
		if p.Column(f.Name) == nil {
			res.Violations = append(res.Violations, Violation{Column: f.Name, Kind: VExtraColumn, Count: 1,
				Detail: "not in the profile"})
		}
	}
	if len(present.Fields) == 0 {
		src.Close()
		return res.done(), nil
	}
	switch format {
	case "csv", "tsv", "jsonl":
		// Text: parse again with the profile's kinds, so a value of the
		// wrong kind is a counted Mismatch rather than a changed kind.
		src.Close()
		dopt.Schema = &present
		if src, err = data.Open(path, dopt); err != nil {
			return nil, err
		}
	}
	defer src.Close()
	v := newValidator(p, src.Schema(), opt)
	for {
		b, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		v.batch(b)
		res.Rows += int64(b.Len)
		if opt.Progress != nil {
			opt.Progress(res.Rows)
		}
	}
	res.Violations = append(res.Violations, v.violations()...)
	return res.done(), nil
}

func (r *Validation) done() *Validation {
	r.Valid = len(r.Violations) == 0
	return r
}

// colCheck is what one column is checked against.
type colCheck struct {
	prof         *ColumnProfile
	numeric      bool // the file's column holds numbers
	lo, hi       float64
	hasRange     bool
	integral     bool
	allowNull    bool
	allowNaN     bool
	allowInf     bool
	hashes       map[uint64]struct{} // categorical string domain by hash
	domain       map[string]struct{} // categorical domain by value
	classes      map[string]struct{} // numeric label classes
	kindMismatch bool                // the file's kind cannot be checked against the profile's
	counts       map[string]*Violation
	order        []string
}

type validator struct {
	cols   []*colCheck
	names  []string
	issues map[string]*Violation
	order  []string
}

func newValidator(p *Profile, s data.Schema, opt ValidateOptions) *validator {
	v := &validator{issues: map[string]*Violation{}}
	for _, f := range s.Fields {
		cp := p.Column(f.Name)
		v.names = append(v.names, f.Name)
		if cp == nil {
			v.cols = append(v.cols, nil)
			continue
		}
		c := &colCheck{prof: cp, numeric: f.Kind.Numeric(), counts: map[string]*Violation{},
			allowNull: cp.Nulls > 0, allowNaN: cp.NaN > 0, allowInf: cp.PosInf+cp.NegInf > 0,
			integral: cp.Integral && cp.Kind == data.KindInt}
		c.kindMismatch = c.numeric != cp.Numeric()
		if cp.Min != nil && cp.Max != nil {
			slack := opt.RangeSlack * (*cp.Max - *cp.Min)
			c.lo, c.hi, c.hasRange = *cp.Min-slack, *cp.Max+slack, true
		}
		if cp.Categorical && !cp.Numeric() {
			if len(cp.Domain) > 0 {
				c.domain = map[string]struct{}{}
				for _, s := range cp.Domain {
					c.domain[s] = struct{}{}
				}
			} else if cp.Frequent != nil && cp.Frequent.Exact() {
				c.hashes = map[uint64]struct{}{}
				for _, it := range cp.Frequent.Items() {
					c.hashes[it.Key] = struct{}{}
				}
			}
		}
		if cp.Name == p.Label && len(p.Classes) > 0 {
			c.classes = map[string]struct{}{}
			for _, cl := range p.Classes {
				c.classes[cl.Value] = struct{}{}
			}
		}
		v.cols = append(v.cols, c)
	}
	return v
}

func (c *colCheck) flag(kind string, row int64, detail string) {
	vi := c.counts[kind]
	if vi == nil {
		vi = &Violation{Column: c.prof.Name, Kind: kind, Detail: detail}
		c.counts[kind] = vi
		c.order = append(c.order, kind)
	}
	vi.Count++
	if len(vi.Rows) < MaxExamples {
		vi.Rows = append(vi.Rows, row)
	}
}

func (v *validator) batch(b *data.Batch) {
	for _, iss := range b.Issues {
		kind := VRagged
		switch iss.Kind {
		case data.IssueUnknown:
			kind = VUnknownKey
		case data.IssueShape:
			kind = VShape
		}
		key := kind + "\x00" + iss.Detail
		if kind == VRagged {
			key = kind
		}
		vi := v.issues[key]
		if vi == nil {
			vi = &Violation{Kind: kind, Detail: iss.Detail}
			if kind == VUnknownKey {
				vi.Column = iss.Detail
				vi.Detail = "key not in the profile"
			}
			v.issues[key] = vi
			v.order = append(v.order, key)
		}
		vi.Count++
		if len(vi.Rows) < MaxExamples {
			vi.Rows = append(vi.Rows, iss.Row)
		}
	}
	for ci, c := range v.cols {
		if c == nil {
			continue
		}
		col := &b.Cols[ci]
		for r := 0; r < b.Len; r++ {
			row := b.Start + int64(r)
			switch col.State[r] {
			case data.Null:
				if !c.allowNull {
					c.flag(VMissing, row, "missing value; the profile has none")
				}
				continue
			case data.Mismatch:
				c.flag(VType, row, fmt.Sprintf("value is not of kind %s", c.prof.Kind))
				continue
			}
			if c.kindMismatch {
				c.flag(VType, row, fmt.Sprintf("column holds %s values, the profile %s", kindWord(c.numeric), c.prof.Kind))
				continue
			}
			if c.numeric {
				c.number(col.Num[r], row)
			} else {
				c.text(col.Str[r], row)
			}
		}
	}
}

func kindWord(numeric bool) string {
	if numeric {
		return "numeric"
	}
	return "string"
}

func (c *colCheck) number(x float64, row int64) {
	switch {
	case math.IsNaN(x):
		if !c.allowNaN {
			c.flag(VNaN, row, "NaN; the profile has none")
		}
		return
	case math.IsInf(x, 0):
		if !c.allowInf {
			c.flag(VInf, row, "infinity; the profile has none")
		}
		return
	}
	if c.classes != nil {
		if _, ok := c.classes[strconv.FormatFloat(x, 'g', -1, 64)]; !ok {
			c.flag(VUnseenCategory, row, "a label value the profile never saw")
		}
		return
	}
	if c.integral && x != math.Trunc(x) {
		c.flag(VType, row, "a fraction in a column of whole numbers")
		return
	}
	if c.hasRange && (x < c.lo || x > c.hi) {
		c.flag(VOutOfRange, row, fmt.Sprintf("outside the profile's range [%s, %s]", fmtNum(*c.prof.Min), fmtNum(*c.prof.Max)))
	}
}

func (c *colCheck) text(s string, row int64) {
	switch {
	case c.domain != nil:
		if _, ok := c.domain[s]; !ok {
			c.flag(VUnseenCategory, row, "a category the profile never saw")
		}
	case c.hashes != nil:
		if _, ok := c.hashes[stats.HashString(s)]; !ok {
			c.flag(VUnseenCategory, row, "a category the profile never saw")
		}
	}
}

func (v *validator) violations() []Violation {
	var out []Violation
	for _, k := range v.order {
		out = append(out, *v.issues[k])
	}
	for _, c := range v.cols {
		if c == nil {
			continue
		}
		for _, k := range c.order {
			out = append(out, *c.counts[k])
		}
	}
	return out
}

// fmtNum prints a number compactly.
func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
