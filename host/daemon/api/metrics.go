package api

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/engine"
)

// Metrics are the daemon's Prometheus metrics, kept in this value (no
// process-wide registry) and served in the text exposition format 0.0.4.
//
// Written by hand: client_golang's own dependencies are not in go.mod yet;
// the metric names and types are those a client_golang version would use.
type Metrics struct {
	mu       sync.Mutex
	families []*family
	read     *family
	written  *family
	failed   *family
	runs     *family
	duration *family
	lastOK   *family
	restarts *family
}

// runBuckets are the upper bounds (seconds) of the run duration histogram.
var runBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800}

type family struct {
	name, help, typ string
	labels          []string
	series          map[string]*series // by joined label values
}

type series struct {
	values []string
	value  float64  // counter, gauge; histogram: sum
	count  uint64   // histogram
	counts []uint64 // histogram, per bucket (not cumulative)
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	m := &Metrics{}
	add := func(name, typ, help string, labels ...string) *family {
		f := &family{name: name, help: help, typ: typ, labels: labels, series: map[string]*series{}}
		m.families = append(m.families, f)
		return f
	}
	m.read = add("datasync_records_read_total", "counter", "Records read from a side of a sync.", "sync", "side")
	m.written = add("datasync_records_written_total", "counter", "Records written to a side of a sync, by operation (create, update, delete).", "sync", "side", "op")
	m.failed = add("datasync_records_failed_total", "counter", "Records of a side of a sync that failed in a run, by error category.", "sync", "side", "category")
	m.runs = add("datasync_runs_total", "counter", "Runs of a sync by outcome (ok, failed, stopped).", "sync", "status")
	m.duration = add("datasync_run_duration_seconds", "histogram", "How long runs of a sync took.", "sync", "status")
	m.lastOK = add("datasync_last_success_timestamp_seconds", "gauge", "Unix time the last successful run of a sync finished.", "sync")
	m.restarts = add("datasync_plugin_restarts_total", "counter", "Plugin crashes after which the plugin is launched again.", "plugin")
	return m
}

func (f *family) get(values ...string) *series {
	key := strings.Join(values, "\x00")
	s := f.series[key]
	if s == nil {
		s = &series{values: values}
		if f.typ == "histogram" {
			s.counts = make([]uint64, len(runBuckets))
		}
		f.series[key] = s
	}
	return s
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs.get(ev.Sync, status).value++
	h := m.duration.get(ev.Sync, status)
	secs := ev.Duration.Seconds()
	h.value += secs
	h.count++
	for i, b := range runBuckets {
		if secs <= b {
			h.counts[i]++
			break
		}
	}
	if ev.Err == nil {
		m.lastOK.get(ev.Sync).value = float64(ev.Report.Finished.UnixMilli()) / 1000
	}
	if ev.Crash != nil {
		m.restarts.get(ev.Crash.Plugin).value++
	}
	for _, side := range []struct {
		name string
		c    engine.Counts
	}{{"left", ev.Report.Left}, {"right", ev.Report.Right}} {
		m.read.get(ev.Sync, side.name).value += float64(side.c.Read)
		m.written.get(ev.Sync, side.name, "create").value += float64(side.c.Created)
		m.written.get(ev.Sync, side.name, "update").value += float64(side.c.Updated)
		m.written.get(ev.Sync, side.name, "delete").value += float64(side.c.Deleted)
	}
	for _, g := range ev.Report.Errors {
		for _, r := range g.Records {
			side := r.Side
			if side == "" {
				side = "-"
			}
			m.failed.get(ev.Sync, side, g.Category).value++
		}
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.Write(w)
	})
}

// Write writes every metric in the text exposition format.
func (m *Metrics) Write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		keys := make([]string, 0, len(f.series))
		for k := range f.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := f.series[k]
			if f.typ != "histogram" {
				fmt.Fprintf(w, "%s%s %s\n", f.name, labels(f.labels, s.values, "", ""), num(s.value))
				continue
			}
			var cum uint64
			for i, b := range runBuckets {
				cum += s.counts[i]
				fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, labels(f.labels, s.values, "le", num(b)), cum)
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n", f.name, labels(f.labels, s.values, "le", "+Inf"), s.count)
			fmt.Fprintf(w, "%s_sum%s %s\n", f.name, labels(f.labels, s.values, "", ""), num(s.value))
			fmt.Fprintf(w, "%s_count%s %d\n", f.name, labels(f.labels, s.values, "", ""), s.count)
		}
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func labels(names, values []string, extraName, extraValue string) string {
	var parts []string
	for i, n := range names {
		parts = append(parts, n+`="`+labelEscaper.Replace(values[i])+`"`)
	}
	if extraName != "" {
		parts = append(parts, extraName+`="`+extraValue+`"`)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
