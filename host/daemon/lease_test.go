package daemon

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/store"
)

// Two daemons sharing a state (here one SQLite file) run a scheduled sync
// one at a time and once per interval between them, not once each.
func TestDaemonsSharingAStateRunASyncOnce(t *testing.T) {
	st, r := newFakeStore("a"), newFakeRunner(5*time.Millisecond)
	leases, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer leases.Close()
	if err := leases.PutSync(context.Background(), store.Sync{Name: "a", Definition: defJSON("a", "crm-a", "news-a")}); err != nil {
		t.Fatal(err)
	}
	every := 100 * time.Millisecond
	// The second daemon starts half an interval later: its own schedule
	// would fall between the first's runs.
	for _, holder := range []string{"one", "two"} {
		start(t, st, r, Options{DefaultEvery: every, Jitter: 0.01, Leases: leases, Holder: holder})
		time.Sleep(every / 2)
	}
	time.Sleep(time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxSync != 1 {
		t.Fatalf("%d runs of the sync at once across two daemons, want 1", r.maxSync)
	}
	// A run takes 5ms and the next is due 100ms after: about 9 in a
	// second; two daemons each on its own schedule would make about 18.
	if n := len(r.starts["a"]); n < 6 || n > 12 {
		t.Fatalf("%d runs in 1s of a sync due every 100ms, shared by two daemons; want 6..12", n)
	}
}
