package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/engine"
)

// Metrics are the daemon's Prometheus metrics, in a registry of their own
// (no process-wide state), served by Handler.
type Metrics struct {
	reg      *prometheus.Registry
	read     *prometheus.CounterVec
	written  *prometheus.CounterVec
	failed   *prometheus.CounterVec
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lastOK   *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	notices  *prometheus.CounterVec
}

// runBuckets are the upper bounds (seconds) of the run duration histogram.
var runBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.read = counter("datasync_records_read_total", "Records read from a side of a sync.", "sync", "side")
	m.written = counter("datasync_records_written_total", "Records written to a side of a sync, by operation (create, update, delete).", "sync", "side", "op")
	m.failed = counter("datasync_records_failed_total", "Records of a side of a sync that failed in a run, by error category.", "sync", "side", "category")
	m.runs = counter("datasync_runs_total", "Runs of a sync by outcome (ok, failed, stopped).", "sync", "status")
	m.restarts = counter("datasync_plugin_restarts_total", "Plugin crashes after which the plugin is launched again.", "plugin")
	m.notices = counter("datasync_watch_notices_total", "Changes noticed on a watched side of a sync (each runs the sync soon).", "sync", "side")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "datasync_run_duration_seconds",
		Help: "How long runs of a sync took.", Buckets: runBuckets}, []string{"sync", "status"})
	m.lastOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "datasync_last_success_timestamp_seconds",
		Help: "Unix time the last successful run of a sync finished."}, []string{"sync"})
	// The daemon's own health (memory, goroutines, open files) beside the syncs'.
	m.reg.MustRegister(m.duration, m.lastOK, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRun counts what a finished run did; it is a daemon OnRun hook.
func (m *Metrics) ObserveRun(ev daemon.RunEvent) {
	status := "ok"
	switch {
	case ev.Stopped:
		status = "stopped"
	case ev.Err != nil:
		status = "failed"
	}
	m.runs.WithLabelValues(ev.Sync, status).Inc()
	m.duration.WithLabelValues(ev.Sync, status).Observe(ev.Duration.Seconds())
	if ev.Err == nil {
		m.lastOK.WithLabelValues(ev.Sync).Set(float64(ev.Report.Finished.UnixMilli()) / 1000)
	}
	if ev.Crash != nil {
		m.restarts.WithLabelValues(ev.Crash.Plugin).Inc()
	}
	for _, side := range []struct {
		name string
		c    engine.Counts
	}{{"left", ev.Report.Left}, {"right", ev.Report.Right}} {
		m.read.WithLabelValues(ev.Sync, side.name).Add(float64(side.c.Read))
		m.written.WithLabelValues(ev.Sync, side.name, "create").Add(float64(side.c.Created))
		m.written.WithLabelValues(ev.Sync, side.name, "update").Add(float64(side.c.Updated))
		m.written.WithLabelValues(ev.Sync, side.name, "delete").Add(float64(side.c.Deleted))
	}
	for _, g := range ev.Report.Errors {
		for _, r := range g.Records {
			side := r.Side
			if side == "" {
				side = "-" // a run-level error belongs to no side
			}
			m.failed.WithLabelValues(ev.Sync, side, g.Category).Inc()
		}
	}
}

// ObserveNotice counts a change noticed by a watch; it is a daemon OnNotice hook.
func (m *Metrics) ObserveNotice(sync, side string) {
	m.notices.WithLabelValues(sync, side).Inc()
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
