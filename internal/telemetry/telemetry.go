// Package telemetry holds Rampart's Prometheus metrics and its JSON logger.
//
// Label values are bounded: route names and reasons come from config and
// code, and a model label is only ever a model declared in config (anything
// else is counted as "other"), so a caller cannot blow up cardinality by
// inventing model names.
package telemetry

import (
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the gateway's instruments, registered on their own registry.
type Metrics struct {
	Registry        *prometheus.Registry
	Requests        *prometheus.CounterVec   // route, model, decision, reason
	GatewaySeconds  *prometheus.HistogramVec // route
	UpstreamSeconds *prometheus.HistogramVec // route
	UpstreamErrors  *prometheus.CounterVec   // route, kind
	StageErrors     *prometheus.CounterVec   // route, stage, fail
	Reloads         *prometheus.CounterVec   // result
	InFlight        *prometheus.GaugeVec     // route
}

// gatewayBuckets resolve the gateway's own overhead (tens of µs to ms).
var gatewayBuckets = []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3}

// NewMetrics creates and registers the instruments.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_requests_total",
			Help: "Requests by route, model, decision (allow, flag, throttle, block, error) and reason (finding kind).",
		}, []string{"route", "model", "decision", "reason"}),
		GatewaySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rampart_gateway_seconds",
			Help:    "Time spent in Rampart itself per request, upstream time excluded.",
			Buckets: gatewayBuckets,
		}, []string{"route"}),
		UpstreamSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rampart_upstream_seconds",
			Help:    "Upstream model server time per forwarded request.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
		}, []string{"route"}),
		UpstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_upstream_errors_total",
			Help: "Upstream failures by route and kind (connect, timeout, status_5xx, protocol).",
		}, []string{"route", "kind"}),
		StageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_stage_errors_total",
			Help: "Technical failures of pipeline stages, by whether the stage failed open or closed.",
		}, []string{"route", "stage", "fail"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_config_reloads_total",
			Help: "Config reload attempts by result (ok, rejected).",
		}, []string{"result"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rampart_in_flight_requests",
			Help: "Requests being served, by route.",
		}, []string{"route"}),
	}
	r.MustRegister(m.Requests, m.GatewaySeconds, m.UpstreamSeconds, m.UpstreamErrors, m.StageErrors, m.Reloads, m.InFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// GaugeFunc registers a gauge read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc registers a counter read at scrape time.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// ParseLevel reads debug, info, warn or error (anything else is info).
func ParseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogger returns a JSON logger whose level lv can change at run time
// (config reload sets it).
func NewLogger(w io.Writer, lv *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
}
