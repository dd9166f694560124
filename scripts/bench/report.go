package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// report is every run's figures plus the machine they were taken on.
type report struct {
	N, Runs   int
	Started   time.Time
	CPUs      int
	Model     string
	LoadStart string
	LoadEnd   string
	Kernel    string
	GoVersion string
	Postgres  string
	PG        []runFigures
	SQLite    []runFigures
}

func (r *report) machine(ctx context.Context, pgURL string) {
	r.CPUs = runtime.NumCPU()
	r.GoVersion = runtime.Version()
	r.LoadStart = loadavg()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				r.Model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		r.Kernel = strings.TrimSpace(string(b))
	}
	if conn, err := pgx.Connect(ctx, pgURL); err == nil {
		_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&r.Postgres)
		conn.Close(ctx)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// stat is the median with min and max of one figure over the runs.
type stat struct{ Med, Min, Max float64 }

func statOf(xs []float64) stat {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return stat{}
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Med: m, Min: s[0], Max: s[len(s)-1]}
}

// spread is (max-min)/median: the noise between identical runs.
func (s stat) spread() string {
	if s.Med == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f %%", 100*(s.Max-s.Min)/s.Med)
}

func (s stat) secs() string {
	return fmt.Sprintf("%.2f s (%.2f–%.2f)", s.Med, s.Min, s.Max)
}

func (s stat) rate() string {
	return fmt.Sprintf("%s/s (%s–%s)", human(s.Med), human(s.Min), human(s.Max))
}

func (s stat) us() string {
	return fmt.Sprintf("%.0f µs (%.0f–%.0f)", s.Med, s.Min, s.Max)
}

func (s stat) pct() string {
	return fmt.Sprintf("%.1f %% (%.1f–%.1f)", 100*s.Med, 100*s.Min, 100*s.Max)
}

func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func each(fs []runFigures, f func(runFigures) float64) stat {
	xs := make([]float64, len(fs))
	for i, x := range fs {
		xs[i] = f(x)
	}
	return statOf(xs)
}

func secs(d time.Duration) float64 { return d.Seconds() }

// scenarioFigures are one scenario's summarized figures.
type scenarioFigures struct {
	Initial, InitialRate, Base, BaseRate, Ratio stat
	NoChange, Full, FullRate, Incr, IncrShare   stat
	HostCPU, PlugCPU                            stat // of the initial run, µs per record
	ServerCPU, BaseServerCPU, BaseProcCPU       stat // PostgreSQL's in the initial run and the baseline, the baseline's own; µs per record
	NoChangeWrites, FullWrites, IncrWrites      int
	Changed                                     int64
	BulkFull, Unmapped, Remapped, Mass          stat // seconds (scenario 2's edits)
	Filtered, Unfiltered, Conflicted            stat
	BulkRSS, RemappedRSS, MassRSS               int64 // their host's peak RSS
	FilteredRSS, UnfilteredRSS, ConflictedRSS   int64
	Conflicts                                   int64
	Excluded                                    int // left records the filter of edits excluded
	BulkChanged, BulkWrites                     int64
	MassChanged, MassWrites                     int64
	HostRSS                                     int64
	PluginRSS                                   map[string]int64
}

func summarize(fs []runFigures) scenarioFigures {
	s := scenarioFigures{PluginRSS: map[string]int64{}}
	s.Initial = each(fs, func(f runFigures) float64 { return secs(f.Initial.Wall) })
	s.InitialRate = each(fs, func(f runFigures) float64 { return float64(f.Records) / secs(f.Initial.Wall) })
	s.Base = each(fs, func(f runFigures) float64 { return secs(f.Baseline) })
	s.BaseRate = each(fs, func(f runFigures) float64 { return float64(f.Records) / secs(f.Baseline) })
	// Throughput relative to the raw copy of the same rows in the same run.
	s.Ratio = each(fs, func(f runFigures) float64 { return secs(f.Baseline) / secs(f.Initial.Wall) })
	s.HostCPU = each(fs, func(f runFigures) float64 { return 1e6 * secs(f.Initial.HostCPU) / float64(f.Records) })
	s.PlugCPU = each(fs, func(f runFigures) float64 { return 1e6 * secs(f.Initial.PlugCPU) / float64(f.Records) })
	perRec := func(d func(runFigures) time.Duration) stat {
		return each(fs, func(f runFigures) float64 { return 1e6 * secs(d(f)) / float64(f.Records) })
	}
	s.ServerCPU = perRec(func(f runFigures) time.Duration { return f.InitialServer })
	s.BaseServerCPU = perRec(func(f runFigures) time.Duration { return f.BaseServer })
	s.BaseProcCPU = perRec(func(f runFigures) time.Duration { return f.BaseProc })
	s.NoChange = each(fs, func(f runFigures) float64 { return secs(f.NoChange.Wall) })
	s.Full = each(fs, func(f runFigures) float64 { return secs(f.Full.Wall) })
	s.FullRate = each(fs, func(f runFigures) float64 {
		// Compared: read and compared in the host, or verified by digest
		// (summed in the plugin, compared as a sum).
		return float64(max(f.Full.Left.Read+f.Full.Left.Verified, f.Full.Right.Read+f.Full.Right.Verified)) / secs(f.Full.Wall)
	})
	s.Incr = each(fs, func(f runFigures) float64 { return secs(f.Incr.Wall) })
	s.IncrShare = each(fs, func(f runFigures) float64 { return secs(f.Incr.Wall) / secs(f.Initial.Wall) })
	s.BulkFull = each(fs, func(f runFigures) float64 { return secs(f.BulkFull.Wall) })
	s.Unmapped = each(fs, func(f runFigures) float64 { return secs(f.Unmapped.Wall) })
	s.Remapped = each(fs, func(f runFigures) float64 { return secs(f.Remapped.Wall) })
	s.Mass = each(fs, func(f runFigures) float64 { return secs(f.Mass.Wall) })
	s.Filtered = each(fs, func(f runFigures) float64 { return secs(f.Filtered.Wall) })
	s.Unfiltered = each(fs, func(f runFigures) float64 { return secs(f.Unfiltered.Wall) })
	s.Conflicted = each(fs, func(f runFigures) float64 { return secs(f.Conflicted.Wall) })
	for _, f := range fs {
		s.ConflictedRSS, s.Conflicts = max(s.ConflictedRSS, f.Conflicted.HostRSS), max(s.Conflicts, f.Conflicts)
		s.FilteredRSS, s.UnfilteredRSS = max(s.FilteredRSS, f.Filtered.HostRSS), max(s.UnfilteredRSS, f.Unfiltered.HostRSS)
		s.Excluded = max(s.Excluded, f.Filtered.Left.Excluded)
		s.BulkChanged, s.BulkWrites = max(s.BulkChanged, f.BulkChanged), max(s.BulkWrites, int64(f.BulkFull.Writes))
		s.BulkRSS, s.RemappedRSS = max(s.BulkRSS, f.BulkFull.HostRSS), max(s.RemappedRSS, f.Remapped.HostRSS)
		s.MassChanged, s.MassWrites = max(s.MassChanged, f.MassChanged), max(s.MassWrites, int64(f.Mass.Writes))
		s.MassRSS = max(s.MassRSS, f.Mass.HostRSS)
	}
	for _, f := range fs {
		s.NoChangeWrites = max(s.NoChangeWrites, f.NoChange.Writes)
		s.FullWrites = max(s.FullWrites, f.Full.Writes)
		s.IncrWrites = max(s.IncrWrites, f.Incr.Writes)
		s.Changed = max(s.Changed, f.Changed)
		for _, r := range []runResult{f.Initial, f.NoChange, f.Full, f.Incr} {
			s.HostRSS = max(s.HostRSS, r.HostRSS)
			for k, v := range r.Plugins {
				name, _, _ := strings.Cut(k, "#")
				s.PluginRSS[name] = max(s.PluginRSS[name], v)
			}
		}
	}
	return s
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// markdown renders the results section of BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	pg, sq := summarize(r.PG), summarize(r.SQLite)
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("### Run of %s: N = %d, %d runs each", r.Started.Format("2006-01-02 15:04 UTC"), r.N, r.Runs)
	w("")
	w("Machine: %d CPUs (%s), Linux %s, %s, PostgreSQL %s; load average %s at the start, %s at the end.",
		r.CPUs, r.Model, r.Kernel, r.GoVersion, r.Postgres, r.LoadStart, r.LoadEnd)
	w("Avg %d bytes of text per record. Figures: median (min–max) of %d runs; spread = (max−min)/median.", avgBytes(r.N), r.Runs)
	w("")
	w("| figure | 1. PostgreSQL → PostgreSQL | 2. SQLite ↔ SQLite |")
	w("|---|---|---|")
	w("| records | %d into an empty table | %d + %d, %d shared emails |", r.N, r.N/2, r.N/2, r.N/20)
	w("| initial run, datasync | %s | %s |", pg.Initial.secs(), sq.Initial.secs())
	w("| initial run, records/s | %s | %s |", pg.InitialRate.rate(), sq.InitialRate.rate())
	w("| baseline (raw copy), time | %s | %s |", pg.Base.secs(), sq.Base.secs())
	w("| baseline, records/s | %s | %s |", pg.BaseRate.rate(), sq.BaseRate.rate())
	w("| **datasync / baseline** (throughput) | **%s** — target ≥ 50 %%: %s | **%s** — target ≥ 40 %%: %s |",
		pg.Ratio.pct(), verdict(pg.Ratio.Med >= 0.5), sq.Ratio.pct(), verdict(sq.Ratio.Med >= 0.4))
	w("| initial run, CPU per record: host / plugins | %s / %s | %s / %s |", pg.HostCPU.us(), pg.PlugCPU.us(), sq.HostCPU.us(), sq.PlugCPU.us())
	if pg.ServerCPU.Med > 0 {
		w("| initial run, CPU per record: PostgreSQL server; baseline: server / its program | %s; %s / %s | – |",
			pg.ServerCPU.us(), pg.BaseServerCPU.us(), pg.BaseProcCPU.us())
	}
	w("| no-change re-run (incremental reads) | %s, writes %d | %s, writes %d |", pg.NoChange.secs(), pg.NoChangeWrites, sq.NoChange.secs(), sq.NoChangeWrites)
	w("| no-change re-run `--full`, time | %s, writes %d | %s, writes %d |", pg.Full.secs(), pg.FullWrites, sq.Full.secs(), sq.FullWrites)
	w("| **no-change `--full`, records compared/s** | **%s** — target ≥ 300k: %s | **%s** — target ≥ 300k: %s |",
		pg.FullRate.rate(), verdict(pg.FullRate.Med >= 300000), sq.FullRate.rate(), verdict(sq.FullRate.Med >= 300000))
	w("| incremental re-run after changes | %s (%d changed, %d written) | %s (%d changed, %d written) |",
		pg.Incr.secs(), pg.Changed, pg.IncrWrites, sq.Incr.secs(), sq.Changed, sq.IncrWrites)
	w("| **incremental / initial time** | **%s** — target ≤ 5 %%: %s | **%s** — target ≤ 5 %%: %s |",
		pg.IncrShare.pct(), verdict(pg.IncrShare.Med <= 0.05), sq.IncrShare.pct(), verdict(sq.IncrShare.Med <= 0.05))
	w("| peak RSS, host | %s | %s |", mb(pg.HostRSS), mb(sq.HostRSS))
	if sq.BulkChanged > 0 {
		w("| `--full` after 3 %% of one side changed | – | %s, host %s (%d changed, %d written) |", sq.BulkFull.secs(), mb(sq.BulkRSS), sq.BulkChanged, sq.BulkWrites)
		w("| run after a mapping is removed / mapped again | – | %s / %s, host %s, writes 0 |", sq.Unmapped.secs(), sq.Remapped.secs(), mb(sq.RemappedRSS))
		w("| run after a filter is set / removed | – | %s / %s, host %s / %s, %d excluded, writes 0 |", sq.Filtered.secs(), sq.Unfiltered.secs(),
			mb(sq.FilteredRSS), mb(sq.UnfilteredRSS), sq.Excluded)
		w("| run after half of one side changed | – | %s, host %s (%d changed, %d written) |", sq.Mass.secs(), mb(sq.MassRSS), sq.MassChanged, sq.MassWrites)
		w("| run after a mapping is mapped again, %d conflicts open (manual rule) | – | %s, host %s, writes 0 |", sq.Conflicts, sq.Conflicted.secs(), mb(sq.ConflictedRSS))
	}
	w("| peak RSS, each plugin | %s | %s |", pluginRSS(pg.PluginRSS), pluginRSS(sq.PluginRSS))
	w("| noise: spread of initial / baseline / full / incremental | %s / %s / %s / %s | %s / %s / %s / %s |",
		pg.Initial.spread(), pg.Base.spread(), pg.Full.spread(), pg.Incr.spread(),
		sq.Initial.spread(), sq.Base.spread(), sq.Full.spread(), sq.Incr.spread())
	w("")
	return b.String()
}

func pluginRSS(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" "+mb(m[k]))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

const (
	beginMark = "<!-- bench:results:begin (written by `make bench`) -->"
	endMark   = "<!-- bench:results:end -->"
)

// spliceResults replaces the text between the result markers of path (appending them when
// absent) with text.
func spliceResults(path, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	s := string(old)
	block := beginMark + "\n" + text + endMark
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(endMark):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
