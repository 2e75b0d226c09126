// Package pylit reads the small subset of Python literals that NumPy
// writes in .npy headers: dicts with string keys, lists, tuples, strings,
// ints (with Python 2's L suffix), True, False and None. It never
// evaluates anything; it is strict (duplicate keys, newlines in strings and
// unknown escapes are errors) and bounded (nesting depth, items per
// container), because the bytes come from untrusted files. Both the model
// scanner and the data guard's npy reader use it.
package pylit

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads one literal at the start of s (after blanks) and returns it
// with the offset just past it.
func Parse(s string) (v any, end int, err error) {
	p := &parser{s: s}
	v, err = p.value(0)
	return v, p.i, err
}

// The values Parse returns besides string, int64, bool and nil.
type (
	Dict  map[string]any
	List  []any
	Tuple []any
)

// parser is a strict reader of the Python literals numpy writes: dicts
// with string keys, lists, tuples, strings, ints, True, False, None.
type parser struct {
	s string
	i int
}

func (p *parser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("at %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) value(depth int) (any, error) {
	if depth > 32 {
		return nil, p.errf("nested too deep")
	}
	p.skip()
	if p.i >= len(p.s) {
		return nil, p.errf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := Dict{}
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return d, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, p.errf("dict key is not a string")
			}
			if _, dup := d[ks]; dup {
				return nil, p.errf("duplicate key %q", ks)
			}
			p.skip()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.errf("want ':'")
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d[ks] = v
			if !p.sep('}') {
				return nil, p.errf("want ',' or '}'")
			}
		}
	case c == '[' || c == '(':
		end := byte(']')
		if c == '(' {
			end = ')'
		}
		p.i++
		var items []any
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				break
			}
			if len(items) > 1<<16 {
				return nil, p.errf("too many items")
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			if !p.sep(end) {
				return nil, p.errf("want ',' or %q", end)
			}
		}
		if c == '[' {
			return List(items), nil
		}
		return Tuple(items), nil
	case c == '\'' || c == '"':
		return p.str(c)
	case c >= '0' && c <= '9' || c == '-':
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		// Python 2 era headers wrote longs as 3L.
		lit := p.s[p.i:j]
		if j < len(p.s) && p.s[j] == 'L' {
			j++
		}
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil {
			return nil, p.errf("bad int %q", lit)
		}
		p.i = j
		return n, nil
	default:
		for _, w := range []struct {
			s string
			v any
		}{{"True", true}, {"False", false}, {"None", nil}} {
			if strings.HasPrefix(p.s[p.i:], w.s) {
				p.i += len(w.s)
				return w.v, nil
			}
		}
	}
	return nil, p.errf("unexpected %q", p.s[p.i])
}

// sep consumes "," (then maybe the closer) or the closer; it reports
// whether the container continues correctly. After it the caller loops.
func (p *parser) sep(end byte) bool {
	p.skip()
	if p.i >= len(p.s) {
		return false
	}
	if p.s[p.i] == ',' {
		p.i++
		return true
	}
	if p.s[p.i] == end {
		return true
	}
	return false
}

func (p *parser) str(q byte) (string, error) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n':
			return "", p.errf("unterminated string: a newline inside it")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errf("bad escape")
			}
			switch e := p.s[p.i+1]; e {
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				// numpy never writes other escapes in type strings.
				return "", p.errf("unsupported escape \\%c", e)
			}
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", p.errf("unterminated string")
}
