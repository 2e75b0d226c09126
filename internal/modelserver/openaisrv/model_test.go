package openaisrv

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Hello, world!", "Hello|,|world|!"},
		{`"and what is the use of a book," thought Alice`, "and|what|is|the|use|of|a|book|,|thought|Alice"},
		{"waistcoat-pocket (as well)", "waistcoat-pocket|as|well"},
		{"I've fallen -- 'quoted'", "I've|fallen|quoted"},
		{"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := strings.Join(tokenize(tc.in), "|"); got != tc.want {
				t.Errorf("tokenize = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTrainCountsBigrams(t *testing.T) {
	m := train("# comment line\na b a c .\na b\n")
	if slices.Contains(m.vocab, "comment") {
		t.Error("trained on a comment line")
	}
	a := m.lower["a"]
	got := map[string]int{}
	for _, e := range m.next[a] {
		got[m.vocab[e.tok]] = e.count
	}
	if got["b"] != 2 || got["c"] != 1 || len(got) != 2 {
		t.Errorf("successors of a = %v, want b:2 c:1", got)
	}
	if len(m.starts) != 1 || m.vocab[m.starts[0].tok] != "a" || m.starts[0].count != 2 {
		t.Errorf("starts = %v", m.starts)
	}
}

func TestGenerate(t *testing.T) {
	m := train(corpus)
	vocab := map[string]bool{}
	for _, w := range m.vocab {
		vocab[w] = true
	}
	t.Run("deterministic", func(t *testing.T) {
		a := m.generate("Tell me about Alice", 40, 1, 7, nil)
		b := m.generate("Tell me about Alice", 40, 1, 7, nil)
		if a.text() != b.text() || a.text() == "" {
			t.Errorf("same request, different text: %q vs %q", a.text(), b.text())
		}
	})
	t.Run("seed and prompt matter", func(t *testing.T) {
		seen := map[string]bool{}
		for seed := range uint64(8) {
			seen[m.generate("the rabbit", 30, 1, seed, nil).text()] = true
			seen[m.generate("a nation", 30, 1, seed, nil).text()] = true
		}
		if len(seen) < 8 {
			t.Errorf("only %d distinct texts from 16 requests", len(seen))
		}
	})
	t.Run("only trained words", func(t *testing.T) {
		g := m.generate("Down", 200, 1.5, 3, nil)
		for _, p := range g.pieces {
			if w := strings.TrimPrefix(p, " "); !vocab[w] {
				t.Errorf("piece %q is not in the vocabulary", p)
			}
		}
	})
	t.Run("continues from the prompt", func(t *testing.T) {
		// In the corpus "White" is always followed by "Rabbit".
		g := m.generate("the white", 1, 1, 0, nil)
		if g.text() != "Rabbit" || g.finish != "length" {
			t.Errorf("after 'white': %q (%s), want Rabbit (length)", g.text(), g.finish)
		}
	})
	t.Run("greedy ignores seed", func(t *testing.T) {
		if a, b := m.generate("we", 20, 0, 1, nil), m.generate("we", 20, 0, 99, nil); a.text() != b.text() {
			t.Errorf("temperature 0: %q vs %q", a.text(), b.text())
		}
	})
	t.Run("max tokens", func(t *testing.T) {
		for _, n := range []int{1, 5, 50} {
			g := m.generate("Alice", n, 1, 1, nil)
			if len(g.pieces) > n || (g.finish == "length" && len(g.pieces) != n) {
				t.Errorf("max %d: %d pieces, finish %s", n, len(g.pieces), g.finish)
			}
		}
	})
	t.Run("stop sequences", func(t *testing.T) {
		full := m.generate("Alice", 60, 1, 5, nil).text()
		// Stop at a string spanning two pieces, and at one inside a piece.
		for _, stop := range []string{full[10:16], full[20:21]} {
			g := m.generate("Alice", 60, 1, 5, []string{stop})
			want := full[:strings.Index(full, stop)]
			if g.text() != want || g.finish != "stop" {
				t.Errorf("stop %q: got %q (%s), want %q", stop, g.text(), g.finish, want)
			}
		}
	})
}

func TestEmbed(t *testing.T) {
	cos := func(a, b []float32) float64 {
		s := 0.0
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	a := embed("The White Rabbit ran close by her", 256)
	b := embed("a white rabbit ran by", 256)
	c := embed("four score and seven years ago", 256)
	if n := cos(a, a); math.Abs(n-1) > 1e-6 {
		t.Errorf("|a|² = %v, want 1", n)
	}
	if cos(a, b) <= cos(a, c) {
		t.Errorf("related texts cos %v not above unrelated %v", cos(a, b), cos(a, c))
	}
	if !slices.Equal(a, embed("the white rabbit ran close by her!", 256)) {
		t.Error("embedding depends on case or punctuation")
	}
	if z := embed("...", 8); !slices.Equal(z, make([]float32, 8)) {
		t.Errorf("punctuation-only embedding %v, want zeros", z)
	}
}
