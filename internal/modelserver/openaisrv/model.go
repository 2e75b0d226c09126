package openaisrv

import (
	_ "embed"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"
)

//go:embed corpus.txt
var corpus string

// end marks the end of a paragraph in the training text; generating it
// finishes a completion with reason "stop".
const end = 0

// bigram is a word-level bigram language model: the next token depends only
// on the current one, drawn in proportion to how often the pair occurs in
// the training text. It is tiny, but it is a real trained model with real
// sampling, so outputs vary with the prompt, the seed and the temperature.
type bigram struct {
	vocab  []string       // token id -> text; vocab[end] is ""
	lower  map[string]int // lowercased text -> first token id with it
	next   [][]edge       // successors of each token, by ascending id
	starts []edge         // tokens that begin a paragraph
}

type edge struct{ tok, count int }

// train builds the model from text, one paragraph a line; lines starting
// with '#' are comments.
func train(text string) *bigram {
	m := &bigram{vocab: []string{""}, lower: map[string]int{}}
	ids := map[string]int{"": end}
	counts := []map[int]int{{}}
	id := func(w string) int {
		if i, ok := ids[w]; ok {
			return i
		}
		i := len(m.vocab)
		ids[w] = i
		m.vocab = append(m.vocab, w)
		counts = append(counts, map[int]int{})
		if _, ok := m.lower[strings.ToLower(w)]; !ok {
			m.lower[strings.ToLower(w)] = i
		}
		return i
	}
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		toks := tokenize(line)
		if len(toks) == 0 {
			continue
		}
		prev := end // the start state shares the end token's successors
		for _, w := range toks {
			cur := id(w)
			counts[prev][cur]++
			prev = cur
		}
		counts[prev][end]++
	}
	m.next = make([][]edge, len(counts))
	for i, c := range counts {
		for tok, n := range c {
			m.next[i] = append(m.next[i], edge{tok, n})
		}
		// Map iteration order is random; sorting makes sampling reproducible.
		sort.Slice(m.next[i], func(a, b int) bool { return m.next[i][a].tok < m.next[i][b].tok })
	}
	m.starts = m.next[end]
	return m
}

// tokenize splits text into words (letters, digits, inner apostrophes and
// hyphens) and the punctuation marks . , ; : ! ? as tokens of their own.
// Other characters (quotes, brackets) only separate words.
func tokenize(text string) []string {
	var toks []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			toks = append(toks, strings.Trim(word.String(), "'-"))
			if toks[len(toks)-1] == "" {
				toks = toks[:len(toks)-1]
			}
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '-' || r == '’':
			word.WriteRune(r)
		case strings.ContainsRune(".,;:!?", r):
			flush()
			toks = append(toks, string(r))
		default:
			flush()
		}
	}
	flush()
	return toks
}

// countTokens is the usage accounting unit: tokens as tokenize sees them.
func countTokens(text string) int { return len(tokenize(text)) }

func isPunct(tok string) bool { return len(tok) == 1 && strings.ContainsAny(tok, ".,;:!?") }

// generation is the result of one sampling run: text pieces as they would
// be streamed (each carries its own leading space) and why it stopped.
type generation struct {
	pieces []string
	finish string // "stop" or "length"
}

func (g generation) text() string { return strings.Join(g.pieces, "") }

// generate continues prompt for at most maxTokens tokens. The walk starts
// from the prompt's last known word, so a reply follows on from the prompt;
// with temperature 0 it always takes the most frequent successor. The random
// stream depends only on seed and prompt, so equal requests get equal text.
func (m *bigram) generate(prompt string, maxTokens int, temperature float64, seed uint64, stops []string) generation {
	h := fnv.New64a()
	h.Write([]byte(prompt))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))

	state := end
	ptoks := tokenize(prompt)
	for i := len(ptoks) - 1; i >= 0; i-- {
		if id, ok := m.lower[strings.ToLower(ptoks[i])]; ok {
			state = id
			break
		}
	}
	var g generation
	var sofar strings.Builder
	for len(g.pieces) < maxTokens {
		tok := m.sample(state, temperature, rng)
		if tok == end {
			if len(g.pieces) > 0 {
				g.finish = "stop"
				return g
			}
			// Nothing generated yet: start a fresh paragraph instead.
			state = end
			tok = m.sample(end, temperature, rng)
		}
		piece := m.vocab[tok]
		if len(g.pieces) > 0 && !isPunct(piece) {
			piece = " " + piece
		}
		// Stop sequences may span pieces, so look in the whole text so far.
		before := sofar.Len()
		sofar.WriteString(piece)
		if cut := firstStop(sofar.String(), stops); cut >= 0 {
			if cut > before {
				g.pieces = append(g.pieces, piece[:cut-before])
			} else if cut < before {
				g.truncate(cut)
			}
			g.finish = "stop"
			return g
		}
		g.pieces = append(g.pieces, piece)
		state = tok
	}
	g.finish = "length"
	return g
}

// truncate drops text from byte offset cut on.
func (g *generation) truncate(cut int) {
	n := 0
	for i, p := range g.pieces {
		if n+len(p) >= cut {
			g.pieces[i] = p[:cut-n]
			g.pieces = g.pieces[:i+1]
			if g.pieces[i] == "" {
				g.pieces = g.pieces[:i]
			}
			return
		}
		n += len(p)
	}
}

func firstStop(s string, stops []string) int {
	best := -1
	for _, st := range stops {
		if i := strings.Index(s, st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

func (m *bigram) sample(state int, temperature float64, rng *rand.Rand) int {
	edges := m.next[state]
	if len(edges) == 0 {
		return end
	}
	if temperature <= 0 {
		best := edges[0]
		for _, e := range edges[1:] {
			if e.count > best.count {
				best = e
			}
		}
		return best.tok
	}
	weights := make([]float64, len(edges))
	total := 0.0
	for i, e := range edges {
		weights[i] = math.Pow(float64(e.count), 1/temperature)
		total += weights[i]
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return edges[i].tok
		}
		x -= w
	}
	return edges[len(edges)-1].tok
}

// embed is a hashed bag-of-words vector: each lowercased word adds ±1 to
// the dimension its FNV-1a hash picks, and the result is L2-normalized. Texts
// that share words point in similar directions, which is all the tests and
// the demo need from an embedding model.
func embed(text string, dim int) []float32 {
	v := make([]float64, dim)
	for _, tok := range tokenize(text) {
		if isPunct(tok) {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(strings.ToLower(tok)))
		s := h.Sum64()
		sign := 1.0
		if s>>63 == 1 {
			sign = -1
		}
		v[s%uint64(dim)] += sign
	}
	norm := 0.0
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, dim)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}
