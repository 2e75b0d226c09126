package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/config"
)

// Factory builds a configurable stage from its `with` block.
type Factory func(name string, with *yaml.Node, route *config.Route) (Stage, error)

// Factories is the explicit table of stages a route can add by
// configuration (routes[].stages[].type).
var Factories = map[string]Factory{
	"tensor_range": newTensorRange,
	"text_match":   newTextMatch,
	"param_bounds": newParamBounds,
}

// FactoryNames lists the configurable stage types, for error messages.
func FactoryNames() string {
	return "tensor_range, text_match, param_bounds"
}

// outcome reads a stage's configured action and severity; an empty
// severity keeps def.
func outcome(action, severity string, def rampart.Severity) (rampart.Verdict, rampart.Severity, error) {
	v, err := verdictOf(action)
	if err != nil {
		return "", 0, err
	}
	if severity == "" {
		return v, def, nil
	}
	sev, err := rampart.ParseSeverity(severity)
	return v, sev, err
}

// set returns the members of list, or nil (meaning "all") when it is empty.
func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}

// verdictOf reads a configured action name.
func verdictOf(s string) (rampart.Verdict, error) {
	switch s {
	case "", "block":
		return rampart.VerdictBlock, nil
	case "flag":
		return rampart.VerdictFlag, nil
	}
	return "", fmt.Errorf("action must be block or flag, not %q", s)
}

// tensorRange refuses numeric tensor values outside a declared range: a
// cheap guard against out-of-distribution and adversarial inputs whose
// features leave the range seen in training.
type tensorRange struct {
	name     string
	min, max float64
	inputs   map[string]bool
	verdict  rampart.Verdict
	severity rampart.Severity
}

type tensorRangeCfg struct {
	Min      *float64 `yaml:"min"`
	Max      *float64 `yaml:"max"`
	Inputs   []string `yaml:"inputs"`
	Action   string   `yaml:"action"`
	Severity string   `yaml:"severity"`
}

func newTensorRange(name string, with *yaml.Node, route *config.Route) (Stage, error) {
	var c tensorRangeCfg
	if err := config.DecodeStrict(with, &c); err != nil {
		return nil, err
	}
	if route.Protocol != rampart.ProtocolOIP {
		return nil, errors.New("tensor_range applies to oip routes")
	}
	if c.Min == nil && c.Max == nil {
		return nil, errors.New("set min, max or both")
	}
	s := &tensorRange{name: name, min: math.Inf(-1), max: math.Inf(1), severity: rampart.SeverityMedium}
	if c.Min != nil {
		s.min = *c.Min
	}
	if c.Max != nil {
		s.max = *c.Max
	}
	if s.min > s.max {
		return nil, fmt.Errorf("min %g is above max %g", s.min, s.max)
	}
	s.inputs = set(c.Inputs)
	var err error
	s.verdict, s.severity, err = outcome(c.Action, c.Severity, s.severity)
	return s, err
}

func (s *tensorRange) Name() string { return s.name }

func (s *tensorRange) Check(_ context.Context, req *Request) ([]rampart.Finding, error) {
	if req.Inf == nil {
		return nil, nil
	}
	for _, t := range req.Inf.Tensors {
		if s.inputs != nil && !s.inputs[t.Name] {
			continue
		}
		out := 0
		worst := 0.0
		for _, v := range t.Numbers {
			// NaN compares false with everything: count it as outside.
			if v != v || v < s.min || v > s.max {
				out++
				d := math.Max(s.min-v, v-s.max)
				if d > worst || d != d {
					worst = d
				}
			}
		}
		if out > 0 {
			return []rampart.Finding{{
				Detector: s.name, Kind: "out_of_range", Severity: s.severity, Verdict: s.verdict,
				Code: rampart.CodeInvalid, Score: float64(out) / float64(len(t.Numbers)),
				Reason: fmt.Sprintf("input %q: %d of %d values outside [%g, %g]", t.Name, out, len(t.Numbers), s.min, s.max),
			}}, nil
		}
	}
	return nil, nil
}

// textMatch flags or blocks text parts that match configured patterns
// (for example known prompt-injection phrases or internal code names).
type textMatch struct {
	name     string
	patterns []*regexp.Regexp
	roles    map[string]bool
	verdict  rampart.Verdict
	severity rampart.Severity
}

type textMatchCfg struct {
	Patterns      []string `yaml:"patterns"`
	Roles         []string `yaml:"roles"`
	CaseSensitive bool     `yaml:"case_sensitive"`
	Action        string   `yaml:"action"`
	Severity      string   `yaml:"severity"`
}

func newTextMatch(name string, with *yaml.Node, route *config.Route) (Stage, error) {
	var c textMatchCfg
	if err := config.DecodeStrict(with, &c); err != nil {
		return nil, err
	}
	if len(c.Patterns) == 0 {
		return nil, errors.New("patterns is required")
	}
	s := &textMatch{name: name, severity: rampart.SeverityHigh}
	for i, p := range c.Patterns {
		if !c.CaseSensitive {
			p = "(?i)" + p
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %d: %v", i, err)
		}
		s.patterns = append(s.patterns, re)
	}
	s.roles = set(c.Roles)
	var err error
	s.verdict, s.severity, err = outcome(c.Action, c.Severity, s.severity)
	return s, err
}

func (s *textMatch) Name() string { return s.name }

func (s *textMatch) Check(_ context.Context, req *Request) ([]rampart.Finding, error) {
	if req.Inf == nil {
		return nil, nil
	}
	for _, p := range req.Inf.Texts {
		if s.roles != nil && !s.roles[p.Role] {
			continue
		}
		for i, re := range s.patterns {
			if re.MatchString(p.Text) {
				return []rampart.Finding{{
					Detector: s.name, Kind: "text_match", Severity: s.severity, Verdict: s.verdict,
					Code: rampart.CodeForbidden, Score: 1,
					// The matched text is not echoed: it may carry secrets.
					Reason: fmt.Sprintf("%s text matches pattern %d", roleOr(p.Role), i),
				}}, nil
			}
		}
	}
	return nil, nil
}

func roleOr(r string) string {
	if r == "" {
		return "input"
	}
	return r
}

// paramBounds bounds generation parameters (max_tokens, temperature, n, …)
// so a caller cannot run up cost or loosen sampling beyond policy.
type paramBounds struct {
	name   string
	bounds map[string][2]float64
	keys   []string
	verdct rampart.Verdict
}

type paramBoundsCfg struct {
	Max    map[string]float64 `yaml:"max"`
	Min    map[string]float64 `yaml:"min"`
	Action string             `yaml:"action"`
}

func newParamBounds(name string, with *yaml.Node, route *config.Route) (Stage, error) {
	var c paramBoundsCfg
	if err := config.DecodeStrict(with, &c); err != nil {
		return nil, err
	}
	if len(c.Max) == 0 && len(c.Min) == 0 {
		return nil, errors.New("set max or min bounds")
	}
	s := &paramBounds{name: name, bounds: map[string][2]float64{}}
	for k, v := range c.Max {
		b := s.bounds[k]
		if _, ok := c.Min[k]; !ok {
			b[0] = math.Inf(-1)
		}
		b[1] = v
		s.bounds[k] = b
	}
	for k, v := range c.Min {
		b, ok := s.bounds[k]
		if !ok {
			b[1] = math.Inf(1)
		}
		b[0] = v
		if b[0] > b[1] {
			return nil, fmt.Errorf("%s: min %g is above max %g", k, b[0], b[1])
		}
		s.bounds[k] = b
	}
	for k := range s.bounds {
		s.keys = append(s.keys, k)
	}
	var err error
	if s.verdct, err = verdictOf(c.Action); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *paramBounds) Name() string { return s.name }

func (s *paramBounds) Check(_ context.Context, req *Request) ([]rampart.Finding, error) {
	if req.Inf == nil {
		return nil, nil
	}
	var out []string
	for _, k := range s.keys {
		v, ok := req.Inf.Parameters[k]
		if !ok {
			continue
		}
		f, ok := number(v)
		b := s.bounds[k]
		if !ok || f < b[0] || f > b[1] {
			out = append(out, fmt.Sprintf("%s outside [%g, %g]", k, b[0], b[1]))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return []rampart.Finding{{
		Detector: s.name, Kind: "parameter_bounds", Severity: rampart.SeverityMedium, Verdict: s.verdct,
		Code: rampart.CodeInvalid, Score: 1, Reason: "parameter " + strings.Join(out, "; "),
	}}, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case bool:
		return 0, false
	}
	return 0, false
}
