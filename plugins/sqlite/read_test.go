package main

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// stepSink keeps every record and the cursor of each checkpoint with how
// many records had come before it.
type stepSink struct {
	recs  []sdk.Record
	steps []step
}

type step struct {
	cursor string
	after  int
}

func (s *stepSink) Records(recs []sdk.Record) error {
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *stepSink) Checkpoint(c string) error {
	s.steps = append(s.steps, step{c, len(s.recs)})
	return nil
}

func ids(recs []sdk.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

// TestReadSharedStampAcrossBatches puts rows that share one updated_at on
// both sides of a batch boundary: each is read once, and resuming from the
// checkpoint between them returns exactly the ones after it.
func TestReadSharedStampAcrossBatches(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)`)
	db := rawDB(t, path)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	n := readBatch + 3
	shared := "2026-01-01 00:00:00.000000"
	for i := 1; i <= n; i++ {
		stamp := fmt.Sprintf("2025-01-01 00:00:%02d.%06d", i/1_000_000, i%1_000_000)
		if i >= readBatch-1 { // the last 5 rows: two before the boundary, three after
			stamp = shared
		}
		if _, err := tx.Exec(`INSERT INTO items (id, name, updated_at) VALUES (?, ?, ?)`, i, fmt.Sprint("item ", i), stamp); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	c := openConn(t, path)
	ctx := context.Background()
	full := &stepSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "items", Fields: []string{"name"}}, full); err != nil {
		t.Fatal(err)
	}
	if got := ids(full.recs); !slices.Equal(got, idRange(1, n)) {
		t.Fatalf("full read: %d records, want ids 1..%d once each in (updated_at, id) order", len(got), n)
	}
	if len(full.steps) != 2 || full.steps[0].after != readBatch || full.steps[1].after != n {
		t.Fatalf("checkpoints %+v, want one after %d records and one at the end", full.steps, readBatch)
	}
	rest := readAll(t, c, "items", full.steps[0].cursor, "name")
	if got := ids(rest.All); !slices.Equal(got, idRange(readBatch+1, n)) {
		t.Errorf("from the mid-read checkpoint: %v, want %v (same stamp, later ids)", got, idRange(readBatch+1, n))
	}
	if rest.Cursor != full.steps[1].cursor {
		t.Errorf("resumed read ends at %s, the full read at %s", rest.Cursor, full.steps[1].cursor)
	}
	if again := readAll(t, c, "items", full.steps[1].cursor, "name"); len(again.All) != 0 || again.Checkpoints == 0 {
		t.Errorf("from the final cursor: %d records, %d checkpoints; want none and a checkpoint", len(again.All), again.Checkpoints)
	}
}

// TestIncrementalReadSeesExactlyLaterChanges: after a read, the cursor
// returns the rows written since (created and updated), then nothing.
func TestIncrementalReadSeesExactlyLaterChanges(t *testing.T) {
	path := newDB(t, contactsDDL)
	c := openConn(t, path)
	var ops []sdk.Op
	for i := range 6 {
		ops = append(ops, conformance.CreateOp(map[string]sdk.Value{
			"email": sdk.String(fmt.Sprintf("p%d@example.com", i)), "name": sdk.String(fmt.Sprint("P", i)),
		}))
	}
	created := writeOK(t, c, "contacts", ops...)
	first := readAll(t, c, "contacts", "", "name")
	if len(first.All) != 6 {
		t.Fatalf("full read: %d records", len(first.All))
	}
	before := map[string]string{}
	for _, r := range first.All {
		before[r.ID] = r.Version
	}

	res := writeOK(t, c, "contacts",
		conformance.UpdateOp(created[4].ID, "", map[string]sdk.Value{"name": sdk.String("changed 4")}),
		conformance.UpdateOp(created[1].ID, "", map[string]sdk.Value{"name": sdk.String("changed 1")}),
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("new@example.com")}),
		conformance.DeleteOp(created[2].ID, ""),
	)
	second := readAll(t, c, "contacts", first.Cursor, "name")
	// In stamp order: the batch's creates first, then its updates in write
	// order (see writer.stamp).
	want := []string{res[2].ID, created[4].ID, created[1].ID}
	if got := ids(second.All); !slices.Equal(got, want) {
		t.Fatalf("read from cursor: %v, want %v", got, want)
	}
	for i, r := range second.All[1:] {
		if r.Version == before[r.ID] {
			t.Errorf("record %s kept version %s after an update", r.ID, r.Version)
		}
		if r.Version != res[i].Version {
			t.Errorf("record %s read at version %s, write reported %s", r.ID, r.Version, res[i].Version)
		}
	}
	if third := readAll(t, c, "contacts", second.Cursor, "name"); len(third.All) != 0 {
		t.Errorf("nothing changed, yet the cursor returned %v", ids(third.All))
	}
}

// TestReadNullUpdatedAt: rows another program left without updated_at come
// first in a full read, and a cursor among them resumes correctly.
func TestReadNullUpdatedAt(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)`,
		`INSERT INTO items (id, name, updated_at) VALUES (1, 'a', NULL), (2, 'b', '2025-01-01 00:00:00'), (3, 'c', NULL), (4, 'd', NULL)`,
	)
	c := openConn(t, path)
	full := readAll(t, c, "items", "", "name")
	if got := ids(full.All); !slices.Equal(got, []string{"1", "3", "4", "2"}) {
		t.Errorf("full read order %v, want nulls first: [1 3 4 2]", got)
	}
	if full.All[0].Version == "" || full.All[0].Version == full.All[1].Version {
		t.Errorf("rows without updated_at need distinct versions: %q, %q", full.All[0].Version, full.All[1].Version)
	}
	tb, err := c.table(context.Background(), "items")
	if err != nil {
		t.Fatal(err)
	}
	row := make([]any, len(tb.cols)+1)
	row[0] = int64(3) // just after row 3, whose updated_at is null
	mid := tb.cursorAfter(row)
	if got := ids(readAll(t, c, "items", mid, "name").All); !slices.Equal(got, []string{"4", "2"}) {
		t.Errorf("from a cursor at null-stamped row 3: %v, want [4 2]", got)
	}
}

// TestReadWithoutUpdatedAt: a table without the column is read in full, in
// id order, with content-hash versions that follow the row's values.
func TestReadWithoutUpdatedAt(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`,
		`INSERT INTO notes (id, body) VALUES (2, 'two'), (1, 'one'), (3, 'one')`,
	)
	c := openConn(t, path)
	col := readAll(t, c, "notes", "", "body")
	if got := ids(col.All); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("ids %v", got)
	}
	if col.Checkpoints != 0 {
		t.Errorf("a non-incremental object checkpointed %d times", col.Checkpoints)
	}
	if col.All[0].Version == col.All[2].Version {
		t.Error("rows 1 and 3 hold the same body but have different ids: versions must differ")
	}
	res := writeOK(t, c, "notes", conformance.UpdateOp("1", col.All[0].Version, map[string]sdk.Value{"body": sdk.String("uno")}))
	if res[0].Version == col.All[0].Version {
		t.Error("version unchanged after the body changed")
	}
	stale := write(t, c, "notes", conformance.UpdateOp("1", col.All[0].Version, map[string]sdk.Value{"body": sdk.String("x")}))
	if stale[0].Err == nil || stale[0].Err.Category != sdk.CategoryConflict {
		t.Errorf("update at a stale hash version: %v, want conflict", stale[0].Err)
	}
	again := readAll(t, c, "notes", "", "body")
	if again.All[0].Version != res[0].Version || !again.All[0].Values[0].Equal(sdk.String("uno")) {
		t.Errorf("read after update: %+v, want body uno at version %s", again.All[0], res[0].Version)
	}
}

func TestLookup(t *testing.T) {
	path := newDB(t, contactsDDL)
	c := openConn(t, path)
	res := writeOK(t, c, "contacts",
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("a@example.com"), "birthday": sdk.Value{Kind: sdk.KindDate, Str: "1990-05-17"}}),
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("b@example.com")}),
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("c@example.com"), "birthday": sdk.Value{Kind: sdk.KindDate, Str: "1990-05-17"}}),
	)
	tests := []struct {
		field  string
		values []sdk.Value
		want   []string
	}{
		{"email", []sdk.Value{sdk.String("c@example.com"), sdk.String("nobody@example.com"), sdk.String("a@example.com"), sdk.String("a@example.com")},
			[]string{res[0].ID, res[2].ID}},
		{"email", []sdk.Value{sdk.String("A@EXAMPLE.COM")}, nil}, // exact match
		{"id", []sdk.Value{sdk.String(res[1].ID), sdk.Int(999)}, []string{res[1].ID}},
		{"", []sdk.Value{sdk.String(res[2].ID), sdk.String(res[0].ID), sdk.String("x")}, []string{res[0].ID, res[2].ID}}, // by id
		{"birthday", []sdk.Value{sdk.String("1990-05-17")}, []string{res[0].ID, res[2].ID}},
		{"age", []sdk.Value{sdk.String("not a number"), sdk.Null}, nil},
	}
	for _, tc := range tests {
		recs, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: "contacts", Field: tc.field, Values: tc.values, Fields: []string{"email"}})
		if err != nil {
			t.Fatalf("lookup %s: %v", tc.field, err)
		}
		if got := ids(recs); !slices.Equal(got, tc.want) {
			t.Errorf("lookup %s %v = %v, want %v", tc.field, tc.values, got, tc.want)
		}
		for _, r := range recs {
			if len(r.Values) != 1 || r.Values[0].Kind != sdk.KindString || r.Version == "" {
				t.Errorf("lookup record %+v: want one email value and a version", r)
			}
		}
	}
	_, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: "contacts", Field: "nope", Values: []sdk.Value{sdk.String("x")}})
	if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryValidation || e.Field != "nope" {
		t.Errorf("lookup by an unknown column: %v, want a validation error on nope", err)
	}
	// Many values: more than one IN list.
	var many []sdk.Value
	for i := range 1200 {
		many = append(many, sdk.String(fmt.Sprintf("x%d@example.com", i)))
	}
	many = append(many, sdk.String("b@example.com"))
	recs, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: "contacts", Field: "email", Values: many, Fields: []string{"email"}})
	if err != nil || !reflect.DeepEqual(ids(recs), []string{res[1].ID}) {
		t.Errorf("lookup of 1201 values: %v, %v", ids(recs), err)
	}
}

// TestLookupByRowid: with no field, a table without a key is searched by
// its hidden rowid, the records' ids.
func TestLookupByRowid(t *testing.T) {
	path := newDB(t, `CREATE TABLE notes (email TEXT)`)
	c := openConn(t, path)
	res := writeOK(t, c, "notes",
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("a@example.com")}),
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("b@example.com")}))
	recs, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: "notes", Values: []sdk.Value{sdk.String(res[1].ID), sdk.String("x"), sdk.String("99")}, Fields: []string{"email"}})
	if err != nil || !slices.Equal(ids(recs), []string{res[1].ID}) || recs[0].Values[0].Str != "b@example.com" {
		t.Errorf("lookup by rowid %s: %+v, %v; want b@example.com alone", res[1].ID, recs, err)
	}
}

// TestReadSeesOneSnapshot: a write committed while a read is being handed
// over does not show up in it, and the next read from its cursor has it.
func TestReadSeesOneSnapshot(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)`)
	c := openConn(t, path)
	var ops []sdk.Op
	for i := range readBatch + 10 {
		ops = append(ops, conformance.CreateOp(map[string]sdk.Value{"name": sdk.String(fmt.Sprint(i))}))
	}
	created := writeOK(t, c, "items", ops...)
	sink := &writingSink{t: t, c: c, id: created[0].ID}
	if err := c.Read(context.Background(), sdk.ReadRequest{Object: "items", Fields: []string{"name"}}, sink); err != nil {
		t.Fatal(err)
	}
	if !sink.wrote || len(sink.recs) != len(created) {
		t.Fatalf("wrote %v, read %d of %d", sink.wrote, len(sink.recs), len(created))
	}
	next := readAll(t, c, "items", sink.cursor, "name")
	if got := ids(next.All); !slices.Equal(got, []string{created[0].ID}) {
		t.Errorf("after the read: %v, want only the row updated during it (%s)", got, created[0].ID)
	}
}

// writingSink updates a row when the first batch arrives.
type writingSink struct {
	t      *testing.T
	c      *conn
	id     string
	wrote  bool
	recs   []sdk.Record
	cursor string
}

func (s *writingSink) Records(recs []sdk.Record) error {
	s.recs = append(s.recs, recs...)
	if !s.wrote {
		s.wrote = true
		writeOK(s.t, s.c, "items", conformance.UpdateOp(s.id, "", map[string]sdk.Value{"name": sdk.String("during")}))
	}
	return nil
}

func (s *writingSink) Checkpoint(c string) error { s.cursor = c; return nil }

// TestModifiedAt: records carry the updated-at time as ModifiedAt.
func TestModifiedAt(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER)`)
	c := openConn(t, path)
	before := time.Now().Add(-time.Second)
	res := writeOK(t, c, "items", conformance.CreateOp(map[string]sdk.Value{"name": sdk.String("x")}))
	after := time.Now().Add(time.Second)
	r := readAll(t, c, "items", "", "name", "updated_at").All[0]
	if r.ModifiedAt.Before(before) || r.ModifiedAt.After(after) || !r.ModifiedAt.Equal(res[0].ModifiedAt) {
		t.Errorf("ModifiedAt %v (write said %v), want between %v and %v", r.ModifiedAt, res[0].ModifiedAt, before, after)
	}
	var stored any
	if err := rawDB(t, path).QueryRow(`SELECT updated_at FROM items`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if us, ok := stored.(int64); !ok || us != r.ModifiedAt.UnixMicro() {
		t.Errorf("an INTEGER updated_at holds %#v, want Unix microseconds %d", stored, r.ModifiedAt.UnixMicro())
	}
	if r.Values[1].Kind != sdk.KindInteger || r.Version != fmt.Sprint(r.Values[1].Int) {
		t.Errorf("updated_at value %#v, version %q", r.Values[1], r.Version)
	}
}

// TestNarrowReadKeepsVersions: a read of a few fields (as the host's key
// and digest reads are) moves only the columns it needs, yet gives every
// record the version a read of all fields gives, rows without an
// updated-at included, whose version is a hash of the whole row.
func TestNarrowReadKeepsVersions(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, email TEXT, name TEXT, note TEXT, updated_at TEXT)`,
		`INSERT INTO items (id, email, name, note, updated_at) VALUES (1, 'a@x.io', 'a', 'x', NULL),
			(2, 'b@x.io', 'b', 'y', '2025-01-01 00:00:00'), (3, NULL, 'c', NULL, NULL)`,
	)
	c := openConn(t, path)
	versions := func(col *conformance.Collector) map[string]string {
		m := map[string]string{}
		for _, r := range col.All {
			m[r.ID] = r.Version
		}
		return m
	}
	full := versions(readAll(t, c, "items", "", "email", "name", "note"))
	narrow := readAll(t, c, "items", "", "email")
	if got := versions(narrow); !maps.Equal(got, full) {
		t.Fatalf("narrow read versions %v, full read's %v", got, full)
	}
	if v := narrow.All[0].Values; len(v) != 1 || v[0].Text() != "a@x.io" {
		t.Fatalf("narrow read of row 1: %v", v)
	}
	// A digest read reads versions only (sdk.ReadRequest.VersionsOnly): it
	// sums the full read's versions, rows without an updated-at too.
	var want uint64
	for id, v := range full {
		want += sdk.DigestOf(id, v)
	}
	d, _, err := sdk.ReadDigest(context.Background(), c, sdk.ReadRequest{Object: "items", Fields: []string{"email"}, DigestBuckets: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d[0].Count != 3 || d[0].Sum != want {
		t.Fatalf("digest %+v, want 3 records summing to %d", d[0], want)
	}
	// A change to a column the narrow read does not return still changes
	// the version of a row without an updated-at.
	if _, err := rawDB(t, path).Exec(`UPDATE items SET note = 'z' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if got := versions(readAll(t, c, "items", "", "email")); got["1"] == full["1"] || got["2"] != full["2"] {
		t.Fatalf("after a change to row 1's note: versions %v, before %v", got, full)
	}
}
