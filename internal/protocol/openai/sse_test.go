package openai

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rampart-ai/rampart"
)

var update = flag.Bool("update", false, "rewrite golden files")

var sseCases = []struct {
	name   string
	in     string
	out    string
	data   []string
	events int
}{
	{name: "lf", in: "data: a\n\ndata: b\n\n", out: "data: a\n\ndata: b\n\n", data: []string{"a", "b"}, events: 2},
	{name: "crlf", in: "data: a\r\n\r\ndata: b\r\n\r\n", out: "data: a\n\ndata: b\n\n", data: []string{"a", "b"}, events: 2},
	{name: "cr", in: "data: a\r\rdata: b\r\r", out: "data: a\n\ndata: b\n\n", data: []string{"a", "b"}, events: 2},
	{name: "mixed endings", in: "data: a\r\ndata: b\n\r\n", out: "data: a\ndata: b\n\n", data: []string{"a\nb"}, events: 1},
	{name: "multi-line data", in: "data:x\ndata: y\ndata\n\n", out: "data:x\ndata: y\ndata\n\n", data: []string{"x\ny\n"}, events: 1},
	{name: "fields and comments", in: ": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: {\"a\":1}\n\n",
		out: ": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: {\"a\":1}\n\n", data: []string{`{"a":1}`}, events: 2},
	{name: "done", in: "data: {\"x\":1}\n\ndata: [DONE]\n\n", out: "data: {\"x\":1}\n\ndata: [DONE]\n\n", data: []string{`{"x":1}`, "[DONE]"}, events: 2},
	{name: "extra blank lines", in: "\n\n\ndata: a\n\n\n\n", out: "data: a\n\n", data: []string{"a"}, events: 1},
	{name: "unterminated last event dropped", in: "data: a\n\ndata: b\n", out: "data: a\n\n", data: []string{"a"}, events: 1},
	{name: "unterminated last line dropped", in: "data: a\n\ndata: b", out: "data: a\n\n", data: []string{"a"}, events: 1},
	{name: "bom", in: "\xef\xbb\xbfdata: a\n\n", out: "data: a\n\n", data: []string{"a"}, events: 1},
	{name: "bom after blank lines", in: "\n\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", out: "data: a\n\n", data: []string{"a"}, events: 1},
	{name: "bom later is a field name", in: "data: a\n\n\xef\xbb\xbfdata: b\n\n", out: "data: a\n\n\xef\xbb\xbfdata: b\n\n", data: []string{"a"}, events: 2},
	{name: "empty data", in: "data:\n\n", out: "data:\n\n", data: []string{""}, events: 1},
	{name: "no space strip twice", in: "data:  two\n\n", out: "data:  two\n\n", data: []string{" two"}, events: 1},
	{name: "empty", in: "", out: "", events: 0},
}

func TestRelaySSE(t *testing.T) {
	for _, tc := range sseCases {
		for _, mode := range []string{"whole", "onebyte"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tc.in)
				if mode == "onebyte" {
					src = iotest.OneByteReader(src)
				}
				var out bytes.Buffer
				var data []string
				flushes := 0
				n, err := RelaySSE(&out, func() { flushes++ }, src, 1024, func(d []byte) { data = append(data, string(d)) })
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != tc.out {
					t.Errorf("out %q, want %q", out.String(), tc.out)
				}
				if strings.Join(data, "|") != strings.Join(tc.data, "|") || len(data) != len(tc.data) {
					t.Errorf("data %q, want %q", data, tc.data)
				}
				if n != tc.events || flushes != tc.events {
					t.Errorf("events %d flushes %d, want %d", n, flushes, tc.events)
				}
			})
		}
	}
}

func TestRelaySSEErrors(t *testing.T) {
	t.Run("event too large", func(t *testing.T) {
		var out bytes.Buffer
		in := "data: ok\n\ndata: " + strings.Repeat("x", 100) + "\n\n"
		n, err := RelaySSE(&out, nil, strings.NewReader(in), 64, nil)
		if !errors.Is(err, ErrEventTooLarge) || n != 1 || out.String() != "data: ok\n\n" {
			t.Errorf("n %d err %v out %q", n, err, out.String())
		}
	})
	t.Run("many lines too large", func(t *testing.T) {
		in := strings.Repeat("data: 0123456789\n", 10) + "\n"
		_, err := RelaySSE(io.Discard, nil, strings.NewReader(in), 64, nil)
		if !errors.Is(err, ErrEventTooLarge) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("endless line", func(t *testing.T) {
		// An upstream that never ends a line must not grow memory
		// without bound.
		_, err := RelaySSE(io.Discard, nil, io.LimitReader(zeros{}, 10<<20), 1<<16, nil)
		if !errors.Is(err, ErrEventTooLarge) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("exact fit", func(t *testing.T) {
		in := "data: 12\n\n" // 10 bytes
		n, err := RelaySSE(io.Discard, nil, strings.NewReader(in), 10, nil)
		if err != nil || n != 1 {
			t.Errorf("n %d err %v", n, err)
		}
		if _, err := RelaySSE(io.Discard, nil, strings.NewReader(in), 9, nil); !errors.Is(err, ErrEventTooLarge) {
			t.Errorf("9-byte bound: %v", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := RelaySSE(io.Discard, nil, io.MultiReader(strings.NewReader("data: a\n\n"), iotest.ErrReader(boom)), 64, nil)
		if !errors.Is(err, boom) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("write error", func(t *testing.T) {
		_, err := RelaySSE(failWriter{}, nil, strings.NewReader("data: a\n\n"), 64, nil)
		if err == nil || !strings.Contains(err.Error(), "write to client") {
			t.Errorf("err %v", err)
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

// TestRelaySSEStreams runs a real upstream and a relaying server over
// sockets and checks that the client receives the first event while the
// upstream is still holding back the second: the relay must not buffer.
func TestRelaySSEStreams(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\r\n\r\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: [DONE]\r\n\r\n")
	}))
	defer upstream.Close()
	var seen []string
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(upstream.URL)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		if _, err := RelaySSE(w, f.Flush, resp.Body, 1024, func(d []byte) { seen = append(seen, string(d)) }); err != nil {
			t.Errorf("relay: %v", err)
		}
	}))
	defer relay.Close()

	resp, err := http.Get(relay.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first event not relayed before the upstream finished")
	}
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if string(rest) != "\ndata: [DONE]\n\n" {
		t.Errorf("rest %q", rest)
	}
	if strings.Join(seen, ",") != "first,[DONE]" {
		t.Errorf("seen %q", seen)
	}
}

func FuzzRelaySSE(f *testing.F) {
	for _, tc := range sseCases {
		f.Add([]byte(tc.in), 64)
	}
	f.Add([]byte("data: a\r"), 8)
	f.Add([]byte("\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n"), 64)
	f.Add([]byte("\n\n\xef\xbb\xbfdata: a\n\n"), 64)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = max%4096 + 1
		if max < 1 {
			max = -max + 1
		}
		var out bytes.Buffer
		datas := 0
		n, err := RelaySSE(&out, nil, iotest.HalfReader(bytes.NewReader(in)), max, func([]byte) { datas++ })
		if err != nil && !errors.Is(err, ErrEventTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		if datas > n {
			t.Fatalf("%d data callbacks for %d events", datas, n)
		}
		// The output is LF-normalised and made of whole events, so
		// relaying it again must reproduce it exactly.
		o := out.Bytes()
		if bytes.IndexByte(o, '\r') >= 0 || (len(o) > 0 && !bytes.HasSuffix(o, []byte("\n\n"))) {
			t.Fatalf("output %q is not whole LF events", o)
		}
		var again bytes.Buffer
		m, err := RelaySSE(&again, nil, bytes.NewReader(o), max, nil)
		if err != nil || m != n || !bytes.Equal(again.Bytes(), o) {
			t.Fatalf("relaying %q again gave %q, %d events (want %d), %v", o, again.Bytes(), m, n, err)
		}
	})
}

func TestWriteErrorGolden(t *testing.T) {
	cases := []struct {
		file   string
		status int
		code   rampart.Code
		msg    string
	}{
		{"error_invalid.golden", 0, rampart.CodeInvalid, "temperature must be between 0 and 2"},
		{"error_auth.golden", 401, rampart.CodeUnauthenticated, "missing API key"},
		{"error_forbidden.golden", 0, rampart.CodeForbidden, "not allowed to use model \"gpt\""},
		{"error_rate.golden", 0, rampart.CodeRateLimited, "rate limit exceeded"},
		{"error_upstream.golden", 0, rampart.CodeUpstream, "upstream error"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteError(rec, tc.status, tc.code, tc.msg, "req-9")
			want := tc.status
			if want == 0 {
				want = tc.code.Status()
			}
			if rec.Code != want || rec.Header().Get("X-Request-Id") != "req-9" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("status %d headers %v", rec.Code, rec.Header())
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, rec.Body.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Body.String() != string(golden) {
				t.Errorf("body %s, want %s", rec.Body.String(), golden)
			}
		})
	}
}
