package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/audit"
	"github.com/rampart-ai/rampart/internal/pipeline"
	"github.com/rampart-ai/rampart/internal/protocol/oip"
	"github.com/rampart-ai/rampart/internal/protocol/openai"
	"github.com/rampart-ai/rampart/internal/proxy"
	"github.com/rampart-ai/rampart/internal/signing"
)

// OverheadHeader carries Rampart's own time for the request in
// microseconds: everything but waiting for the upstream's response headers.
const OverheadHeader = "X-Rampart-Overhead-Us"

// maxBufferedResponse bounds what a must-log route buffers before its
// record is durable.
const maxBufferedResponse = 16 << 20

// durableTimeout bounds how long a must-log answer waits for its record.
const durableTimeout = 10 * time.Second

// maxPrealloc bounds the body buffer allocated from a client's
// Content-Length before any byte arrives.
const maxPrealloc = 64 << 10

// SSE events larger than this are refused rather than buffered.
const maxSSEEvent = 1 << 20

var ridPrefix = func() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

var ridCounter atomic.Uint64

// newRequestID is unique per process (random prefix) and cheap (counter).
func newRequestID() string {
	n := ridCounter.Add(1)
	var buf [32]byte
	b := append(buf[:0], ridPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 36)
	return string(b)
}

var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// exchange is one request's state as it moves through the handler.
type exchange struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	start    time.Time
	id       string
	route    *route
	inf      rampart.Inference
	req      pipeline.Request
	rec      audit.Record
	findings []rampart.Finding
	upTime   time.Duration
	// finished is set once the audit record is written; wroteHead once the
	// upstream's status line has gone to the client.
	finished, wroteHead bool
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := s.snap.Load()
	x := &exchange{s: s, w: w, r: r, start: time.Now(), id: newRequestID()}
	x.rec.Time = x.start.UTC()
	x.rec.RequestID = x.id
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		x.req.ClientIP = ap.Addr().Unmap()
		x.rec.ClientAddr = x.req.ClientIP.String()
	}
	if r.TLS == nil {
		r.TLS = requestTLS(r)
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "request_id", x.id, "panic", v)
			switch {
			case x.finished:
				// The record is written; only the connection is left to drop.
			case x.wroteHead:
				// The answer has begun: record the failure, then abort the
				// stream rather than append an error body to it.
				x.findings = append(x.findings, rampart.Finding{Detector: "gateway", Kind: "panic", Severity: rampart.SeverityHigh,
					Verdict: rampart.VerdictFlag, Code: rampart.CodeInternal, Reason: "internal error while relaying"})
				x.finish(func() {}, x.rec.Status, "panic")
			default:
				x.fail(rampart.CodeInternal, "internal error", "panic")
				return
			}
			panic(http.ErrAbortHandler)
		}
	}()
	path, err := canonicalPath(r.URL.EscapedPath())
	if err == nil {
		err = checkQuery(r.URL.RawQuery)
	}
	if err != nil {
		x.rec.Route = "-"
		x.refuseErr(err, "bad_path")
		return
	}
	rt, rel := snap.match(path)
	if rt == nil {
		x.rec.Route = "-"
		x.fail(rampart.CodeNotFound, "no route for this path", "no_route")
		return
	}
	x.route = rt
	x.rec.Route, x.rec.Mode, x.rec.Protocol = rt.name, string(rt.cfg.Mode), string(rt.cfg.Protocol)
	x.inf.Protocol = rt.cfg.Protocol
	ok, err := rt.codec.classify(r.Method, rel, &x.inf)
	x.syncInf()
	if err != nil {
		x.refuseErr(err, "bad_path")
		return
	}
	if !ok {
		x.fail(rampart.CodeNotFound, "unknown endpoint", "unknown_endpoint")
		return
	}
	x.req = pipeline.Request{ID: x.id, Route: rt.name, Mode: rt.cfg.Mode, Inf: &x.inf, HTTP: r,
		ClientIP: x.req.ClientIP, Now: x.start}

	// Authenticate before reading the body: an unauthenticated caller gets
	// no parser time.
	pre := pipeline.Run(r.Context(), rt.cfg.Mode, rt.stages[:1], &x.req)
	x.findings = append(x.findings, pre.Decision.Findings...)
	x.syncPrincipal()
	if pre.Err != nil {
		x.stageError(pre)
		return
	}
	if pre.Decision.Refused() {
		x.refuse(pre.Decision)
		return
	}

	body, err := x.readBody()
	if err != nil {
		x.refuseErr(err, "body")
		return
	}
	x.req.Body = body
	x.inf.BodyBytes = len(body)
	x.rec.RequestBytes = int64(len(body))
	if err := rt.codec.decode(r, body, rt.limits, &x.inf); err != nil {
		x.syncInf()
		x.refuseErr(err, "decode")
		return
	}
	x.syncInf()
	if m, ok := rt.models[x.inf.Model]; ok {
		x.req.ModelAttrs = m.Attributes
	}
	if len(body) > 0 {
		x.rec.PayloadHash = s.audit.HashPayload(body)
		if rt.cfg.LogPayload {
			x.rec.Payload = string(body)
		}
	}
	res := pipeline.Run(r.Context(), rt.cfg.Mode, rt.stages[1:], &x.req)
	for _, d := range res.Degraded {
		s.metrics.StageErrors.WithLabelValues(rt.name, d, "open").Inc()
	}
	x.findings = append(x.findings, res.Decision.Findings...)
	if res.Err != nil {
		x.stageError(res)
		return
	}
	d := rampart.Decide(rt.cfg.Mode, x.findings)
	if d.Refused() {
		x.refuse(d)
		return
	}
	x.forward(d, rel, body)
}

// syncInf copies what is known of the request into the audit record.
func (x *exchange) syncInf() {
	x.rec.Operation, x.rec.Model, x.rec.Version, x.rec.Action = x.inf.Operation, x.inf.Model, x.inf.Version, string(x.inf.Action)
}

func (x *exchange) syncPrincipal() {
	if p := x.req.Principal; p != nil {
		x.rec.Principal, x.rec.AuthMethod, x.rec.Tenant = p.ID, string(p.Method), p.Tenant
	}
}

func (x *exchange) readBody() ([]byte, error) {
	r := x.r
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	lim := x.route.limits.MaxBodyBytes
	if r.ContentLength > lim {
		return nil, rampart.Errorf(rampart.CodeTooLarge, "request body of %d bytes exceeds the limit of %d", r.ContentLength, lim)
	}
	buf := bodyBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyBufs.Put(buf)
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, maxPrealloc)))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, lim+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, rampart.Errorf(rampart.CodeTooLarge, "request body exceeds the limit of %d bytes", lim)
		}
		return nil, &rampart.Error{Code: rampart.CodeInvalid, Message: "could not read the request body", Err: err}
	}
	if n > lim {
		return nil, rampart.Errorf(rampart.CodeTooLarge, "request body exceeds the limit of %d bytes", lim)
	}
	if n == 0 {
		return nil, nil
	}
	// The pooled buffer is reused; stages and the upstream get a copy that
	// lives as long as the request.
	return bytes.Clone(buf.Bytes()), nil
}

// refuse answers a refused decision in the route's protocol.
func (x *exchange) refuse(d rampart.Decision) {
	f := d.Cause
	code := f.Code
	if code == "" {
		code = rampart.CodeForbidden
	}
	msg := clientMessage(f)
	if f.Verdict == rampart.VerdictThrottle && f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		x.w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	x.rec.Decision = string(d.Verdict)
	x.rec.Enforced = true
	x.finish(func() { x.writeError(code, msg) }, code.Status(), f.Kind)
}

// clientMessage is what a client may learn about a refusal: enough to fix
// a bad request, nothing about policies or detectors.
func clientMessage(f *rampart.Finding) string {
	switch f.Code {
	case rampart.CodeForbidden:
		if f.Detector == "authz" {
			return "access denied"
		}
		return "request refused by policy"
	case rampart.CodeNotFound:
		return "model not found"
	}
	return f.Reason
}

// refuseErr answers a protocol or limit error (never a policy decision).
func (x *exchange) refuseErr(err error, kind string) {
	code := rampart.ErrorCode(err)
	if code == rampart.CodeInternal {
		x.s.log.Error("request error", "request_id", x.id, "route", x.rec.Route, "error", err)
	}
	x.fail(code, rampart.ErrorMessage(err), kind)
}

// fail records a refusal that is not a policy finding.
func (x *exchange) fail(code rampart.Code, msg, kind string) {
	x.findings = append(x.findings, rampart.Finding{Detector: "gateway", Kind: kind, Severity: rampart.SeverityMedium,
		Verdict: rampart.VerdictBlock, Code: code, Reason: msg})
	x.rec.Decision = string(rampart.VerdictBlock)
	x.rec.Enforced = true
	x.finish(func() { x.writeError(code, msg) }, code.Status(), kind)
}

func (x *exchange) stageError(res pipeline.Result) {
	x.s.metrics.StageErrors.WithLabelValues(x.route.name, res.ErrStage, "closed").Inc()
	x.s.log.Error("stage failed closed", "request_id", x.id, "route", x.route.name, "stage", res.ErrStage, "error", res.Err)
	x.fail(rampart.CodeUnavailable, "service temporarily unavailable", "stage_error:"+res.ErrStage)
}

func (x *exchange) writeError(code rampart.Code, msg string) {
	x.setOverhead()
	if x.route == nil {
		openai.WriteError(x.w, code.Status(), code, msg, x.id)
		return
	}
	x.route.codec.writeError(x.w, code, msg, x.id)
}

func (x *exchange) setOverhead() {
	ov := time.Since(x.start) - x.upTime
	x.w.Header().Set(OverheadHeader, strconv.FormatInt(ov.Microseconds(), 10))
}

// finish writes the audit record (durably first on must-log routes), then
// calls respond, then counts the request.
func (x *exchange) finish(respond func(), status int, reason string) {
	x.finished = true
	x.rec.Status = status
	x.rec.Reasons = reasons(x.findings)
	x.rec.LatencyMicros = time.Since(x.start).Microseconds()
	if x.route != nil && x.route.cfg.MustLog {
		// The record must not depend on the client staying connected: a
		// caller who hangs up after the upstream acted still gets recorded.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(x.r.Context()), durableTimeout)
		err := x.s.audit.AppendDurable(ctx, x.rec)
		cancel()
		if err != nil {
			x.s.log.Error("audit write failed on must-log route; failing closed", "request_id", x.id, "route", x.route.name, "error", err)
			x.s.count(x.route, x.inf.Model, "error", "audit_unavailable", x.start, 0)
			// Keep the evidence: the record, now saying what the client got,
			// goes to the spool.
			x.rec.Status = rampart.CodeUnavailable.Status()
			x.rec.Reasons = append(x.rec.Reasons, audit.Reason{Detector: "audit", Kind: "audit_unavailable", Severity: "high",
				Verdict: string(rampart.VerdictBlock), Reason: "durable audit write failed; answered 503"})
			x.s.audit.Append(x.rec)
			x.writeError(rampart.CodeUnavailable, "service temporarily unavailable")
			return
		}
		respond()
	} else {
		respond()
		x.s.audit.Append(x.rec)
	}
	x.s.count(x.route, x.inf.Model, x.rec.Decision, reason, x.start, x.upTime)
	x.logRequest(reason)
}

func (x *exchange) logRequest(reason string) {
	lvl := slog.LevelDebug
	if x.s.cfgLogRequests.Load() || x.rec.Decision == string(rampart.VerdictBlock) || x.rec.Decision == string(rampart.VerdictThrottle) {
		lvl = slog.LevelInfo
	}
	if !x.s.log.Enabled(context.Background(), lvl) {
		return
	}
	x.s.log.Log(context.Background(), lvl, "request",
		"request_id", x.id, "route", x.rec.Route, "principal", x.rec.Principal, "operation", x.rec.Operation,
		"model", x.rec.Model, "decision", x.rec.Decision, "enforced", x.rec.Enforced, "reason", reason,
		"status", x.rec.Status, "upstream_status", x.rec.UpstreamStatus, "latency_us", x.rec.LatencyMicros)
}

func reasons(fs []rampart.Finding) []audit.Reason {
	if len(fs) == 0 {
		return nil
	}
	out := make([]audit.Reason, len(fs))
	for i, f := range fs {
		v := f.Verdict
		if v == "" {
			v = rampart.VerdictFlag
		}
		out[i] = audit.Reason{Detector: f.Detector, Kind: f.Kind, Severity: f.Severity.String(), Verdict: string(v), Reason: f.Reason}
	}
	return out
}

// forward sends an admitted request upstream and relays the answer.
func (x *exchange) forward(d rampart.Decision, rel string, body []byte) {
	rt := x.route
	x.rec.Decision = string(d.Verdict)
	x.rec.Enforced = d.Enforced
	reason := ""
	if d.Cause != nil {
		reason = d.Cause.Kind
	}
	if !rt.sem.TryAcquire() {
		x.findings = append(x.findings, rampart.Finding{Detector: "gateway", Kind: "concurrency", Severity: rampart.SeverityLow,
			Verdict: rampart.VerdictThrottle, Code: rampart.CodeOverloaded, Reason: "too many concurrent requests on this route"})
		x.w.Header().Set("Retry-After", "1")
		x.rec.Decision = string(rampart.VerdictThrottle)
		x.finish(func() { x.writeError(rampart.CodeOverloaded, "too many concurrent requests, retry later") }, http.StatusServiceUnavailable, "concurrency")
		return
	}
	defer rt.sem.Release()
	rt.inflight.Inc()
	defer rt.inflight.Dec()
	principal := ""
	if x.req.Principal != nil {
		principal = x.req.Principal.ID
	}
	upStart := time.Now()
	resp, cancel, err := rt.upstream.Do(x.r.Context(), &proxy.Request{
		Method: x.r.Method, Path: rel, RawQuery: x.r.URL.RawQuery, Header: x.r.Header, Body: body,
		RequestID: x.id, ClientIP: x.rec.ClientAddr, Principal: principal,
	})
	x.upTime = time.Since(upStart)
	if err != nil {
		kind, code := "connect", rampart.CodeUpstream
		if errors.Is(err, proxy.ErrTimeout) {
			kind, code = "timeout", rampart.CodeTimeout
		}
		x.s.metrics.UpstreamErrors.WithLabelValues(rt.name, kind).Inc()
		x.s.log.Warn("upstream failed", "request_id", x.id, "route", rt.name, "error", err)
		x.rec.Decision = string(d.Verdict)
		x.findings = append(x.findings, rampart.Finding{Detector: "upstream", Kind: "upstream_" + kind, Severity: rampart.SeverityMedium,
			Verdict: rampart.VerdictFlag, Code: code, Reason: err.Error()})
		x.finish(func() { x.writeError(code, "upstream model server unavailable") }, code.Status(), "upstream_"+kind)
		return
	}
	defer cancel()
	defer resp.Body.Close()
	x.rec.UpstreamStatus = resp.StatusCode
	x.rec.UpstreamMicros = x.upTime.Microseconds()
	if resp.StatusCode >= 500 {
		x.s.metrics.UpstreamErrors.WithLabelValues(rt.name, "status_5xx").Inc()
	}
	x.s.metrics.UpstreamSeconds.WithLabelValues(rt.name).Observe(x.upTime.Seconds())

	if rt.cfg.MustLog {
		// The answer waits until its record is durable, so it is buffered:
		// at most maxBufferedResponse per answer and mustLogBudget for all
		// of them together.
		b, err := x.s.bufferBounded(resp.Body)
		defer x.s.release(int64(cap(b)))
		if err != nil {
			code, kind := rampart.CodeUpstream, "upstream_read"
			if errors.Is(err, errBudget) {
				code, kind = rampart.CodeOverloaded, "buffer_budget"
			} else {
				x.s.metrics.UpstreamErrors.WithLabelValues(rt.name, "protocol").Inc()
			}
			x.finish(func() { x.writeError(code, "upstream answer could not be relayed") }, code.Status(), kind)
			return
		}
		x.rec.ResponseBytes = int64(len(b))
		x.finish(func() {
			x.writeHead(resp)
			_, _ = x.w.Write(b)
		}, resp.StatusCode, reason)
		return
	}
	if d := rt.deployed[x.inf.Model]; d != nil && x.inf.Operation == oip.OpModelMetadata && resp.StatusCode == http.StatusOK {
		// Model metadata shows what was verified before the model was served.
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
		if err == nil && len(b) <= maxMetadata {
			b = withVerified(b, d)
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			x.writeHead(resp)
			_, _ = x.w.Write(b)
			x.rec.ResponseBytes = int64(len(b))
			x.finish(func() {}, resp.StatusCode, reason)
			return
		}
		x.s.metrics.UpstreamErrors.WithLabelValues(rt.name, "protocol").Inc()
		x.finish(func() { x.writeError(rampart.CodeUpstream, "upstream answer could not be relayed") }, http.StatusBadGateway, "upstream_read")
		return
	}
	x.writeHead(resp)
	var n int64
	if rt.codec.streams(&x.inf) && isEventStream(resp.Header) {
		rc := http.NewResponseController(x.w)
		flush := func() { _ = rc.Flush() }
		cw := &countWriter{w: x.w}
		_, err = openai.RelaySSE(cw, flush, resp.Body, maxSSEEvent, nil)
		n = cw.n
	} else {
		n, err = proxy.CopyBody(x.w, resp.Body)
	}
	if err != nil {
		x.s.metrics.UpstreamErrors.WithLabelValues(rt.name, "protocol").Inc()
		x.s.log.Warn("relaying upstream answer failed", "request_id", x.id, "route", rt.name, "error", err)
	}
	x.rec.ResponseBytes = n
	x.finish(func() {}, resp.StatusCode, reason)
}

func (x *exchange) writeHead(resp *http.Response) {
	h := x.w.Header()
	proxy.CopyResponseHeader(h, resp.Header)
	h.Set("X-Request-Id", x.id)
	x.setOverhead()
	x.wroteHead = true
	x.w.WriteHeader(resp.StatusCode)
}

func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 17 && ct[:17] == "text/event-stream"
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// mustLogBudget bounds the bytes all must-log answers may hold in memory
// while their records become durable.
const mustLogBudget = 256 << 20

var errBudget = errors.New("must-log buffer budget exhausted")

// bufferBounded reads r whole, reserving budget as it grows. The caller
// releases cap(b) when done, whatever the error.
func (s *Server) bufferBounded(r io.Reader) ([]byte, error) {
	const step = 32 << 10
	b := make([]byte, 0, step)
	if !s.reserve(step) {
		return b[:0:0], errBudget
	}
	for {
		if len(b) == cap(b) {
			if cap(b) >= maxBufferedResponse {
				return b, errors.New("upstream answer larger than the must-log buffer limit")
			}
			grow := min(cap(b), maxBufferedResponse-cap(b))
			if !s.reserve(int64(grow)) {
				return b, errBudget
			}
			// The reservation now equals cap(nb).
			nb := make([]byte, len(b), cap(b)+grow)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func (s *Server) reserve(n int64) bool {
	if s.bufUsed.Add(n) > mustLogBudget {
		s.bufUsed.Add(-n)
		return false
	}
	return true
}

func (s *Server) release(n int64) { s.bufUsed.Add(-n) }

// maxMetadata bounds a model-metadata answer that is decorated.
const maxMetadata = 1 << 20

// withVerified adds "rampart_verified" to a JSON object answer; anything
// else is returned unchanged.
func withVerified(b []byte, d *signing.Deployed) []byte {
	if !json.Valid(b) {
		return b
	}
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return b
	}
	v, err := json.Marshal(d)
	if err != nil {
		return b
	}
	rest := bytes.TrimLeft(t[1:], " \t\r\n")
	out := make([]byte, 0, len(b)+len(v)+24)
	out = append(out, `{"rampart_verified":`...)
	out = append(out, v...)
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}
