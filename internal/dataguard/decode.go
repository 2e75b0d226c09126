package dataguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/rampart-ai/rampart/internal/data"
)

// toolName is rampart at the version in the binary's build information.
func toolName() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "rampart " + v
}

// DecodeProfile reads a profile and checks that it is one this version
// understands and that its parts agree with each other. A profile is
// untrusted input (it may come from anywhere), so every sketch validates
// itself while decoding and nothing here trusts a count.
func DecodeProfile(r io.Reader) (*Profile, error) {
	var raw bytes.Buffer
	if _, err := io.Copy(&raw, io.LimitReader(r, maxProfileBytes+1)); err != nil {
		return nil, err
	}
	if raw.Len() > maxProfileBytes {
		return nil, fmt.Errorf("profile larger than %d bytes", maxProfileBytes)
	}
	dec := json.NewDecoder(&raw)
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a valid profile: %w", jsonErr(raw.Bytes(), err))
	}
	if dec.More() {
		return nil, errors.New("not a valid profile: data after the JSON object")
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("not a valid profile: %w", err)
	}
	return &p, nil
}

// jsonErr adds the line and column to a JSON syntax or type error.
func jsonErr(b []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(b[:off], '\n'))
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

func (p *Profile) check() error {
	if p.Format != ProfileFormat {
		return fmt.Errorf("format is %q, want %q", p.Format, ProfileFormat)
	}
	if p.Version != ProfileVersion {
		return fmt.Errorf("version %d is not supported (this rampart reads version %d)", p.Version, ProfileVersion)
	}
	if p.Rows < 0 {
		return errors.New("negative row count")
	}
	if len(p.Columns) == 0 {
		return errors.New("no columns")
	}
	seen := map[string]bool{}
	for i := range p.Columns {
		c := &p.Columns[i]
		if c.Name == "" || seen[c.Name] {
			return fmt.Errorf("column %d: empty or duplicate name %q", i+1, c.Name)
		}
		seen[c.Name] = true
		if err := c.check(p.Rows); err != nil {
			return fmt.Errorf("column %q: %w", c.Name, err)
		}
	}
	if p.Label != "" && !seen[p.Label] {
		return fmt.Errorf("label column %q is not among the columns", p.Label)
	}
	for _, cl := range p.Classes {
		if cl.Count < 0 {
			return fmt.Errorf("class %q: negative count", cl.Value)
		}
	}
	for _, d := range p.Shape {
		if d <= 0 || d > data.DefaultMaxColumns {
			return fmt.Errorf("bad tensor shape %v", p.Shape)
		}
	}
	if mv := p.Multivariate; mv != nil {
		if mv.Cov == nil || len(mv.Columns) == 0 {
			return errors.New("multivariate: missing columns or covariance")
		}
		if len(mv.Cov.Mean()) != len(mv.Columns) {
			return fmt.Errorf("multivariate: %d columns but a %d-dimensional covariance", len(mv.Columns), len(mv.Cov.Mean()))
		}
		for _, name := range mv.Columns {
			c := p.Column(name)
			if c == nil || !c.Numeric() {
				return fmt.Errorf("multivariate: %q is not a numeric column", name)
			}
		}
	}
	return nil
}

func (c *ColumnProfile) check(rows int64) error {
	switch c.Kind {
	case data.KindInt, data.KindFloat, data.KindBool, data.KindString:
	default:
		return fmt.Errorf("unknown kind %q", c.Kind)
	}
	for _, n := range []int64{c.Count, c.Nulls, c.Invalid, c.NaN, c.PosInf, c.NegInf} {
		if n < 0 || n > rows {
			return fmt.Errorf("count %d outside 0..%d rows", n, rows)
		}
	}
	if c.Count+c.Nulls+c.Invalid != rows {
		return fmt.Errorf("count %d + nulls %d + invalid %d != %d rows", c.Count, c.Nulls, c.Invalid, rows)
	}
	if c.Distinct == nil {
		return errors.New("missing distinct sketch")
	}
	if c.Kind.Numeric() {
		if c.Moments == nil || c.Quantiles == nil {
			return errors.New("numeric column without moments or quantiles")
		}
		if (c.Min == nil) != (c.Max == nil) || (c.Min != nil && *c.Min > *c.Max) {
			return errors.New("bad min/max")
		}
	} else if c.Length == nil {
		return errors.New("string column without lengths")
	}
	if len(c.Domain) > 0 && !c.Categorical {
		return errors.New("a domain on a column that is not categorical")
	}
	return nil
}
