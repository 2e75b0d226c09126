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
}

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
	body := "400 Bad Request: " + reason + "\n"
	resp := "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
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
		if len(h.line) < 8192 {
			h.line = append(h.line, c)
		}
		h.hdr.bytes++
	}
	return ""
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
		h.hdr.cl++
		n, err := strconv.ParseInt(string(val), 10, 64)
		if err != nil || n < 0 {
			h.hdr.clBad = true
		}
		h.hdr.clValue = n
	case asciiEqualFold(name, "transfer-encoding"):
		h.hdr.te = true
		v := bytes.ToLower(val)
		if j := bytes.LastIndexByte(v, ','); j >= 0 {
			v = bytes.TrimSpace(v[j+1:])
		}
		h.hdr.chunked = string(v) == "chunked"
	}
}

func (h *hygieneConn) endHeader() string {
	hd := h.hdr
	h.hdr = headerScan{}
	switch {
	case hd.te && hd.cl > 0:
		return "both Content-Length and Transfer-Encoding"
	case hd.te && !hd.chunked:
		return "unsupported Transfer-Encoding"
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
