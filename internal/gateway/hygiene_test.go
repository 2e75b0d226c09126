package gateway

import (
	"fmt"
	"strings"
	"testing"
)

func scanAll(chunks ...string) string {
	h := &hygieneConn{}
	for _, c := range chunks {
		if r := h.scan([]byte(c)); r != "" {
			return r
		}
	}
	return ""
}

// TestHygieneSmuggling covers the framing tricks used to smuggle a second
// request past a proxy that frames messages differently from the upstream:
// CL.TE and TE.CL disagreements, bare LF line endings, obfuscated
// Transfer-Encoding, and a smuggled request hidden in a kept-alive body.
func TestHygieneSmuggling(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string // "" = accepted
	}{
		{"plain get", []string{"GET /v2 HTTP/1.1\r\nHost: a\r\n\r\n"}, ""},
		{"split across reads", []string{"GET /v2 HTT", "P/1.1\r", "\nHost: a\r\n", "\r\n"}, ""},
		{"content-length body then next request", []string{"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, ""},
		{"body may contain bare LF", []string{"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nb", "GET / HTTP/1.1\r\n\r\n"}, ""},
		{"chunked then next request", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel\nl\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"}, ""},
		{"chunk extension", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"}, ""},
		{"CL and TE", []string{"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"}, "both Content-Length and Transfer-Encoding"},
		{"TE and CL, case games", []string{"POST /x HTTP/1.1\r\ntransfer-ENCODING: chunked\r\ncontent-length: 4\r\n\r\n"}, "both Content-Length and Transfer-Encoding"},
		{"bare LF in request line", []string{"GET / HTTP/1.1\nHost: a\r\n\r\n"}, "bare LF"},
		{"bare LF header end", []string{"GET / HTTP/1.1\r\nHost: a\n\n"}, "bare LF"},
		{"bare CR", []string{"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"}, "bare CR"},
		{"obfuscated TE", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n"}, "unsupported Transfer-Encoding"},
		{"chunked not last", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n"}, "unsupported Transfer-Encoding"},
		{"bad chunk size", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}, "malformed chunk size"},
		{"chunk longer than declared", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n"}, "longer than its declared size"},
		{"smuggled request after CL body uses bare LF", []string{"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /admin HTTP/1.1\nHost: a\n\n"}, "bare LF"},
		{"negative content-length", []string{"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"}, "invalid Content-Length"},
		{"plus-signed content-length", []string{"POST /x HTTP/1.1\r\nContent-Length: +5\r\n\r\n"}, "invalid Content-Length"},
		{"leading zeros are the same length net/http reads", []string{"POST /x HTTP/1.1\r\nContent-Length: 0003\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"}, ""},
		{"conflicting content-lengths", []string{"POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"}, "invalid Content-Length"},
		{"two transfer-encoding fields", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"}, "unsupported Transfer-Encoding"},
		{"header section beyond the limit", []string{"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"}, "header section too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scanAll(tc.chunks...)
			if tc.want == "" && got != "" {
				t.Fatalf("refused a valid stream: %s", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHygieneLongLineDesync is the regression test for a desync through a
// truncated header line: a Content-Length of thousands of leading zeros
// followed by 50 was once cut to its first 8192 bytes (all zeros) by the
// scanner, which then framed the body as a new chunked request with a
// 2^60-byte chunk and stopped checking the connection, while net/http read
// 50. Lines are no longer truncated, so both agree on 50 bytes.
func TestHygieneLongLineDesync(t *testing.T) {
	h := &hygieneConn{maxHeader: 16 << 10}
	body := "X\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n"
	req := "POST /x HTTP/1.1\r\nContent-Length: " + strings.Repeat("0", 8180) + fmt.Sprint(len(body)) + "\r\n\r\n" + body
	if r := h.scan([]byte(req)); r != "" {
		t.Fatalf("refused: %s", r)
	}
	if h.st != stHeader {
		t.Fatalf("after the body the scanner is in state %d, not expecting a new request", h.st)
	}
	if r := h.scan([]byte("GET / HTTP/1.1\nHost: a\n\n")); !strings.Contains(r, "bare LF") {
		t.Fatalf("the next request was not checked: %q", r)
	}
}

func FuzzHygieneScan(f *testing.F) {
	f.Add([]byte("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := &hygieneConn{}
		for len(b) > 0 {
			n := 1 + int(b[0])%7
			if n > len(b) {
				n = len(b)
			}
			if h.scan(b[:n]) != "" {
				return
			}
			b = b[n:]
		}
		if h.remaining < 0 {
			t.Fatal("negative remaining")
		}
	})
}
