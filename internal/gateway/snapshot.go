package gateway

import (
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"os"
	"sort"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/authn"
	"github.com/rampart-ai/rampart/internal/authz"
	"github.com/rampart-ai/rampart/internal/config"
	"github.com/rampart-ai/rampart/internal/limit"
	"github.com/rampart-ai/rampart/internal/pipeline"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/generic"
	"github.com/rampart-ai/rampart/internal/proxy"
	"github.com/rampart-ai/rampart/internal/signing"
	"github.com/rampart-ai/rampart/internal/telemetry"
)

// snapshot is one fully validated, compiled config. Requests hold the
// snapshot they started with, so a reload never changes a request midway.
type snapshot struct {
	cfg    *config.Config
	routes []*route // longest prefix first
	authz  *authz.Engine
	// closers run when the snapshot is retired.
	closers []func()
}

type route struct {
	cfg      *config.Route
	name     string
	prefix   string
	codec    codec
	upstream *proxy.Upstream
	limits   protocol.Limits
	stages   []pipeline.Stage
	sem      *limit.Semaphore
	// models is nil when the route declares none (any model, subject to
	// policy); modelLabel bounds metric labels to declared names.
	models map[string]config.Model
	// inflight counts requests being forwarded (nil when only checking).
	inflight prometheus.Gauge
	// deployed holds what was verified for signed models.
	deployed map[string]*signing.Deployed
}

// verifyModels checks every signed model of the route against its
// signature: a model that does not verify makes the whole config invalid.
func verifyModels(cfg *config.Config, i int, r *route) error {
	for name, m := range r.models {
		if m.Signed == nil {
			continue
		}
		kb, err := os.ReadFile(m.Signed.Key)
		if err != nil {
			return cfg.RouteError(i, "models", fmt.Errorf("model %q: signed.key: %w", name, err))
		}
		key, err := signing.ParsePublicKey(kb)
		if err != nil {
			return cfg.RouteError(i, "models", fmt.Errorf("model %q: signed.key: %w", name, err))
		}
		d, err := signing.VerifyDeployed(m.Signed.Path, &signing.Trust{Key: key}, m.Signed.RequireCleanScan)
		if err != nil {
			return cfg.RouteError(i, "models", fmt.Errorf("model %q does not verify: %w", name, err))
		}
		if r.deployed == nil {
			r.deployed = map[string]*signing.Deployed{}
		}
		r.deployed[name] = d
	}
	return nil
}

// identity is what the server keeps across snapshots.
type identity struct {
	apikeys authn.Authenticator
	jwt     authn.Authenticator
	mtls    authn.Authenticator
}

// compile builds a snapshot; it has no side effects beyond opening
// upstream transports, which close() releases.
func compile(cfg *config.Config, id identity, rates limit.Store, sems map[string]*limit.Semaphore, m *telemetry.Metrics) (*snapshot, error) {
	s := &snapshot{cfg: cfg}
	if len(cfg.Policies) == 0 {
		return nil, &config.Error{File: cfg.Path, Reason: "no policies: with none, every request is denied (add a policies: list of .cedar files or directories)"}
	}
	eng, err := authz.Load(cfg.Policies...)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	s.authz = eng
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		r, err := compileRoute(cfg, i, rc, s, id, rates, sems)
		if err == nil && m != nil {
			r.inflight = m.InFlight.WithLabelValues(rc.Name)
		}
		if err != nil {
			s.close()
			return nil, err
		}
		s.routes = append(s.routes, r)
	}
	sort.SliceStable(s.routes, func(a, b int) bool { return len(s.routes[a].prefix) > len(s.routes[b].prefix) })
	return s, nil
}

func compileRoute(cfg *config.Config, i int, rc *config.Route, s *snapshot, id identity, rates limit.Store, sems map[string]*limit.Semaphore) (*route, error) {
	r := &route{cfg: rc, name: rc.Name, prefix: strings.TrimSuffix(rc.Prefix, "/"), models: rc.Models}
	r.limits = protocol.Limits{MaxBodyBytes: rc.Limits.MaxBodyBytes, MaxDepth: rc.Limits.MaxDepth, MaxTensors: rc.Limits.MaxTensors,
		MaxElements: rc.Limits.MaxElements, MaxStringLen: rc.Limits.MaxStringLen}.Normalize()
	switch rc.Protocol {
	case rampart.ProtocolOIP:
		r.codec = oipCodec{}
	case rampart.ProtocolOpenAI:
		r.codec = openaiCodec{}
	case rampart.ProtocolGeneric:
		v, err := generic.Compile(rc.Schema)
		if err != nil {
			return nil, cfg.RouteError(i, "schema", err)
		}
		r.codec = genericCodec{v: v}
	}
	up, err := proxy.New(rc.Upstream, rc.UpstreamTimeout)
	if err != nil {
		return nil, cfg.RouteError(i, "upstream", err)
	}
	r.upstream = up
	s.closers = append(s.closers, up.Close)

	// Concurrency caps survive reloads when the cap is unchanged so in-flight
	// requests keep counting against it.
	semKey := fmt.Sprintf("%s\x00%d", rc.Name, rc.MaxConcurrency)
	if sem, ok := sems[semKey]; ok {
		r.sem = sem
	} else {
		r.sem = limit.NewSemaphore(rc.MaxConcurrency)
		sems[semKey] = r.sem
	}

	chain := &authn.Chain{AllowAnonymous: rc.Anonymous}
	methods := rc.Auth
	if len(methods) == 0 {
		methods = []string{"mtls", "apikey", "jwt"}
	}
	for _, m := range methods {
		var a authn.Authenticator
		switch m {
		case "apikey":
			a = id.apikeys
		case "jwt":
			a = id.jwt
		case "mtls":
			a = id.mtls
		}
		if a != nil {
			chain.Authenticators = append(chain.Authenticators, a)
		}
	}
	if err := verifyModels(cfg, i, r); err != nil {
		return nil, err
	}
	r.stages = append(r.stages, authnStage{chain: chain})
	eng := s.authz
	r.stages = append(r.stages, authzStage{engine: func() *authz.Engine { return eng }, protocol: rc.Protocol})
	if rc.Models != nil {
		r.stages = append(r.stages, modelsStage{models: rc.Models})
	}
	r.stages = append(r.stages, rateStage{route: rc.Name, def: rc.RateLimit, store: rates})
	if rc.Protocol == rampart.ProtocolOIP && rc.Models != nil {
		mc := newMetaCache(rc.Upstream, rc.UpstreamTimeout)
		// A retired snapshot must not keep its metadata connections open.
		s.closers = append(s.closers, mc.client.CloseIdleConnections)
		r.stages = append(r.stages, schemaStage{models: rc.Models, meta: mc})
	}
	fm := pipeline.FailClosed
	if rc.OnError == "open" {
		fm = pipeline.FailOpen
	}
	for k := range rc.Stages {
		spec := &rc.Stages[k]
		f, ok := pipeline.Factories[spec.Type]
		if !ok {
			return nil, cfg.StageError(i, k, fmt.Errorf("unknown stage type (want one of %s)", pipeline.FactoryNames()))
		}
		st, err := f(spec.Name, &spec.With, rc)
		if err != nil {
			return nil, cfg.StageError(i, k, err)
		}
		r.stages = append(r.stages, failMode{Stage: st, mode: fm})
	}
	return r, nil
}

// match finds the route for path and returns the path relative to it.
func (s *snapshot) match(path string) (*route, string) {
	for _, r := range s.routes {
		if r.prefix == "" {
			return r, path
		}
		if strings.HasPrefix(path, r.prefix) && (len(path) == len(r.prefix) || path[len(r.prefix)] == '/') {
			if r.cfg.StripPrefix {
				rest := path[len(r.prefix):]
				if rest == "" {
					rest = "/"
				}
				return r, rest
			}
			return r, path
		}
	}
	return nil, ""
}

func (s *snapshot) close() {
	for _, c := range s.closers {
		c()
	}
}

// modelLabel bounds the metric label to declared models.
func (r *route) modelLabel(m string) string {
	if m == "" {
		return ""
	}
	if r.models != nil {
		if _, ok := r.models[m]; ok {
			return m
		}
	}
	return "other"
}
