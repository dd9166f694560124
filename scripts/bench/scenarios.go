package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runFigures is one run of one scenario: the datasync runs and the baseline beside them.
type runFigures struct {
	Records  int           // records the initial run moves or matches
	Initial  runResult     // first run into an empty (or unlinked) side
	NoChange runResult     // re-run right after, incremental reads
	Full     runResult     // re-run with --full: every record compared (read, or verified by digest)
	Changed  int64         // records changed on the sides before Incr
	Incr     runResult     // re-run after Changed records changed
	Baseline time.Duration // the raw copy of the same rows
	// BulkFull: a --full run after BulkChanged records changed on one side; Unmapped and
	// Remapped: the runs after a mapping was removed, and mapped again; Filtered and
	// Unfiltered: the runs after a filter was set on the left (editFilter), and removed;
	// Mass: the run after MassChanged records, half of one side, changed; Conflicted: the
	// run after a mapping was mapped again with Conflicts conflicts open (scenario 2, see
	// edits).
	BulkChanged, MassChanged, Conflicts                                  int64
	BulkFull, Unmapped, Remapped, Filtered, Unfiltered, Mass, Conflicted runResult
	BaseRows                                                             int64
	// PostgreSQL's CPU during the initial run and during the baseline, and the baseline
	// program's own (scenario 1, when the driver started the server; else 0).
	InitialServer, BaseServer, BaseProc time.Duration
	Scenarios                           string
}

// setupHome installs the plugin and adds the connections of one run.
func setupHome(ctx context.Context, d datasync, plugin string, conns map[string]string) error {
	if err := os.MkdirAll(d.home, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", d.home, err)
	}
	if _, err := d.run(ctx, "plugin", "install", filepath.Join(d.bin, "datasync-connector-"+plugin)); err != nil {
		return err
	}
	for _, name := range sortedKeys(conns) {
		if _, err := d.run(ctx, "connection", "add", name, "--plugin", plugin, "--set", conns[name]); err != nil {
			return err
		}
	}
	return nil
}

// rerun does the three re-runs every scenario shares and checks that the no-change ones
// write nothing; touch changes the records and returns how many writes they must cause.
func rerun(ctx context.Context, d datasync, name string, f *runFigures, touch func() (int64, error)) error {
	var err error
	if f.NoChange, err = d.syncRun(ctx, name, "nochange"); err != nil {
		return fmt.Errorf("no-change re-run: %w", err)
	}
	if f.NoChange.Writes != 0 {
		return fmt.Errorf("no-change re-run wrote %d records, want 0", f.NoChange.Writes)
	}
	if f.Full, err = d.syncRun(ctx, name, "full", "--full"); err != nil {
		return fmt.Errorf("no-change --full re-run: %w", err)
	}
	if f.Full.Writes != 0 {
		return fmt.Errorf("no-change --full re-run wrote %d records, want 0", f.Full.Writes)
	}
	if f.Changed, err = touch(); err != nil {
		return err
	}
	if f.Incr, err = d.syncRun(ctx, name, "incr"); err != nil {
		return fmt.Errorf("incremental re-run: %w", err)
	}
	if int64(f.Incr.Writes) != f.Changed {
		return fmt.Errorf("incremental re-run after %d changes wrote %d", f.Changed, f.Incr.Writes)
	}
	return nil
}

// serverMeter starts measuring the CPU of the PostgreSQL server whose postmaster is pid; the
// function it returns gives what the server has used since (0 when pid is 0 or unreadable).
func serverMeter(pid int) func() time.Duration {
	before, ok := serverCPU(pid)
	return func() time.Duration {
		if pid == 0 || !ok {
			return 0
		}
		// A backend whose client just closed exits and is reaped within
		// milliseconds; until then its CPU is counted nowhere.
		time.Sleep(100 * time.Millisecond)
		after, ok := serverCPU(pid)
		if !ok {
			return 0
		}
		return after - before
	}
}

// pgRun is one run of scenario 1: PostgreSQL → PostgreSQL into an empty table, one way.
// The source table bench_src holds n contacts already.
func pgRun(ctx context.Context, cfg config, run int) (runFigures, error) {
	f := runFigures{Records: cfg.N}
	d := datasync{bin: cfg.Bin, home: filepath.Join(cfg.Work, fmt.Sprintf("pg-%d", run)), env: cfg.Env, profile: cfg.Profile, log: cfg.Log}
	if err := pgCreate(ctx, cfg.PGURL, "bench_dst"); err != nil {
		return f, err
	}
	if err := setupHome(ctx, d, "postgres", map[string]string{"src": "url=" + cfg.PGURL, "dst": "url=" + cfg.PGURL}); err != nil {
		return f, err
	}
	if _, err := d.run(ctx, "sync", "create", "s1", "--left", "src/bench_src", "--right", "dst/bench_dst",
		"--direction", "left-to-right", "--create-in", "right", "--default-mappings"); err != nil {
		return f, err
	}
	var err error
	server := serverMeter(cfg.PGPid)
	if f.Initial, err = d.syncRun(ctx, "s1", "initial"); err != nil {
		return f, fmt.Errorf("initial run: %w", err)
	}
	f.InitialServer = server()
	if f.Initial.Right.Created != cfg.N {
		return f, fmt.Errorf("initial run created %d records, want %d", f.Initial.Right.Created, cfg.N)
	}
	if got, err := pgCount(ctx, cfg.PGURL, "bench_dst"); err != nil || got != int64(cfg.N) {
		return f, fmt.Errorf("bench_dst holds %d rows after the initial run, want %d (%v)", got, cfg.N, err)
	}
	if f.BaseRows, f.Baseline, f.BaseServer, f.BaseProc, err = pgBaseline(ctx, cfg.PGURL, cfg.PGPid, "bench_src", "bench_base"); err != nil {
		return f, fmt.Errorf("baseline: %w", err)
	}
	logf(cfg, "  baseline: %d rows in %v", f.BaseRows, f.Baseline.Round(time.Millisecond))
	if f.BaseRows != int64(cfg.N) {
		return f, fmt.Errorf("baseline copied %d rows, want %d", f.BaseRows, cfg.N)
	}
	err = rerun(ctx, d, "s1", &f, func() (int64, error) {
		return pgTouch(ctx, cfg.PGURL, "bench_src", run+1, 1, cfg.N)
	})
	return f, err
}

// sqliteRun is one run of scenario 2: SQLite ↔ SQLite two-way, n/2 contacts each side, of
// which n/20 (10 % of a side) share their email with the other side, with another phone and
// source (newer on the right, so the first merge updates them on the left).
func sqliteRun(ctx context.Context, cfg config, run int) (runFigures, error) {
	half, shared := cfg.N/2, cfg.N/20
	f := runFigures{Records: 2 * half}
	dir := filepath.Join(cfg.Work, fmt.Sprintf("sqlite-%d", run))
	d := datasync{bin: cfg.Bin, home: filepath.Join(dir, "home"), env: cfg.Env, profile: cfg.Profile, log: cfg.Log}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, fmt.Errorf("create %s: %w", dir, err)
	}
	now := time.Now()
	// Contacts half-shared..half-1 are on both sides.
	ls := side{ownLo: 0, ownN: half - shared, sharedLo: half - shared, sharedN: shared}
	rs := side{ownLo: half, ownN: half - shared, sharedLo: half - shared, sharedN: shared}
	seed := func(left, right string) error {
		if err := sqliteSeed(ctx, left, ls, 0, now.Add(-2*time.Hour), cfg.Trigger); err != nil {
			return err
		}
		return sqliteSeed(ctx, right, rs, half, now.Add(-time.Hour), cfg.Trigger)
	}
	left, right := filepath.Join(dir, "left.db"), filepath.Join(dir, "right.db")
	if err := seed(left, right); err != nil {
		return f, err
	}
	if err := setupHome(ctx, d, "sqlite", map[string]string{"left": "path=" + left, "right": "path=" + right}); err != nil {
		return f, err
	}
	if _, err := d.run(ctx, "sync", "create", "s2", "--left", "left/contacts", "--right", "right/contacts",
		"--default-mappings"); err != nil {
		return f, err
	}
	var err error
	if f.Initial, err = d.syncRun(ctx, "s2", "initial"); err != nil {
		return f, fmt.Errorf("initial run: %w", err)
	}
	want := half - shared
	if f.Initial.Left.Created != want || f.Initial.Right.Created != want {
		return f, fmt.Errorf("initial run created %d left and %d right, want %d each",
			f.Initial.Left.Created, f.Initial.Right.Created, want)
	}
	if u := f.Initial.Left.Updated + f.Initial.Right.Updated; u != shared {
		return f, fmt.Errorf("initial run updated %d shared records, want %d", u, shared)
	}
	for _, p := range []string{left, right} {
		if got, err := sqliteCount(ctx, p); err != nil || got != int64(2*half-shared) {
			return f, fmt.Errorf("%s holds %d contacts after the initial run, want %d (%v)", p, got, 2*half-shared, err)
		}
	}
	bl, br := filepath.Join(dir, "base-left.db"), filepath.Join(dir, "base-right.db")
	if err := seed(bl, br); err != nil {
		return f, err
	}
	if f.BaseRows, f.Baseline, err = sqliteBaseline(ctx, bl, br); err != nil {
		return f, fmt.Errorf("baseline: %w", err)
	}
	logf(cfg, "  baseline: %d rows in %v", f.BaseRows, f.Baseline.Round(time.Millisecond))
	if f.BaseRows != int64(2*want) {
		return f, fmt.Errorf("baseline inserted %d rows, want %d", f.BaseRows, 2*want)
	}
	// Each side changes its own records only (ids 1, 101, 201, … of the rows seeded: the
	// one with id i is a shared one only if i%10 == 0, see side.contact), so no pair is
	// changed on both sides.
	err = rerun(ctx, d, "s2", &f, func() (int64, error) {
		l, err := sqliteTouch(ctx, left, run+1, 100, 1, half)
		if err != nil {
			return 0, err
		}
		r, err := sqliteTouch(ctx, right, run+1, 100, 1, half)
		return l + r, err
	})
	if err != nil {
		return f, err
	}
	return f, edits(ctx, d, "s2", &f, func() (int64, error) {
		// 3 % of the left's own rows, none of the 1 % above (ids 7, 40, 73, …).
		return sqliteTouch(ctx, left, run+101, 33, 7, half)
	}, func() (int64, error) {
		// Half of the left's rows, its own and those the first run created there: a bulk
		// edit an admin makes in the app.
		return sqliteTouch(ctx, left, run+201, 2, 0, 2*half)
	}, func() (int64, error) {
		// Ten pairs: rows half/10, 2·half/10, …, half of the left and their partners.
		return sqliteConflict(ctx, left, right, half/10, half)
	})
}

// editFilter is the filter edits sets on the left: one record in seven (a lifecycle
// stage) stops syncing.
const editFilter = `lifecycle_stage != "lead"`

// edits does the runs that follow what an admin does to a synced pair: a --full run after
// many records changed on one side (touch), the runs after a mapping (source) is removed
// and after it is mapped again, after a filter (editFilter) is set and after it is removed,
// a run after half of one side changed (mass), and, with the manual rule and a few pairs
// in conflict (conflict), the run after the mapping is mapped again once more; each must
// write what it must and nothing more.
func edits(ctx context.Context, d datasync, name string, f *runFigures, touch, mass, conflict func() (int64, error)) error {
	var err error
	if f.BulkChanged, err = touch(); err != nil {
		return err
	}
	if f.BulkFull, err = d.syncRun(ctx, name, "bulkfull", "--full"); err != nil {
		return fmt.Errorf("--full run after %d changes: %w", f.BulkChanged, err)
	}
	if int64(f.BulkFull.Writes) != f.BulkChanged {
		return fmt.Errorf("--full run after %d changes wrote %d", f.BulkChanged, f.BulkFull.Writes)
	}
	for _, e := range []struct {
		phase, flag, arg string
		into             *runResult
	}{
		{"unmapped", "--remove", "source", &f.Unmapped},
		{"remapped", "--add", "source=source", &f.Remapped},
	} {
		if _, err := d.run(ctx, "sync", "map", name, e.flag, e.arg); err != nil {
			return err
		}
		if *e.into, err = d.syncRun(ctx, name, e.phase); err != nil {
			return fmt.Errorf("run after sync map %s %s: %w", e.flag, e.arg, err)
		}
		if e.into.Writes != 0 {
			return fmt.Errorf("run after sync map %s %s wrote %d, want 0", e.flag, e.arg, e.into.Writes)
		}
	}
	for _, e := range []struct {
		phase, filter string
		into          *runResult
	}{
		{"filtered", editFilter, &f.Filtered},
		{"unfiltered", "", &f.Unfiltered},
	} {
		if _, err := d.run(ctx, "sync", "set", name, "--filter-left", e.filter); err != nil {
			return err
		}
		if *e.into, err = d.syncRun(ctx, name, e.phase); err != nil {
			return fmt.Errorf("run after sync set --filter-left %q: %w", e.filter, err)
		}
		if e.into.Writes != 0 {
			return fmt.Errorf("run after sync set --filter-left %q wrote %d, want 0", e.filter, e.into.Writes)
		}
	}
	if f.MassChanged, err = mass(); err != nil {
		return err
	}
	if f.Mass, err = d.syncRun(ctx, name, "mass"); err != nil {
		return fmt.Errorf("run after %d changes: %w", f.MassChanged, err)
	}
	if int64(f.Mass.Writes) != f.MassChanged {
		return fmt.Errorf("run after %d changes wrote %d", f.MassChanged, f.Mass.Writes)
	}
	return conflicted(ctx, d, name, f, conflict)
}

// conflicted sets the manual rule, puts a few pairs in conflict (conflict), and does the
// run after a mapping (source) is removed and mapped again: the conflicts stay open and
// nothing is written.
func conflicted(ctx context.Context, d datasync, name string, f *runFigures, conflict func() (int64, error)) error {
	if _, err := d.run(ctx, "sync", "set", name, "--conflict", "manual"); err != nil {
		return err
	}
	var err error
	if f.Conflicts, err = conflict(); err != nil {
		return err
	}
	r, err := d.syncRun(ctx, name, "conflicting")
	if err != nil {
		return fmt.Errorf("run after %d pairs changed on both sides: %w", f.Conflicts, err)
	}
	if int64(r.Left.Conflicts) != f.Conflicts || r.Writes != 0 {
		return fmt.Errorf("run after %d pairs changed on both sides: %d conflicts, %d writes; want a conflict each, no write",
			f.Conflicts, r.Left.Conflicts, r.Writes)
	}
	for _, e := range []struct{ phase, flag, arg string }{
		{"conflicted-unmapped", "--remove", "source"},
		{"conflicted", "--add", "source=source"},
	} {
		if _, err := d.run(ctx, "sync", "map", name, e.flag, e.arg); err != nil {
			return err
		}
		if r, err = d.syncRun(ctx, name, e.phase); err != nil {
			return fmt.Errorf("run after sync map %s %s with conflicts open: %w", e.flag, e.arg, err)
		}
		if r.Writes != 0 || int64(r.Left.Conflicts) != f.Conflicts {
			return fmt.Errorf("run after sync map %s %s with %d conflicts open: %d conflicts, %d writes; want them still open, no write",
				e.flag, e.arg, f.Conflicts, r.Left.Conflicts, r.Writes)
		}
	}
	f.Conflicted = r
	return nil
}
