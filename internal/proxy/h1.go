package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// h1Pool is a lean HTTP/1.1 client for plain-HTTP upstreams. Unlike
// http.Transport, which hands each request to a writer goroutine and each
// response to a reader goroutine, it writes the request and reads the
// response on the caller's goroutine over a pooled keep-alive connection:
// on a proxy's hot path that saves two goroutine handoffs and their
// allocations per request. Response parsing is net/http's own
// (http.ReadResponse), so framing rules are the standard library's.
type h1Pool struct {
	addr    string
	host    string
	idle    chan *h1Conn
	dialer  net.Dialer
	timeout time.Duration
}

// maxResponseHeader bounds an upstream's response header block.
const maxResponseHeader = 1 << 20

type h1Conn struct {
	nc     net.Conn
	budget budgetReader
	br     *bufio.Reader
	bw     *bufio.Writer
}

// budgetReader limits how many bytes may be read while it is armed; the
// pool arms it for the header block so a hostile upstream cannot make the
// gateway buffer an endless header.
type budgetReader struct {
	r     io.Reader
	left  int64
	armed bool
}

var errHeaderTooLarge = errors.New("upstream response header too large")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.armed {
		if b.left <= 0 {
			return 0, errHeaderTooLarge
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
	}
	n, err := b.r.Read(p)
	if b.armed {
		b.left -= int64(n)
	}
	return n, err
}

func newH1Pool(addr, host string, timeout time.Duration, maxIdle int) *h1Pool {
	return &h1Pool{addr: addr, host: host, timeout: timeout, idle: make(chan *h1Conn, maxIdle),
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}}
}

func (p *h1Pool) get(ctx context.Context) (*h1Conn, bool, error) {
	for {
		var c *h1Conn
		select {
		case c = <-p.idle:
		default:
		}
		if c == nil {
			break
		}
		if c.br.Buffered() == 0 && peekIdle(c.nc) {
			return c, true, nil
		}
		_ = c.nc.Close()
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &h1Conn{nc: nc}
	c.budget.r = nc
	c.br = bufio.NewReaderSize(&c.budget, 4<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c, false, nil
}

func (p *h1Pool) put(c *h1Conn) {
	if c.br.Buffered() > 0 {
		// Bytes nobody asked for would become the next caller's answer.
		_ = c.nc.Close()
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	select {
	case p.idle <- c:
	default:
		_ = c.nc.Close()
	}
}

func (p *h1Pool) close() {
	for {
		select {
		case c := <-p.idle:
			_ = c.nc.Close()
		default:
			return
		}
	}
}

// do performs one exchange. A request that fails on a reused connection is
// retried once on a fresh one only when the upstream cannot have acted on
// it: the request could not be written, or it is idempotent (GET, HEAD,
// OPTIONS) and no answer came back. A POST that was sent is never replayed:
// an inference, or a Triton model load, must not run twice.
func (p *h1Pool) do(ctx context.Context, req *Request, target string) (*http.Response, context.CancelFunc, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		resp, cancel, err, retry := p.exchange(ctx, c, req, target)
		if err == nil {
			return resp, cancel, nil
		}
		_ = c.nc.Close()
		if !(retry && reused && attempt == 0) || ctx.Err() != nil {
			return nil, nil, err
		}
	}
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func (p *h1Pool) exchange(ctx context.Context, c *h1Conn, req *Request, target string) (*http.Response, context.CancelFunc, error, bool) {
	deadline := time.Now().Add(p.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.nc.SetDeadline(deadline)
	// A client that goes away aborts the exchange at once.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error, retry bool) (*http.Response, context.CancelFunc, error, bool) {
		stop()
		if isTimeout(err) {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, nil, ctx.Err(), false
			}
			return nil, nil, fmt.Errorf("%w: %v", ErrTimeout, err), false
		}
		return nil, nil, err, retry
	}
	writeRequest(c.bw, req, p.host, target)
	if err := c.bw.Flush(); err != nil {
		return fail(err, true)
	}
	c.budget.armed, c.budget.left = true, maxResponseHeader
	var resp *http.Response
	var err error
	// ReadResponse needs the method: a HEAD answer has no body whatever its
	// Content-Length says.
	forMethod := &http.Request{Method: req.Method}
	for {
		resp, err = http.ReadResponse(c.br, forMethod)
		if err != nil {
			nothing := c.br.Buffered() == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err))
			return fail(err, nothing && idempotent(req.Method))
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // informational answers carry no body
		}
		break
	}
	c.budget.armed = false
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close()
		return fail(errors.New("upstream switched protocols, which is never forwarded"), false)
	}
	b := &h1Body{rc: resp.Body, c: c, p: p, stop: stop, keep: !resp.Close}
	if req.Method == http.MethodHead || resp.ContentLength == 0 {
		// Nothing to read: the connection is free now.
		b.finish(true)
		resp.Body = http.NoBody
		return resp, func() {}, nil, false
	}
	resp.Body = b
	return resp, func() {}, nil, false
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

var reqBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeRequest serializes req. Header values were parsed by net/http,
// which refuses CR, LF and NUL in them, so they are written as they are.
func writeRequest(w *bufio.Writer, req *Request, host, target string) {
	bp := reqBufPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if len(req.Body) > 0 || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
		b = append(b, "\r\n"...)
	}
	drop := connectionTokens(req.Header)
	for k, vv := range req.Header {
		if skipRequestHeader(k, drop) || k == "Host" || k == "Content-Length" {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = appendHeader(b, "X-Request-Id", req.RequestID)
	b = appendHeader(b, "X-Forwarded-For", req.ClientIP)
	b = appendHeader(b, "X-Rampart-Principal", req.Principal)
	b = append(b, "\r\n"...)
	_, _ = w.Write(b)
	_, _ = w.Write(req.Body)
	*bp = b
	reqBufPool.Put(bp)
}

func appendHeader(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// h1Body returns its connection to the pool once the body has been read to
// the end; closing it early discards the connection.
type h1Body struct {
	rc   io.ReadCloser
	c    *h1Conn
	p    *h1Pool
	stop func() bool
	keep bool
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

func (b *h1Body) finish(clean bool) {
	if b.done {
		return
	}
	b.done = true
	// If the cancellation callback has already started, it may still set an
	// expired deadline on this connection: never pool it then.
	stopped := b.stop()
	if clean && b.keep && stopped {
		b.p.put(b.c)
	} else {
		_ = b.c.nc.Close()
	}
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}
