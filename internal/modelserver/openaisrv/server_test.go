package openaisrv

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelserver"
)

func newServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestModels(t *testing.T) {
	srv := newServer(t, Options{})
	resp, b := get(t, srv, "/v1/models")
	want := `{"data":[{"id":"bigram-chat","object":"model","created":1735689600,"owned_by":"rampart"},{"id":"bigram-chat-restricted","object":"model","created":1735689600,"owned_by":"rampart"},{"id":"hashed-bow-256","object":"model","created":1735689600,"owned_by":"rampart"}],"object":"list"}`
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want {
		t.Errorf("list: %d %s", resp.StatusCode, b)
	}
	resp, b = get(t, srv, "/v1/models/hashed-bow-256")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"id":"hashed-bow-256"`) {
		t.Errorf("get: %d %s", resp.StatusCode, b)
	}
	resp, b = get(t, srv, "/v1/models/gpt-4")
	if resp.StatusCode != 404 || !strings.Contains(string(b), `"code":"model_not_found"`) {
		t.Errorf("missing: %d %s", resp.StatusCode, b)
	}
}

type chatCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func TestChatCompletion(t *testing.T) {
	srv := newServer(t, Options{})
	body := `{"model":"bigram-chat","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What did the rabbit"},{"type":"image_url","image_url":{"url":"x"}}]}],"max_tokens":12,"seed":3,"n":2}`
	resp, b := post(t, srv, "/v1/chat/completions", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var c chatCompletion
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.ID, "chatcmpl-") || c.Object != "chat.completion" || c.Model != "bigram-chat" || len(c.Choices) != 2 {
		t.Fatalf("response %s", b)
	}
	words := 0
	for i, ch := range c.Choices {
		if ch.Index != i || ch.Message.Role != "assistant" || ch.Message.Content == "" {
			t.Errorf("choice %d: %+v", i, ch)
		}
		if ch.FinishReason != "stop" && ch.FinishReason != "length" {
			t.Errorf("finish_reason %q", ch.FinishReason)
		}
		words += countTokens(ch.Message.Content)
	}
	if c.Usage.PromptTokens != countTokens("Be brief.\nWhat did the rabbit\n") || c.Usage.CompletionTokens != words ||
		c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
		t.Errorf("usage %+v (completion words %d)", c.Usage, words)
	}
	// Equal requests give equal text (ids differ).
	_, b2 := post(t, srv, "/v1/chat/completions", body)
	var c2 chatCompletion
	if err := json.Unmarshal(b2, &c2); err != nil {
		t.Fatal(err)
	}
	if c2.Choices[0].Message.Content != c.Choices[0].Message.Content || c2.ID == c.ID {
		t.Errorf("repeat: %q / %q, ids %s %s", c2.Choices[0].Message.Content, c.Choices[0].Message.Content, c2.ID, c.ID)
	}
}

// readSSE reads "data:" events and when each arrived.
func readSSE(t *testing.T, r io.Reader) (events []string, at []time.Time) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected SSE line %q", line)
		}
		events = append(events, data)
		at = append(at, time.Now())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events, at
}

func streamRequest(t *testing.T, srv *httptest.Server, path, body string) ([]string, []time.Time) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return readSSE(t, resp.Body)
}

func TestChatStream(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := newServer(t, Options{ChunkDelay: delay})
	base := `{"model":"bigram-chat","messages":[{"role":"user","content":"Alice"}],"max_tokens":8,"seed":11`
	_, b := post(t, srv, "/v1/chat/completions", base+`}`)
	var whole chatCompletion
	if err := json.Unmarshal(b, &whole); err != nil {
		t.Fatal(err)
	}

	events, at := streamRequest(t, srv, "/v1/chat/completions", base+`,"stream":true,"stream_options":{"include_usage":true}}`)
	if len(events) < 4 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	var text strings.Builder
	var finish string
	var id string
	var final struct {
		Choices []any  `json:"choices"`
		Usage   *usage `json:"usage"`
	}
	for i, ev := range events[:len(events)-1] {
		var chunk struct {
			ID      string          `json:"id"`
			Object  string          `json:"object"`
			Usage   json.RawMessage `json:"usage"`
			Choices []struct {
				Delta struct {
					Role    string  `json:"role"`
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(ev), &chunk); err != nil {
			t.Fatalf("chunk %d %q: %v", i, ev, err)
		}
		if chunk.Object != "chat.completion.chunk" || (id != "" && chunk.ID != id) {
			t.Errorf("chunk %d: object %q id %q", i, chunk.Object, chunk.ID)
		}
		id = chunk.ID
		if i == len(events)-2 {
			if err := json.Unmarshal([]byte(ev), &final); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if string(chunk.Usage) != "null" {
			t.Errorf("chunk %d usage %s, want null before the last", i, chunk.Usage)
		}
		if i == 0 && chunk.Choices[0].Delta.Role != "assistant" {
			t.Errorf("first delta %q", ev)
		}
		if c := chunk.Choices[0].Delta.Content; c != nil {
			text.WriteString(*c)
		}
		if f := chunk.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if text.String() != whole.Choices[0].Message.Content || finish != whole.Choices[0].FinishReason {
		t.Errorf("streamed %q (%s), non-streamed %q (%s)", text.String(), finish, whole.Choices[0].Message.Content, whole.Choices[0].FinishReason)
	}
	if final.Usage == nil || len(final.Choices) != 0 || final.Usage.CompletionTokens != whole.Usage.CompletionTokens {
		t.Errorf("usage chunk %+v, want usage %+v", final, whole.Usage)
	}
	// Chunks are spread out in time, not buffered into one write.
	if spread := at[len(at)-1].Sub(at[0]); spread < time.Duration(len(events)-2)*delay/2 {
		t.Errorf("%d events arrived within %v; streaming is not incremental", len(events), spread)
	}
}

func TestCompletions(t *testing.T) {
	srv := newServer(t, Options{ChunkDelay: -1})
	resp, b := post(t, srv, "/v1/completions", `{"model":"bigram-chat","prompt":["we can not","Alice"],"n":2,"max_tokens":5,"echo":true,"seed":1}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var c chatCompletion
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Object != "text_completion" || len(c.Choices) != 4 {
		t.Fatalf("response %s", b)
	}
	for i, ch := range c.Choices {
		prompt := []string{"we can not", "Alice"}[i/2]
		if ch.Index != i || !strings.HasPrefix(ch.Text, prompt) || len(ch.Text) == len(prompt) {
			t.Errorf("choice %d: %+v", i, ch)
		}
	}
	events, _ := streamRequest(t, srv, "/v1/completions", `{"model":"bigram-chat","prompt":"we can not","max_tokens":5,"seed":1,"stream":true}`)
	var text strings.Builder
	for _, ev := range events[:len(events)-1] {
		var chunk chatCompletion
		if err := json.Unmarshal([]byte(ev), &chunk); err != nil {
			t.Fatal(err)
		}
		if chunk.Object != "text_completion" {
			t.Errorf("chunk object %q", chunk.Object)
		}
		text.WriteString(chunk.Choices[0].Text)
	}
	if got, want := text.String(), strings.TrimPrefix(c.Choices[0].Text, "we can not"); got != want || events[len(events)-1] != "[DONE]" {
		t.Errorf("streamed %q, want %q", got, want)
	}
}

func TestEmbeddings(t *testing.T) {
	srv := newServer(t, Options{})
	type embResp struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage usage `json:"usage"`
	}
	call := func(body string) embResp {
		resp, b := post(t, srv, "/v1/embeddings", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var r embResp
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	fl := call(`{"model":"hashed-bow-256","input":["the white rabbit","four score"]}`)
	b64 := call(`{"model":"hashed-bow-256","input":["the white rabbit","four score"],"encoding_format":"base64"}`)
	if fl.Object != "list" || fl.Model != "hashed-bow-256" || len(fl.Data) != 2 || fl.Usage.PromptTokens != 5 || fl.Usage.TotalTokens != 5 {
		t.Fatalf("response %+v", fl)
	}
	for i := range fl.Data {
		var vec []float32
		if err := json.Unmarshal(fl.Data[i].Embedding, &vec); err != nil {
			t.Fatal(err)
		}
		var s string
		if err := json.Unmarshal(b64.Data[i].Embedding, &s); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		dec := make([]float32, len(raw)/4)
		for j := range dec {
			dec[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		if len(vec) != 256 || !slices.Equal(vec, dec) || fl.Data[i].Index != i || fl.Data[i].Object != "embedding" {
			t.Errorf("item %d: float and base64 disagree or wrong shape (%d, %d)", i, len(vec), len(dec))
		}
	}
	small := call(`{"model":"hashed-bow-256","input":[[1,2,3]],"dimensions":16}`)
	var vec []float32
	if err := json.Unmarshal(small.Data[0].Embedding, &vec); err != nil || len(vec) != 16 {
		t.Errorf("dimensions 16: %d values, %v", len(vec), err)
	}
}

func TestErrors(t *testing.T) {
	srv := newServer(t, Options{MaxBodyBytes: 2048, MaxTokens: 100})
	keyed := newServer(t, Options{APIKey: "sk-test-123"})
	chat := func(extra string) string {
		return `{"model":"bigram-chat","messages":[{"role":"user","content":"hi"}]` + extra + `}`
	}
	cases := []struct {
		name        string
		srv         *httptest.Server
		method      string
		path, body  string
		hdr         []string
		status      int
		param, code string
	}{
		{"bad json", srv, "POST", "/v1/chat/completions", `{"model":`, nil, 400, "", ""},
		{"trailing json", srv, "POST", "/v1/chat/completions", chat("") + "[]", nil, 400, "", ""},
		{"wrong type", srv, "POST", "/v1/chat/completions", `{"model":3}`, nil, 400, "model", ""},
		{"no model", srv, "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "model", ""},
		{"unknown model", srv, "POST", "/v1/chat/completions", `{"model":"gpt-5","messages":[{"role":"user","content":"hi"}]}`, nil, 404, "model", "model_not_found"},
		{"embedding model for chat", srv, "POST", "/v1/chat/completions", `{"model":"hashed-bow-256","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "model", ""},
		{"chat model for embeddings", srv, "POST", "/v1/embeddings", `{"model":"bigram-chat","input":"hi"}`, nil, 400, "model", ""},
		{"no messages", srv, "POST", "/v1/chat/completions", `{"model":"bigram-chat","messages":[]}`, nil, 400, "messages", ""},
		{"bad role", srv, "POST", "/v1/chat/completions", `{"model":"bigram-chat","messages":[{"role":"root","content":"hi"}]}`, nil, 400, "messages[0].role", ""},
		{"bad content", srv, "POST", "/v1/chat/completions", `{"model":"bigram-chat","messages":[{"role":"user","content":5}]}`, nil, 400, "messages[0].content", ""},
		{"temperature", srv, "POST", "/v1/chat/completions", chat(`,"temperature":3`), nil, 400, "temperature", ""},
		{"max_tokens zero", srv, "POST", "/v1/chat/completions", chat(`,"max_tokens":0`), nil, 400, "max_tokens", ""},
		{"max_tokens over limit", srv, "POST", "/v1/chat/completions", chat(`,"max_completion_tokens":101`), nil, 400, "max_tokens", ""},
		{"n", srv, "POST", "/v1/chat/completions", chat(`,"n":9`), nil, 400, "n", ""},
		{"stop type", srv, "POST", "/v1/chat/completions", chat(`,"stop":7`), nil, 400, "stop", ""},
		{"too many stops", srv, "POST", "/v1/chat/completions", chat(`,"stop":["a","b","c","d","e"]`), nil, 400, "stop", ""},
		{"stream_options without stream", srv, "POST", "/v1/chat/completions", chat(`,"stream_options":{"include_usage":true}`), nil, 400, "stream_options", ""},
		{"prompt type", srv, "POST", "/v1/completions", `{"model":"bigram-chat","prompt":{"a":1}}`, nil, 400, "prompt", ""},
		{"empty input", srv, "POST", "/v1/embeddings", `{"model":"hashed-bow-256","input":["ok",""]}`, nil, 400, "input", ""},
		{"dimensions", srv, "POST", "/v1/embeddings", `{"model":"hashed-bow-256","input":"x","dimensions":257}`, nil, 400, "dimensions", ""},
		{"encoding", srv, "POST", "/v1/embeddings", `{"model":"hashed-bow-256","input":"x","encoding_format":"int8"}`, nil, 400, "encoding_format", ""},
		{"too large", srv, "POST", "/v1/chat/completions", chat(`,"user":"` + strings.Repeat("x", 3000) + `"`), nil, 413, "", "request_too_large"},
		{"unknown url", srv, "POST", "/v1/assistants", `{}`, nil, 404, "", "unknown_url"},
		{"wrong method", srv, "GET", "/v1/chat/completions", ``, nil, 405, "", "method_not_allowed"},
		{"missing key", keyed, "GET", "/v1/models", ``, nil, 401, "", "invalid_api_key"},
		{"wrong key", keyed, "GET", "/v1/models", ``, []string{"Authorization", "Bearer sk-test-124"}, 401, "", "invalid_api_key"},
		{"right key", keyed, "GET", "/v1/models", ``, []string{"Authorization", "Bearer sk-test-123"}, 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := tc.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status < 400 {
				return
			}
			var e struct {
				Error struct {
					Message *string `json:"message"`
					Type    *string `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == nil || e.Error.Type == nil {
				t.Fatalf("not an OpenAI error body: %s", b)
			}
			if got := deref(e.Error.Param); got != tc.param {
				t.Errorf("param %q, want %q (%s)", got, tc.param, b)
			}
			if got := deref(e.Error.Code); got != tc.code {
				t.Errorf("code %q, want %q (%s)", got, tc.code, b)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := map[string]Options{
		"duplicate":  {ChatModels: []string{"m"}, EmbeddingModels: []string{"m"}},
		"empty id":   {ChatModels: []string{""}},
		"space":      {ChatModels: []string{"a b"}},
		"no models":  {ChatModels: []string{}, EmbeddingModels: []string{}},
		"negative":   {MaxTokens: -1},
		"negative 2": {EmbeddingDim: -1},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); err == nil {
				t.Error("New accepted bad options")
			}
		})
	}
}

// TestClientDisconnectStopsStream checks that a client that goes away ends
// the stream instead of leaving the handler writing into the void.
func TestClientDisconnectStopsStream(t *testing.T) {
	h, err := New(Options{ChunkDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"bigram-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":1000,"stream":true}`))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bufio.NewReader(resp.Body).ReadString('\n')
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still streaming 5s after the client left (1000 tokens at 50ms would take 50s)")
	}
}

func TestListenAndAnnounce(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- modelserver.ListenAndAnnounce(ctx, "127.0.0.1:0", h, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "READY port=")
	if !ok {
		t.Fatalf("announcement %q", line)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndAnnounce: %v", err)
	}
}

// FuzzRequests sends arbitrary bodies to every POST endpoint: the server
// must answer 200 or an OpenAI error body with a 4xx status, never panic.
func FuzzRequests(f *testing.F) {
	f.Add(0, `{"model":"bigram-chat","messages":[{"role":"user","content":"Alice"}],"stop":["."],"n":2}`)
	f.Add(0, `{"model":"bigram-chat","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":3}`)
	f.Add(1, `{"model":"bigram-chat","prompt":[[1,2],[3]],"echo":true,"temperature":0,"seed":-5}`)
	f.Add(2, `{"model":"hashed-bow-256","input":["a","b"],"encoding_format":"base64","dimensions":3}`)
	h, err := New(Options{ChunkDelay: -1, MaxTokens: 64})
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings"}
	f.Fuzz(func(t *testing.T, which int, body string) {
		path := paths[uint(which)%uint(len(paths))]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		if rec.Code != 200 && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") == "text/event-stream" {
			if !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
				t.Fatalf("stream does not end with [DONE]: %q", rec.Body)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("response is not JSON: %v", err)
		}
		if _, isErr := out["error"]; isErr != (rec.Code != 200) {
			t.Fatalf("status %d with body %s", rec.Code, rec.Body)
		}
	})
}
