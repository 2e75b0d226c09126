// Package gateway is `rampart serve`: listeners, TLS, routing, the request
// handler that runs each route's pipeline, the admin endpoints, config
// reload and graceful shutdown.
//
// Lifecycle: [New] loads nothing and starts nothing; [Server.Run] opens the
// durable state (audit log, key store), compiles the config into a
// snapshot, listens, and serves until its context ends, then drains
// in-flight requests and flushes the audit log. Reload (SIGHUP or a changed
// file) compiles a whole new snapshot and swaps it only if it is valid;
// otherwise the old one stays and the reason is logged and counted.
package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/http2"

	"github.com/rampart-ai/rampart/internal/audit"
	"github.com/rampart-ai/rampart/internal/authn/apikey"
	"github.com/rampart-ai/rampart/internal/authn/jwt"
	"github.com/rampart-ai/rampart/internal/authn/mtls"
	"github.com/rampart-ai/rampart/internal/config"
	"github.com/rampart-ai/rampart/internal/limit"
	"github.com/rampart-ai/rampart/internal/telemetry"
)

// Server is one gateway.
type Server struct {
	path    string
	log     *slog.Logger
	metrics *telemetry.Metrics

	snap  atomic.Pointer[snapshot]
	audit *audit.Log
	keys  *apikey.Store
	rates *limit.Memory
	sems  map[string]*limit.Semaphore

	cfgLogRequests atomic.Bool
	bufUsed        atomic.Int64 // bytes of must-log answers held in memory
	level          *slog.LevelVar
	pprof          bool
	ready          atomic.Bool
	reloadMu       sync.Mutex

	// Addr and AdminAddr are the bound addresses once listening.
	addr, adminAddr atomic.Value
	// Listening is closed once both listeners are bound.
	Listening chan struct{}
}

// Options tune a server.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger
	// Level, when set, is the logger's level; reload applies log.level to it.
	Level *slog.LevelVar
}

// New returns a server for the config at opts.ConfigPath.
func New(opts Options) *Server {
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return &Server{path: opts.ConfigPath, log: lg, level: opts.Level, metrics: telemetry.NewMetrics(), rates: limit.NewMemory(),
		sems: map[string]*limit.Semaphore{}, Listening: make(chan struct{})}
}

// Addr returns the client listener's address (after Listening).
func (s *Server) Addr() string { v, _ := s.addr.Load().(string); return v }

// AdminAddr returns the admin listener's address (after Listening).
func (s *Server) AdminAddr() string { v, _ := s.adminAddr.Load().(string); return v }

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	cfg, err := config.Load(s.path)
	if err != nil {
		return err
	}
	al, err := audit.Open(ctx, cfg.Audit, s.log)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	s.audit = al
	defer func() {
		if err := al.Close(); err != nil {
			s.log.Error("closing audit log", "error", err)
		}
	}()
	s.registerAuditMetrics()

	if cfg.Identity.APIKeys != nil {
		st, err := apikey.OpenStore(cfg.Identity.APIKeys.DB)
		if err != nil {
			return fmt.Errorf("open key store: %w", err)
		}
		s.keys = st
		defer st.Close()
		go func() {
			_ = st.Watch(ctx, time.Second, func(err error) { s.log.Error("key store reload failed", "error", err) })
		}()
	}
	snap, err := s.build(ctx, cfg)
	if err != nil {
		return err
	}
	s.snap.Store(snap)
	s.cfgLogRequests.Store(cfg.Log.Requests)
	defer func() {
		if sn := s.snap.Load(); sn != nil {
			sn.close()
		}
	}()
	return s.serve(ctx, cfg)
}

// build compiles cfg into a snapshot with live authenticators. The
// snapshot owns its JWT key refresher: it stops when the snapshot is
// retired, never when a rejected config is thrown away.
func (s *Server) build(ctx context.Context, cfg *config.Config) (*snapshot, error) {
	var id identity
	var stopJWT context.CancelFunc
	if s.keys != nil {
		id.apikeys = apikey.NewAuthenticator(s.keys)
	}
	if j := cfg.Identity.JWT; j != nil {
		jctx, cancel := context.WithCancel(ctx)
		jc := j.Config
		if j.JWKSCAFile != "" {
			hc, err := caClient(j.JWKSCAFile)
			if err != nil {
				cancel()
				return nil, fmt.Errorf("%s: identity.jwt.jwks_ca_file: %w", cfg.Path, err)
			}
			jc.HTTPClient = hc
		}
		a, err := jwt.New(jctx, jc)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("%s: identity.jwt: %w", cfg.Path, err)
		}
		stopJWT = cancel
		id.jwt = a
	}
	if m := cfg.Identity.MTLS; m != nil {
		a, err := mtls.New(*m)
		if err != nil {
			if stopJWT != nil {
				stopJWT()
			}
			return nil, fmt.Errorf("%s: identity.mtls: %w", cfg.Path, err)
		}
		id.mtls = a
	}
	snap, err := compile(cfg, id, s.rates, s.sems, s.metrics)
	if err != nil {
		if stopJWT != nil {
			stopJWT()
		}
		return nil, err
	}
	if stopJWT != nil {
		snap.closers = append(snap.closers, stopJWT)
	}
	return snap, nil
}

// Check compiles cfg the way serve would (policies, schemas, stages, TLS
// files) without listening or contacting anything, so `serve --check`
// catches every error a start would.
func Check(cfg *config.Config) error {
	if cfg.Listen.TLS != nil {
		if _, err := tlsConfig(cfg.Listen.TLS); err != nil {
			return fmt.Errorf("%s: listen.tls: %w", cfg.Path, err)
		}
	}
	if j := cfg.Identity.JWT; j != nil && j.JWKSCAFile != "" {
		if _, err := caClient(j.JWKSCAFile); err != nil {
			return fmt.Errorf("%s: identity.jwt.jwks_ca_file: %w", cfg.Path, err)
		}
	}
	if m := cfg.Identity.MTLS; m != nil {
		if _, err := mtls.New(*m); err != nil {
			return fmt.Errorf("%s: identity.mtls: %w", cfg.Path, err)
		}
	}
	snap, err := compile(cfg, identity{}, limit.NewMemory(), map[string]*limit.Semaphore{}, nil)
	if err != nil {
		return err
	}
	snap.close()
	return nil
}

// caClient is an HTTP client trusting only the CA certificates in file.
func caClient(file string) (*http.Client, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

func (s *Server) registerAuditMetrics() {
	st := func() audit.Stats { return s.audit.Stats() }
	s.metrics.GaugeFunc("rampart_audit_backlog", "Audit records queued in memory, not yet durable.", func() float64 { return float64(st().Backlog) })
	s.metrics.GaugeFunc("rampart_audit_spooled", "Audit records waiting in the disk spool because the store failed (alert when > 0).", func() float64 { return float64(st().Spooled) })
	s.metrics.GaugeFunc("rampart_audit_store_failing", "1 while the audit store's last write failed (alert).", func() float64 {
		if st().Failing {
			return 1
		}
		return 0
	})
	s.metrics.CounterFunc("rampart_audit_written_total", "Audit records committed since start.", func() float64 { return float64(st().Written) })
	s.metrics.CounterFunc("rampart_audit_store_errors_total", "Audit store write failures.", func() float64 { return float64(st().StoreErrors) })
	s.metrics.CounterFunc("rampart_audit_dropped_total", "Audit records lost because even the spool failed (alert).", func() float64 { return float64(st().Dropped) })
}

func (s *Server) serve(ctx context.Context, cfg *config.Config) error {
	hsrv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.Listen.ReadHeaderTimeout,
		ReadTimeout:       cfg.Listen.ReadTimeout,
		WriteTimeout:      cfg.Listen.WriteTimeout,
		IdleTimeout:       cfg.Listen.IdleTimeout,
		MaxHeaderBytes:    cfg.Listen.MaxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	var tlsConf *tls.Config
	h2 := &http2.Server{IdleTimeout: cfg.Listen.IdleTimeout, MaxUploadBufferPerConnection: 1 << 20}
	if cfg.Listen.TLS != nil {
		var err error
		if tlsConf, err = tlsConfig(cfg.Listen.TLS); err != nil {
			return fmt.Errorf("%s: listen.tls: %w", cfg.Path, err)
		}
		if err := http2.ConfigureServer(hsrv, h2); err != nil {
			return err
		}
	}
	raw, err := net.Listen("tcp", cfg.Listen.Address)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen.Address, err)
	}
	onRefuse := func(reason string) {
		s.metrics.Requests.WithLabelValues("-", "", "block", "framing").Inc()
		s.log.Warn("refused malformed HTTP framing", "reason", reason)
	}
	serveH2 := func(tc *tls.Conn) {
		st := tc.ConnectionState()
		// Streams must not inherit Run's context: shutdown drains them
		// (http2.ConfigureServer hooks hsrv.Shutdown) instead of cancelling.
		h2.ServeConn(tc, &http2.ServeConnOpts{Context: context.WithValue(context.WithoutCancel(ctx), tlsStateKey{}, &st), BaseConfig: hsrv, Handler: s})
	}
	ln := newListener(raw, tlsConf, cfg.Listen.ReadHeaderTimeout, cfg.Listen.MaxHeaderBytes, onRefuse, serveH2)

	adminLn, err := net.Listen("tcp", cfg.Admin.Address)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen admin %s: %w", cfg.Admin.Address, err)
	}
	s.pprof = cfg.Admin.Pprof
	asrv := &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	s.addr.Store(raw.Addr().String())
	s.adminAddr.Store(adminLn.Addr().String())

	errc := make(chan error, 2)
	go func() { errc <- hsrv.Serve(ln) }()
	go func() { errc <- asrv.Serve(adminLn) }()
	s.ready.Store(true)
	close(s.Listening)
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	s.log.Info("rampart serving", "address", raw.Addr().String(), "scheme", scheme, "admin", adminLn.Addr().String(), "routes", len(cfg.Routes))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The watcher follows the running config: a reload may switch watching
	// on or off or change its interval.
	var ticker *time.Ticker
	var tick <-chan time.Time
	watch := func(c *config.Config) *watcher {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
		if c.Reload.Watch {
			ticker = time.NewTicker(c.Reload.Interval)
			tick = ticker.C
		}
		return newWatcher(c)
	}
	w := watch(cfg)
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			_ = s.Reload(ctx)
			w = watch(s.snap.Load().cfg)
		case <-tick:
			if w.changed() {
				_ = s.Reload(ctx)
				w = watch(s.snap.Load().cfg)
			}
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr = err
				break loop
			}
		}
	}
	s.ready.Store(false)
	s.log.Info("shutting down: draining in-flight requests", "timeout", cfg.Listen.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Listen.ShutdownTimeout)
	defer cancel()
	if err := hsrv.Shutdown(sctx); err != nil {
		s.log.Warn("drain incomplete", "error", err)
	}
	ln.wg.Wait()
	_ = asrv.Shutdown(sctx)
	return serveErr
}

// Reload builds a new snapshot from the config file and swaps it in; on
// any error the running snapshot stays and the reason is logged.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := config.Load(s.path)
	if err == nil {
		old := s.snap.Load().cfg
		if !sameListen(cfg.Listen, old.Listen) || cfg.Admin != old.Admin || cfg.Audit != old.Audit || !sameAPIKeys(cfg, old) {
			err = fmt.Errorf("%s: listen, admin, audit and identity.api_keys changes need a restart", cfg.Path)
		}
	}
	var snap *snapshot
	if err == nil {
		snap, err = s.build(ctx, cfg)
	}
	if err != nil {
		s.metrics.Reloads.WithLabelValues("rejected").Inc()
		s.log.Error("config reload rejected; keeping the running config", "error", err)
		return err
	}
	old := s.snap.Swap(snap)
	s.cfgLogRequests.Store(cfg.Log.Requests)
	if s.level != nil {
		s.level.Set(telemetry.ParseLevel(cfg.Log.Level))
	}
	s.metrics.Reloads.WithLabelValues("ok").Inc()
	s.log.Info("config reloaded", "routes", len(cfg.Routes))
	// Requests still running on the old snapshot keep their transports
	// until they finish; idle connections are dropped after a grace period.
	time.AfterFunc(time.Minute, old.close)
	return nil
}

func sameListen(a, b config.Listener) bool {
	if (a.TLS == nil) != (b.TLS == nil) {
		return false
	}
	if a.TLS != nil && *a.TLS != *b.TLS {
		return false
	}
	a.TLS, b.TLS = nil, nil
	return a == b
}

func sameAPIKeys(a, b *config.Config) bool {
	x, y := a.Identity.APIKeys, b.Identity.APIKeys
	if x == nil || y == nil {
		return x == y
	}
	return *x == *y
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !s.ready.Load() {
			http.Error(w, "not ready: starting or draining", http.StatusServiceUnavailable)
			return
		}
		if st := s.audit.Stats(); st.Failing {
			http.Error(w, "not ready: audit store failing (records are spooled)", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if s.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// count updates request metrics.
func (s *Server) count(rt *route, model, decision, reason string, start time.Time, up time.Duration) {
	name, label := "-", ""
	if rt != nil {
		name, label = rt.name, rt.modelLabel(model)
	}
	s.metrics.Requests.WithLabelValues(name, label, decision, reason).Inc()
	s.metrics.GatewaySeconds.WithLabelValues(name).Observe((time.Since(start) - up).Seconds())
}

// watcher notices changes to the config and policy files.
type watcher struct {
	files map[string]time.Time
}

func newWatcher(cfg *config.Config) *watcher {
	w := &watcher{files: map[string]time.Time{}}
	paths := append([]string{cfg.Path}, cfg.Policies...)
	for _, p := range paths {
		w.files[p] = modTime(p)
	}
	return w
}

func (w *watcher) changed() bool {
	for p, t := range w.files {
		if !modTime(p).Equal(t) {
			return true
		}
	}
	return false
}

// modTime is the newest modification time of p, or of the files in p when
// it is a directory.
func modTime(p string) time.Time {
	fi, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	t := fi.ModTime()
	if fi.IsDir() {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if i, err := e.Info(); err == nil && i.ModTime().After(t) {
				t = i.ModTime()
			}
		}
	}
	return t
}
