package gguf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func TestCorpus(t *testing.T) {
	tests := []struct {
		file string
		want modelscan.Verdict
		rule string
	}{
		{"valid.gguf", modelscan.Clean, ""},
		{"inject_plain.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_hex.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_unicode.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_concat.gguf", modelscan.Unsafe, "gguf.template-attr-filter"},
		{"inject_join.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_cycler.gguf", modelscan.Unsafe, "gguf.template-global"},
		{"inject_lipsum.gguf", modelscan.Unsafe, "gguf.template-global"},
		{"inject_underscores.gguf", modelscan.Unsafe, "gguf.template-name-literal"},
		{"inject_reversed.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_octal.gguf", modelscan.Unsafe, "gguf.template-dunder"},
		{"inject_named_template.gguf", modelscan.Unsafe, "gguf.template-global"},
		{"suspicious_method.gguf", modelscan.Suspicious, "gguf.template-method"},
		{"bad_version.gguf", modelscan.Unscannable, "gguf.version"},
		{"huge_count.gguf", modelscan.Unscannable, "gguf.counts"},
		{"truncated.gguf", modelscan.Unscannable, "gguf.truncated"},
		{"out_of_file.gguf", modelscan.Unscannable, "gguf.out-of-file"},
		{"bad_dims.gguf", modelscan.Unscannable, "gguf.tensor-dims"},
		{"huge_array.gguf", modelscan.Unscannable, "gguf.truncated"},
	}
	e := modelscan.New(modelscan.DefaultLimits(), nil, New())
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			res, err := e.ScanFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.want || res.Format != "gguf" {
				t.Fatalf("%s %s, want %s: %+v", res.Format, res.Verdict, tc.want, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			b, _ := os.ReadFile(path)
			for _, f := range res.Findings {
				if f.Rule != tc.rule {
					continue
				}
				if f.Offset < 0 || f.Offset >= int64(len(b)) {
					t.Errorf("offset %d outside the file", f.Offset)
				}
				return
			}
			t.Errorf("no %s: %+v", tc.rule, res.Findings)
		})
	}
}

// TestTemplateOffsets: a finding's offset points at the construct in the
// file, so a reviewer can find it.
func TestTemplateOffsets(t *testing.T) {
	b, err := os.ReadFile("testdata/inject_plain.gguf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := modelscan.New(modelscan.DefaultLimits(), nil, New()).Scan(context.Background(), "x", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Callable == "__class__" {
			if got := string(b[f.Offset : f.Offset+9]); got != "__class__" {
				t.Errorf("offset %d points at %q", f.Offset, got)
			}
			return
		}
	}
	t.Errorf("no __class__ finding: %+v", res.Findings)
}

func TestJudgeTemplate(t *testing.T) {
	tests := []struct {
		tpl  string
		want modelscan.Verdict
	}{
		{"Hello {{ name }}", modelscan.Clean},
		{"{% for m in messages %}{{ m['content'] | trim }}{% endfor %}", modelscan.Clean},
		{"{{ m.content.split('x')[0].rstrip() }}", modelscan.Clean},
		{"{%- set ns = namespace(a=1) %}{% set ns.a = 2 %}{{ ns.a }}", modelscan.Clean},
		{"{{ x is defined and x is not none }}", modelscan.Clean},
		{"{{ '{{' }} {# {{ ''.__class__ }} #}", modelscan.Clean},
		{"{{ namespace.__init__ }}", modelscan.Unsafe},
		{"{{ namespace }}", modelscan.Unsafe},
		{"{{ x.__class__ }}", modelscan.Unsafe},
		{"{{ x._private }}", modelscan.Unsafe},
		{"{{ request.application }}", modelscan.Unsafe},
		{"{{ config.items() }}", modelscan.Unsafe},
		{"{{ self }}", modelscan.Unsafe},
		{"{{ joiner() }}", modelscan.Unsafe},
		{"{{ url_for.__globals__ }}", modelscan.Unsafe},
		{"{{ get_flashed_messages }}", modelscan.Unsafe},
		{"{{ x|attr('role') }}", modelscan.Suspicious},
		{"{{ x|attr(y) }}", modelscan.Unsafe},
		{"{{ x|attr('__class__') }}", modelscan.Unsafe},
		{"{{ x.os }}", modelscan.Unsafe},
		{"{{ x.popen('id') }}", modelscan.Unsafe},
		{"{{ x.update({}) }}", modelscan.Suspicious},
		{"{{ '{0.__class__}'.format(x) }}", modelscan.Unsafe},
		{"{{ x|format(1) }}", modelscan.Suspicious},
		{"{{ x['\\x41'] }}", modelscan.Suspicious},
		{"{% include 'other' %}", modelscan.Suspicious},
		{"{{ 'cla' }}{{ 'ss' }}", modelscan.Clean},
		{"{{ '__cla' }}{{ 'ss__' }}", modelscan.Unsafe},
		{"{% set a='subclasses' %}", modelscan.Suspicious},
		{"{{ unterminated", modelscan.Unscannable},
		{"{{ 'unterminated }}", modelscan.Unscannable},
		{"{{ x['\\xZZ'] }}", modelscan.Unscannable},
	}
	for _, tc := range tests {
		t.Run(tc.tpl, func(t *testing.T) {
			v := modelscan.Clean
			var rules []string
			for _, is := range judgeTemplate(tc.tpl) {
				v = max(v, is.verdict)
				rules = append(rules, is.rule)
			}
			if v != tc.want {
				t.Errorf("verdict %s, want %s (%v)", v, tc.want, rules)
			}
		})
	}
}

func FuzzGGUF(f *testing.F) {
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".gguf") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	e := modelscan.New(modelscan.Limits{MaxBytes: 1 << 24, MaxDepth: 4, MaxMembers: 100, Timeout: 5 * time.Second}, nil, New())
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := e.Scan(context.Background(), "f", bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzTemplate(f *testing.F) {
	f.Add("{{ ''.__class__ }}")
	f.Add("{% for m in messages %}{{ m['content'] | trim }}{% endfor %}")
	f.Add("{{ '\\u005f\\N{LOW LINE}\\137' }}{# c #}{% raw %}x{% endraw %}")
	f.Fuzz(func(t *testing.T, s string) {
		for _, is := range judgeTemplate(s) {
			if is.off < 0 || is.off > len(s) {
				t.Fatalf("offset %d outside template of %d bytes", is.off, len(s))
			}
		}
	})
}
