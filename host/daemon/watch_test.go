package daemon

import (
	"context"
	"errors"

	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// fakeWatch stands in for the connectors' watches: a test sends notices
// through the sinks of the watches the scheduler keeps open.
type fakeWatch struct {
	mu     sync.Mutex
	sinks  map[string]sdk.WatchSink // "connection/object" of each live watch
	lose   map[string]chan error    // ends that live watch with the error sent
	calls  map[string]int
	cannot map[string]bool               // connections whose connector does not watch
	refuse func(connection string) error // returned at once instead of watching
}

func newFakeWatch() *fakeWatch {
	return &fakeWatch{sinks: map[string]sdk.WatchSink{}, lose: map[string]chan error{}, calls: map[string]int{}, cannot: map[string]bool{}}
}

func (f *fakeWatch) watch(ctx context.Context, connection, object string, sink sdk.WatchSink) error {
	key := connection + "/" + object
	f.mu.Lock()
	f.calls[key]++
	if f.cannot[connection] {
		f.mu.Unlock()
		return ErrCannotWatch
	}
	if f.refuse != nil {
		if err := f.refuse(connection); err != nil {
			f.mu.Unlock()
			return err
		}
	}
	lost := make(chan error, 1)
	f.sinks[key], f.lose[key] = sink, lost
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.lose[key] == lost { // not yet replaced by a watch started afresh
			delete(f.sinks, key)
			delete(f.lose, key)
		}
		f.mu.Unlock()
	}()
	if err := sink.Ready(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-lost:
		return err
	}
}

func (f *fakeWatch) watched() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.sinks {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (f *fakeWatch) callsOf(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// notice sends a change of key's object once its watch listens.
func (f *fakeWatch) notice(t *testing.T, key string) {
	t.Helper()
	waitFor(t, "a watch of "+key, 2*time.Second, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sinks[key] != nil
	})
	f.mu.Lock()
	sink := f.sinks[key]
	f.mu.Unlock()
	if err := sink.Changed(strings.SplitN(key, "/", 2)[1]); err != nil {
		t.Fatal(err)
	}
}

func watchOptions(f *fakeWatch) Options {
	return Options{DefaultEvery: time.Hour, Watch: f.watch, WatchDelay: 20 * time.Millisecond,
		WatchBackoff: 30 * time.Millisecond, WatchRetry: 80 * time.Millisecond}
}

// runsSettle waits until r's count of name stays put for 300ms (twice the
// longest run here and a WatchDelay) and returns it.
func runsSettle(r *fakeRunner, name string) int {
	n := r.count(name)
	for {
		time.Sleep(300 * time.Millisecond)
		m := r.count(name)
		if m == n && !r.busy(name) {
			return m
		}
		n = m
	}
}

func (r *fakeRunner) busy(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[name] > 0
}

// A notice runs the sync within WatchDelay, long before its schedule; the
// status names the watched sides.
func TestNoticeRunsTheSyncSoon(t *testing.T) {
	st, r, f := newFakeStore("a"), newFakeRunner(5*time.Millisecond), newFakeWatch()
	s, _ := start(t, st, r, watchOptions(f))
	if n := runsSettle(r, "a"); n != 1 {
		t.Fatalf("%d runs at start, want 1", n)
	}
	if got := f.watched(); strings.Join(got, " ") != "crm-a/contacts news-a/subscribers" {
		t.Fatalf("watched %q, want both sides of the two-way sync", got)
	}
	f.notice(t, "news-a/subscribers")
	waitFor(t, "a run after the notice", time.Second, func() bool { return r.count("a") == 2 })
	if n := runsSettle(r, "a"); n != 2 {
		t.Fatalf("%d runs after one notice, want 2", n)
	}
	stat, _ := s.Status("a")
	if strings.Join(stat.Watched, " ") != "left right" || stat.LastNotice.IsZero() {
		t.Fatalf("status watched %q, last notice %v; want both sides and a time", stat.Watched, stat.LastNotice)
	}
	if !stat.NextRun.After(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("next run %v: a notice must not move the schedule's next run", stat.NextRun)
	}
}

// Notices during a run ask for one more run after it (the run may have
// read before the change); a burst of them shares that run.
func TestNoticesDuringARunRunItOnceMore(t *testing.T) {
	st, r, f := newFakeStore("a"), newFakeRunner(150*time.Millisecond), newFakeWatch()
	start(t, st, r, watchOptions(f))
	waitFor(t, "the first run", time.Second, func() bool { return r.busy("a") })
	for range 5 {
		f.notice(t, "crm-a/contacts")
	}
	if n := runsSettle(r, "a"); n != 2 {
		t.Fatalf("%d runs after five notices during the first, want 2", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxSync != 1 {
		t.Fatalf("%d runs of one sync at once, want 1", r.maxSync)
	}
}

// A one-way sync's target is not watched; a paused sync is not watched at
// all, and is watched again once resumed; a held sync ignores notices.
func TestWhatIsWatched(t *testing.T) {
	st, r, f := newFakeStore("a"), newFakeRunner(time.Millisecond), newFakeWatch()
	st.syncs[0].Definition = []byte(strings.Replace(string(st.syncs[0].Definition), `"match"`, `"direction":"left-to-right","match"`, 1))
	s, _ := start(t, st, r, watchOptions(f))
	waitFor(t, "the source side watched", time.Second, func() bool { return len(f.watched()) == 1 })
	runsSettle(r, "a")
	if got := f.watched(); got[0] != "crm-a/contacts" {
		t.Fatalf("watched %q, want only the one-way sync's source", got)
	}
	if err := s.SetState(context.Background(), "a", store.SyncPaused); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the paused sync's watch stopped", time.Second, func() bool { return len(f.watched()) == 0 })
	if err := s.SetState(context.Background(), "a", store.SyncActive); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumed sync watched again", time.Second, func() bool { return len(f.watched()) == 1 })
	n := runsSettle(r, "a")
	s.mu.Lock()
	s.syncs["a"].held, s.syncs["a"].heldWhy = "crm-a", "connection crm-a: auth"
	s.mu.Unlock()
	f.notice(t, "crm-a/contacts")
	if m := runsSettle(r, "a"); m != n {
		t.Fatalf("a held sync ran on a notice (%d runs, want %d)", m, n)
	}
}

// A connector that does not watch is asked once; one that refuses (no
// channel set, say) is asked again after WatchRetry, logged once; a watch
// lost is watched again after WatchBackoff, and the sync runs then to catch
// up with changes made while nobody listened.
func TestWatchesEndingAndStartingAgain(t *testing.T) {
	st, r, f := newFakeStore("a", "b", "c"), newFakeRunner(time.Millisecond), newFakeWatch()
	f.cannot["crm-a"], f.cannot["news-a"] = true, true
	var refused sync.Mutex
	refusing := true
	f.refuse = func(conn string) error {
		refused.Lock()
		defer refused.Unlock()
		if strings.HasSuffix(conn, "-b") && refusing {
			return sdk.Errorf(sdk.CategoryPermanent, "watch needs the watch_channel setting")
		}
		return nil
	}
	var logs lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	startLogging(t, st, r, watchOptions(f), log)
	runsSettle(r, "c")
	time.Sleep(300 * time.Millisecond) // several WatchRetry periods
	if n := f.callsOf("crm-a/contacts"); n != 1 {
		t.Fatalf("a connector that cannot watch was asked %d times, want 1", n)
	}
	if n := f.callsOf("crm-b/contacts"); n < 2 {
		t.Fatalf("a refused watch was tried %d times in 300ms, want again every 80ms", n)
	}
	if n := strings.Count(logs.String(), "not watching for changes"); n != 2 {
		t.Fatalf("%d log lines of refused watches (two sides, each refused alike), want 2:\n%s", n, logs.String())
	}
	refused.Lock()
	refusing = false
	refused.Unlock()
	waitFor(t, "the refused watch taken up", time.Second, func() bool { return slices.Contains(f.watched(), "crm-b/contacts") })

	before := runsSettle(r, "c")
	f.mu.Lock()
	f.lose["news-c/subscribers"] <- errors.New("connection reset")
	f.mu.Unlock()
	waitFor(t, "the lost watch taken up again", time.Second, func() bool {
		return f.callsOf("news-c/subscribers") == 2 && slices.Contains(f.watched(), "news-c/subscribers")
	})
	if n := runsSettle(r, "c"); n != before+1 {
		t.Fatalf("%d runs after a watch was lost and taken up again, want %d (one to catch up)", n, before+1)
	}
	if !strings.Contains(logs.String(), "watch for changes lost") {
		t.Fatalf("no warning of the lost watch:\n%s", logs.String())
	}
}

// A sync run only on demand is not watched: it runs when asked.
func TestOnDemandSyncIsNotWatched(t *testing.T) {
	st, r, f := newFakeStore("a"), newFakeRunner(time.Millisecond), newFakeWatch()
	o := watchOptions(f)
	o.DefaultEvery = -1
	s, _ := start(t, st, r, o)
	if err := s.RunNow("a", engine.Options{}); err != nil {
		t.Fatal(err)
	}
	runsSettle(r, "a")
	if got := f.watched(); len(got) != 0 || f.callsOf("crm-a/contacts") != 0 {
		t.Fatalf("watched %q of an on-demand sync, want nothing", got)
	}
}

// A connection changed since its watch started (watch_channel set, say) is
// watched afresh once definitions are loaded again; an unchanged one is not.
func TestChangedConnectionIsWatchedAfresh(t *testing.T) {
	st, r, f := newFakeStore("a"), newFakeRunner(time.Millisecond), newFakeWatch()
	s, _ := start(t, st, r, watchOptions(f))
	waitFor(t, "both sides watched", time.Second, func() bool { return len(f.watched()) == 2 })
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := f.callsOf("crm-a/contacts"); n != 1 {
		t.Fatalf("an unchanged connection was watched %d times after a reload, want 1", n)
	}
	st.mu.Lock()
	st.updated["crm-a"] = time.Now()
	st.mu.Unlock()
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed connection watched afresh", time.Second, func() bool {
		return f.callsOf("crm-a/contacts") == 2 && len(f.watched()) == 2
	})
	if n := f.callsOf("news-a/subscribers"); n != 1 {
		t.Fatalf("the unchanged side was watched %d times, want 1", n)
	}
}
