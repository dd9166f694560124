package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

func sortedIDs(recs []sdk.Record) []string {
	out := ids(recs)
	sort.Strings(out)
	return out
}

// TestIncrementalSharedTimestamps: rows with one updated_at across page
// boundaries are each read once, and a row added later at the same
// timestamp with a higher key is still read.
func TestIncrementalSharedTimestamps(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id text PRIMARY KEY, v int, updated_at timestamptz)`,
		`INSERT INTO items SELECT 'k' || lpad(g::text, 5, '0'), g, '2025-01-01 00:00:00+00' FROM generate_series(1, 12000) g`)
	// Rows stamped explicitly, long before their transactions began: caught
	// only when clock_skew allows for it.
	c := d.open(t, "clock_skew", "100000h")
	full := read(t, c, "items", "", "v")
	if len(full.recs) != 12000 || full.checkpoints != 1 {
		t.Fatalf("full read: %d records, %d checkpoints; want 12000, 1", len(full.recs), full.checkpoints)
	}
	if again := read(t, c, "items", full.cursor, "v"); len(again.recs) != 0 {
		t.Fatalf("read after a full read with nothing changed: %d records", len(again.recs))
	}
	// Same timestamp, keys before and after the high-water key: only the later key is new
	// to the cursor; the earlier one is caught because its transaction came after the read.
	d.exec(t, `INSERT INTO items VALUES ('k99999', 1, '2025-01-01 00:00:00+00'), ('a0', 2, '2025-01-01 00:00:00+00')`)
	inc := read(t, c, "items", full.cursor, "v")
	if got := sortedIDs(inc.recs); !slices.Equal(got, []string{"a0", "k99999"}) {
		t.Fatalf("after inserting at the shared timestamp: got %v, want [a0 k99999]", got)
	}
	// Paging from an empty-mark cursor: rows come in pages with a checkpoint each, none twice.
	d.exec(t, `UPDATE items SET updated_at = '2025-02-01 00:00:00+00' WHERE v <= 11000 AND id NOT IN ('a0', 'k99999')`)
	inc2 := read(t, c, "items", inc.cursor, "v")
	if len(inc2.recs) != 11000 {
		m, _ := byID(inc2.recs)
		t.Fatalf("after updating 11000 rows: got %d records (a0 %v, k99999 %v) cursor %s", len(inc2.recs), m["a0"].ID != "", m["k99999"].ID != "", inc.cursor)
	}
	if _, err := byID(inc2.recs); err != nil {
		t.Fatal(err)
	}
	if inc2.checkpoints < 3 {
		t.Errorf("11000 changed rows came with %d checkpoints, want one per %d-row page", inc2.checkpoints, pageSize)
	}
	if again := read(t, c, "items", inc2.cursor, "v"); len(again.recs) != 0 {
		t.Errorf("read with nothing changed: %d records", len(again.recs))
	}
}

func byID(recs []sdk.Record) (map[string]sdk.Record, error) {
	m := map[string]sdk.Record{}
	for _, r := range recs {
		if _, dup := m[r.ID]; dup {
			return nil, fmt.Errorf("record %s read twice", r.ID)
		}
		m[r.ID] = r
	}
	return m, nil
}

// TestIncrementalLateCommit: a transaction that stamps its row before a read
// but commits after it must not be missed by the next read, and is read once.
func TestIncrementalLateCommit(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id serial PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO items (v) VALUES ('first')`)
	c := d.open(t)
	ctx := context.Background()
	c0 := read(t, c, "items", "", "v")

	// A long transaction writes a row stamped now() (its start time) and stays open.
	late, err := pgx.Connect(ctx, d.url)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close(ctx)
	tx, err := late.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO items (v) VALUES ('late')`); err != nil {
		t.Fatal(err)
	}
	// A subtransaction's xid is not listed in snapshots: it must be caught all the same.
	if _, err := tx.Exec(ctx, `SAVEPOINT a; INSERT INTO items (v) VALUES ('late-sub-early'); RELEASE SAVEPOINT a`); err != nil {
		t.Fatal(err)
	}
	// Another one, also begun before the read but writing only after it, in a subtransaction.
	late2, err := pgx.Connect(ctx, d.url)
	if err != nil {
		t.Fatal(err)
	}
	defer late2.Close(ctx)
	tx2, err := late2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx2.Exec(ctx, `SELECT 1`); err != nil { // fixes now(): the transaction's start
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	d.exec(t, `INSERT INTO items (v) VALUES ('committed')`)
	c1 := read(t, c, "items", c0.cursor, "v")
	if cur, err := parseCursor(c1.cursor); err != nil || cur.Since == nil || len(cur.Pending) == 0 {
		t.Fatalf("cursor during open transactions: %+v, %v; want their start and xids", cur, err)
	}
	if got := values(c1.recs); !slices.Equal(got, []string{"committed"}) {
		t.Fatalf("read while a transaction is open: got %v, want [committed]", got)
	}
	if _, err := tx2.Exec(ctx, `SAVEPOINT s; INSERT INTO items (v) VALUES ('late-sub'); RELEASE SAVEPOINT s`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var early int
	if err := d.conn.QueryRow(ctx, `SELECT count(*) FROM items WHERE v LIKE 'late%' AND updated_at < (SELECT updated_at FROM items WHERE v = 'committed')`).Scan(&early); err != nil || early != 3 {
		t.Fatalf("setup: %d late rows stamped before the committed one (%v), want 3", early, err)
	}
	c2 := read(t, c, "items", c1.cursor, "v")
	got := values(c2.recs)
	for _, want := range []string{"late", "late-sub-early", "late-sub"} {
		if !slices.Contains(got, want) {
			t.Fatalf("read after the late commits: got %v, want late, late-sub-early and late-sub", got)
		}
	}
	if _, err := byID(c2.recs); err != nil {
		t.Fatal(err)
	}
	// Delivered once: the next read has nothing.
	if c3 := read(t, c, "items", c2.cursor, "v"); len(c3.recs) != 0 {
		t.Errorf("read with nothing changed after the catch-up: got %v", values(c3.recs))
	}
}

func values(recs []sdk.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Values[0].Str)
	}
	sort.Strings(out)
	return out
}

// TestSoftDeleteTombstones: a delete sets the soft-delete column; full reads
// skip the row, incremental reads report a tombstone, a second delete is not_found.
func TestSoftDeleteTombstones(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id serial PRIMARY KEY, v text, updated_at timestamptz, deleted_at timestamptz)`,
		`INSERT INTO items (v, updated_at) VALUES ('a', now()), ('b', now())`)
	c := d.open(t, "soft_delete_column", "deleted_at")
	ctx := context.Background()
	c0 := read(t, c, "items", "", "v")
	res, err := c.Write(ctx, sdk.WriteRequest{Object: "items", Ops: []sdk.Op{{Kind: sdk.OpDelete, ID: "1"}, {Kind: sdk.OpDelete, ID: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err == nil || res[1].Err.Category != sdk.CategoryNotFound {
		t.Fatalf("delete twice: %v / %v; want ok then not_found", res[0].Err, res[1].Err)
	}
	var deletedAt *time.Time
	if err := d.conn.QueryRow(ctx, `SELECT deleted_at FROM items WHERE id = 1`).Scan(&deletedAt); err != nil || deletedAt == nil {
		t.Fatalf("row 1 after delete: deleted_at %v, %v; want set (the row kept)", deletedAt, err)
	}
	inc := read(t, c, "items", c0.cursor, "v")
	if len(inc.recs) != 1 || inc.recs[0].ID != "1" || !inc.recs[0].Deleted {
		t.Fatalf("incremental read after delete: %+v, want a tombstone for 1", inc.recs)
	}
	if full := read(t, c, "items", "", "v"); !slices.Equal(ids(full.recs), []string{"2"}) {
		t.Errorf("full read after delete: %v, want [2]", ids(full.recs))
	}
	if got, err := c.Lookup(ctx, sdk.LookupRequest{Object: "items", Field: "v", Values: []sdk.Value{sdk.String("a"), sdk.String("b")}, Fields: []string{"v"}}); err != nil || !slices.Equal(ids(got), []string{"2"}) {
		t.Errorf("lookup after delete: %v, %v; want [2]", ids(got), err)
	}
	// No field: by id (the primary key), the soft-deleted left out.
	if got, err := c.Lookup(ctx, sdk.LookupRequest{Object: "items", Values: []sdk.Value{sdk.String("2"), sdk.String("1"), sdk.String("x")}, Fields: []string{"v"}}); err != nil || !slices.Equal(ids(got), []string{"2"}) {
		t.Errorf("lookup by id after delete: %v, %v; want [2]", ids(got), err)
	}
}

// TestTimestampWithoutZone: an updated-at column without time zone works as
// UTC for stamping, cursors and values.
func TestTimestampWithoutZone(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id serial PRIMARY KEY, at timestamp, updated_at timestamp NOT NULL DEFAULT now())`)
	c := d.open(t)
	ctx := context.Background()
	at := time.Date(2030, 12, 31, 23, 59, 58, 999999000, time.UTC)
	before := time.Now().UTC().Add(-time.Minute)
	res, err := c.Write(ctx, sdk.WriteRequest{Object: "items", Fields: []string{"at"}, Ops: []sdk.Op{
		{Kind: sdk.OpCreate, Fields: []string{"at"}, Values: []sdk.Value{sdk.DateTime(at)}},
		{Kind: sdk.OpCreate, Fields: []string{"at"}, Values: []sdk.Value{sdk.Null}}}})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("create: %+v %v", res, err)
	}
	if !res[0].Values[0].Time.Equal(at) || res[0].ModifiedAt.Before(before) || res[0].ModifiedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("created: at %v modified %v; want %v and about now (UTC)", res[0].Values[0], res[0].ModifiedAt, at)
	}
	full := read(t, c, "items", "", "at")
	time.Sleep(2 * time.Millisecond)
	u, err := c.Write(ctx, sdk.WriteRequest{Object: "items", Fields: []string{"at"}, Ops: []sdk.Op{
		{Kind: sdk.OpUpdate, ID: res[1].ID, Fields: []string{"at"}, Values: []sdk.Value{sdk.DateTime(at)}}}})
	if err != nil || u[0].Err != nil {
		t.Fatalf("update: %+v %v", u, err)
	}
	inc := read(t, c, "items", full.cursor, "at")
	if len(inc.recs) != 1 || inc.recs[0].ID != res[1].ID || !inc.recs[0].ModifiedAt.Equal(u[0].ModifiedAt) || !inc.recs[0].Values[0].Time.Equal(at) {
		t.Fatalf("incremental read: %+v; want %s modified at %v", inc.recs, res[1].ID, u[0].ModifiedAt)
	}
	if again := read(t, c, "items", inc.cursor, "at"); len(again.recs) != 0 {
		t.Errorf("read with nothing changed: %v", ids(again.recs))
	}
}

// TestReadAfterSchemaChange: a read naming a column dropped behind the cached
// catalog fails as transient; the retry knows the column is gone.
func TestReadAfterSchemaChange(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id serial PRIMARY KEY, a text, b text)`, `INSERT INTO items (a, b) VALUES ('x', 'y')`)
	c := d.open(t)
	read(t, c, "items", "", "a", "b")
	d.exec(t, `ALTER TABLE items DROP COLUMN b`)
	err := c.Read(context.Background(), sdk.ReadRequest{Object: "items", Fields: []string{"a", "b"}}, &collector{})
	if sdk.CategoryOf(err) != sdk.CategoryTransient {
		t.Fatalf("read with a stale catalog: %v, want transient", err)
	}
	err = c.Read(context.Background(), sdk.ReadRequest{Object: "items", Fields: []string{"a", "b"}}, &collector{})
	if e := sdk.AsError(err); e == nil || e.Field != "b" {
		t.Fatalf("retry: %v, want an error naming b", err)
	}
}

// TestIncrementalHiddenSession: another role's open transaction hides its
// start from the connector; the catch-up then looks back the whole window
// and still finds that transaction's late row.
func TestIncrementalHiddenSession(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE items (id serial PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO items (v) VALUES ('first')`)
	c := d.open(t)
	ctx := context.Background()
	c0 := read(t, c, "items", "", "v")
	adminCfg, err := pgx.ParseConfig(d.env.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	userCfg, err := pgx.ParseConfig(d.url)
	if err != nil {
		t.Fatal(err)
	}
	adminCfg.Database = userCfg.Database
	admin, err := pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO items (v) VALUES ('hidden')`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	d.exec(t, `INSERT INTO items (v) VALUES ('committed')`)
	c1 := read(t, c, "items", c0.cursor, "v")
	if cur, err := parseCursor(c1.cursor); err != nil || cur.Since != nil {
		t.Fatalf("cursor with another role's transaction open: %+v, %v; want no start bound", cur, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// "committed" committed while the hidden transaction was open: it may
	// come once more (see the README), never endlessly.
	c2 := read(t, c, "items", c1.cursor, "v")
	if got := values(c2.recs); !slices.Contains(got, "hidden") {
		t.Fatalf("read after the hidden transaction committed: %v, want hidden", got)
	}
	if c3 := read(t, c, "items", c2.cursor, "v"); len(c3.recs) != 0 {
		t.Errorf("read with nothing changed: %v", values(c3.recs))
	}
}
