package daemon

import (
	"context"
	"errors"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// WatchFunc watches object on a connection: it calls sink.Ready once the
// connector listens and sink.Changed for each change it notices, until ctx
// is done (then it returns nil). It returns ErrCannotWatch, without
// launching anything, when the connection's connector does not watch.
type WatchFunc func(ctx context.Context, connection, object string, sink sdk.WatchSink) error

// ErrCannotWatch says a connection's connector has no watch capability: the
// side keeps to its schedule, and is not tried again until its definition
// changes.
var ErrCannotWatch = errors.New("the connector does not watch for changes")

// watchKey names one watched side of a sync.
type watchKey struct{ sync, side string }

// watchOn is what a watch watches: a side, on its connection as it was
// when last changed.
type watchOn struct {
	side    syncdef.Side
	changed string
}

// watcher is one side's watch, running until cancelled.
type watcher struct {
	on        watchOn
	cancel    context.CancelFunc
	listening atomic.Bool
	elsewhere atomic.Pointer[string] // the daemon holding the side's watch lease, when another (else nil)
}

// watchedElsewhere reports whether another daemon holds the side's watch.
func (w *watcher) watchedElsewhere() bool {
	return w.elsewhere.Load() != nil
}

// sourceSides returns the sides of def whose changes flow somewhere: a
// one-way sync's target is not watched.
func sourceSides(def syncdef.Definition) map[string]syncdef.Side {
	dirs := []mapping.Direction{def.WithDefaults().Direction}
	for _, m := range def.Mappings {
		if m.Direction != "" {
			dirs = append(dirs, m.Direction)
		}
	}
	out := map[string]syncdef.Side{}
	for _, d := range dirs {
		if d != mapping.DirRightToLeft {
			out[syncdef.Left] = def.Left
		}
		if d != mapping.DirLeftToRight {
			out[syncdef.Right] = def.Right
		}
	}
	return out
}

// reconcileWatches starts a watch for each source side of every active,
// scheduled sync and stops those no longer wanted (sync paused, removed,
// made on-demand, or now reading another connection or object). A watch
// whose connection changed since it started (watch_channel set, say) is
// started afresh. Called from Run after definitions are loaded.
func (s *Scheduler) reconcileWatches(ctx context.Context) {
	if s.o.Watch == nil {
		return
	}
	s.mu.Lock()
	if !s.rewatch {
		s.mu.Unlock()
		return
	}
	s.rewatch = false
	want := map[watchKey]watchOn{}
	for name, e := range s.syncs {
		// A watch brings a scheduled run forward; a sync run only on
		// demand stays so.
		if e.removed || e.state != store.SyncActive || s.every(e.def) == 0 {
			continue
		}
		for side, on := range sourceSides(e.def) {
			want[watchKey{name, side}] = watchOn{side: on}
		}
	}
	s.mu.Unlock()
	changed := map[string]string{}
	for k, on := range want {
		c, ok := changed[on.side.Connection]
		if !ok {
			if cn, err := s.st.Connection(ctx, on.side.Connection); err == nil {
				c = cn.Updated.UTC().Format(time.RFC3339Nano)
			}
			changed[on.side.Connection] = c
		}
		on.changed = c
		want[k] = on
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range s.watches {
		if on, ok := want[k]; !ok || on != w.on {
			w.cancel()
			delete(s.watches, k)
		}
	}
	keys := make([]watchKey, 0, len(want))
	for k := range want {
		if _, ok := s.watches[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].sync+keys[i].side < keys[j].sync+keys[j].side })
	for _, k := range keys {
		wctx, cancel := context.WithCancel(ctx)
		w := &watcher{on: want[k], cancel: cancel}
		s.watches[k] = w
		s.watching.Add(1)
		go s.watch(wctx, k, w)
	}
}

// watch keeps one side watched: a watch that ends is started again after
// a wait (doubling from WatchBackoff to 5m, back to the start once one
// listened), one the connector refuses after WatchRetry.
func (s *Scheduler) watch(ctx context.Context, k watchKey, w *watcher) {
	defer s.watching.Done()
	log := s.log.With("sync", k.sync, "side", k.side, "connection", w.on.side.Connection, "object", w.on.side.Object)
	wait, lastRefusal, lost := s.o.WatchBackoff, "", false
	for {
		wctx, release, mine := s.takeWatchLease(ctx, k, w, log)
		if !mine {
			// Another daemon watches the side. Should it stop, changes
			// made until this one takes over go unnoticed: catch up then.
			lost = true
			if !sleep(ctx, s.o.LeaseTTL/3) {
				return
			}
			continue
		}
		sink := &noticeSink{s: s, sync: k.sync, side: k.side, w: w, log: log, catchUp: lost}
		err := s.o.Watch(wctx, w.on.side.Connection, w.on.side.Object, sink)
		w.listening.Store(false)
		release()
		if ctx.Err() != nil {
			return
		}
		if wctx.Err() != nil { // the lease was taken over: that daemon watches now
			lost = true
			continue
		}
		if sink.ready {
			wait = s.o.WatchBackoff
		}
		var pause time.Duration
		var se *sdk.Error
		switch {
		case errors.Is(err, ErrCannotWatch):
			log.Debug("not watched: the connector does not watch for changes")
			return
		case errors.As(err, &se) && se.Category == sdk.CategoryPermanent:
			if msg := err.Error(); msg != lastRefusal {
				log.Info("not watching for changes; runs keep to the schedule", "error", err, "retry_in", s.o.WatchRetry)
				lastRefusal = msg
			}
			pause = s.o.WatchRetry
		default:
			if err == nil {
				err = errors.New("the watch ended")
			}
			log.Warn("watch for changes lost; watching again", "error", err, "retry_in", wait)
			pause, wait = wait, min(wait*2, 5*time.Minute)
			lost = true
		}
		if !sleep(ctx, pause) {
			return
		}
	}
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// takeWatchLease makes this daemon the one that watches k: when several
// share the state, one watch process per side for all of them, not one
// each; and `sync status` can say who watches. It returns the watch's
// context (cancelled should the lease be lost) and what releases the
// lease; mine is false when another daemon holds it.
func (s *Scheduler) takeWatchLease(ctx context.Context, k watchKey, w *watcher, log hclog.Logger) (wctx context.Context, release func(), mine bool) {
	if s.o.Leases == nil {
		return ctx, func() {}, true
	}
	l, err := AcquireLease(ctx, s.o.Leases, store.WatchLease(k.sync, k.side), s.o.Holder, s.o.LeaseTTL, false)
	var held *store.LeaseHeldError
	switch {
	case errors.As(err, &held):
		if prev := w.elsewhere.Swap(&held.Holder); prev == nil || *prev != held.Holder {
			log.Debug("watched by another daemon", "holder", held.Holder)
		}
		return nil, nil, false
	case err != nil:
		// Watching without the lease costs a second watch, not a change missed.
		log.Warn("could not take the watch's lease; watching anyway", "error", err)
		w.elsewhere.Store(nil)
		return ctx, func() {}, true
	}
	w.elsewhere.Store(nil)
	wctx, cancel := context.WithCancel(ctx)
	stop := s.o.Leases.KeepLease(ctx, l, s.o.LeaseTTL, func(err error) {
		log.Info("the watch's lease was lost; another daemon watches now", "error", err)
		cancel()
	})
	return wctx, func() {
		stop()
		cancel()
		if err := s.o.Leases.ReleaseLease(context.WithoutCancel(ctx), l, time.Time{}); err != nil {
			log.Warn("could not release the watch's lease; it expires by itself", "error", err, "ttl", s.o.LeaseTTL)
		}
	}, true
}

// noticeSink turns a watch's notices into runs of its sync.
type noticeSink struct {
	s       *Scheduler
	sync    string
	side    string
	w       *watcher
	log     hclog.Logger
	catchUp bool // the watch was lost: changes made meanwhile went unnoticed
	ready   bool
}

func (n *noticeSink) Ready() error {
	n.ready = true
	n.w.listening.Store(true)
	n.log.Debug("watching for changes")
	if n.catchUp {
		n.s.noticed(n.sync)
	}
	return nil
}

func (n *noticeSink) Changed(string) error {
	if n.s.o.OnNotice != nil {
		n.s.o.OnNotice(n.sync, n.side)
	}
	n.s.noticed(n.sync)
	return nil
}

// noticed runs name WatchDelay from now (notices within it share the run),
// or once more after the run in flight, which may have read before the
// change. Paused and held syncs wait.
func (s *Scheduler) noticed(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.syncs[name]
	if e == nil || e.removed || e.state != store.SyncActive || e.held != "" {
		return
	}
	e.lastNotice = s.o.Now()
	if e.running {
		e.rerun = true
		return
	}
	// The next run, however soon, is the notice's: with a shared state, a
	// scheduled run is skipped where another daemon made it (not due), and
	// would take the notice with it.
	e.noticed = true
	if at := s.o.Now().Add(s.o.WatchDelay); e.next.IsZero() || at.Before(e.next) {
		e.next = at
		time.AfterFunc(s.o.WatchDelay, s.poke) // not a Tick later
	}
}

// stopWatches cancels every watch and waits for them to end.
func (s *Scheduler) stopWatches() {
	s.mu.Lock()
	for k, w := range s.watches {
		w.cancel()
		delete(s.watches, k)
	}
	s.mu.Unlock()
	s.watching.Wait()
}

// watchedSides lists name's sides being watched now, here or by the daemon
// holding the side's watch lease.
func (s *Scheduler) watchedSides(name string) []string {
	var out []string
	for _, side := range []string{syncdef.Left, syncdef.Right} {
		if w := s.watches[watchKey{name, side}]; w != nil && (w.listening.Load() || w.watchedElsewhere()) {
			out = append(out, side)
		}
	}
	return out
}
