// Package proxy forwards an admitted request to its upstream model server
// and relays the answer. It strips hop-by-hop headers (Upgrade included,
// so an h2c upgrade never reaches an upstream) and Rampart's own
// credentials, and never buffers a streaming response unless asked to.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Upstream is one model server.
type Upstream struct {
	base      *url.URL
	client    *http.Client
	transport *http.Transport
	h1        *h1Pool // plain-HTTP upstreams use the lean client
	timeout   time.Duration
}

// New returns an upstream for rawURL with a per-request timeout.
func New(rawURL string, timeout time.Duration) (*Upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("upstream url: %w", err)
	}
	t := &http.Transport{
		Proxy: nil, // never route model traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     u.Scheme == "https",
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	up := &Upstream{base: u, transport: t, timeout: timeout,
		client: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if u.Scheme == "http" {
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		up.h1 = newH1Pool(addr, u.Host, timeout, 512)
	}
	return up, nil
}

// Close drops idle connections.
func (u *Upstream) Close() {
	u.transport.CloseIdleConnections()
	if u.h1 != nil {
		u.h1.close()
	}
}

// Timeout is the per-request upstream timeout.
func (u *Upstream) Timeout() time.Duration { return u.timeout }

// hopHeaders are connection-scoped and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Http2-Settings",
}

// credentialHeaders carry Rampart credentials, which the upstream must not
// see (it would let a compromised model server replay them).
var credentialHeaders = []string{"Authorization", "X-Api-Key", "Cookie"}

// Request is what to forward.
type Request struct {
	Method    string
	Path      string // already stripped of the route prefix
	RawQuery  string
	Header    http.Header
	Body      []byte
	RequestID string
	ClientIP  string
	Principal string
}

// ErrTimeout reports an upstream that did not answer in time.
var ErrTimeout = errors.New("upstream timed out")

// Do sends req and returns the upstream response; the caller closes its
// body. Errors are connection failures or timeouts (wrapping ErrTimeout).
func (u *Upstream) Do(ctx context.Context, req *Request) (*http.Response, context.CancelFunc, error) {
	if u.h1 != nil {
		t := singleJoin(u.base.EscapedPath(), req.Path)
		if req.RawQuery != "" {
			t += "?" + req.RawQuery
		}
		return u.h1.do(ctx, req, t)
	}
	target := *u.base
	// req.Path is escaped: keep it as the wire form and give Path its
	// decoded twin, so it is not escaped a second time.
	escaped := singleJoin(u.base.EscapedPath(), req.Path)
	decoded, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream path: %w", err)
	}
	target.Path, target.RawPath = decoded, escaped
	target.RawQuery = req.RawQuery
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	out, err := http.NewRequestWithContext(ctx, req.Method, target.String(), bytes.NewReader(req.Body))
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("build upstream request: %w", err)
	}
	out.ContentLength = int64(len(req.Body))
	if len(req.Body) == 0 {
		out.Body = http.NoBody
	}
	copyRequestHeader(out.Header, req.Header)
	out.Header.Set("X-Request-Id", req.RequestID)
	if req.ClientIP != "" {
		out.Header.Set("X-Forwarded-For", req.ClientIP)
	}
	if req.Principal != "" {
		out.Header.Set("X-Rampart-Principal", req.Principal)
	}
	resp, err := u.client.Do(out)
	if err != nil {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return nil, nil, fmt.Errorf("%w: %v", ErrTimeout, err)
		}
		return nil, nil, err
	}
	return resp, cancel, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func singleJoin(a, b string) string {
	switch {
	case a == "" || a == "/":
		if b == "" {
			return "/"
		}
		return b
	case b == "" || b == "/":
		return a
	}
	return strings.TrimSuffix(a, "/") + "/" + strings.TrimPrefix(b, "/")
}

func copyRequestHeader(dst, src http.Header) {
	drop := connectionTokens(src)
	for k, vv := range src {
		if skipRequestHeader(k, drop) {
			continue
		}
		dst[k] = vv
	}
}

// skipRequestHeader reports whether a client header must not reach the
// upstream: hop-by-hop fields, Rampart's credentials, and fields Rampart
// sets itself (which a client must not be able to forge).
func skipRequestHeader(k string, drop map[string]bool) bool {
	return isHop(k) || isCredential(k) || drop[k] || strings.HasPrefix(k, "X-Rampart-") || forgeable[k]
}

// forgeable are identity and provenance fields an upstream may trust; only
// Rampart sets them (or none), never the client.
var forgeable = map[string]bool{
	"X-Forwarded-For": true, "X-Request-Id": true, "Forwarded": true, "X-Real-Ip": true,
	"X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true,
	"X-Forwarded-Client-Cert": true, "X-Client-Cert": true, "Ssl-Client-Cert": true,
}

// CopyResponseHeader copies end-to-end response headers.
func CopyResponseHeader(dst, src http.Header) {
	drop := connectionTokens(src)
	for k, vv := range src {
		if isHop(k) || drop[k] {
			continue
		}
		dst[k] = vv
	}
}

func connectionTokens(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h["Connection"] {
		if strings.EqualFold(v, "keep-alive") || strings.EqualFold(v, "close") {
			continue // the common values name no other header: no allocation
		}
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if m == nil {
					m = map[string]bool{}
				}
				m[http.CanonicalHeaderKey(tok)] = true
			}
		}
	}
	return m
}

func isHop(k string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

func isCredential(k string) bool {
	for _, h := range credentialHeaders {
		if k == h {
			return true
		}
	}
	return false
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// CopyBody streams src to w through a pooled buffer.
func CopyBody(w io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// Only the Write side is wrapped: io.CopyBuffer would otherwise use a
	// ReaderFrom or WriterTo and bypass the pooled buffer.
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

type writerOnly struct{ io.Writer }
