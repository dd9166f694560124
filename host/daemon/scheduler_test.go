package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/pluginhost"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// fakeStore holds sync definitions and connection statuses in memory.
type fakeStore struct {
	mu       sync.Mutex
	syncs    []store.Sync
	status   map[string]string
	statusOK int // SetConnectionStatus calls
	updated  map[string]time.Time
}

func defJSON(name, left, right string) []byte {
	return []byte(fmt.Sprintf(`{"name":%q,"left":{"connection":%q,"object":"contacts"},"right":{"connection":%q,"object":"subscribers"},
		"match":[{"left":"email","right":"email"}],"mappings":[{"left":"email","right":"email"}]}`, name, left, right))
}

func newFakeStore(names ...string) *fakeStore {
	s := &fakeStore{status: map[string]string{}, updated: map[string]time.Time{}}
	for _, n := range names {
		s.syncs = append(s.syncs, store.Sync{Name: n, Definition: defJSON(n, "crm-"+n, "news-"+n), State: store.SyncActive})
	}
	return s
}

func (s *fakeStore) Syncs(context.Context) ([]store.Sync, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Sync(nil), s.syncs...), nil
}

func (s *fakeStore) Connection(_ context.Context, name string) (store.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status[name]
	if st == "" {
		st = "ok"
	}
	return store.Connection{Name: name, Status: st, Updated: s.updated[name]}, nil
}

func (s *fakeStore) SetConnectionStatus(_ context.Context, name, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[name] = status
	s.statusOK++
	return nil
}

func (s *fakeStore) SetSyncState(_ context.Context, name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.syncs {
		if s.syncs[i].Name == name {
			s.syncs[i].State = state
		}
	}
	return nil
}

// fakeRunner records runs: when each started and ended, and how many ran at
// once, per sync and overall.
type fakeRunner struct {
	mu       sync.Mutex
	delay    time.Duration
	err      func(name string, n int) error
	running  map[string]int
	maxSync  int
	total    int
	maxTotal int
	starts   map[string][]time.Time
	ends     map[string][]time.Time
	opts     map[string][]engine.Options
	ctxDone  atomic.Int32 // runs that saw their ctx cancelled
	complete string       // the reports' Complete
}

func newFakeRunner(delay time.Duration) *fakeRunner {
	return &fakeRunner{delay: delay, running: map[string]int{}, starts: map[string][]time.Time{},
		ends: map[string][]time.Time{}, opts: map[string][]engine.Options{}}
}

func (r *fakeRunner) Run(ctx context.Context, def syncdef.Definition, opts engine.Options) (engine.Report, error) {
	r.mu.Lock()
	r.running[def.Name]++
	r.total++
	r.maxSync = max(r.maxSync, r.running[def.Name])
	r.maxTotal = max(r.maxTotal, r.total)
	r.starts[def.Name] = append(r.starts[def.Name], time.Now())
	r.opts[def.Name] = append(r.opts[def.Name], opts)
	n := len(r.starts[def.Name])
	r.mu.Unlock()
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		r.ctxDone.Add(1)
		time.Sleep(r.delay / 4) // the batch in flight still commits
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[def.Name]--
	r.total--
	r.ends[def.Name] = append(r.ends[def.Name], time.Now())
	var err error
	if r.err != nil {
		err = r.err(def.Name, n)
	}
	return engine.Report{Sync: def.Name, Finished: time.Now(), Complete: r.complete}, err
}

func (r *fakeRunner) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.starts[name])
}

func start(t *testing.T, st *fakeStore, r Runner, o Options) (*Scheduler, context.CancelFunc) {
	t.Helper()
	return startLogging(t, st, r, o, hclog.NewNullLogger())
}

func startLogging(t *testing.T, st *fakeStore, r Runner, o Options, log hclog.Logger) (*Scheduler, context.CancelFunc) {
	t.Helper()
	if o.Tick == 0 {
		o.Tick = 2 * time.Millisecond
	}
	if o.StartSpread == 0 {
		o.StartSpread = time.Millisecond
	}
	s := New(st, r, log, o)
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, cancel
}

func waitFor(t *testing.T, what string, d time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A run slower than the schedule never overlaps the next, and missed ticks
// do not pile up: each run starts a full interval after the previous ended.
func TestSlowRunDoesNotPileUp(t *testing.T) {
	st := newFakeStore("a")
	r := newFakeRunner(120 * time.Millisecond)
	every := 20 * time.Millisecond
	_, _ = start(t, st, r, Options{DefaultEvery: every, Jitter: 0.01})
	time.Sleep(600 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxSync != 1 {
		t.Fatalf("%d runs of one sync at once, want 1", r.maxSync)
	}
	starts, ends := r.starts["a"], r.ends["a"]
	// 600ms of 120ms runs spaced by 20ms: at most 5, at least 3.
	if n := len(starts); n < 3 || n > 5 {
		t.Fatalf("%d runs in 600ms of 120ms runs every 20ms, want 3..5 (no pile-up, no stall)", n)
	}
	for i := 1; i < len(starts) && i-1 < len(ends); i++ {
		if gap := starts[i].Sub(ends[i-1]); gap < every-time.Millisecond {
			t.Errorf("run %d started %v after run %d ended, want >= %v", i, gap, i-1, every)
		}
	}
}

// Runs of different syncs go on at once, up to the bound.
func TestConcurrencyBound(t *testing.T) {
	st := newFakeStore("a", "b", "c", "d", "e")
	r := newFakeRunner(60 * time.Millisecond)
	_, _ = start(t, st, r, Options{DefaultEvery: time.Hour, Concurrency: 2})
	waitFor(t, "every sync to run once", 2*time.Second, func() bool {
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			if r.count(n) == 0 {
				return false
			}
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxTotal != 2 {
		t.Fatalf("%d runs at once, want the bound 2 reached and never passed", r.maxTotal)
	}
}

// Requests made while a run is in flight coalesce into one more run, with
// their options merged; a paused sync still runs when asked.
func TestRunNowCoalesces(t *testing.T) {
	st := newFakeStore("a")
	st.syncs[0].State = store.SyncPaused
	r := newFakeRunner(80 * time.Millisecond)
	s, _ := start(t, st, r, Options{DefaultEvery: time.Hour})
	time.Sleep(30 * time.Millisecond)
	if n := r.count("a"); n != 0 {
		t.Fatalf("paused sync ran %d times on its schedule", n)
	}
	if err := s.RunNow("a", engine.Options{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the asked run", time.Second, func() bool { return r.count("a") == 1 })
	for i := 0; i < 5; i++ {
		if err := s.RunNow("a", engine.Options{RetryAll: i == 2}); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Status("a"); !st.Running || !st.Queued {
		t.Fatalf("status %+v, want running and queued", st)
	}
	time.Sleep(400 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := len(r.starts["a"]); got != 2 {
		t.Fatalf("%d runs, want 2: five requests during a run make one more run", got)
	}
	if !r.opts["a"][1].RetryAll {
		t.Fatalf("the coalesced run lost RetryAll: %+v", r.opts["a"][1])
	}
	if err := s.RunNow("nope", engine.Options{}); !errors.Is(err, ErrUnknownSync) {
		t.Fatalf("RunNow of an unknown sync: %v", err)
	}
}

// An auth failure holds the connection's syncs with one status write and
// no further runs; they resume once the status is ok again (what
// `connection test` records).
func TestAuthFailureHoldsUntilConnectionFixed(t *testing.T) {
	st := newFakeStore("a")
	r := newFakeRunner(time.Millisecond)
	r.err = func(name string, n int) error {
		if n == 1 {
			return &engine.RunError{Side: "left", Connection: "crm-a", Category: sdk.CategoryAuth, Err: errors.New("401")}
		}
		return nil
	}
	s, _ := start(t, st, r, Options{DefaultEvery: 10 * time.Millisecond, ConnPoll: 20 * time.Millisecond})
	waitFor(t, "the failing run", time.Second, func() bool { return r.count("a") == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := r.count("a"); n != 1 {
		t.Fatalf("%d runs while the connection is refused, want 1", n)
	}
	stat, _ := s.Status("a")
	if stat.Held != "connection crm-a: auth" {
		t.Fatalf("held = %q", stat.Held)
	}
	st.mu.Lock()
	if st.statusOK != 1 || st.status["crm-a"] != "auth" {
		t.Fatalf("status writes %d, status %q: want one auth", st.statusOK, st.status["crm-a"])
	}
	st.status["crm-a"] = "ok"
	st.mu.Unlock()
	waitFor(t, "resume after the connection is fixed", time.Second, func() bool { return r.count("a") >= 2 })
	if stat, _ := s.Status("a"); stat.Held != "" {
		t.Fatalf("still held: %q", stat.Held)
	}
}

// A sync whose connection is already refused at start does not run.
func TestHeldAtStart(t *testing.T) {
	st := newFakeStore("a")
	st.status["news-a"] = "account_changed"
	r := newFakeRunner(time.Millisecond)
	s, _ := start(t, st, r, Options{DefaultEvery: 5 * time.Millisecond, ConnPoll: 10 * time.Millisecond})
	time.Sleep(100 * time.Millisecond)
	if n := r.count("a"); n != 0 {
		t.Fatalf("%d runs on a connection pointing at another account", n)
	}
	if stat, _ := s.Status("a"); stat.Held != "connection news-a: account_changed" {
		t.Fatalf("held = %q", stat.Held)
	}
}

// A plugin crash fails the run and the sync is run again (the plugin
// relaunched) after a backoff much shorter than its schedule, growing with
// each crash in a row.
func TestCrashRelaunchesWithBackoff(t *testing.T) {
	st := newFakeStore("a")
	r := newFakeRunner(time.Millisecond)
	r.err = func(name string, n int) error {
		if n <= 2 {
			return &engine.RunError{Side: "left", Connection: "crm-a", Category: sdk.CategoryTransient,
				Err: &pluginhost.CrashError{Plugin: "sqlite", Output: "panic: boom"}}
		}
		return nil
	}
	var events []RunEvent
	var mu sync.Mutex
	s, _ := start(t, st, r, Options{DefaultEvery: time.Hour, CrashBackoff: 40 * time.Millisecond,
		OnRun: func(ev RunEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	waitFor(t, "three runs", 2*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 })
	r.mu.Lock()
	g1 := r.starts["a"][1].Sub(r.ends["a"][0])
	g2 := r.starts["a"][2].Sub(r.ends["a"][1])
	r.mu.Unlock()
	if g1 < 35*time.Millisecond || g2 < 75*time.Millisecond {
		t.Fatalf("relaunch waits %v then %v, want >= 40ms then >= 80ms", g1, g2)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 3 || events[0].Crash == nil || events[0].Crash.Plugin != "sqlite" || events[2].Err != nil {
		t.Fatalf("events %+v: want two crashes then a success", events)
	}
	if stat, _ := s.Status("a"); stat.Crashes != 0 || stat.LastError != "" {
		t.Fatalf("status after recovery %+v", stat)
	}
}

// Shutdown cancels the runs in flight (the runner stops at a batch
// boundary) and Run returns only after they ended; nothing new starts.
func TestShutdownWaitsForRunsInFlight(t *testing.T) {
	st := newFakeStore("a", "b")
	r := newFakeRunner(10 * time.Second)
	s := New(st, r, hclog.NewNullLogger(), Options{DefaultEvery: time.Hour, Tick: 2 * time.Millisecond, StartSpread: time.Millisecond})
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	waitFor(t, "two runs", time.Second, func() bool { return r.count("a") == 1 && r.count("b") == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctxDone.Load() != 2 || len(r.ends["a"]) != 1 || len(r.ends["b"]) != 1 || r.total != 0 {
		t.Fatalf("cancelled %d, ends %v: want both runs told and finished before Run returned", r.ctxDone.Load(), r.ends)
	}
}

// Reload picks up new, changed and deleted definitions.
func TestReload(t *testing.T) {
	st := newFakeStore("a")
	r := newFakeRunner(time.Millisecond)
	s, _ := start(t, st, r, Options{DefaultEvery: time.Hour})
	st.mu.Lock()
	st.syncs = []store.Sync{{Name: "b", Definition: defJSON("b", "x", "y"), State: store.SyncActive}}
	st.mu.Unlock()
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new sync to run", time.Second, func() bool { return r.count("b") == 1 })
	if _, ok := s.Status("a"); ok {
		t.Fatal("deleted sync still known")
	}
	if got := s.Statuses(); len(got) != 1 || got[0].Name != "b" || got[0].Def.Left.Connection != "x" {
		t.Fatalf("statuses %+v", got)
	}
}

// Definitions changed in the store are picked up without an explicit Load.
func TestPeriodicReload(t *testing.T) {
	st := newFakeStore("a")
	r := newFakeRunner(time.Millisecond)
	s, _ := start(t, st, r, Options{DefaultEvery: time.Hour, Reload: 20 * time.Millisecond})
	if err := st.SetSyncState(context.Background(), "a", store.SyncPaused); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pause to be seen", time.Second, func() bool { stat, _ := s.Status("a"); return stat.State == store.SyncPaused })
}

// lockedBuffer is a log's output, read while the scheduler writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A run that read a side completely logs why, beside its counts; one that
// did not logs no such field.
func TestRunFinishedLogSaysWhyReadInFull(t *testing.T) {
	for _, complete := range []string{"the filters changed since the last complete run", ""} {
		var out lockedBuffer
		log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})
		r := newFakeRunner(time.Millisecond)
		r.complete = complete
		_, cancel := startLogging(t, newFakeStore("a"), r, Options{DefaultEvery: time.Hour}, log)
		waitFor(t, "a finished run", 2*time.Second, func() bool { return strings.Contains(out.String(), "run finished") })
		cancel()
		got := out.String()
		if want := fmt.Sprintf("read_in_full=%q", complete); complete != "" && !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
		if complete == "" && strings.Contains(got, "read_in_full") {
			t.Errorf("log of a run that read nothing in full says read_in_full:\n%s", got)
		}
	}
}
