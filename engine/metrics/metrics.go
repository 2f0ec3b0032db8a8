// Package metrics holds the Prometheus metrics of the engine: runs, action
// calls, reloads, polling, webhooks, schedules and retention.
// `goshawk serve` exposes them on GET /metrics; docs/metrics.md lists every
// one with its labels, and a test keeps that list complete.
//
// Each Metrics has its own registry rather than the global default one, so
// that tests and several engines in one process never collide on names.
package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
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
	buildInfo           *prometheus.GaugeVec
	lastPoll            *prometheus.GaugeVec
	webhookRejections   *prometheus.CounterVec
	pruned              *prometheus.CounterVec
	lastPrune           prometheus.Gauge

	liveMu sync.Mutex
	live   Live
}

// Live is the engine state that gauges read at each scrape rather than
// being told of each change: the runs of each playbook and the schedule.
type Live struct {
	// Playbooks returns the runs of each loaded playbook.
	Playbooks func() []PlaybookLoad
	// Jobs returns the timed jobs with their next fire time.
	Jobs func() []Job
}

// PlaybookLoad is how busy one playbook is.
type PlaybookLoad struct {
	Playbook string
	Running  int // runs holding a slot
	Queued   int // runs waiting for a slot
}

// Job is one timed job of the scheduler: schedule:<playbook>,
// every:<playbook> or poll:<asset>.
type Job struct {
	Name string
	Next time.Time // zero: it never fires again
}

// Reasons a webhook is refused, the values of the reason label of
// goshawk_webhook_rejections_total.
const (
	RejectAuth         = "auth"
	RejectQueueFull    = "queue_full"
	RejectBadInput     = "bad_input"
	RejectShuttingDown = "shutting_down"
)

var (
	descInFlight = prometheus.NewDesc(namespace+"_runs_in_flight",
		"Runs of each playbook holding a concurrency slot now.", []string{"playbook"}, nil)
	descQueued = prometheus.NewDesc(namespace+"_run_queue_depth",
		"Runs of each playbook waiting in its queue for a slot now.", []string{"playbook"}, nil)
	descNextFire = prometheus.NewDesc(namespace+"_schedule_next_fire_timestamp_seconds",
		"When each timed job (schedule:, every: or poll:) fires next, as a Unix time.", []string{"job"}, nil)
)

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
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "build_info",
		Help:      "Always 1; its labels are the goshawk version, commit and Go version running.",
	}, []string{"version", "commit", "goversion"})
	m.lastPoll = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "poll_last_success_timestamp_seconds",
		Help:      "When the last successful on_poll of each asset finished, as a Unix time.",
	}, []string{"asset"})
	m.webhookRejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "webhook_rejections_total",
		Help:      "Webhook runs refused, by reason: auth, queue_full, bad_input or shutting_down.",
	}, []string{"reason"})
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "pruned_total",
		Help:      "Records removed by retention, by kind (runs, containers).",
	}, []string{"kind"})
	m.lastPrune = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "retention_last_run_timestamp_seconds",
		Help:      "When retention last pruned successfully, as a Unix time.",
	})
	version, commit := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	m.SetBuildInfo(version, commit)
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runs, m.runDuration,
		m.actionCalls, m.actionDuration,
		m.reloads, m.reloadErrors,
		m.indicatorsPolled, m.containersCreated,
		m.schedulerSkippedRun,
		m.buildInfo, m.lastPoll, m.webhookRejections, m.pruned, m.lastPrune,
		liveCollector{m},
	)
	return m
}

// SetBuildInfo sets the labels of goshawk_build_info; New sets them from
// the binary's build information, and the CLI from its own version.
func (m *Metrics) SetBuildInfo(version, commit string) {
	if m == nil {
		return
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version, commit, runtime.Version()).Set(1)
}

// SetLive sets where the live gauges read from. Serve sets it once its
// scheduler runs.
func (m *Metrics) SetLive(l Live) {
	if m == nil {
		return
	}
	m.liveMu.Lock()
	m.live = l
	m.liveMu.Unlock()
}

// liveCollector reports the Live gauges at each scrape.
type liveCollector struct{ m *Metrics }

func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInFlight
	ch <- descQueued
	ch <- descNextFire
}

func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.liveMu.Lock()
	l := c.m.live
	c.m.liveMu.Unlock()
	if l.Playbooks != nil {
		for _, p := range l.Playbooks() {
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(p.Running), p.Playbook)
			ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(p.Queued), p.Playbook)
		}
	}
	if l.Jobs != nil {
		for _, j := range l.Jobs() {
			if !j.Next.IsZero() {
				ch <- prometheus.MustNewConstMetric(descNextFire, prometheus.GaugeValue, unixSeconds(j.Next), j.Name)
			}
		}
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

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

// PollSucceeded records when an on_poll of asset last succeeded.
func (m *Metrics) PollSucceeded(asset string, at time.Time) {
	if m == nil {
		return
	}
	m.lastPoll.WithLabelValues(asset).Set(unixSeconds(at))
}

// WebhookRejected counts a refused webhook run; reason is one of the
// Reject constants.
func (m *Metrics) WebhookRejected(reason string) {
	if m == nil {
		return
	}
	m.webhookRejections.WithLabelValues(reason).Inc()
}

// Pruned records one retention pass that succeeded at the given time.
func (m *Metrics) Pruned(runs, containers int, at time.Time) {
	if m == nil {
		return
	}
	m.pruned.WithLabelValues("runs").Add(float64(runs))
	m.pruned.WithLabelValues("containers").Add(float64(containers))
	m.lastPrune.Set(unixSeconds(at))
}
