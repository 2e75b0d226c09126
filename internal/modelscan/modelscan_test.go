package modelscan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart"
)

// box is a test container format: "BOX\n" then members separated by "\n--\n",
// each handed back to the engine; "LOOP" members recurse forever.
type box struct{}

func (box) Name() string        { return "box" }
func (box) Match(h []byte) bool { return bytes.HasPrefix(h, []byte("BOX\n")) }
func (box) Analyze(ctx context.Context, in *Input) ([]Finding, error) {
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := in.Charge(in.Size); err != nil {
		return nil, err
	}
	var fs []Finding
	for i, m := range strings.Split(string(b[4:]), "\n--\n") {
		if m == "LOOP" {
			m = string(b) // the box contains itself
		}
		sub, err := in.Scan(ctx, "m"+string(rune('0'+i)), strings.NewReader(m), int64(len(m)))
		if err != nil {
			return fs, err
		}
		fs = append(fs, sub...)
	}
	return fs, nil
}

type word struct{}

func (word) Name() string        { return "word" }
func (word) Match(h []byte) bool { return bytes.HasPrefix(h, []byte("WORD ")) }
func (word) Analyze(ctx context.Context, in *Input) ([]Finding, error) {
	b := make([]byte, in.Size)
	in.R.ReadAt(b, 0)
	if strings.Contains(string(b), "evil") {
		return []Finding{{Verdict: Unsafe, Severity: rampart.SeverityHigh, Rule: "word.evil", Offset: int64(strings.Index(string(b), "evil"))}}, nil
	}
	if strings.Contains(string(b), "slow") {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, nil
}

func TestEngine(t *testing.T) {
	lim := DefaultLimits()
	tests := []struct {
		name    string
		content string
		lim     func(*Limits)
		verdict Verdict
		rule    string
		member  string
	}{
		{"clean", "WORD hello", nil, Clean, "", ""},
		{"unsafe with offset", "WORD an evil word", nil, Unsafe, "word.evil", ""},
		{"unknown format fails closed", "\x00\x01random blob", nil, Unscannable, "scan.unknown-format", ""},
		{"empty", "", nil, Unscannable, "scan.empty", ""},
		{"member judged with its path", "BOX\nWORD fine\n--\nWORD evil", nil, Unsafe, "word.evil", "m1"},
		{"nested members", "BOX\nBOX\nWORD evil", nil, Unsafe, "word.evil", "m0!m0"},
		{"nesting bounded", "BOX\nLOOP", func(l *Limits) { l.MaxDepth = 3 }, Unscannable, "scan.too-deep", ""},
		{"member count bounded", "BOX\nWORD a\n--\nWORD b\n--\nWORD c", func(l *Limits) { l.MaxMembers = 2 }, Unscannable, "scan.too-many-members", ""},
		{"byte budget", "BOX\nWORD " + strings.Repeat("x", 100), func(l *Limits) { l.MaxBytes = 50 }, Unscannable, "scan.budget", ""},
		{"per-file timeout", "WORD slow", func(l *Limits) { l.Timeout = 20 * time.Millisecond }, Unscannable, "scan.timeout", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := lim
			if tc.lim != nil {
				tc.lim(&l)
			}
			e := New(l, nil, box{}, word{})
			res, err := e.Scan(context.Background(), "f", strings.NewReader(tc.content), int64(len(tc.content)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s: %+v", res.Verdict, tc.verdict, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			for _, f := range res.Findings {
				if f.Rule == tc.rule && (tc.member == "" || f.Member == tc.member) {
					return
				}
			}
			t.Fatalf("no %s finding (member %q): %+v", tc.rule, tc.member, res.Findings)
		})
	}
}

// TestCallerDeadlineIsAnError: a deadline the caller set is the caller's
// error, not a per-file timeout verdict.
func TestCallerDeadlineIsAnError(t *testing.T) {
	e := New(DefaultLimits(), nil, word{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.Scan(ctx, "f", strings.NewReader("WORD slow"), 9); err == nil {
		t.Fatal("caller deadline reported as a verdict")
	}
}

func TestPolicy(t *testing.T) {
	p := &Policy{Allow: []string{"acme.layers.*", "acme.util.helper"}}
	for _, tc := range []struct {
		module, name string
		want         bool
	}{{"acme.layers", "Gated", true}, {"acme.util", "helper", true}, {"acme.util", "other", false}, {"acme", "layers", false}} {
		if got := p.Allows(tc.module, tc.name); got != tc.want {
			t.Errorf("%s.%s: %v", tc.module, tc.name, got)
		}
	}
	var none *Policy
	if none.Allows("a", "b") {
		t.Error("nil policy allows")
	}
}
