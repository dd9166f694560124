package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// config is one benchmark: what to run and where.
type config struct {
	Bin   string   // directory with datasync and datasync-connector-{postgres,sqlite}
	N     int      // records
	Runs  int      // identical runs of each scenario
	PGURL string   // PostgreSQL database to use (tables bench_*)
	PGPid int      // its postmaster's pid when the driver started it (its CPU is then measured), else 0
	Work  string   // scratch directory: homes and SQLite files
	Env   []string // extra environment for datasync
	Log   io.Writer
	// Profile is a directory for profiles of every sync run (see datasync.profile); Bin must
	// then hold a profhost build as datasync.
	Profile string
	// Only, when 1 or 2, runs that scenario alone (the other's figures stay empty).
	Only int
	// Trigger gives scenario 2's tables a trigger, so that the SQLite connector marks none of
	// its writes, as connectors that cannot (LDAP, CardDAV, HubSpot): the runs after one
	// that wrote read its echoes back and settle them by version.
	Trigger bool
}

func main() {
	n := 200000
	if s := os.Getenv("BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			fmt.Fprintf(os.Stderr, "bench: BENCH_N=%q: want a number ≥ 100\n", s)
			os.Exit(2)
		}
		n = v
	}
	var cfg config
	flag.StringVar(&cfg.Bin, "bin", "bin", "directory holding datasync and its connector plugins (make build)")
	flag.IntVar(&cfg.N, "n", n, "records (default BENCH_N, else 200000)")
	flag.IntVar(&cfg.Runs, "runs", 3, "identical runs of each scenario")
	flag.StringVar(&cfg.PGURL, "pg-url", "", "PostgreSQL database to use (default: start one with scripts/services/postgres.sh)")
	write := flag.String("write", "", "file (BENCHMARKS.md) whose results section to replace with this run's")
	flag.StringVar(&cfg.Profile, "profile", "", "directory for host pprof and perf profiles of each sync run (bin's datasync must be a profhost build)")
	flag.IntVar(&cfg.Only, "only", 0, "run scenario 1 or 2 alone (0: both)")
	flag.BoolVar(&cfg.Trigger, "trigger", false, "give scenario 2's tables a trigger: the connector marks no writes, and their echoes are read back")
	keep := flag.Bool("keep", false, "keep the scratch directory (homes, SQLite files) for inspection")
	flag.Parse()
	if (cfg.Only != 0 || cfg.Trigger) && *write != "" {
		// Not the scenarios BENCHMARKS.md records (the other column would be zeros).
		fmt.Fprintln(os.Stderr, "bench: -write does not go with -only or -trigger")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mainErr(ctx, cfg, *write, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, cfg config, write string, keep bool) error {
	var err error
	if cfg.Bin, err = filepath.Abs(cfg.Bin); err != nil {
		return fmt.Errorf("bin directory: %w", err)
	}
	if cfg.Work, err = os.MkdirTemp("", "datasync-bench."); err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "bench: scratch directory", cfg.Work)
	} else {
		defer os.RemoveAll(cfg.Work)
	}
	if cfg.PGURL == "" {
		url, pid, stopPG, err := startPostgres(ctx, filepath.Join(cfg.Work, "postgres"))
		if err != nil {
			return err
		}
		defer stopPG()
		cfg.PGURL, cfg.PGPid = url, pid
	}
	cfg.Log = os.Stderr
	rep, err := bench(ctx, cfg)
	if err != nil {
		return err
	}
	text := rep.markdown()
	fmt.Print(text)
	if write != "" {
		return spliceResults(write, text)
	}
	return nil
}

// startPostgres starts a throwaway server with scripts/services/postgres.sh and returns its
// URL, its postmaster's pid and the function stopping it.
func startPostgres(ctx context.Context, dir string) (string, int, func(), error) {
	script, err := filepath.Abs("scripts/services/postgres.sh")
	if err != nil {
		return "", 0, nil, err
	}
	out, err := exec.CommandContext(ctx, script, "start", dir).CombinedOutput()
	stop := func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: stop PostgreSQL: %v\n%s", err, out)
		}
	}
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("start PostgreSQL (%s): %w\n%s", script, err, out)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("read PostgreSQL env: %w", err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "PG_URL="); ok {
			// The script records the pid it started: postgres itself (setpriv execs it).
			b, err := os.ReadFile(filepath.Join(dir, "pid"))
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 {
				stop()
				return "", 0, nil, fmt.Errorf("read PostgreSQL pid: %q, %v", b, err)
			}
			return strings.Trim(v, "'"), pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, fmt.Errorf("no PG_URL in %s/env", dir)
}

// bench runs both scenarios cfg.Runs times, interleaved so that load on the machine falls on
// both alike, and returns the figures.
func bench(ctx context.Context, cfg config) (*report, error) {
	rep := &report{N: cfg.N, Runs: cfg.Runs, Started: time.Now().UTC()}
	rep.machine(ctx, cfg.PGURL)
	if cfg.Only != 2 {
		logf(cfg, "seeding %d contacts into PostgreSQL (avg %d bytes of text per record)", cfg.N, avgBytes(cfg.N))
		if err := pgSeed(ctx, cfg.PGURL, "bench_src", cfg.N); err != nil {
			return nil, err
		}
	}
	for run := 0; run < cfg.Runs; run++ {
		if cfg.Only != 2 {
			logf(cfg, "run %d/%d: scenario 1, PostgreSQL → PostgreSQL", run+1, cfg.Runs)
			f, err := pgRun(ctx, cfg, run)
			if err != nil {
				return nil, fmt.Errorf("scenario 1, run %d: %w", run+1, err)
			}
			rep.PG = append(rep.PG, f)
			logRun(cfg, f)
		}
		if cfg.Only != 1 {
			logf(cfg, "run %d/%d: scenario 2, SQLite ↔ SQLite", run+1, cfg.Runs)
			f, err := sqliteRun(ctx, cfg, run)
			if err != nil {
				return nil, fmt.Errorf("scenario 2, run %d: %w", run+1, err)
			}
			rep.SQLite = append(rep.SQLite, f)
			logRun(cfg, f)
		}
	}
	rep.LoadEnd = loadavg()
	return rep, nil
}

func logRun(cfg config, f runFigures) {
	logf(cfg, "  initial %v (baseline %v), no-change %v, full %v, incremental %v (%d changed); peak RSS host %s, plugins %v",
		f.Initial.Wall.Round(time.Millisecond), f.Baseline.Round(time.Millisecond), f.NoChange.Wall.Round(time.Millisecond),
		f.Full.Wall.Round(time.Millisecond), f.Incr.Wall.Round(time.Millisecond), f.Changed, mb(f.Initial.HostRSS), f.Initial.Plugins)
	if f.InitialServer > 0 {
		logf(cfg, "  CPU of the initial run: host %v, plugins %v, PostgreSQL %v; of the baseline: program %v, PostgreSQL %v",
			f.Initial.HostCPU.Round(10*time.Millisecond), f.Initial.PlugCPU.Round(10*time.Millisecond), f.InitialServer.Round(10*time.Millisecond),
			f.BaseProc.Round(10*time.Millisecond), f.BaseServer.Round(10*time.Millisecond))
	}
}

func logf(cfg config, format string, args ...any) {
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...)
	}
}

func avgBytes(n int) int {
	if n == 0 {
		return 0
	}
	step := n/1000 + 1
	total, k := 0, 0
	for i := 0; i < n; i += step {
		total += recordBytes(i)
		k++
	}
	return total / k
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
