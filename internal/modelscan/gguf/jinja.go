package gguf

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// Chat templates are Jinja, rendered by the model server on every
// request. Server-side template injection reaches Python through
// attribute chains ("".__class__.__mro__[1].__subclasses__()) or through
// globals that leak objects (cycler, joiner, lipsum, namespace, request,
// config, self). The checks below work on our own tokenization of every
// {{ }} and {% %} block: string literals are decoded (hex, unicode,
// octal, named escapes) before they are judged, and all literals are also
// judged joined, so names split across literals ("__cla" ~ "ss__") are
// caught the same way as plain ones.

// issue is one template observation; off is a byte offset in the template.
type issue struct {
	verdict   modelscan.Verdict
	rule      string
	msg       string
	construct string
	off       int
}

var (
	dangerousGlobals = set("request", "config", "self", "cycler", "joiner", "lipsum", "url_for",
		"get_flashed_messages", "os", "popen", "subprocess", "builtins", "globals", "eval", "exec",
		"getattr", "setattr", "import_module", "open", "compile", "g", "session")
	dangerousAttrs = set("popen", "os", "subprocess", "eval", "exec", "import_module",
		"globals", "builtins", "getattr", "mro", "subclasses", "func_globals", "gi_frame", "f_globals",
		"f_back", "cr_frame", "ag_frame", "tb_frame", "environ", "modules")
	dunders = []string{"__class__", "__globals__", "__subclasses__", "__builtins__", "__import__", "__init__",
		"__mro__", "__base__", "__bases__", "__dict__", "__getattribute__", "__reduce__", "__reduce_ex__",
		"__code__", "__func__", "__self__", "__module__", "__loader__", "__spec__", "__getitem__", "__call__"}
	coreWords = set("class", "globals", "subclasses", "builtins", "import", "mro", "bases", "getattribute",
		"popen", "subprocess", "os", "eval", "exec", "import_module", "__")
	safeMethods = set("strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
		"upper", "lower", "title", "capitalize", "replace", "items", "keys", "values", "get", "count",
		"find", "rfind", "index", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower")
	safeFilters = set("abs", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
		"first", "float", "groupby", "indent", "int", "items", "join", "last", "length", "list", "lower",
		"map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
		"selectattr", "slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate",
		"unique", "upper", "urlencode", "wordcount", "wordwrap", "batch", "xmlattr", "forceescape")
)

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

type tokKind int

const (
	tkName tokKind = iota
	tkString
	tkNumber
	tkOp
)

type token struct {
	kind    tokKind
	text    string // names, operators, numbers: the source; strings: decoded
	escaped bool   // string used escapes other than \n \t \r \\ \' \"
	off     int
}

// maxTemplateTokens bounds work on hostile templates.
const maxTemplateTokens = 1 << 20

// judgeTemplate returns the issues in a Jinja template.
func judgeTemplate(src string) []issue {
	var out []issue
	add := func(v modelscan.Verdict, rule string, off int, construct, format string, args ...any) {
		if len(out) < 64 {
			out = append(out, issue{verdict: v, rule: rule, off: off, construct: construct, msg: fmt.Sprintf(format, args...)})
		}
	}
	var literals []token
	ntok := 0
	i := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			break
		}
		i += j
		open := src[i+1]
		switch open {
		case '#':
			k := strings.Index(src[i+2:], "#}")
			if k < 0 {
				add(modelscan.Unscannable, "gguf.template-syntax", i, "", "unterminated comment")
				return out
			}
			i += 2 + k + 2
			continue
		case '{', '%':
		default:
			i++
			continue
		}
		closer := "}}"
		if open == '%' {
			closer = "%}"
		}
		toks, end, err := lexBlock(src, i+2, closer)
		if err != "" {
			add(modelscan.Unscannable, "gguf.template-syntax", i, "", "%s", err)
			return out
		}
		if ntok += len(toks); ntok > maxTemplateTokens {
			add(modelscan.Unscannable, "gguf.template-syntax", i, "", "template has more than %d tokens", maxTemplateTokens)
			return out
		}
		i = end
		if open == '%' && len(toks) > 0 && toks[0].kind == tkName {
			switch toks[0].text {
			case "raw":
				k := strings.Index(src[i:], "endraw")
				if k < 0 {
					add(modelscan.Unscannable, "gguf.template-syntax", toks[0].off, "", "unterminated raw block")
					return out
				}
				if c := strings.Index(src[i+k:], "%}"); c >= 0 {
					i += k + c + 2
				} else {
					i = len(src)
				}
				continue
			case "import", "include", "extends", "from":
				add(modelscan.Suspicious, "gguf.template-include", toks[0].off, toks[0].text,
					"{%% %s %%} loads another template the scan cannot see", toks[0].text)
			}
		}
		judgeBlock(toks, add)
		for _, t := range toks {
			if t.kind == tkString {
				literals = append(literals, t)
			}
		}
	}
	// Names split across literals: join them all, both ways round (a
	// |reverse filter undoes a reversed spelling).
	var joined strings.Builder
	underscoresOnly, core := false, token{off: -1}
	for _, l := range literals {
		joined.WriteString(l.text)
		if l.text != "" && strings.Trim(l.text, "_") == "" {
			underscoresOnly = true
		}
		if coreWords[l.text] && core.off < 0 {
			core = l
		}
	}
	all := joined.String()
	rev := reverse(all)
	for _, d := range dunders {
		if strings.Contains(all, d) || strings.Contains(rev, d) {
			off := 0
			if len(literals) > 0 {
				off = literals[0].off
			}
			add(modelscan.Unsafe, "gguf.template-dunder", off, d,
				"string literals spell %s: a template can reach Python internals with it", d)
			break
		}
	}
	if core.off >= 0 {
		v := modelscan.Suspicious
		if underscoresOnly {
			v = modelscan.Unsafe
		}
		add(v, "gguf.template-name-literal", core.off, core.text,
			"string literal %q names a Python internal; templates build attribute names from such pieces", core.text)
	}
	return out
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

type adder func(v modelscan.Verdict, rule string, off int, construct, format string, args ...any)

func judgeBlock(toks []token, add adder) {
	for i, t := range toks {
		prev := ""
		if i > 0 && toks[i-1].kind != tkString {
			prev = toks[i-1].text
		}
		next := ""
		if i+1 < len(toks) && toks[i+1].kind == tkOp {
			next = toks[i+1].text
		}
		switch t.kind {
		case tkString:
			if strings.Contains(t.text, "__") {
				add(modelscan.Unsafe, "gguf.template-dunder", t.off, clip(t.text),
					"string literal %q holds a double-underscore name", clip(t.text))
			}
			if t.escaped {
				add(modelscan.Suspicious, "gguf.template-escape", t.off, clip(t.text),
					"string literal spells %q with escapes: obfuscation chat templates have no need for", clip(t.text))
			}
		case tkName:
			switch {
			case prev == ".":
				name := t.text
				if strings.HasPrefix(name, "_") {
					add(modelscan.Unsafe, "gguf.template-dunder", t.off, name, "attribute access to %s", name)
				} else if dangerousAttrs[name] {
					add(modelscan.Unsafe, "gguf.template-attribute", t.off, name, "attribute access to %s", name)
				} else if next == "(" && !safeMethods[name] {
					add(modelscan.Suspicious, "gguf.template-method", t.off, name, "call of method %s outside the safe set", name)
				}
			case prev == "|":
				name := t.text
				switch {
				case name == "attr":
					v := modelscan.Unsafe
					if i+3 < len(toks) && toks[i+1].text == "(" && toks[i+2].kind == tkString && toks[i+3].text == ")" &&
						!strings.HasPrefix(toks[i+2].text, "_") && !toks[i+2].escaped && isIdent(toks[i+2].text) && !dangerousAttrs[toks[i+2].text] {
						v = modelscan.Suspicious
					}
					add(v, "gguf.template-attr-filter", t.off, "attr", "|attr() reaches attributes by computed name")
				case !safeFilters[name]:
					add(modelscan.Suspicious, "gguf.template-filter", t.off, name, "filter %s outside the safe set", name)
				}
			case prev == "is" || (prev == "not" && i >= 2 && toks[i-2].text == "is"):
				// a test name: "is defined", "is not none"
			default:
				name := t.text
				if strings.HasPrefix(name, "__") {
					add(modelscan.Unsafe, "gguf.template-dunder", t.off, name, "reference to %s", name)
				} else if name == "namespace" && next != "(" {
					add(modelscan.Unsafe, "gguf.template-global", t.off, name, "namespace used as an object, not called")
				} else if dangerousGlobals[name] {
					add(modelscan.Unsafe, "gguf.template-global", t.off, name, "reference to %s, a known template-injection gadget", name)
				}
			}
		}
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// lexBlock tokenizes from pos up to closer (with Jinja's optional - or +
// whitespace-control sign), returning the tokens and the offset after it.
func lexBlock(src string, pos int, closer string) ([]token, int, string) {
	var toks []token
	i := pos
	if i < len(src) && (src[i] == '-' || src[i] == '+') {
		i++
	}
	for {
		for i < len(src) && strings.IndexByte(" \t\r\n", src[i]) >= 0 {
			i++
		}
		if i >= len(src) {
			return nil, 0, "unterminated block"
		}
		if strings.HasPrefix(src[i:], closer) {
			return toks, i + 2, ""
		}
		if (src[i] == '-' || src[i] == '+') && strings.HasPrefix(src[i+1:], closer) {
			return toks, i + 3, ""
		}
		c := src[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{kind: tkName, text: src[i:j], off: i})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == '_' || src[j] == 'e' || src[j] == 'x') {
				j++
			}
			toks = append(toks, token{kind: tkNumber, text: src[i:j], off: i})
			i = j
		case c == '\'' || c == '"':
			s, esc, end, err := lexString(src, i)
			if err != "" {
				return nil, 0, err
			}
			toks = append(toks, token{kind: tkString, text: s, escaped: esc, off: i})
			i = end
		case c >= 0x80:
			// Jinja identifiers may be non-ASCII; treat them as names.
			_, n := utf8.DecodeRuneInString(src[i:])
			toks = append(toks, token{kind: tkName, text: src[i : i+n], off: i})
			i += n
		default:
			op := string(c)
			for _, two := range []string{"==", "!=", "<=", ">=", "//", "**"} {
				if strings.HasPrefix(src[i:], two) {
					op = two
				}
			}
			toks = append(toks, token{kind: tkOp, text: op, off: i})
			i += len(op)
		}
	}
}

// lexString decodes a Jinja (Python) string literal starting at src[i].
func lexString(src string, i int) (string, bool, int, string) {
	q := src[i]
	var b strings.Builder
	esc := false
	j := i + 1
	for j < len(src) {
		c := src[j]
		if c == q {
			return b.String(), esc, j + 1, ""
		}
		if c != '\\' {
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(src) {
			break
		}
		e := src[j+1]
		j += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n':
		case 'a', 'b', 'f', 'v':
			b.WriteByte(map[byte]byte{'a': 7, 'b': 8, 'f': 12, 'v': 11}[e])
			esc = true
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if j+n > len(src) {
				return "", false, 0, "bad escape in string literal"
			}
			v, err := strconv.ParseUint(src[j:j+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", false, 0, "bad escape in string literal"
			}
			b.WriteRune(rune(v))
			j += n
			esc = true
		case 'N':
			k := strings.IndexByte(src[j:], '}')
			if j >= len(src) || src[j] != '{' || k < 0 {
				return "", false, 0, "bad escape in string literal"
			}
			name := strings.ToUpper(src[j+1 : j+k])
			j += k + 1
			esc = true
			if name == "LOW LINE" || name == "FULLWIDTH LOW LINE" {
				b.WriteByte('_')
			} else {
				b.WriteString("\\N{" + name + "}")
			}
		default:
			if e >= '0' && e <= '7' {
				v := int(e - '0')
				for k := 0; k < 2 && j < len(src) && src[j] >= '0' && src[j] <= '7'; k++ {
					v = v*8 + int(src[j]-'0')
					j++
				}
				b.WriteRune(rune(v))
				esc = true
			} else {
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		}
	}
	return "", false, 0, "unterminated string literal"
}
