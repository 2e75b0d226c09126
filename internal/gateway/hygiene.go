package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
)

// hygieneConn watches the raw bytes of an HTTP/1.x connection and refuses
// the framing tricks used for request smuggling before net/http parses them:
// a bare LF as a line ending, and a request carrying both Content-Length and
// Transfer-Encoding (net/http silently drops Content-Length in that case, so
// the handler could never tell). It follows message framing (Content-Length
// and chunked bodies) so every request on a kept-alive connection is
// checked, not only the first.
type hygieneConn struct {
	net.Conn
	tls *tls.Conn // the TLS layer under Conn, if any, for ConnContext

	st        hstate
	line      []byte // current header or chunk-size line
	prevCR    bool
	hdr       headerScan
	remaining int64       // body or chunk bytes left to skip
	refused   atomic.Bool // read by Write, which may run on another goroutine
	onRefuse  func(reason string)
	maxHeader int
}

type hstate uint8

const (
	stHeader hstate = iota
	stBody
	stChunkSize
	stChunkData
	stChunkCRLF
	stTrailer
)

type headerScan struct {
	lines   int
	bytes   int
	cl      int // Content-Length fields seen
	clValue int64
	te      bool
	chunked bool
	clBad   bool
	teBad   bool
}

// parseDigits reads a non-negative decimal of at most 18 significant digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	sig := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > 0 || c != '0' {
			sig++
			if sig > 18 {
				return 0, false
			}
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

const reasonTooLarge = "header section too large"

var errRefused = errors.New("request refused: malformed HTTP framing")

func newHygieneConn(c net.Conn, t *tls.Conn, maxHeader int, onRefuse func(string)) *hygieneConn {
	return &hygieneConn{Conn: c, tls: t, maxHeader: maxHeader, onRefuse: onRefuse}
}

func (h *hygieneConn) Read(p []byte) (int, error) {
	if h.refused.Load() {
		return 0, errRefused
	}
	n, err := h.Conn.Read(p)
	if n > 0 {
		if reason := h.scan(p[:n]); reason != "" {
			h.refuse(reason)
			return 0, errRefused
		}
	}
	return n, err
}

// Write discards what net/http writes after a refusal: the client already
// has the one 400 answer from refuse.
func (h *hygieneConn) Write(p []byte) (int, error) {
	if h.refused.Load() {
		return len(p), nil
	}
	return h.Conn.Write(p)
}

func (h *hygieneConn) refuse(reason string) {
	h.refused.Store(true)
	if h.onRefuse != nil {
		h.onRefuse(reason)
	}
	status := "400 Bad Request"
	if reason == reasonTooLarge {
		status = "431 Request Header Fields Too Large"
	}
	body := status + ": " + reason + "\n"
	resp := "HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	_, _ = h.Conn.Write([]byte(resp))
}

// scan advances the framing state machine over b and returns a reason when
// the stream must be refused.
func (h *hygieneConn) scan(b []byte) string {
	for len(b) > 0 {
		switch h.st {
		case stBody, stChunkData:
			n := int64(len(b))
			if n > h.remaining {
				n = h.remaining
			}
			b = b[n:]
			h.remaining -= n
			if h.remaining == 0 {
				if h.st == stBody {
					h.st = stHeader
				} else {
					h.st = stChunkCRLF
				}
			}
			continue
		}
		c := b[0]
		b = b[1:]
		if c == '\n' {
			if !h.prevCR {
				return "bare LF line ending"
			}
			h.prevCR = false
			if reason := h.endLine(); reason != "" {
				return reason
			}
			continue
		}
		if h.prevCR {
			// A CR not followed by LF.
			return "bare CR in message framing"
		}
		if c == '\r' {
			h.prevCR = true
			continue
		}
		if h.st == stChunkCRLF {
			return "chunk data longer than its declared size"
		}
		// Lines are kept whole, never truncated: a truncated line could be
		// read differently here and in net/http. Header blocks beyond what
		// net/http accepts are refused here too.
		h.hdr.bytes++
		if h.hdr.bytes > h.limit() {
			return reasonTooLarge
		}
		h.line = append(h.line, c)
	}
	return ""
}

// limit is the most header bytes (request line and fields, or a chunk-size
// line, or a trailer section) scanned. net/http answers 431 once a header
// passes MaxHeaderBytes plus its 4096-byte allowance, having read at most a
// buffer more; the slack here lets it give that answer first, and only a
// client that keeps sending is cut off here.
func (h *hygieneConn) limit() int {
	if h.maxHeader <= 0 {
		return 1 << 20
	}
	return h.maxHeader + 4096 + 64<<10
}

// endLine handles a complete CRLF-terminated line.
func (h *hygieneConn) endLine() string {
	line := h.line
	h.line = h.line[:0]
	switch h.st {
	case stHeader:
		if len(line) == 0 {
			if h.hdr.lines == 0 {
				return "" // stray CRLF between requests, allowed by RFC 9112
			}
			return h.endHeader()
		}
		h.hdr.lines++
		if h.hdr.lines > 1 {
			h.headerField(line)
		}
	case stChunkSize:
		h.hdr.bytes = 0
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 || len(line) > 15 {
			return "malformed chunk size"
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || n < 0 {
			return "malformed chunk size"
		}
		if n == 0 {
			h.st = stTrailer
		} else {
			h.st, h.remaining = stChunkData, n
		}
	case stChunkCRLF:
		if len(line) != 0 {
			return "chunk data longer than its declared size"
		}
		h.st = stChunkSize
	case stTrailer:
		if len(line) == 0 {
			h.st = stHeader
			h.hdr = headerScan{}
		}
	}
	return ""
}

func (h *hygieneConn) headerField(line []byte) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return // net/http refuses malformed fields itself
	}
	name := line[:i]
	val := bytes.TrimSpace(line[i+1:])
	switch {
	case asciiEqualFold(name, "content-length"):
		// Digits only, as net/http parses it (leading zeros included); a
		// second Content-Length with another value is refused.
		n, ok := parseDigits(val)
		if !ok || (h.hdr.cl > 0 && n != h.hdr.clValue) {
			h.hdr.clBad = true
		}
		h.hdr.cl++
		h.hdr.clValue = n
	case asciiEqualFold(name, "transfer-encoding"):
		if h.hdr.te {
			h.hdr.teBad = true // several Transfer-Encoding fields
		}
		h.hdr.te = true
		h.hdr.chunked = asciiEqualFold(val, "chunked")
	}
}

func (h *hygieneConn) endHeader() string {
	hd := h.hdr
	h.hdr = headerScan{}
	switch {
	case hd.te && hd.cl > 0:
		return "both Content-Length and Transfer-Encoding"
	case hd.te && (!hd.chunked || hd.teBad):
		return "unsupported Transfer-Encoding (only a single chunked is accepted)"
	case hd.te:
		h.st = stChunkSize
	case hd.clBad:
		return "invalid Content-Length"
	case hd.cl > 0 && hd.clValue > 0:
		h.st, h.remaining = stBody, hd.clValue
	default:
		h.st = stHeader
	}
	return ""
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
