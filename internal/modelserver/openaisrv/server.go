// Package openaisrv is a real, tiny OpenAI-compatible model server, used as
// the upstream in Rampart's demo and in end-to-end tests with the official
// OpenAI clients. Text comes from a word-level bigram language model trained
// at start-up on public-domain text embedded in the package (no canned
// replies); embeddings are hashed bag-of-words vectors.
//
// Contract: New returns an http.Handler for
//
//	GET  /v1/models, /v1/models/{id}
//	POST /v1/chat/completions   (stream: true sends server-sent events in
//	                             OpenAI's chunk format, ending "data: [DONE]")
//	POST /v1/completions        (likewise)
//	POST /v1/embeddings         (encoding_format "float" or "base64")
//
// Output is deterministic: it depends only on the request (prompt, seed,
// temperature, limits), never on time or on earlier requests, except for the
// response id and created fields. Every error is an OpenAI error body
// {"error": {"message", "type", "param", "code"}} with a 4xx status; request
// bodies, token counts and batch sizes are bounded. If Options.APIKey is set,
// every request must carry it as a bearer token.
package openaisrv

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Default model names. The restricted chat model is the same model under
// another name, so a demo policy can forbid one and allow the other.
var (
	DefaultChatModels      = []string{"bigram-chat", "bigram-chat-restricted"}
	DefaultEmbeddingModels = []string{"hashed-bow-256"}
)

const (
	fingerprint       = "fp_rampart_bigram"
	modelCreated      = 1735689600 // 2025-01-01, fixed so listings are stable
	defaultChunkDelay = 15 * time.Millisecond
	defaultMaxBody    = 1 << 20
	defaultMaxTokens  = 1024
	defaultEmbedDim   = 256
	maxChoices        = 8
	maxInputs         = 2048
	maxStops          = 4
)

// Options configure New; the zero value is usable.
type Options struct {
	// ChatModels serve /v1/chat/completions and /v1/completions.
	ChatModels []string
	// EmbeddingModels serve /v1/embeddings.
	EmbeddingModels []string
	// APIKey, if set, is required as "Authorization: Bearer <key>".
	APIKey string
	// ChunkDelay is the pause between streamed chunks, so that streaming is
	// observable through a proxy (default 15ms; negative means none).
	ChunkDelay time.Duration
	// MaxBodyBytes bounds a request body (default 1 MiB).
	MaxBodyBytes int64
	// MaxTokens bounds max_tokens in a request (default 1024).
	MaxTokens int
	// EmbeddingDim is the embedding size (default 256).
	EmbeddingDim int
	// Now stamps responses' created field (default time.Now).
	Now func() time.Time
}

type server struct {
	opts  Options
	lm    *bigram
	kinds map[string]string // model id -> "chat" or "embedding"
	ids   []string          // listing order
}

// New builds the handler; it trains the language model, which takes well
// under a millisecond.
func New(opts Options) (http.Handler, error) {
	if opts.ChatModels == nil {
		opts.ChatModels = DefaultChatModels
	}
	if opts.EmbeddingModels == nil {
		opts.EmbeddingModels = DefaultEmbeddingModels
	}
	if opts.ChunkDelay == 0 {
		opts.ChunkDelay = defaultChunkDelay
	}
	if opts.MaxBodyBytes < 0 || opts.MaxTokens < 0 || opts.EmbeddingDim < 0 {
		return nil, errors.New("openaisrv: limits must not be negative")
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = defaultMaxBody
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = defaultMaxTokens
	}
	if opts.EmbeddingDim == 0 {
		opts.EmbeddingDim = defaultEmbedDim
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &server{opts: opts, lm: train(corpus), kinds: map[string]string{}}
	for kind, names := range map[string][]string{"chat": opts.ChatModels, "embedding": opts.EmbeddingModels} {
		for _, n := range names {
			if n == "" || len(n) > 256 || strings.ContainsAny(n, " \t\r\n") {
				return nil, fmt.Errorf("openaisrv: invalid model id %q", n)
			}
			if _, dup := s.kinds[n]; dup {
				return nil, fmt.Errorf("openaisrv: model id %q listed twice", n)
			}
			s.kinds[n] = kind
			s.ids = append(s.ids, n)
		}
	}
	if len(s.ids) == 0 {
		return nil, errors.New("openaisrv: no models configured")
	}
	slices.Sort(s.ids)
	return s, nil
}

// apiError is an OpenAI error response.
type apiError struct {
	status  int
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

func invalid(param, format string, args ...any) *apiError {
	e := &apiError{status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Type: "invalid_request_error"}
	if param != "" {
		e.Param = &param
	}
	return e
}

func withCode(e *apiError, status int, code string) *apiError {
	e.status = status
	e.Code = &code
	return e
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]*apiError{"error": e})
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.APIKey != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.APIKey)) != 1 {
			writeError(w, withCode(invalid("", "Incorrect or missing API key."), http.StatusUnauthorized, "invalid_api_key"))
			return
		}
	}
	path := r.URL.Path
	var want string
	var handle func(http.ResponseWriter, *http.Request)
	switch {
	case path == "/v1/models":
		want, handle = http.MethodGet, s.listModels
	case strings.HasPrefix(path, "/v1/models/") && len(path) > len("/v1/models/"):
		want, handle = http.MethodGet, s.getModel
	case path == "/v1/chat/completions":
		want, handle = http.MethodPost, s.chat
	case path == "/v1/completions":
		want, handle = http.MethodPost, s.completions
	case path == "/v1/embeddings":
		want, handle = http.MethodPost, s.embeddings
	default:
		writeError(w, withCode(invalid("", "Unknown request URL: %s %s.", r.Method, clip(path)), http.StatusNotFound, "unknown_url"))
		return
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeError(w, withCode(invalid("", "Method %s is not allowed for %s; use %s.", r.Method, path, want), http.StatusMethodNotAllowed, "method_not_allowed"))
		return
	}
	handle(w, r)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *server) model(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: modelCreated, OwnedBy: "rampart"}
}

func (s *server) listModels(w http.ResponseWriter, _ *http.Request) {
	data := make([]modelObject, 0, len(s.ids))
	for _, id := range s.ids {
		data = append(data, s.model(id))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *server) getModel(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/models/")
	if _, ok := s.kinds[id]; !ok {
		writeError(w, notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, s.model(id))
}

func notFound(id string) *apiError {
	return withCode(invalid("model", "The model `%s` does not exist or you do not have access to it.", clip(id)), http.StatusNotFound, "model_not_found")
}

// decode reads a bounded JSON body into v.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return withCode(invalid("", "Request body exceeds %d bytes.", tooBig.Limit), http.StatusRequestEntityTooLarge, "request_too_large")
		}
		return invalid("", "Could not read the request body.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return invalid(typ.Field, "Invalid type for '%s'.", typ.Field)
		}
		return invalid("", "We could not parse the JSON body of your request. The body must be a JSON object.")
	}
	if dec.More() {
		return invalid("", "We could not parse the JSON body of your request: data after the object.")
	}
	return nil
}

// checkModel resolves the requested model for an endpoint of kind.
func (s *server) checkModel(id, kind string) *apiError {
	if id == "" {
		return invalid("model", "You must provide a model parameter.")
	}
	k, ok := s.kinds[id]
	if !ok {
		return notFound(id)
	}
	if k != kind {
		return invalid("model", "The model `%s` is a %s model and does not support this endpoint.", clip(id), k)
	}
	return nil
}

// sampling holds the generation parameters shared by both text endpoints.
type sampling struct {
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	N                   *int            `json:"n"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type params struct {
	maxTokens   int
	temperature float64
	n           int
	seed        uint64
	stops       []string
	usage       bool // include usage in the stream
}

func (s *server) params(p sampling, defaultMax int) (params, *apiError) {
	out := params{maxTokens: defaultMax, temperature: 1, n: 1}
	if p.MaxCompletionTokens != nil {
		p.MaxTokens = p.MaxCompletionTokens
	}
	if p.MaxTokens != nil {
		if *p.MaxTokens < 1 || *p.MaxTokens > s.opts.MaxTokens {
			return out, invalid("max_tokens", "max_tokens must be between 1 and %d.", s.opts.MaxTokens)
		}
		out.maxTokens = *p.MaxTokens
	}
	if p.Temperature != nil {
		if t := *p.Temperature; math.IsNaN(t) || t < 0 || t > 2 {
			return out, invalid("temperature", "temperature must be between 0 and 2.")
		}
		out.temperature = *p.Temperature
	}
	if p.N != nil {
		if *p.N < 1 || *p.N > maxChoices {
			return out, invalid("n", "n must be between 1 and %d.", maxChoices)
		}
		out.n = *p.N
	}
	if p.Seed != nil {
		out.seed = uint64(*p.Seed)
	}
	if len(p.Stop) > 0 && string(p.Stop) != "null" {
		var one string
		if err := json.Unmarshal(p.Stop, &one); err == nil {
			out.stops = []string{one}
		} else if err := json.Unmarshal(p.Stop, &out.stops); err != nil {
			return out, invalid("stop", "stop must be a string or an array of strings.")
		}
		if len(out.stops) > maxStops || slices.Contains(out.stops, "") {
			return out, invalid("stop", "stop must hold at most %d non-empty strings.", maxStops)
		}
	}
	if p.StreamOptions != nil {
		if !p.Stream {
			return out, invalid("stream_options", "stream_options is only allowed when stream is true.")
		}
		out.usage = p.StreamOptions.IncludeUsage
	}
	return out, nil
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens,omitempty"`
	TotalTokens      int `json:"total_tokens"`
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// --- chat completions ---

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	sampling
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// messageText returns the text of a message's content: a string, an array
// of parts (only "text" parts carry text), or null.
func messageText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String(), true
}

var roles = []string{"system", "developer", "user", "assistant", "tool", "function"}

type chatChoice struct {
	Index        int       `json:"index"`
	Message      *chatOut  `json:"message,omitempty"`
	Delta        *chatOut  `json:"delta,omitempty"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type chatOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

type completionResponse struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           any    `json:"choices"`
	Usage             *usage `json:"usage,omitempty"`
}

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := s.decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkModel(req.Model, "chat"); e != nil {
		writeError(w, e)
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, invalid("messages", "messages must be a non-empty array."))
		return
	}
	var prompt strings.Builder
	for i, m := range req.Messages {
		if !slices.Contains(roles, m.Role) {
			writeError(w, invalid(fmt.Sprintf("messages[%d].role", i), "Invalid role in messages[%d]; expected one of %s.", i, strings.Join(roles, ", ")))
			return
		}
		text, ok := messageText(m.Content)
		if !ok {
			writeError(w, invalid(fmt.Sprintf("messages[%d].content", i), "Invalid content in messages[%d]; expected a string or an array of content parts.", i))
			return
		}
		prompt.WriteString(text)
		prompt.WriteByte('\n')
	}
	p, e := s.params(req.sampling, 64)
	if e != nil {
		writeError(w, e)
		return
	}
	text := prompt.String()
	gens := make([]generation, p.n)
	u := usage{PromptTokens: countTokens(text)}
	for i := range gens {
		gens[i] = s.lm.generate(text, p.maxTokens, p.temperature, p.seed+uint64(i), p.stops)
		u.CompletionTokens += len(gens[i].pieces)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	resp := completionResponse{ID: newID("chatcmpl-"), Object: "chat.completion", Created: s.opts.Now().Unix(), Model: req.Model, SystemFingerprint: fingerprint}
	if !req.Stream {
		choices := make([]chatChoice, len(gens))
		for i, g := range gens {
			content := g.text()
			choices[i] = chatChoice{Index: i, Message: &chatOut{Role: "assistant", Content: &content}, FinishReason: &g.finish}
		}
		resp.Choices, resp.Usage = choices, &u
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp.Object = "chat.completion.chunk"
	st := s.startStream(w, r)
	for i, g := range gens {
		empty := ""
		if !st.send(resp, p.usage, []chatChoice{{Index: i, Delta: &chatOut{Role: "assistant", Content: &empty}}}) {
			return
		}
		for _, piece := range g.pieces {
			if !st.send(resp, p.usage, []chatChoice{{Index: i, Delta: &chatOut{Content: &piece}}}) {
				return
			}
		}
		if !st.send(resp, p.usage, []chatChoice{{Index: i, Delta: &chatOut{}, FinishReason: &g.finish}}) {
			return
		}
	}
	st.finish(resp, p.usage, u)
}

// --- streaming ---

type stream struct {
	s     *server
	w     http.ResponseWriter
	r     *http.Request
	rc    *http.ResponseController
	first bool
}

func (s *server) startStream(w http.ResponseWriter, r *http.Request) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &stream{s: s, w: w, r: r, rc: http.NewResponseController(w), first: true}
}

// send writes one chunk after the configured delay; it reports false once
// the client has gone, so generation stops.
func (st *stream) send(base completionResponse, withUsage bool, choices any) bool {
	if !st.first && st.s.opts.ChunkDelay > 0 {
		t := time.NewTimer(st.s.opts.ChunkDelay)
		select {
		case <-t.C:
		case <-st.r.Context().Done():
			t.Stop()
			return false
		}
	}
	st.first = false
	base.Choices = choices
	var b []byte
	if withUsage {
		// With include_usage every chunk carries "usage": null until the last.
		b, _ = json.Marshal(struct {
			completionResponse
			Usage *usage `json:"usage"`
		}{completionResponse: base})
	} else {
		b, _ = json.Marshal(base)
	}
	return st.write("data: " + string(b) + "\n\n")
}

func (st *stream) write(s string) bool {
	if _, err := io.WriteString(st.w, s); err != nil {
		return false
	}
	return st.rc.Flush() == nil
}

func (st *stream) finish(base completionResponse, withUsage bool, u usage) {
	if withUsage {
		base.Choices, base.Usage = []struct{}{}, &u
		b, _ := json.Marshal(base)
		if !st.write("data: " + string(b) + "\n\n") {
			return
		}
	}
	st.write("data: [DONE]\n\n")
}

// --- completions ---

type completionRequest struct {
	Model  string          `json:"model"`
	Prompt json.RawMessage `json:"prompt"`
	Echo   bool            `json:"echo"`
	sampling
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// stringsOrTokens reads an OpenAI "prompt"/"input" value: a string, an array
// of strings, an array of token ids, or an array of such arrays. Token ids
// have no meaning to this model, so they are read as their decimal text.
func stringsOrTokens(raw json.RawMessage) ([]string, bool) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, true
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil {
		return many, true
	}
	ids := func(t []int64) string {
		parts := make([]string, len(t))
		for i, v := range t {
			parts[i] = strconv.FormatInt(v, 10)
		}
		return strings.Join(parts, " ")
	}
	var toks []int64
	if err := json.Unmarshal(raw, &toks); err == nil {
		return []string{ids(toks)}, true
	}
	var manyToks [][]int64
	if err := json.Unmarshal(raw, &manyToks); err == nil {
		out := make([]string, len(manyToks))
		for i, t := range manyToks {
			out[i] = ids(t)
		}
		return out, true
	}
	return nil, false
}

func (s *server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := s.decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkModel(req.Model, "chat"); e != nil {
		writeError(w, e)
		return
	}
	prompts, ok := stringsOrTokens(req.Prompt)
	if !ok || len(prompts) == 0 || len(prompts) > maxInputs {
		writeError(w, invalid("prompt", "prompt must be a string, an array of 1 to %d strings, or token arrays.", maxInputs))
		return
	}
	p, e := s.params(req.sampling, 16)
	if e != nil {
		writeError(w, e)
		return
	}
	if len(prompts)*p.n > maxInputs {
		writeError(w, invalid("n", "Too many completions requested."))
		return
	}
	var u usage
	type gen struct {
		generation
		prompt string
	}
	var gens []gen
	for _, pr := range prompts {
		u.PromptTokens += countTokens(pr)
		for i := range p.n {
			g := gen{s.lm.generate(pr, p.maxTokens, p.temperature, p.seed+uint64(i), p.stops), pr}
			u.CompletionTokens += len(g.pieces)
			gens = append(gens, g)
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	resp := completionResponse{ID: newID("cmpl-"), Object: "text_completion", Created: s.opts.Now().Unix(), Model: req.Model, SystemFingerprint: fingerprint}
	if !req.Stream {
		choices := make([]textChoice, len(gens))
		for i, g := range gens {
			text := g.text()
			if req.Echo {
				text = g.prompt + text
			}
			choices[i] = textChoice{Text: text, Index: i, FinishReason: &g.finish}
		}
		resp.Choices, resp.Usage = choices, &u
		writeJSON(w, http.StatusOK, resp)
		return
	}
	st := s.startStream(w, r)
	for i, g := range gens {
		if req.Echo && !st.send(resp, p.usage, []textChoice{{Text: g.prompt, Index: i}}) {
			return
		}
		for _, piece := range g.pieces {
			if !st.send(resp, p.usage, []textChoice{{Text: piece, Index: i}}) {
				return
			}
		}
		if !st.send(resp, p.usage, []textChoice{{Index: i, FinishReason: &g.finish}}) {
			return
		}
	}
	st.finish(resp, p.usage, u)
}

// --- embeddings ---

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

type embeddingObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

func (s *server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if e := s.decode(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkModel(req.Model, "embedding"); e != nil {
		writeError(w, e)
		return
	}
	inputs, ok := stringsOrTokens(req.Input)
	if !ok || len(inputs) == 0 || len(inputs) > maxInputs {
		writeError(w, invalid("input", "input must be a non-empty string, an array of 1 to %d strings, or token arrays.", maxInputs))
		return
	}
	for i, in := range inputs {
		if in == "" {
			writeError(w, invalid("input", "input[%d] is empty; inputs must not be empty strings.", i))
			return
		}
	}
	dim := s.opts.EmbeddingDim
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > dim {
			writeError(w, invalid("dimensions", "dimensions must be between 1 and %d.", dim))
			return
		}
		dim = *req.Dimensions
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		writeError(w, invalid("encoding_format", "encoding_format must be \"float\" or \"base64\"."))
		return
	}
	data := make([]embeddingObject, len(inputs))
	tokens := 0
	for i, in := range inputs {
		tokens += countTokens(in)
		vec := embed(in, dim)
		data[i] = embeddingObject{Object: "embedding", Index: i, Embedding: vec}
		if req.EncodingFormat == "base64" {
			// OpenAI's base64 format: little-endian float32s.
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			data[i].Embedding = base64.StdEncoding.EncodeToString(buf)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   data,
		"model":  req.Model,
		"usage":  usage{PromptTokens: tokens, TotalTokens: tokens},
	})
}
