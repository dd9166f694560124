package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
)

// open opens a fresh store and returns it with what it was opened from:
// a SQLite file, or under TestOnPostgres a PostgreSQL database of its own.
func open(t *testing.T) (*Store, string) {
	t.Helper()
	if strings.HasPrefix(t.Name(), "TestOnPostgres/") {
		url := testsvc.CreateDatabase(t, testsvc.Postgres(t))
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, url
	}
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func withSync(t *testing.T, s *Store, name string) {
	t.Helper()
	if err := s.PutSync(context.Background(), Sync{Name: name, Definition: []byte(`{"name":"` + name + `"}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	withSync(t, s, "a")
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != 6 {
		t.Fatalf("schema version %d, %v; want 6", v, err)
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	var n int
	if err := s2.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != 6 {
		t.Fatalf("schema_migrations has %d rows (%v), want 6", n, err)
	}
	if _, err := s2.Sync(ctx, "a"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	if s2.pg {
		return
	}
	var mode string
	if err := s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q (%v), want wal", mode, err)
	}
}

func TestConnectionRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	c := Connection{Name: "crm", Plugin: "sqlite", PluginVersion: "1.0.0", Settings: map[string]string{"path": "/x.db"},
		Secrets: []byte{0, 1, 2, 0xff}, AccountFingerprint: "fp", AccountLabel: "acme"}
	if err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Connection(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if got.Plugin != "sqlite" || got.Settings["path"] != "/x.db" || !reflect.DeepEqual(got.Secrets, c.Secrets) ||
		got.AccountFingerprint != "fp" || got.Status != "ok" || got.Created.IsZero() {
		t.Fatalf("round trip: %+v", got)
	}
	if err := s.SetConnectionStatus(ctx, "crm", "auth"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Connection(ctx, "crm"); got.Status != "auth" {
		t.Fatalf("status %q", got.Status)
	}
	if _, err := s.Connection(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing connection: %v", err)
	}
	if err := s.DeleteConnection(ctx, "crm"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.Connections(ctx); len(list) != 0 {
		t.Fatalf("deleted connection still listed: %+v", list)
	}
}

func TestSyncStateConstraint(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	if err := s.SetSyncState(ctx, "a", SyncActive); err != nil {
		t.Fatal(err)
	}
	if sy, _ := s.Sync(ctx, "a"); sy.State != SyncActive || string(sy.Definition) != `{"name":"a"}` {
		t.Fatalf("sync: %+v", sy)
	}
	if err := s.SetSyncState(ctx, "a", "running-wild"); err == nil {
		t.Fatal("invalid state accepted")
	}
	if err := s.SetSyncState(ctx, "zzz", SyncPaused); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sync: %v", err)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	when := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	base := Base{
		{"email=mail", BasePair{Left: sdk.String("a@x.io"), Right: sdk.String("A@x.io")}},
		{"n=num", BasePair{Left: sdk.Int(7), Right: sdk.Value{Kind: sdk.KindDecimal, Str: "7.5"}}},
		{"t=tags", BasePair{Left: sdk.StringList("x", "y"), Right: sdk.StringList()}},
		{"at=when", BasePair{Left: sdk.DateTime(when), Right: sdk.Null}},
		{"ok=flag", BasePair{Left: sdk.Bool(true), Right: sdk.Bool(false)}},
		{"born=birth", BasePair{Left: sdk.Value{Kind: sdk.KindDate, Str: "2000-01-31"}, Right: sdk.String("")}},
	}
	b := &Batch{Sync: "a",
		PutLinks:     []Link{{LeftID: "l1", RightID: "r1", LeftVersion: "1", RightVersion: "9", Base: base, State: LinkExcluded, ExcludedBy: "right"}},
		PutPending:   []Pending{{Side: "left", RecordID: "l2", Version: "3", ModifiedAt: when, Values: map[string]sdk.Value{"email": sdk.String("bad")}}},
		AddJournal:   []JournalEntry{{ID: "c1", Side: "right", SourceID: "l3", Payload: []byte(`{"x":1}`)}},
		PutErrors:    []RecordError{{Side: "left", RecordID: "l2", Category: "validation", Field: "email", Value: "bad", Message: "m", Hint: "h", NextRetry: when}},
		PutConflicts: []Conflict{{LeftID: "l1", RightID: "r1", Field: "n=num", Left: sdk.Int(1), Right: sdk.Int(2)}},
		QueueDeletes: []QueuedDelete{{Side: "right", RecordID: "r1", OtherID: "l1"}},
		History:      []HistoryEntry{{RunID: "run1", Side: "right", RecordID: "r1", Op: OpUpdate, Direction: "left-to-right", Changes: []FieldChange{{Field: "mail", Old: Value{sdk.Null}, New: Value{sdk.String("a@x.io")}}}, At: when}},
		Cursors:      []Cursor{{Side: "left", Cursor: "42", Fingerprint: "fp"}},
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	links, err := s.Links(ctx, "a")
	if err != nil || len(links) != 1 {
		t.Fatalf("links %+v %v", links, err)
	}
	l := links[0]
	if l.LeftID != "l1" || l.RightID != "r1" || l.LeftVersion != "1" || l.RightVersion != "9" || l.State != LinkExcluded || l.ExcludedBy != "right" {
		t.Fatalf("link: %+v", l)
	}
	if !l.Base.Equal(base) {
		t.Errorf("base: got %#v want %#v", l.Base, base)
	}
	if p, _ := s.Pending(ctx, "a"); len(p) != 1 || p[0].Values["email"].Str != "bad" || !p[0].ModifiedAt.Equal(when) {
		t.Fatalf("pending %+v", p)
	}
	if j, _ := s.Journal(ctx, "a"); len(j) != 1 || j[0].SourceID != "l3" || string(j[0].Payload) != `{"x":1}` {
		t.Fatalf("journal %+v", j)
	}
	if e, _ := s.Errors(ctx, "a", "validation"); len(e) != 1 || e[0].Attempts != 1 || e[0].Hint != "h" || !e[0].NextRetry.Equal(when) {
		t.Fatalf("errors %+v", e)
	}
	if c, _ := s.Conflicts(ctx, "a"); len(c) != 1 || c[0].Left.Int != 1 || c[0].Right.Int != 2 || c[0].ID == "" {
		t.Fatalf("conflicts %+v", c)
	}
	if q, _ := s.QueuedDeletes(ctx, "a"); len(q) != 1 || q[0].RecordID != "r1" {
		t.Fatalf("queued %+v", q)
	}
	if h, _ := s.History(ctx, HistoryQuery{Sync: "a", Op: OpUpdate}); len(h) != 1 || h[0].Changes[0].New.Str != "a@x.io" || !h[0].At.Equal(when) {
		t.Fatalf("history %+v", h)
	}
	if h, _ := s.History(ctx, HistoryQuery{Sync: "a", Op: OpCreate}); len(h) != 0 {
		t.Fatalf("history filter by op: %+v", h)
	}
	if c, _ := s.Cursors(ctx, "a"); c["left"].Cursor != "42" || c["left"].Fingerprint != "fp" {
		t.Fatalf("cursors %+v", c)
	}

	// Same error again: updated in place, attempts counted; a second conflict
	// on the same field replaces the first.
	b2 := &Batch{Sync: "a",
		PutErrors:    []RecordError{{Side: "left", RecordID: "l2", Category: "validation", Field: "email", Value: "worse", Message: "m2", Attempts: 7}},
		PutConflicts: []Conflict{{LeftID: "l1", RightID: "r1", Field: "n=num", Left: sdk.Int(3), Right: sdk.Int(4)}},
		SettleJourn:  []string{"c1"},
		DropPending:  []RecordKey{{"left", "l2"}},
	}
	if err := s.Commit(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Errors(ctx, "a", ""); len(e) != 1 || e[0].Attempts != 2 || e[0].Value != "worse" {
		t.Fatalf("error not updated in place: %+v", e)
	}
	if c, _ := s.Conflicts(ctx, "a"); len(c) != 1 || c[0].Left.Int != 3 {
		t.Fatalf("conflict not replaced: %+v", c)
	}
	if j, _ := s.Journal(ctx, "a"); len(j) != 0 {
		t.Fatalf("settled journal entry remains: %+v", j)
	}
	if p, _ := s.Pending(ctx, "a"); len(p) != 0 {
		t.Fatalf("dropped pending remains: %+v", p)
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", ClearErrors: []RecordKey{{"left", "l2"}}}); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Errors(ctx, "a", ""); len(e) != 0 {
		t.Fatalf("cleared errors remain: %+v", e)
	}
}

func TestLinksOneToOne(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	withSync(t, s, "b")
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{{LeftID: "l1", RightID: "r1"}}}); err != nil {
		t.Fatal(err)
	}
	// A second left id on the same right id breaks one-to-one: the whole
	// batch is refused, including its other parts.
	err := s.Commit(ctx, &Batch{Sync: "a",
		PutLinks: []Link{{LeftID: "l2", RightID: "r1"}},
		Cursors:  []Cursor{{Side: "left", Cursor: "x"}}})
	if err == nil {
		t.Fatal("two left records linked to one right record")
	}
	if c, _ := s.Cursors(ctx, "a"); len(c) != 0 {
		t.Fatalf("failed batch half applied: cursors %+v", c)
	}
	// Another sync may link the same ids.
	if err := s.Commit(ctx, &Batch{Sync: "b", PutLinks: []Link{{LeftID: "l1", RightID: "r1"}}}); err != nil {
		t.Fatal(err)
	}
	// Relinking l1 to r2 and l3 to r1 in one batch works: deletes go first.
	if err := s.Commit(ctx, &Batch{Sync: "a", DeleteLinks: []string{"l1"},
		PutLinks: []Link{{LeftID: "l1", RightID: "r2"}, {LeftID: "l3", RightID: "r1"}}}); err != nil {
		t.Fatal(err)
	}
	links, _ := s.Links(ctx, "a")
	if len(links) != 2 || links[0].RightID != "r2" || links[1].RightID != "r1" {
		t.Fatalf("links %+v", links)
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{{LeftID: "l9", RightID: "r9", State: "confused"}}}); err == nil {
		t.Fatal("invalid link state accepted")
	}
	// State of unknown syncs is refused (foreign key).
	if err := s.Commit(ctx, &Batch{Sync: "nope", PutLinks: []Link{{LeftID: "x", RightID: "y"}}}); err == nil {
		t.Fatal("link for an unknown sync accepted")
	}
	counts, _ := s.LinkCounts(ctx, "a")
	if counts[LinkSyncing] != 2 {
		t.Fatalf("link counts %+v", counts)
	}
}

// TestAddLinks stores new links several to a statement (linksPerInsert);
// every field must arrive whatever the batch's size, and a duplicate id
// anywhere refuses the whole batch, naming the link.
func TestAddLinks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		n    int
		dup  int // index of a link that repeats link 0's right id; -1 for none
	}{
		{"fewer than a statement", linksPerInsert - 1, -1},
		{"whole statements and a rest", 2*linksPerInsert + 5, -1},
		{"whole statements exactly", 2 * linksPerInsert, -1},
		{"duplicate in a whole statement", 2*linksPerInsert + 5, linksPerInsert + 3},
		{"duplicate in the rest", 2*linksPerInsert + 5, 2*linksPerInsert + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := open(t)
			withSync(t, s, "a")
			var want []Link
			for i := range tc.n {
				v := sdk.String(fmt.Sprint("value ", i))
				l := Link{LeftID: fmt.Sprintf("l%03d", i), RightID: fmt.Sprintf("r%03d", i), LeftVersion: fmt.Sprint("lv", i),
					RightVersion: fmt.Sprint("rv", i), Base: Base{{Key: "f=f", BasePair: BasePair{Left: v, Right: v}}}}
				if i%3 == 1 {
					l.State, l.ExcludedBy = LinkExcluded, "left"
				}
				if i == tc.dup {
					l.RightID = "r000"
				}
				want = append(want, l)
			}
			err := s.Commit(ctx, &Batch{Sync: "a", AddLinks: want, Cursors: []Cursor{{Side: "left", Cursor: "c"}}})
			got, lerr := s.Links(ctx, "a")
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.dup >= 0 {
				if err == nil || !strings.Contains(err.Error(), want[tc.dup].LeftID+"↔r000") {
					t.Fatalf("error %v, want one naming link %s↔r000", err, want[tc.dup].LeftID)
				}
				if c, _ := s.Cursors(ctx, "a"); len(got) != 0 || len(c) != 0 {
					t.Fatalf("a refused batch left %d links and cursors %+v", len(got), c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d links stored, want %d", len(got), len(want))
			}
			for i, g := range got {
				w := want[i]
				if w.State == "" {
					w.State = LinkSyncing
				}
				if g.LeftID != w.LeftID || g.RightID != w.RightID || g.LeftVersion != w.LeftVersion || g.RightVersion != w.RightVersion ||
					g.State != w.State || g.ExcludedBy != w.ExcludedBy || !reflect.DeepEqual(g.Base, w.Base) || g.Created.IsZero() {
					t.Fatalf("link %d stored as %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestDeleteSyncCascades(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	err := s.Commit(ctx, &Batch{Sync: "a",
		PutLinks:  []Link{{LeftID: "l1", RightID: "r1"}},
		PutErrors: []RecordError{{Side: "left", RecordID: "l1", Category: "validation"}},
		Cursors:   []Cursor{{Side: "right", Cursor: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, Run{ID: "r", Sync: "a", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, lease := range []string{"a", WatchLease("a", "left"), WatchLease("a", "right")} {
		if _, err := s.AcquireLease(ctx, lease, "d:1", time.Hour, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AcquireLease(ctx, "b", "d:1", time.Hour, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"links", "errors", "cursors", "runs"} {
		if n, err := s.count(ctx, table, "a"); err != nil || n != 0 {
			t.Errorf("%s keeps %d rows of a deleted sync (%v)", table, n, err)
		}
	}
	var leases []string
	rows, err := s.db.QueryContext(ctx, `SELECT sync_name FROM leases ORDER BY sync_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		leases = append(leases, n)
	}
	if strings.Join(leases, " ") != "b" {
		t.Errorf("leases left after deleting a: %q, want only b's", leases)
	}
	if err := s.DeleteSync(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a deleted sync: %v, want ErrNotFound", err)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"r1", "r2"} {
		if err := s.StartRun(ctx, Run{ID: id, Sync: "a", Started: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, Run{ID: "r2", Finished: t0.Add(2 * time.Hour), Status: RunFailed, Error: "auth", Counts: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, "a", 1)
	if err != nil || len(runs) != 1 || runs[0].ID != "r2" || runs[0].Status != RunFailed || runs[0].Error != "auth" || string(runs[0].Counts) != `{"n":1}` {
		t.Fatalf("latest run: %+v %v", runs, err)
	}
	if err := s.FinishRun(ctx, Run{ID: "r2", Status: "exploded"}); err == nil {
		t.Fatal("invalid run status accepted")
	}
}

func TestResetSyncState(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{{LeftID: "l", RightID: "r"}}, Cursors: []Cursor{{Side: "left", Cursor: "5"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetSyncState(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Links(ctx, "a"); len(l) != 0 {
		t.Fatalf("links survive reset: %+v", l)
	}
	if _, err := s.Sync(ctx, "a"); err != nil {
		t.Fatalf("reset removed the definition: %v", err)
	}
}

// A put link keeps its right id, moves to a new one, or is new: each way,
// what is stored is the put link (the first is an UPDATE that leaves the
// right-id index alone, the others fall back to rewriting it or inserting).
func TestPutLinkRightID(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	put := func(l Link) {
		t.Helper()
		if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{l}}); err != nil {
			t.Fatal(err)
		}
	}
	put(Link{LeftID: "l1", RightID: "r1", LeftVersion: "1", RightVersion: "1"})
	for _, tc := range []struct {
		name string
		put  Link
		want map[string]string // right id → left id, of every link
	}{
		{"same right id", Link{LeftID: "l1", RightID: "r1", LeftVersion: "2", RightVersion: "3", State: LinkFailing},
			map[string]string{"r1": "l1"}},
		{"new right id", Link{LeftID: "l1", RightID: "r2", LeftVersion: "4", RightVersion: "5"},
			map[string]string{"r2": "l1"}},
		{"new link on the freed right id", Link{LeftID: "l2", RightID: "r1", LeftVersion: "6", RightVersion: "7"},
			map[string]string{"r2": "l1", "r1": "l2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put(tc.put)
			links, err := s.Links(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, l := range links {
				got[l.RightID] = l.LeftID
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("links by right id %v, want %v", got, tc.want)
			}
			by, err := s.LinksFor(ctx, "a", "right", []string{tc.put.RightID})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.put
			if want.State == "" {
				want.State = LinkSyncing
			}
			if len(by) != 1 || by[0].LeftID != want.LeftID || by[0].LeftVersion != want.LeftVersion ||
				by[0].RightVersion != want.RightVersion || by[0].State != want.State {
				t.Fatalf("link of %s: %+v, want %+v", tc.put.RightID, by, want)
			}
		})
	}
}

// Every connection of the pool checkpoints at walCheckpointPages, not at
// SQLite's default of 1,000 (a ConnectHook sets it, as the DSN cannot).
func TestConnectionsCheckpointLate(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	var conns []*sql.Conn
	for range 2 { // two at once: the second is a new connection
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var n int
		if err := c.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != walCheckpointPages {
			t.Errorf("connection %d checkpoints at %d pages, want %d", i, n, walCheckpointPages)
		}
		c.Close()
	}
}

// LinksAfter pages through a sync's links in left-id order, bases encoded,
// and sees no other sync's.
func TestLinksAfterPages(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	withSync(t, s, "b")
	var put []Link
	for _, id := range []string{"l3", "l1", "l5", "l2", "l4"} {
		put = append(put, Link{LeftID: id, RightID: "r" + id, Base: Base{{Key: "k=k", BasePair: BasePair{Left: sdk.String(id)}}}})
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: put}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Sync: "b", PutLinks: []Link{{LeftID: "l0", RightID: "r0"}}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for after := ""; ; {
		page, err := s.LinksAfter(ctx, "a", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, l := range page {
			if err := l.DecodeBase(); err != nil || l.Base[0].Left.Str != l.LeftID {
				t.Fatalf("link %s: base %+v, %v", l.LeftID, l.Base, err)
			}
			got = append(got, l.LeftID)
		}
		after = page[len(page)-1].LeftID
	}
	if want := []string{"l1", "l2", "l3", "l4", "l5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}

func TestHasLinks(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	withSync(t, s, "b")
	if err := s.Commit(ctx, &Batch{Sync: "a", AddLinks: []Link{{LeftID: "l1", RightID: "r1"}}}); err != nil {
		t.Fatal(err)
	}
	for sync, want := range map[string]bool{"a": true, "b": false} {
		if got, err := s.HasLinks(ctx, sync); err != nil || got != want {
			t.Errorf("HasLinks(%s) = %v, %v; want %v", sync, got, err, want)
		}
	}
}

// Leases: one holder at a time; a scheduled run waits for the next due
// time, an asked-for one does not; a lease taken over fences its old
// holder's commits, which then change nothing.
func TestLeases(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	a, err := s.AcquireLease(ctx, "a", "host-a", time.Minute, true, "")
	if err != nil {
		t.Fatal(err)
	}
	var held *LeaseHeldError
	if _, err := s.AcquireLease(ctx, "a", "host-b", time.Minute, false, ""); !errors.As(err, &held) || held.Holder != "host-a" {
		t.Fatalf("second take: %v, want held by host-a", err)
	}
	if err := s.RenewLease(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	if by, until, err := s.LeaseHolder(ctx, "a"); err != nil || by != "host-a" || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("LeaseHolder = %q, %v, %v; want host-a until %v", by, until, err, now.Add(time.Minute))
	}
	if err := s.ReleaseLease(ctx, a, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, "a", "host-b", time.Minute, true, ""); !errors.As(err, &held) || held.Holder != "" ||
		!held.NextDue.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("scheduled take before the next run is due: %v, want refused until %v", err, now.Add(10*time.Minute))
	}
	b, err := s.AcquireLease(ctx, "a", "host-b", time.Minute, false, "")
	if err != nil {
		t.Fatalf("asked-for take of a free lease: %v", err)
	}
	now = now.Add(2 * time.Minute) // host-b stalls past its lease
	if by, _, err := s.LeaseHolder(ctx, "a"); err != nil || by != "" {
		t.Fatalf("LeaseHolder of an expired lease = %q, %v; want no one", by, err)
	}
	c, err := s.AcquireLease(ctx, "a", "host-c", time.Minute, false, "")
	if err != nil || c.Token <= b.Token {
		t.Fatalf("take of an expired lease: %+v, %v; want a newer token than %d", c, err, b.Token)
	}
	stale := &Batch{Sync: "a", AddLinks: []Link{{LeftID: "l1", RightID: "r1"}}}
	if err := s.Commit(WithLease(ctx, b), stale); !errors.Is(err, ErrFenced) {
		t.Fatalf("commit under the taken-over lease: %v, want ErrFenced", err)
	}
	if err := s.RenewLease(ctx, b, time.Minute); !errors.Is(err, ErrFenced) {
		t.Fatalf("renewal of the taken-over lease: %v, want ErrFenced", err)
	}
	if n, _ := s.LinkCount(ctx, "a"); n != 0 {
		t.Fatalf("%d links after a fenced commit, want 0", n)
	}
	if err := s.Commit(WithLease(ctx, c), &Batch{Sync: "a", AddLinks: []Link{{LeftID: "l2", RightID: "r2"}}}); err != nil {
		t.Fatalf("commit under the current lease: %v", err)
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", AddLinks: []Link{{LeftID: "l3", RightID: "r3"}}}); err != nil {
		t.Fatalf("commit without a lease: %v", err)
	}
	// A holder known to be gone is taken over before its lease runs out;
	// a release without a next due time keeps the one there.
	if _, err := s.AcquireLease(ctx, "a", "host-d", time.Minute, false, "host-b"); !errors.As(err, &held) ||
		held.Holder != "host-c" || !held.Expires.Equal(now.Add(time.Minute)) {
		t.Fatalf("take over from another than the holder: %v, want held by host-c until %v", err, now.Add(time.Minute))
	}
	d, err := s.AcquireLease(ctx, "a", "host-d", time.Minute, false, "host-c")
	if err != nil {
		t.Fatalf("take over from a holder gone: %v", err)
	}
	if err := s.ReleaseLease(ctx, d, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, "a", "host-e", time.Minute, true, ""); !errors.As(err, &held) ||
		!held.NextDue.Equal(now.Add(-2*time.Minute).Add(10*time.Minute)) {
		t.Fatalf("scheduled take after a release without a due time: %v, want the earlier due time kept", err)
	}
}

// TestAnyBytesRoundTrip: ids and values holding NUL bytes, the control
// characters an encoding might lean on, and bytes that are not UTF-8 are
// stored and read back as they were. (PostgreSQL's text holds neither NUL
// nor such bytes: one such value must not fail a whole batch there.)
func TestAnyBytesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	odd := "a\x00b\x01c\x02d\x020e\\f€g\xe9h\xff\x02xzz" // NUL, control bytes, pgText's escape, bytes that are not UTF-8
	id := "id" + odd
	base := Base{{"email=mail", BasePair{Left: sdk.String(odd), Right: sdk.StringList(odd, "x")}}}
	b := &Batch{Sync: "a",
		PutLinks:   []Link{{LeftID: id, RightID: "r" + odd, LeftVersion: "v" + odd, RightVersion: "1", Base: base}},
		PutPending: []Pending{{Side: "left", RecordID: id, Version: "3", Values: map[string]sdk.Value{"email": sdk.String(odd)}}},
		PutErrors:  []RecordError{{Side: "left", RecordID: id, Category: "validation", Field: "email", Value: odd, Message: "m"}},
		History: []HistoryEntry{{RunID: "run1", Side: "right", RecordID: "r" + odd, Op: OpUpdate,
			Changes: []FieldChange{{Field: "mail", Old: Value{sdk.Null}, New: Value{sdk.String(odd)}}}}},
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatalf("commit: %v", err)
	}
	links, err := s.LinksFor(ctx, "a", "left", []string{id})
	if err != nil || len(links) != 1 {
		t.Fatalf("links for %q: %+v, %v", id, links, err)
	}
	if err := links[0].DecodeBase(); err != nil {
		t.Fatal(err)
	}
	if l := links[0]; l.RightID != "r"+odd || l.LeftVersion != "v"+odd || !l.Base.Equal(base) {
		t.Fatalf("link read back as %+v", l)
	}
	if p, _ := s.Pending(ctx, "a"); len(p) != 1 || p[0].RecordID != id || p[0].Values["email"].Str != odd {
		t.Fatalf("pending %+v", p)
	}
	if e, _ := s.Errors(ctx, "a", ""); len(e) != 1 || e[0].RecordID != id || e[0].Value != odd {
		t.Fatalf("errors %+v", e)
	}
	if h, _ := s.History(ctx, HistoryQuery{Sync: "a"}); len(h) != 1 || h[0].RecordID != "r"+odd || h[0].Changes[0].New.Str != odd {
		t.Fatalf("history %+v", h)
	}
}
