package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return string(b)
}

func TestUpstreamExchanges(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			for _, h := range []string{"Forwarded", "X-Real-Ip", "X-Forwarded-Client-Cert"} {
				if r.Header.Get(h) != "" {
					fmt.Fprintf(w, "FORGED %s ", h)
				}
			}
			fmt.Fprintf(w, "%s %s q=%s body=%s auth=%q key=%q principal=%q xff=%q rid=%q te=%q",
				r.Method, r.URL.Path, r.URL.RawQuery, b, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"),
				r.Header.Get("X-Rampart-Principal"), r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Request-Id"), r.Header.Get("Upgrade"))
		case "/chunked":
			fl := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				fl.Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/continue":
			w.WriteHeader(http.StatusContinue)
			io.WriteString(w, "after 100")
		}
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	up, err := New(srv.URL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ctx := context.Background()
	hdr := http.Header{"Authorization": {"Bearer rk_secret"}, "X-Api-Key": {"rk_secret"}, "X-Rampart-Principal": {"admin"},
		"X-Forwarded-For": {"1.2.3.4"}, "X-Request-Id": {"forged"}, "Upgrade": {"h2c"}, "Connection": {"Upgrade"},
		"Forwarded": {"for=1.2.3.4"}, "X-Real-Ip": {"1.2.3.4"}, "X-Forwarded-Client-Cert": {"Subject=admin"}}

	t.Run("echo strips credentials and forged identity headers", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "POST", Path: "/echo", RawQuery: "a=1", Header: hdr, Body: []byte("hello"),
			RequestID: "rid-1", ClientIP: "10.0.0.9", Principal: "key:abc"})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		got := read(t, resp)
		want := `POST /echo q=a=1 body=hello auth="" key="" principal="key:abc" xff="10.0.0.9" rid="rid-1" te=""`
		if got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("keep-alive reuses one connection", func(t *testing.T) {
		before := conns.Load()
		for range 5 {
			resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/echo"})
			if err != nil {
				t.Fatal(err)
			}
			read(t, resp)
			cancel()
		}
		if n := conns.Load() - before; n > 1 {
			t.Fatalf("%d new connections for 5 sequential requests", n)
		}
	})
	t.Run("chunked answer", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/chunked"})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if got := read(t, resp); got != "part0;part1;part2;" {
			t.Fatal(got)
		}
	})
	t.Run("connection close is honoured", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/close"})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if read(t, resp) != "bye" {
			t.Fatal("body")
		}
		resp, cancel2, err := up.Do(ctx, &Request{Method: "GET", Path: "/echo"})
		if err != nil {
			t.Fatalf("request after a closed connection: %v", err)
		}
		read(t, resp)
		cancel2()
	})
	t.Run("timeout", func(t *testing.T) {
		slow, _ := New(srv.URL, 100*time.Millisecond)
		defer slow.Close()
		_, _, err := slow.Do(ctx, &Request{Method: "GET", Path: "/slow"})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v, want ErrTimeout", err)
		}
	})
	t.Run("informational answers are skipped", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/continue"})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if resp.StatusCode != 200 || read(t, resp) != "after 100" {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("an idle connection closed by the upstream is detected before use", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/echo"})
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		cancel()
		srv.CloseClientConnections() // the upstream drops its idle connections
		time.Sleep(50 * time.Millisecond)
		resp, cancel, err = up.Do(ctx, &Request{Method: "POST", Path: "/echo", Body: []byte("again")})
		if err != nil {
			t.Fatalf("POST on a connection the upstream closed while idle: %v", err)
		}
		defer cancel()
		if !strings.Contains(read(t, resp), "body=again") {
			t.Fatal("request lost its body")
		}
	})
	t.Run("an idempotent request is retried on a stale connection", func(t *testing.T) {
		resp, cancel, err := up.Do(ctx, &Request{Method: "GET", Path: "/echo"})
		if err != nil {
			t.Fatal(err)
		}
		read(t, resp)
		cancel()
		srv.CloseClientConnections()
		resp, cancel, err = up.Do(ctx, &Request{Method: "GET", Path: "/echo"})
		if err != nil {
			t.Fatalf("GET on a stale connection: %v", err)
		}
		read(t, resp)
		cancel()
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		dead, _ := New("http://"+addr, time.Second)
		if _, _, err := dead.Do(ctx, &Request{Method: "GET", Path: "/"}); err == nil {
			t.Fatal("no error from a closed port")
		}
	})
}

// TestUpstreamHeaderBomb: a hostile upstream that sends an endless header
// block must not make the gateway buffer it without bound.
func TestUpstreamHeaderBomb(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Junk: " + strings.Repeat("j", 1000) + "\r\n"
		for range 4000 { // ~4 MB of headers
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	up, _ := New("http://"+ln.Addr().String(), 5*time.Second)
	defer up.Close()
	_, _, err = up.Do(context.Background(), &Request{Method: "GET", Path: "/"})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err %v, want a header-too-large error", err)
	}
}

// TestPostIsNeverReplayed: when an upstream takes a POST and drops the
// connection without answering, the POST must not be sent again (an
// inference or a model load would run twice).
func TestPostIsNeverReplayed(t *testing.T) {
	var posts atomic.Int32
	addr := rawUpstream(t, func(c net.Conn, req *http.Request) bool {
		if req.Method == "POST" {
			posts.Add(1)
			return false // drop the connection without an answer
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	up, _ := New("http://"+addr, 2*time.Second)
	defer up.Close()
	resp, cancel, err := up.Do(context.Background(), &Request{Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	cancel()
	if _, _, err := up.Do(context.Background(), &Request{Method: "POST", Path: "/", Body: []byte("x")}); err == nil {
		t.Fatal("no error for an unanswered POST")
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("the POST reached the upstream %d times", n)
	}
}

// TestHeadAnswerWithBodyIsNotReused: an upstream that wrongly sends a body
// after a HEAD answer must not leave those bytes to become the next
// caller's answer.
func TestHeadAnswerWithBodyIsNotReused(t *testing.T) {
	addr := rawUpstream(t, func(c net.Conn, req *http.Request) bool {
		if req.Method == "HEAD" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")
			return true
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
		return true
	})
	up, _ := New("http://"+addr, 2*time.Second)
	defer up.Close()
	resp, cancel, err := up.Do(context.Background(), &Request{Method: "HEAD", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	read(t, resp)
	cancel()
	time.Sleep(50 * time.Millisecond)
	resp, cancel, err = up.Do(context.Background(), &Request{Method: "GET", Path: "/"})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if got := read(t, resp); got != "real" {
		t.Fatalf("next caller got %q", got)
	}
}

func TestCopyResponseHeaderDropsHopByHop(t *testing.T) {
	dst := http.Header{}
	CopyResponseHeader(dst, http.Header{"Connection": {"X-Secret"}, "X-Secret": {"1"}, "Keep-Alive": {"5"}, "Content-Type": {"application/json"}, "Upgrade": {"h2c"}})
	if len(dst) != 1 || dst.Get("Content-Type") == "" {
		t.Fatalf("%v", dst)
	}
}

// rawUpstream serves HTTP/1.1 by hand so a test can misbehave as real
// servers do; answer writes the reply for each request and returns false
// to drop the connection. It returns the listening address.
func rawUpstream(t *testing.T, answer func(c net.Conn, req *http.Request) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !answer(c, req) {
						return
					}
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}
