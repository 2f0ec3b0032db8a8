// Package metrics holds the Prometheus metrics of the engine: runs, action
// calls, reloads and polling. `goshawk serve` exposes them on GET /metrics.
//
// Each Metrics has its own registry rather than the global default one, so
// that tests and several engines in one process never collide on names.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "goshawk"

// Metrics is the set of engine metrics. All methods are safe for concurrent
// use. A nil *Metrics records nothing, so callers that run without metrics
// (the CLI, most tests) need no special case.
type Metrics struct {
	registry *prometheus.Registry

	runs                *prometheus.CounterVec
	runDuration         *prometheus.HistogramVec
	actionCalls         *prometheus.CounterVec
	actionDuration      *prometheus.HistogramVec
	reloads             *prometheus.CounterVec
	reloadErrors        *prometheus.CounterVec
	indicatorsPolled    *prometheus.CounterVec
	containersCreated   *prometheus.CounterVec
	schedulerSkippedRun *prometheus.CounterVec
}

// New returns a Metrics registered on a fresh registry, together with the
// Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "runs_total",
			Help:      "Playbook runs that finished, by playbook and final status.",
		}, []string{"playbook", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "run_duration_seconds",
			Help:      "Wall time of playbook runs, from start to finish.",
			Buckets:   []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"playbook"}),
		actionCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "action_calls_total",
			Help:      "Connector action calls, by asset, action and result status.",
		}, []string{"asset", "action", "status"}),
		actionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "action_duration_seconds",
			Help:      "Wall time of connector action calls, including retries.",
			Buckets:   []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"asset", "action"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "reloads_total",
			Help:      "Hot reloads that swapped in a new version, by kind (playbook, plugin, config).",
		}, []string{"kind"}),
		reloadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "reload_errors_total",
			Help:      "Hot reloads refused because the new version did not validate; the last good version keeps running.",
		}, []string{"kind"}),
		indicatorsPolled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "indicators_polled_total",
			Help:      "Indicators fetched by on_poll, by asset.",
		}, []string{"asset"}),
		containersCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "containers_created_total",
			Help:      "New containers stored by on_poll (duplicates excluded), by asset.",
		}, []string{"asset"}),
		schedulerSkippedRun: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "schedule_skipped_total",
			Help:      "Scheduled fires skipped because the previous fire of the same job was still running.",
		}, []string{"job"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runs, m.runDuration,
		m.actionCalls, m.actionDuration,
		m.reloads, m.reloadErrors,
		m.indicatorsPolled, m.containersCreated,
		m.schedulerSkippedRun,
	)
	return m
}

// Registry returns the registry the metrics live on, for callers that want
// to add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// RunFinished records one finished playbook run with its final status
// (success, failed, timeout or interrupted).
func (m *Metrics) RunFinished(playbook, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(playbook, status).Inc()
	m.runDuration.WithLabelValues(playbook).Observe(d.Seconds())
}

// ActionCalled records one connector action call and its result status.
func (m *Metrics) ActionCalled(asset, action, status string, d time.Duration) {
	if m == nil {
		return
	}
	m.actionCalls.WithLabelValues(asset, action, status).Inc()
	m.actionDuration.WithLabelValues(asset, action).Observe(d.Seconds())
}

// Reloaded records a hot reload of the given kind. A nil err counts a
// successful swap; a non-nil err counts a refused reload.
func (m *Metrics) Reloaded(kind string, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.reloadErrors.WithLabelValues(kind).Inc()
		return
	}
	m.reloads.WithLabelValues(kind).Inc()
}

// Polled records the outcome of one on_poll of an asset: how many
// indicators were fetched and how many new containers were stored.
func (m *Metrics) Polled(asset string, indicators, containersCreated int) {
	if m == nil {
		return
	}
	m.indicatorsPolled.WithLabelValues(asset).Add(float64(indicators))
	m.containersCreated.WithLabelValues(asset).Add(float64(containersCreated))
}

// ScheduleSkipped records a scheduled fire of job that was skipped because
// its previous fire was still running.
func (m *Metrics) ScheduleSkipped(job string) {
	if m == nil {
		return
	}
	m.schedulerSkippedRun.WithLabelValues(job).Inc()
}
