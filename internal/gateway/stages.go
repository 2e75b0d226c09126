package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
	"github.com/rampart-ai/rampart/internal/authz"
	"github.com/rampart-ai/rampart/internal/config"
	"github.com/rampart-ai/rampart/internal/limit"
	"github.com/rampart-ai/rampart/internal/pipeline"
	"github.com/rampart-ai/rampart/internal/protocol/oip"
)

// The built-in stages every route runs, in this order: authenticate,
// authorize, declared models, rate limit, validate (OIP routes), then the
// route's configured stages. Each fails closed. Authorization runs before the
// model allowlist so a caller who may not use a model cannot learn, from a
// 404, whether it exists. Access-control findings are Mandatory: monitor
// mode never relaxes them.

// authnStage establishes req.Principal.
type authnStage struct{ chain *authn.Chain }

func (authnStage) Name() string { return "authn" }

func (s authnStage) Check(_ context.Context, req *pipeline.Request) ([]rampart.Finding, error) {
	p, err := s.chain.Authenticate(req.HTTP)
	if err != nil {
		var re *rampart.Error
		if errors.As(err, &re) && re.Code == rampart.CodeUnauthenticated {
			req.Principal = authn.Anonymous()
			return []rampart.Finding{{Detector: "authn", Kind: "unauthenticated", Severity: rampart.SeverityHigh,
				Verdict: rampart.VerdictBlock, Code: rampart.CodeUnauthenticated, Reason: re.Message, Mandatory: true}}, nil
		}
		return nil, err
	}
	req.Principal = p
	return nil, nil
}

// modelsStage refuses models a route does not declare: deny by default.
type modelsStage struct{ models map[string]config.Model }

func (modelsStage) Name() string { return "models" }

func (s modelsStage) Check(_ context.Context, req *pipeline.Request) ([]rampart.Finding, error) {
	m := req.Inf.Model
	if m == "" {
		return nil, nil
	}
	if _, ok := s.models[m]; !ok {
		return []rampart.Finding{{Detector: "models", Kind: "unknown_model", Severity: rampart.SeverityMedium,
			Verdict: rampart.VerdictBlock, Code: rampart.CodeNotFound, Reason: "model not found", Mandatory: true}}, nil
	}
	return nil, nil
}

// authzStage asks the policy engine; no permit means deny.
type authzStage struct {
	engine   func() *authz.Engine
	protocol rampart.Protocol
}

func (authzStage) Name() string { return "authz" }

func (s authzStage) Check(_ context.Context, req *pipeline.Request) ([]rampart.Finding, error) {
	e := s.engine()
	if e == nil {
		return nil, errors.New("no policy engine")
	}
	d := e.Authorize(authz.Request{
		Principal:  req.Principal,
		Action:     req.Inf.Action,
		Model:      req.Inf.Model,
		Version:    req.Inf.Version,
		ModelAttrs: req.ModelAttrs,
		ClientIP:   req.ClientIP,
		Route:      req.Route,
		Protocol:   s.protocol,
		Time:       req.Now,
	})
	if d.Allowed {
		return nil, nil
	}
	if len(d.Errors) > 0 && len(d.Reasons) == 0 {
		// A policy that errors on this request permits nothing; say so in the
		// record, not to the client.
		return []rampart.Finding{{Detector: "authz", Kind: "policy_error", Severity: rampart.SeverityHigh,
			Verdict: rampart.VerdictBlock, Code: rampart.CodeForbidden, Reason: "denied: " + strings.Join(d.Errors, "; "), Mandatory: true}}, nil
	}
	reason := "no policy permits this request"
	if len(d.Reasons) > 0 {
		reason = "forbidden by " + strings.Join(d.Reasons, ", ")
	}
	return []rampart.Finding{{Detector: "authz", Kind: "forbidden", Severity: rampart.SeverityHigh,
		Verdict: rampart.VerdictBlock, Code: rampart.CodeForbidden, Reason: reason, Mandatory: true}}, nil
}

// rateStage is a per-principal token bucket; a key's own limit overrides
// the route's.
type rateStage struct {
	route string
	def   rampart.RateLimit
	store limit.Store
}

func (rateStage) Name() string { return "ratelimit" }

func (s rateStage) Check(_ context.Context, req *pipeline.Request) ([]rampart.Finding, error) {
	lim := s.def
	if req.Principal != nil && !req.Principal.Rate.IsZero() {
		lim = req.Principal.Rate
		if lim.Burst == 0 {
			lim.Burst = max(1, int(lim.PerSecond))
		}
	}
	if lim.IsZero() {
		return nil, nil
	}
	key := s.route + "\x00anonymous"
	if req.Principal != nil {
		key = s.route + "\x00" + req.Principal.ID
		if req.Principal.Method == rampart.AuthAnonymous && req.ClientIP.IsValid() {
			// Anonymous callers are bucketed by address; IPv6 by /64, the
			// block one subscriber gets, so rotating addresses buys nothing.
			ip := req.ClientIP
			if ip.Is6() {
				p, _ := ip.Prefix(64)
				ip = p.Addr()
			}
			key += "\x00" + ip.String()
		}
	}
	ok, retry := s.store.Take(key, lim, req.Now)
	if ok {
		return nil, nil
	}
	return []rampart.Finding{{Detector: "ratelimit", Kind: "rate_limited", Severity: rampart.SeverityLow,
		Verdict: rampart.VerdictThrottle, Code: rampart.CodeRateLimited, RetryAfter: retry,
		Reason: fmt.Sprintf("rate limit of %g/s (burst %d) exceeded", lim.PerSecond, lim.Burst)}}, nil
}

// schemaStage checks OIP tensors against the model's declared inputs, from
// config or from the upstream's model metadata (fetched once, then cached).
type schemaStage struct {
	models map[string]config.Model
	meta   *metaCache
}

func (schemaStage) Name() string { return "validate" }

func (s schemaStage) Check(ctx context.Context, req *pipeline.Request) ([]rampart.Finding, error) {
	if req.Inf.Operation != oip.OpInfer {
		return nil, nil
	}
	m, ok := s.models[req.Inf.Model]
	if !ok {
		return nil, nil
	}
	specs := toSpecs(m.Inputs)
	if m.InputsFromUpstream {
		var err error
		if specs, err = s.meta.inputs(ctx, req.Inf.Model, req.Inf.Version); err != nil {
			return nil, err
		}
	}
	if specs == nil {
		// No declared inputs: the NaN/Inf policy still holds.
		return nanFindings(req.Inf, m.NaNPolicy), nil
	}
	return oip.ValidateInputs(req.Inf, specs, oip.NaNPolicy(m.NaNPolicy)), nil
}

// nanFindings applies nan_policy when a model declares no inputs.
func nanFindings(inf *rampart.Inference, policy string) []rampart.Finding {
	if policy == "allow" {
		return nil
	}
	for _, t := range inf.Tensors {
		if t.NaNs+t.Infs > 0 {
			return []rampart.Finding{{Detector: "validate", Kind: "nan_inf", Severity: rampart.SeverityMedium,
				Verdict: rampart.VerdictBlock, Code: rampart.CodeInvalid,
				Reason: fmt.Sprintf("input %q holds %d NaN and %d infinite values", t.Name, t.NaNs, t.Infs)}}
		}
	}
	return nil
}

func toSpecs(in []config.TensorSpec) []oip.TensorSpec {
	if len(in) == 0 {
		return nil
	}
	out := make([]oip.TensorSpec, len(in))
	for i, t := range in {
		out[i] = oip.TensorSpec{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
	}
	return out
}

// metaCache reads declared inputs from the upstream's OIP model metadata.
type metaCache struct {
	client   *http.Client
	base     string // upstream URL
	mu       sync.Mutex
	entries  map[string]metaEntry
	ttl      time.Duration
	maxBytes int64
}

// maxMetaEntries bounds the model-metadata cache.
const maxMetaEntries = 1024

type metaEntry struct {
	specs []oip.TensorSpec
	at    time.Time
}

func newMetaCache(base string, timeout time.Duration) *metaCache {
	// Like forwarded requests, metadata fetches never go through an
	// environment proxy and never follow redirects.
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &metaCache{client: client, base: strings.TrimSuffix(base, "/"),
		entries: map[string]metaEntry{}, ttl: 5 * time.Minute, maxBytes: 1 << 20}
}

func (c *metaCache) inputs(ctx context.Context, model, version string) ([]oip.TensorSpec, error) {
	key := model + "\x00" + version
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.specs, nil
	}
	path := "/v2/models/" + url.PathEscape(model)
	if version != "" {
		path += "/versions/" + url.PathEscape(version)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch model metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch model metadata: upstream answered %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch model metadata: %w", err)
	}
	if int64(len(b)) > c.maxBytes {
		return nil, errors.New("fetch model metadata: answer too large")
	}
	md, err := oip.ParseModelMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("upstream model metadata: %w", err)
	}
	c.mu.Lock()
	if len(c.entries) >= maxMetaEntries {
		// Versions come from clients: never let them grow the cache
		// without bound. Dropping it all only costs refetches.
		clear(c.entries)
	}
	c.entries[key] = metaEntry{specs: md.Inputs, at: time.Now()}
	c.mu.Unlock()
	return md.Inputs, nil
}

// failMode wraps a configured stage with the route's on_error setting.
type failMode struct {
	pipeline.Stage
	mode pipeline.FailMode
}

func (f failMode) FailMode() pipeline.FailMode { return f.mode }
