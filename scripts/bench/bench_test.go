package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// bins is where TestMain built the host and the two plugins the benchmark runs (empty with
// -short): the smoke runs measure this checkout, not whatever bin/ holds.
var bins string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "bench-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			for out, pkg := range map[string]string{
				"datasync":                    "./host/cmd/datasync",
				"datasync-connector-postgres": "./plugins/postgres",
				"datasync-connector-sqlite":   "./plugins/sqlite",
			} {
				cmd := exec.Command("go", "build", "-o", filepath.Join(dir, out), pkg)
				cmd.Dir = "../.."
				if b, err := cmd.CombinedOutput(); err != nil {
					fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, b)
					return 1
				}
			}
			bins = dir
		}
		return m.Run()
	}())
}

// TestSmoke is `make bench` at 2,000 records, once: both scenarios through the real binaries
// and their baselines; bench itself fails when a record is missing or a no-change run writes.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs the benchmark at N=2000")
	}
	pg := testsvc.Postgres(t)
	cfg := config{Bin: bins, N: 2000, Runs: 1, PGURL: testsvc.CreateDatabase(t, pg), Work: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := bench(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.PG) != 1 || len(rep.SQLite) != 1 {
		t.Fatalf("got %d and %d runs, want 1 each", len(rep.PG), len(rep.SQLite))
	}
	pgr, sq := rep.PG[0], rep.SQLite[0]
	if pgr.Initial.Right.Created != 2000 || pgr.BaseRows != 2000 {
		t.Errorf("scenario 1 created %d, baseline copied %d, want 2000 each", pgr.Initial.Right.Created, pgr.BaseRows)
	}
	if sq.Initial.Left.Created != 900 || sq.Initial.Right.Created != 900 || sq.BaseRows != 1800 {
		t.Errorf("scenario 2 created %d left and %d right, baseline %d; want 900, 900, 1800",
			sq.Initial.Left.Created, sq.Initial.Right.Created, sq.BaseRows)
	}
	for name, f := range map[string]runFigures{"scenario 1": pgr, "scenario 2": sq} {
		if f.NoChange.Writes != 0 || f.Full.Writes != 0 {
			t.Errorf("%s: no-change re-runs wrote %d and %d", name, f.NoChange.Writes, f.Full.Writes)
		}
		if f.Changed == 0 || int64(f.Incr.Writes) != f.Changed {
			t.Errorf("%s: incremental run wrote %d after %d changes", name, f.Incr.Writes, f.Changed)
		}
		if f.Initial.Wall <= 0 || f.Baseline <= 0 || f.Incr.Wall <= 0 {
			t.Errorf("%s: times initial %v, baseline %v, incremental %v", name, f.Initial.Wall, f.Baseline, f.Incr.Wall)
		}
		if f.Initial.HostRSS < 1<<20 {
			t.Errorf("%s: host peak RSS %d bytes: not sampled", name, f.Initial.HostRSS)
		}
	}
	if n := len(pgr.Initial.Plugins); n != 2 {
		t.Errorf("scenario 1 sampled %d plugin processes (%v), want 2", n, pgr.Initial.Plugins)
	}
	for k := range sq.Initial.Plugins {
		if !strings.HasPrefix(k, "sqlite#") {
			t.Errorf("scenario 2 sampled plugin %q, want only sqlite ones", k)
		}
	}
	// The edits (bench fails on a wrong write count): with a mapping removed, the records
	// in step are left alone; mapped again, every one is read.
	if sq.BulkChanged == 0 || sq.Unmapped.Left.Read+sq.Unmapped.Right.Read != 0 ||
		sq.Remapped.Left.Read != sq.Remapped.Left.Unchanged || sq.Remapped.Left.Read < 1800 {
		t.Errorf("scenario 2 edits: %d changed; read %d/%d after a mapping was removed (want none), %d (%d unchanged) after it was mapped again (want every record)",
			sq.BulkChanged, sq.Unmapped.Left.Read, sq.Unmapped.Right.Read, sq.Remapped.Left.Read, sq.Remapped.Left.Unchanged)
	}
	// A filter set on the left excludes one record in seven, of 1,900; removed, none (the
	// bench fails on any write).
	if sq.Filtered.Left.Excluded < 200 || sq.Filtered.Left.Excluded > 350 || sq.Unfiltered.Left.Excluded != 0 {
		t.Errorf("scenario 2 filter: %d excluded after it was set (want one in seven of 1,900), %d after it was removed",
			sq.Filtered.Left.Excluded, sq.Unfiltered.Left.Excluded)
	}
	// Half of the left's 1,900 records (the bench fails unless each is written once).
	if sq.MassChanged < 900 || sq.Mass.Left.Read != int(sq.MassChanged) {
		t.Errorf("scenario 2 mass edit: %d changed, %d read", sq.MassChanged, sq.Mass.Left.Read)
	}
	// Ten pairs in conflict: the mapping mapped again is backfilled, not read in full.
	if sq.Conflicts != 10 || sq.Conflicted.Left.Conflicts != 10 || sq.Conflicted.Complete != "" || sq.Conflicted.Left.Read == 0 {
		t.Errorf("scenario 2 with conflicts: %d pairs changed, %d conflicts open after the mapping was mapped again, read %d, in full: %q",
			sq.Conflicts, sq.Conflicted.Left.Conflicts, sq.Conflicted.Left.Read, sq.Conflicted.Complete)
	}
	md := rep.markdown()
	for _, want := range []string{"N = 2000", "datasync / baseline", "records compared/s", "incremental / initial time",
		"peak RSS, host", "postgres ", "sqlite ", "mapping is removed", "filter is set", "half of one side changed", "conflicts open"} {
		if !strings.Contains(md, want) {
			t.Errorf("results lack %q:\n%s", want, md)
		}
	}
	t.Log("\n" + md)
}

// TestSmokeUnmarkedEchoes runs scenario 2 with a trigger on its tables, so that the SQLite
// connector marks none of its writes: the run after the first reads its echoes back (6,000
// and 5,400, more than a run looks up one by one: 5,000), through the real binaries. They
// must be settled: read, written to neither side.
func TestSmokeUnmarkedEchoes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs scenario 2 at N=12000")
	}
	cfg := config{Bin: bins, N: 12000, Runs: 1, Only: 2, Trigger: true, Work: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := bench(ctx, cfg) // fails when a no-change run writes, or an incremental one writes more
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.SQLite) != 1 {
		t.Fatalf("got %d runs, want 1", len(rep.SQLite))
	}
	f := rep.SQLite[0]
	// The left got 5,400 creates and the 600 shared records' merge, the right 5,400 creates.
	nc := f.NoChange
	if nc.Left.Read != 6000 || nc.Right.Read != 5400 || nc.Writes != 0 {
		t.Errorf("no-change run: read %d/%d, wrote %d; want the 6,000 and 5,400 echoes read and nothing written",
			nc.Left.Read, nc.Right.Read, nc.Writes)
	}
	if nc.Left.Unchanged != 11400 || nc.Right.Unchanged != 11400 {
		t.Errorf("no-change run: %d/%d links unchanged, want all 11,400", nc.Left.Unchanged, nc.Right.Unchanged)
	}
}

func TestStatOf(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want stat
	}{
		{[]float64{3, 1, 2}, stat{2, 1, 3}},
		{[]float64{4, 1, 2, 3}, stat{2.5, 1, 4}},
		{[]float64{5}, stat{5, 5, 5}},
		{nil, stat{}},
	} {
		if got := statOf(c.in); got != c.want {
			t.Errorf("statOf(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSpliceResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(path, []byte("# Bench\n\nmethod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceResults(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(mustRead(t, path), "\nafter\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceResults(path, "second\n"); err != nil {
		t.Fatal(err)
	}
	want := "# Bench\n\nmethod\n\n" + beginMark + "\nsecond\n" + endMark + "\n\nafter\n"
	if got := string(mustRead(t, path)); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSamplerSeesChildren(t *testing.T) {
	// A child that is not a plugin binary is ignored; the process's own peak is read.
	cmd := exec.Command("sleep", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if got := children(os.Getpid()); !containsInt(got, cmd.Process.Pid) {
		t.Errorf("children(self) = %v, want %d among them", got, cmd.Process.Pid)
	}
	s := newSampler(os.Getpid())
	s.sample(true)
	if s.host < 1<<20 || len(s.plugins) != 0 {
		t.Errorf("sampler: host %d bytes, plugins %v; want ≥ 1 MB and none", s.host, s.plugins)
	}
	// A child running a plugin binary is found by a scan and then sampled at
	// every tick, scanned or not.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(t.TempDir(), "datasync-connector-test")
	if err := os.WriteFile(plugin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	pc := exec.Command(plugin, "2")
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Process.Kill(); _ = pc.Wait() }()
	s.sample(false)
	if len(s.plugins) != 0 {
		t.Errorf("a tick without a scan found plugins %v", s.plugins)
	}
	for range 50 { // until the child has exec'd
		if s.sample(true); len(s.plugins) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.plugins[pc.Process.Pid] = 0
	s.sample(false)
	if s.plugins[pc.Process.Pid] == 0 || s.names[pc.Process.Pid] != "datasync-connector-test" {
		t.Errorf("plugin child: %v %v; want its peak sampled without a scan", s.plugins, s.names)
	}
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestRecordSize(t *testing.T) {
	// The contacts are ~300 bytes of text in ten fields.
	if avg := avgBytes(10000); avg < 250 || avg > 350 {
		t.Errorf("average record %d bytes, want ~300", avg)
	}
	if len(contact(7, 0)) != len(fields) {
		t.Errorf("contact has %d values for %d fields", len(contact(7, 0)), len(fields))
	}
}

// TestSideSpreadsShared: a side's rows hold each of its contacts once, its shared ones on
// every 10th row (ids 10, 20, …), so the ids the incremental re-run changes (1, 101, …) are
// its own.
func TestSideSpreadsShared(t *testing.T) {
	for _, n := range []int{1000, 1010, 20} {
		half, shared := n/2, n/20
		for _, sd := range []side{
			{ownLo: 0, ownN: half - shared, sharedLo: half - shared, sharedN: shared},
			{ownLo: half, ownN: half - shared, sharedLo: half - shared, sharedN: shared},
		} {
			seen := map[int]bool{}
			for k := range sd.rows() {
				i := sd.contact(k)
				isShared := i >= sd.sharedLo && i < sd.sharedLo+sd.sharedN
				own := i >= sd.ownLo && i < sd.ownLo+sd.ownN
				if seen[i] || isShared == own {
					t.Fatalf("n %d %+v: row %d holds contact %d (seen %v, shared %v, own %v)", n, sd, k, i, seen[i], isShared, own)
				}
				seen[i] = true
				if id := k + 1; isShared != (id%10 == 0) || id%100 == 1 && isShared {
					t.Fatalf("n %d %+v: row id %d holds contact %d, shared %v", n, sd, id, i, isShared)
				}
			}
		}
	}
}
