// Package metrics holds the Prometheus registry and the RPC instruments every
// tier records into.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is one process's metrics. In `infliq all` every tier shares it and
// the `tier` label tells them apart.
type Registry struct {
	reg         *prometheus.Registry
	RPCDuration *prometheus.HistogramVec
	RPCErrors   *prometheus.CounterVec
	HTTPTotal   *prometheus.CounterVec
	// FailOpen counts requests let through because a check could not run
	// (the edge rate limiter without Redis).
	FailOpen *prometheus.CounterVec
}

// New creates a registry with Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Registry{
		reg: reg,
		RPCDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "infliq_rpc_duration_seconds",
			Help:    "RPC latency per procedure and Connect code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"tier", "procedure", "code"}),
		RPCErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infliq_rpc_errors_total",
			Help: "RPC errors per procedure and Connect code.",
		}, []string{"tier", "procedure", "code"}),
		HTTPTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infliq_http_requests_total",
			Help: "HTTP requests at the edge per route class and status class.",
		}, []string{"tier", "route", "status"}),
		FailOpen: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "infliq_fail_open_total",
			Help: "Requests let through unchecked because a dependency of the check was down, per check.",
		}, []string{"tier", "check"}),
	}
	reg.MustRegister(m.RPCDuration, m.RPCErrors, m.HTTPTotal, m.FailOpen)
	return m
}

// Register adds extra collectors (bus, pools…).
func (m *Registry) Register(c ...prometheus.Collector) { m.reg.MustRegister(c...) }

// Handler serves /metrics.
func (m *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
