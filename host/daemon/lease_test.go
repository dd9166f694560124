package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
)

// Two daemons sharing a state (here one SQLite file) run a scheduled sync
// one at a time and once per interval between them, not once each.
func TestDaemonsSharingAStateRunASyncOnce(t *testing.T) {
	st, r := newFakeStore("a"), newFakeRunner(5*time.Millisecond)
	leases := sharedState(t)
	every := 100 * time.Millisecond
	// The second daemon starts half an interval later: its own schedule
	// would fall between the first's runs.
	for _, holder := range []string{"one", "two"} {
		start(t, st, r, Options{DefaultEvery: every, Jitter: 0.01, Leases: leases, Shared: true, Holder: holder})
		time.Sleep(every / 2)
	}
	time.Sleep(time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxSync != 1 {
		t.Fatalf("%d runs of the sync at once across two daemons, want 1", r.maxSync)
	}
	// A run takes 5ms and the next is due 100ms after: about 9 in a
	// second (fewer on a loaded machine); two daemons each on its own
	// schedule made 21.
	if n := len(r.starts["a"]); n < 3 || n > 12 {
		t.Fatalf("%d runs in 1s of a sync due every 100ms, shared by two daemons; want 3..12", n)
	}
}

// A run asked for while another daemon holds the sync's lease waits for
// it, then goes.
func TestRunAskedForWaitsForTheLease(t *testing.T) {
	ctx := context.Background()
	st, r := newFakeStore("a"), newFakeRunner(time.Millisecond)
	leases := sharedState(t)
	other, err := leases.AcquireLease(ctx, "a", "elsewhere", time.Hour, false, "")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := start(t, st, r, Options{DefaultEvery: -1, Leases: leases, Holder: "here"})
	if err := s.RunNow("a", engine.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := r.count("a"); n != 0 {
		t.Fatalf("%d runs while another daemon held the lease, want 0", n)
	}
	if err := leases.ReleaseLease(ctx, other, time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the asked-for run once the lease is free", 3*time.Second, func() bool { return r.count("a") == 1 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.opts["a"][0].Full {
		t.Fatalf("the run went without the options it was asked with: %+v", r.opts["a"][0])
	}
}

// Daemons sharing a state watch each side once between them: the one
// holding a side's watch lease. Another's status still reports the side
// watched; when the watching daemon stops, another takes the watch over
// and runs the sync once to catch up with changes nobody heard.
func TestDaemonsSharingAStateWatchEachSideOnce(t *testing.T) {
	st, r := newFakeStore("a"), newFakeRunner(time.Millisecond)
	leases := sharedState(t)
	opts := func(f *fakeWatch, holder string) Options {
		o := watchOptions(f)
		o.Leases, o.Shared, o.Holder, o.LeaseTTL = leases, true, holder, 300*time.Millisecond
		return o
	}
	f1, f2 := newFakeWatch(), newFakeWatch()
	_, stop1 := start(t, st, r, opts(f1, "one"))
	waitFor(t, "the first daemon watching both sides", time.Second, func() bool { return len(f1.watched()) == 2 })
	s2, _ := start(t, st, r, opts(f2, "two"))
	time.Sleep(500 * time.Millisecond) // past a lease's length: it is renewed, not left to run out
	if got := f2.watched(); len(got) != 0 || f2.callsOf("crm-a/contacts")+f2.callsOf("news-a/subscribers") != 0 {
		t.Fatalf("the second daemon watched %q as well (%d, %d calls), want nothing while the first watches",
			got, f2.callsOf("crm-a/contacts"), f2.callsOf("news-a/subscribers"))
	}
	if stat, _ := s2.Status("a"); strings.Join(stat.Watched, " ") != "left right" {
		t.Fatalf("the second daemon reports %q watched, want both sides (watched by the first)", stat.Watched)
	}
	before := runsSettle(r, "a")
	f1.notice(t, "news-a/subscribers")
	waitFor(t, "the noticed change run", time.Second, func() bool { return r.count("a") == before+1 })
	before = runsSettle(r, "a")

	stop1()
	waitFor(t, "the second daemon taking both watches over", 2*time.Second, func() bool { return len(f2.watched()) == 2 })
	if n := runsSettle(r, "a"); n != before+1 {
		t.Fatalf("%d runs after the watch changed hands, want %d (one to catch up)", n, before+1)
	}
	f2.notice(t, "crm-a/contacts")
	waitFor(t, "a change noticed by the new watcher run", time.Second, func() bool { return r.count("a") == before+2 })
}

// sharedState is a state (a SQLite file here) that daemons share, holding
// the leases of sync "a".
func sharedState(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.PutSync(ctx, store.Sync{Name: "a", Definition: defJSON("a", "crm-a", "news-a")}); err != nil {
		t.Fatal(err)
	}
	return st
}

// A change a watch notices runs the sync even where another daemon sharing
// the state made the scheduled run just before: the notice's run is not a
// scheduled one, which that daemon's release marked not due for an hour.
// Here the watching daemon's own first run is due sooner than the notice's
// would be, and takes the notice with it.
func TestNoticeRunsTheSyncThoughAnotherDaemonRanIt(t *testing.T) {
	st, r := newFakeStore("a"), newFakeRunner(time.Millisecond)
	leases := sharedState(t)
	start(t, st, r, Options{DefaultEvery: time.Hour, Leases: leases, Shared: true, Holder: "two"})
	waitFor(t, "the other daemon's first run", time.Second, func() bool { return r.count("a") == 1 })

	f := newFakeWatch()
	o := watchOptions(f)
	o.Leases, o.Shared, o.Holder = leases, true, "one"
	o.StartSpread, o.WatchDelay = 300*time.Millisecond, 400*time.Millisecond
	start(t, st, r, o)
	f.notice(t, "crm-a/contacts")
	waitFor(t, "a run for the change noticed", 2*time.Second, func() bool { return r.count("a") == 2 })
}

// A run for a change noticed while another process holds the sync's lease
// waits for it and goes then, as an asked-for run does: the other's run
// may have read before the change.
func TestNoticedRunWaitsForTheLease(t *testing.T) {
	ctx := context.Background()
	st, r, f := newFakeStore("a"), newFakeRunner(time.Millisecond), newFakeWatch()
	leases := sharedState(t)
	o := watchOptions(f)
	o.Leases, o.Shared, o.Holder = leases, true, "here"
	start(t, st, r, o)
	var other store.Lease
	waitFor(t, "the first run, then its lease taken elsewhere", 2*time.Second, func() bool {
		if r.count("a") != 1 {
			return false
		}
		var err error
		other, err = leases.AcquireLease(ctx, "a", "elsewhere", time.Hour, false, "")
		return err == nil // once the first run let it go
	})
	f.notice(t, "crm-a/contacts")
	time.Sleep(300 * time.Millisecond)
	if n := r.count("a"); n != 1 {
		t.Fatalf("%d runs while another process held the lease, want 1", n)
	}
	if err := leases.ReleaseLease(ctx, other, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the noticed run once the lease is free", 3*time.Second, func() bool { return r.count("a") == 2 })
}
