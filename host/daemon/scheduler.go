package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/pluginhost"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// Runner runs a sync once. Cancelling ctx asks the run to stop at the next
// batch boundary: what was written is committed first.
type Runner interface {
	Run(ctx context.Context, def syncdef.Definition, opts engine.Options) (engine.Report, error)
}

// Store is the state the scheduler reads; *store.Store satisfies it.
type Store interface {
	Syncs(ctx context.Context) ([]store.Sync, error)
	Connection(ctx context.Context, name string) (store.Connection, error)
	SetConnectionStatus(ctx context.Context, name, status string) error
	SetSyncState(ctx context.Context, name, state string) error
}

// heldStatuses are connection statuses that hold a connection's syncs until
// an admin fixes them (`datasync connection test` records "ok" again).
var heldStatuses = map[string]bool{sdk.CategoryAuth.String(): true, "account_changed": true}

// Options tune a Scheduler; zero values take the defaults.
type Options struct {
	DefaultEvery time.Duration // schedule of an active sync without one (default 15m; <0: on demand only)
	Jitter       float64       // up to this fraction of the interval is added to each wait (default 0.1)
	Concurrency  int           // runs across syncs at once (default 2)
	Tick         time.Duration // how often due syncs are looked for (default 1s)
	ConnPoll     time.Duration // how often held connections are looked at (default 5s)
	Reload       time.Duration // how often definitions are re-read from the store, besides Load (default 30s)
	StartSpread  time.Duration // active syncs first run within this at start, spread out (default 5s)
	CrashBackoff time.Duration // first wait before relaunching after a plugin crash (default 2s, doubling, capped at 5m)
	// Watch, when set, watches the source sides of active syncs whose
	// connectors can (sdk.CapabilityWatch): a change runs the sync
	// WatchDelay later (notices within it share the run).
	Watch        WatchFunc
	WatchDelay   time.Duration // default 1s
	WatchBackoff time.Duration // first wait before watching again after a watch was lost (default 5s, doubling, capped at 5m)
	WatchRetry   time.Duration // wait before trying again a watch the connector refused (default 10m)
	Now          func() time.Time
	// OnRun is told about every finished run (metrics).
	OnRun func(RunEvent)
	// OnNotice is told about every change a watch noticed (metrics).
	OnNotice func(sync, side string)
	// Leases, when set, makes each run take its sync's lease first: one
	// process (this daemon, another, `datasync sync run`) runs a sync at a
	// time, and one daemon watches each side (the side's watch lease, taken
	// over should that daemon stop). Shared (several daemons share the
	// state) also skips a scheduled run where another daemon made it
	// already.
	Leases   Leaser
	Shared   bool
	Holder   string        // this daemon's name in the leases (default Holder())
	LeaseTTL time.Duration // default 1m, renewed every third of it
}

func (o Options) withDefaults() Options {
	if o.DefaultEvery == 0 {
		o.DefaultEvery = 15 * time.Minute
	}
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.ConnPoll <= 0 {
		o.ConnPoll = 5 * time.Second
	}
	if o.Reload <= 0 {
		o.Reload = 30 * time.Second
	}
	if o.StartSpread <= 0 {
		o.StartSpread = 5 * time.Second
	}
	if o.CrashBackoff <= 0 {
		o.CrashBackoff = 2 * time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = time.Minute
	}
	if o.Holder == "" {
		o.Holder = Holder()
	}
	if o.WatchDelay <= 0 {
		o.WatchDelay = time.Second
	}
	if o.WatchBackoff <= 0 {
		o.WatchBackoff = 5 * time.Second
	}
	if o.WatchRetry <= 0 {
		o.WatchRetry = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// RunEvent is one finished run.
type RunEvent struct {
	Sync     string
	Report   engine.Report
	Err      error
	Duration time.Duration
	Crash    *pluginhost.CrashError // the plugin crash that broke the run, if any
	Stopped  bool                   // stopped by shutdown
}

// SyncStatus is what the daemon knows of one sync.
type SyncStatus struct {
	Name      string        `json:"name"`
	State     string        `json:"state"` // active, paused or draft (as stored)
	Every     time.Duration `json:"every"` // effective schedule; 0: on demand only
	Running   bool          `json:"running"`
	Queued    bool          `json:"queued"`         // a run was asked for while one runs
	Held      string        `json:"held,omitempty"` // why scheduled runs wait, e.g. "connection crm: auth"
	NextRun   time.Time     `json:"next_run,omitzero"`
	LastRun   time.Time     `json:"last_run,omitzero"`
	LastOK    time.Time     `json:"last_ok,omitzero"`
	LastError string        `json:"last_error,omitempty"`
	Crashes   int           `json:"crashes,omitempty"` // plugin crashes in a row
	// Watched lists the sides whose changes run the sync within seconds
	// (their connectors watch); LastNotice is when one last did.
	Watched    []string           `json:"watched,omitempty"`
	LastNotice time.Time          `json:"last_notice,omitzero"`
	Def        syncdef.Definition `json:"-"`
}

// ErrUnknownSync is returned for a sync the daemon does not know.
var ErrUnknownSync = errors.New("no such sync")

type entry struct {
	def     syncdef.Definition
	state   string
	next    time.Time
	running bool
	queued  *engine.Options // coalesced request made while running
	nextOpt engine.Options  // options of the next run
	asked   bool            // the next run was asked for (runs whatever the state)
	held    string          // connection whose status holds the sync
	heldWhy string
	crashes int
	lastRun time.Time
	lastOK  time.Time
	lastErr string
	removed bool
	// rerun: a watch noticed a change while the sync ran; noticed: the
	// next run is for a change a watch noticed.
	rerun, noticed bool
	lastNotice     time.Time
}

// Scheduler runs stored syncs on their schedules.
type Scheduler struct {
	st     Store
	runner Runner
	log    hclog.Logger
	o      Options

	mu      sync.Mutex
	syncs   map[string]*entry
	loaded  bool
	sem     chan struct{}
	wake    chan struct{}
	runs    sync.WaitGroup
	runCtx  context.Context
	lastPol time.Time

	watches  map[watchKey]*watcher
	rewatch  bool // definitions or states changed since the watches were reconciled
	watching sync.WaitGroup
}

// New returns a Scheduler over st running syncs with runner.
func New(st Store, runner Runner, log hclog.Logger, o Options) *Scheduler {
	o = o.withDefaults()
	return &Scheduler{st: st, runner: runner, log: log, o: o, syncs: map[string]*entry{},
		sem: make(chan struct{}, o.Concurrency), wake: make(chan struct{}, 1), watches: map[watchKey]*watcher{}}
}

// every is the effective schedule of def (0: on demand only).
func (s *Scheduler) every(def syncdef.Definition) time.Duration {
	if def.Every > 0 {
		return time.Duration(def.Every)
	}
	if s.o.DefaultEvery < 0 {
		return 0
	}
	return s.o.DefaultEvery
}

// jittered adds up to Jitter×d to d, so syncs started together spread out.
func (s *Scheduler) jittered(d time.Duration) time.Duration {
	return d + time.Duration(rand.Float64()*s.o.Jitter*float64(d))
}

// Load reads the sync definitions and states from the store: new syncs are
// scheduled (an active one soon, within its jitter), changed ones take
// their new definition, deleted ones are dropped after any run in flight.
func (s *Scheduler) Load(ctx context.Context) error {
	syncs, err := s.st.Syncs(ctx)
	if err != nil {
		return fmt.Errorf("load sync definitions: %w", err)
	}
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, sy := range syncs {
		def, err := syncdef.Parse(sy.Definition)
		if err != nil {
			s.log.Error("sync definition unusable: not scheduled", "sync", sy.Name, "error", err)
			continue
		}
		seen[sy.Name] = true
		e, ok := s.syncs[sy.Name]
		if !ok {
			e = &entry{}
			s.syncs[sy.Name] = e
			if ev := s.every(def); ev > 0 {
				spread := min(s.o.Jitter*float64(ev), float64(s.o.StartSpread))
				e.next = now.Add(time.Duration(rand.Float64() * spread))
			}
		} else if s.every(def) != s.every(e.def) {
			if ev := s.every(def); ev > 0 {
				e.next = now.Add(s.jittered(ev))
			} else {
				e.next = time.Time{}
			}
		}
		e.def, e.state, e.removed = def, sy.State, false
	}
	for name, e := range s.syncs {
		if !seen[name] {
			e.removed = true
			if !e.running {
				delete(s.syncs, name)
			}
		}
	}
	s.loaded, s.rewatch = true, true
	s.poke()
	return nil
}

// Loaded reports whether definitions were loaded at least once.
func (s *Scheduler) Loaded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run schedules runs until ctx is done, then asks runs in flight to stop at
// their next batch boundary and waits for them.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	t := time.NewTicker(s.o.Tick)
	defer t.Stop()
	// Definitions changed by the CLI (sync pause, sync update, ...) are
	// picked up without a SIGHUP, a little later.
	reload := time.NewTicker(s.o.Reload)
	defer reload.Stop()
	for {
		s.reconcileWatches(ctx)
		s.dispatch(ctx)
		select {
		case <-ctx.Done():
			s.stopWatches()
			s.runs.Wait()
			return nil
		case <-reload.C:
			if err := s.Load(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("periodic reload of sync definitions failed", "error", err)
			}
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Wait waits for the runs in flight.
func (s *Scheduler) Wait() { s.runs.Wait() }

// dispatch starts every due sync that is not running or held, and looks at
// held connections now and then.
func (s *Scheduler) dispatch(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	now := s.o.Now()
	s.mu.Lock()
	poll := now.Sub(s.lastPol) >= s.o.ConnPoll
	if poll {
		s.lastPol = now
	}
	var due []string
	for name, e := range s.syncs {
		if e.running || e.removed {
			continue
		}
		if e.held != "" {
			continue
		}
		if e.next.IsZero() || now.Before(e.next) {
			continue
		}
		if e.state != store.SyncActive && !e.forced() {
			e.next = time.Time{}
			continue
		}
		due = append(due, name)
	}
	s.mu.Unlock()
	if poll {
		s.pollHeld(ctx)
	}
	sort.Strings(due)
	for _, name := range due {
		s.start(ctx, name)
	}
}

// forced reports whether the next run was asked for (run now, retry), which
// runs whatever the sync's state.
func (e *entry) forced() bool { return e.asked }

// pollHeld resumes syncs whose connection status is fine again.
func (s *Scheduler) pollHeld(ctx context.Context) {
	s.mu.Lock()
	conns := map[string]bool{}
	for _, e := range s.syncs {
		if e.held != "" {
			conns[e.held] = true
		}
	}
	s.mu.Unlock()
	for c := range conns {
		cn, err := s.st.Connection(ctx, c)
		if err != nil || heldStatuses[cn.Status] {
			continue
		}
		s.log.Info("connection is fine again: resuming its syncs", "connection", c, "status", cn.Status)
		s.mu.Lock()
		for _, e := range s.syncs {
			if e.held == c {
				e.held, e.heldWhy = "", ""
				if s.every(e.def) > 0 || e.forced() {
					e.next = s.o.Now()
				}
			}
		}
		s.mu.Unlock()
		s.poke()
	}
}

// heldBy returns the first of def's connections whose stored status holds
// its syncs.
func (s *Scheduler) heldBy(ctx context.Context, def syncdef.Definition) (string, string) {
	for _, c := range []string{def.Left.Connection, def.Right.Connection} {
		cn, err := s.st.Connection(ctx, c)
		if err == nil && heldStatuses[cn.Status] {
			return c, cn.Status
		}
	}
	return "", ""
}

// start runs name in its own goroutine, once a slot is free.
func (s *Scheduler) start(ctx context.Context, name string) {
	s.mu.Lock()
	e := s.syncs[name]
	if e == nil || e.running {
		s.mu.Unlock()
		return
	}
	def, opts := e.def, e.nextOpt
	asked, noticed := e.asked, e.noticed
	scheduled := !asked && !noticed
	// The run reads after every notice so far.
	e.running, e.nextOpt, e.asked, e.rerun, e.noticed = true, engine.Options{}, false, false, false
	s.mu.Unlock()
	log := s.log.With("sync", def.Name, "left", def.Left.Connection, "right", def.Right.Connection)
	if c, status := s.heldBy(ctx, def); c != "" {
		s.hold(name, c, status, log)
		s.finish(name, e, nil)
		return
	}
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			s.finish(name, e, nil)
			return
		}
		defer func() { <-s.sem }()
		rctx, release, ok := s.takeLease(ctx, name, e, opts, asked, noticed, scheduled, log)
		if !ok {
			return
		}
		ev := s.runOnce(rctx, def, opts, log)
		s.finish(name, e, &ev)
		release()
		if s.o.OnRun != nil {
			s.o.OnRun(ev)
		}
		s.poke()
	}()
}

func (s *Scheduler) hold(name, conn, status string, log hclog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.syncs[name]
	if e == nil || e.held == conn {
		return
	}
	e.held, e.heldWhy = conn, fmt.Sprintf("connection %s: %s", conn, status)
	log.Error("sync held until the connection is fixed (run `datasync connection test`)", "connection", conn, "status", status)
}

func (s *Scheduler) runOnce(ctx context.Context, def syncdef.Definition, opts engine.Options, log hclog.Logger) RunEvent {
	log.Info("run started", "full", opts.Full, "retry_all", opts.RetryAll)
	start := time.Now()
	rep, err := s.runner.Run(ctx, def, opts)
	ev := RunEvent{Sync: def.Name, Report: rep, Err: err, Duration: time.Since(start)}
	if err == nil {
		kv := []any{"left_counts", countsText(rep.Left), "right_counts", countsText(rep.Right),
			"failing", failing(rep), "duration", ev.Duration.Round(time.Millisecond)}
		if rep.Complete != "" {
			kv = append(kv, "read_in_full", rep.Complete) // why the run took longer
		}
		log.Info("run finished", kv...)
		return ev
	}
	ev.Stopped = errors.Is(err, ErrStopped)
	var crash *pluginhost.CrashError
	if errors.As(err, &crash) {
		ev.Crash = crash
	}
	var re *engine.RunError
	switch {
	case ev.Stopped:
		log.Warn("run stopped for shutdown after its last committed batch", "error", err)
	case errors.As(err, &re) && re.Connection != "":
		log.Error("run failed", "connection", re.Connection, "category", re.Category.String(), "error", err)
		if re.Category == sdk.CategoryAuth {
			// A refusal while writing may not have been recorded yet: one
			// status row, not an error per record.
			cn, cerr := s.st.Connection(context.WithoutCancel(ctx), re.Connection)
			if cerr == nil && !heldStatuses[cn.Status] {
				_ = s.st.SetConnectionStatus(context.WithoutCancel(ctx), re.Connection, sdk.CategoryAuth.String())
			}
		}
	default:
		log.Error("run failed", "error", err)
	}
	return ev
}

// finish records the outcome of a run (nil: none happened) and schedules
// the next one: every interval after the end, so a slow run never piles up
// ticks behind it; a queued request runs at once.
func (s *Scheduler) finish(name string, e *entry, ev *RunEvent) {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended(name, e) {
		return
	}
	ev2 := s.every(e.def)
	if ev != nil {
		e.lastRun = now
		switch {
		case ev.Err == nil:
			e.lastOK, e.lastErr, e.crashes = now, "", 0
		default:
			e.lastErr = ev.Err.Error()
		}
		if ev.Crash != nil {
			e.crashes++
		}
	}
	switch {
	case e.queued != nil:
		e.nextOpt, e.asked, e.queued, e.next = *e.queued, true, nil, now
	case e.rerun && e.state == store.SyncActive && (ev == nil || ev.Crash == nil):
		e.next, e.noticed = now.Add(s.o.WatchDelay), true
	case ev != nil && ev.Crash != nil && !ev.Stopped:
		// Relaunch the crashed plugin with backoff, sooner than the schedule.
		wait := min(s.o.CrashBackoff<<min(e.crashes-1, 16), 5*time.Minute)
		if ev2 > 0 {
			wait = min(wait, ev2)
		}
		e.next = now.Add(wait)
	case ev2 > 0:
		e.next = now.Add(s.jittered(ev2))
	default:
		e.next = time.Time{}
	}
	if ev != nil && ev.Err != nil && !ev.Stopped {
		var re *engine.RunError
		if errors.As(ev.Err, &re) && re.Connection != "" {
			if cn, err := s.st.Connection(context.Background(), re.Connection); err == nil && heldStatuses[cn.Status] {
				e.held, e.heldWhy = re.Connection, fmt.Sprintf("connection %s: %s", re.Connection, cn.Status)
			}
		}
	}
}

// ended marks e's run over (s.mu held) and forgets a sync removed
// meanwhile, reporting whether it did.
func (s *Scheduler) ended(name string, e *entry) bool {
	e.running = false
	if e.removed {
		delete(s.syncs, name)
		return true
	}
	return false
}

// RunNow asks for a run of name as soon as a slot is free, whatever its
// state or schedule; asked while it runs, one more run follows (requests
// coalesce). A held sync runs too: that is how an admin tries again.
func (s *Scheduler) RunNow(name string, opts engine.Options) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.syncs[name]
	if e == nil || e.removed {
		return fmt.Errorf("sync %s: %w", name, ErrUnknownSync)
	}
	if e.running {
		if e.queued != nil {
			opts = merge(opts, *e.queued)
		}
		e.queued = &opts
		return nil
	}
	if e.asked {
		opts = merge(opts, e.nextOpt)
	}
	e.nextOpt, e.asked, e.next, e.held, e.heldWhy = opts, true, s.o.Now(), "", ""
	s.poke()
	return nil
}

func merge(a, b engine.Options) engine.Options {
	a.Full = a.Full || b.Full
	a.RetryAll = a.RetryAll || b.RetryAll
	a.Force = a.Force || b.Force
	return a
}

// SetState pauses (store.SyncPaused) or resumes (store.SyncActive) name's
// schedule, in the store and here; a run in flight finishes.
func (s *Scheduler) SetState(ctx context.Context, name, state string) error {
	s.mu.Lock()
	e := s.syncs[name]
	s.mu.Unlock()
	if e == nil {
		return fmt.Errorf("sync %s: %w", name, ErrUnknownSync)
	}
	if err := s.st.SetSyncState(ctx, name, state); err != nil {
		return err
	}
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e.state, s.rewatch = state, true
	if state == store.SyncActive && !e.running {
		if ev := s.every(e.def); ev > 0 && (e.next.IsZero() || e.next.After(now.Add(ev))) {
			e.next = now
		}
	}
	s.poke()
	return nil
}

// Status returns what the daemon knows of name.
func (s *Scheduler) Status(name string) (SyncStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.syncs[name]
	if e == nil || e.removed {
		return SyncStatus{}, false
	}
	return s.status(name, e), true
}

// Statuses returns every sync's status, by name.
func (s *Scheduler) Statuses() []SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SyncStatus, 0, len(s.syncs))
	for name, e := range s.syncs {
		if !e.removed {
			out = append(out, s.status(name, e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Scheduler) status(name string, e *entry) SyncStatus {
	st := SyncStatus{Name: name, State: e.state, Every: s.every(e.def), Running: e.running, Queued: e.queued != nil,
		Held: e.heldWhy, LastRun: e.lastRun, LastOK: e.lastOK, LastError: e.lastErr, Crashes: e.crashes, Def: e.def,
		Watched: s.watchedSides(name), LastNotice: e.lastNotice}
	if !e.running && e.held == "" && (e.state == store.SyncActive || e.asked) {
		st.NextRun = e.next
	}
	return st
}

func countsText(c engine.Counts) string {
	return fmt.Sprintf("read %d, created %d, updated %d, deleted %d, failed %d", c.Read, c.Created, c.Updated, c.Deleted, c.Failed)
}

func failing(r engine.Report) int {
	n := 0
	for _, g := range r.Errors {
		n += g.Count
	}
	return n
}
