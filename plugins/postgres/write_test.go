package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

const peopleDDL = `
CREATE TYPE stage AS ENUM ('lead', 'customer');
CREATE TABLE people (
	id serial PRIMARY KEY,
	email text NOT NULL,
	name varchar(10),
	age int CONSTRAINT age_positive CHECK (age >= 0),
	stage stage,
	version int NOT NULL DEFAULT 0,
	updated_at timestamptz,
	CONSTRAINT people_email_key UNIQUE (email)
)`

func create(fields map[string]sdk.Value) sdk.Op {
	op := sdk.Op{Kind: sdk.OpCreate}
	for _, f := range []string{"email", "name", "age", "stage"} {
		if v, ok := fields[f]; ok {
			op.Fields = append(op.Fields, f)
			op.Values = append(op.Values, v)
		}
	}
	return op
}

func write(t *testing.T, c *Conn, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	req := sdk.WriteRequest{Object: "people", Fields: []string{"email", "name", "age", "stage"}, Ops: ops}
	res, err := c.Write(context.Background(), req)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("write: %d results for %d ops", len(res), len(ops))
	}
	return res
}

func TestWriteErrors(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, peopleDDL)
	c := d.open(t, "version_column", "version")
	email := func(i int) sdk.Value { return sdk.String(fmt.Sprintf("p%d@example.com", i)) }

	res := write(t, c,
		create(map[string]sdk.Value{"email": email(1), "name": sdk.String("Ann"), "age": sdk.Int(30), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": email(1), "name": sdk.String("Dup"), "age": sdk.Int(1), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": sdk.Null, "name": sdk.String("NoMail"), "age": sdk.Int(1), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": email(3), "name": sdk.String("Neg"), "age": sdk.Int(-1), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": email(4), "name": sdk.String("Much too long"), "age": sdk.Int(1), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": email(5), "name": sdk.String("Enum"), "age": sdk.Int(1), "stage": sdk.String("vip")}),
		create(map[string]sdk.Value{"email": email(6), "name": sdk.String("Age"), "age": sdk.String("old"), "stage": sdk.String("lead")}),
		create(map[string]sdk.Value{"email": email(7), "name": sdk.String("Bob"), "age": sdk.Null, "stage": sdk.Null}),
	)
	want := []struct {
		cat   sdk.Category
		field string
	}{{}, {sdk.CategoryDuplicate, "email"}, {sdk.CategoryValidation, "email"}, {sdk.CategoryValidation, "age"},
		{sdk.CategoryValidation, "name"}, {sdk.CategoryValidation, "stage"}, {sdk.CategoryValidation, "age"}, {}}
	for i, w := range want {
		r := res[i]
		switch {
		case w.cat == sdk.CategoryUnspecified && r.Err != nil:
			t.Errorf("op %d: %v, want success", i, r.Err)
		case w.cat != sdk.CategoryUnspecified && (r.Err == nil || r.Err.Category != w.cat || r.Err.Field != w.field):
			t.Errorf("op %d: %v, want %s on %s", i, r.Err, w.cat, w.field)
		}
	}
	ann, bob := res[0], res[7]
	if ann.ID == "" || ann.Version != "1" || ann.ModifiedAt.IsZero() || len(ann.Values) != 4 || ann.Values[1].Str != "Ann" || ann.Values[3].Str != "lead" {
		t.Fatalf("created Ann: %+v; want id, version 1, modified-at and the stored values", ann)
	}
	if bob.Values[2].Kind != sdk.KindNull {
		t.Errorf("Bob's age = %v, want null", bob.Values[2])
	}
	var n int
	if err := d.conn.QueryRow(context.Background(), `SELECT count(*) FROM people`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows stored (%v), want 2: failed ops must leave nothing", n, err)
	}

	// Updates: a patch, a stale version, a duplicate, a missing id, an id the key cannot hold.
	time.Sleep(2 * time.Millisecond)
	upd := func(id, ifVersion string, f string, v sdk.Value) sdk.Op {
		return sdk.Op{Kind: sdk.OpUpdate, ID: id, IfVersion: ifVersion, Fields: []string{f}, Values: []sdk.Value{v}}
	}
	res = write(t, c,
		upd(ann.ID, ann.Version, "name", sdk.String("Anna")),
		upd(ann.ID, ann.Version, "name", sdk.String("Stale")),
		upd(bob.ID, "", "email", email(1)),
		upd("999", "", "name", sdk.String("Ghost")),
		upd("x", "", "name", sdk.String("Ghost")),
		upd(bob.ID, bob.Version, "age", sdk.Int(40)),
	)
	if r := res[0]; r.Err != nil || r.Version != "2" || r.Values[0].Str != email(1).Str || r.Values[1].Str != "Anna" || !r.ModifiedAt.After(ann.ModifiedAt) {
		t.Errorf("update Ann: %+v (err %v); want version 2, email kept, name Anna, a later modified-at", r, r.Err)
	}
	for i, cat := range map[int]sdk.Category{1: sdk.CategoryConflict, 2: sdk.CategoryDuplicate, 3: sdk.CategoryNotFound, 4: sdk.CategoryNotFound} {
		if res[i].Err == nil || res[i].Err.Category != cat {
			t.Errorf("update op %d: %v, want %s", i, res[i].Err, cat)
		}
	}
	if res[5].Err != nil || res[5].Values[2].Int != 40 {
		t.Errorf("update after failed ops: %+v (err %v)", res[5], res[5].Err)
	}

	// Deletes: stale version, then current, then again.
	res = write(t, c, sdk.Op{Kind: sdk.OpDelete, ID: bob.ID, IfVersion: "1"}, sdk.Op{Kind: sdk.OpDelete, ID: bob.ID, IfVersion: "2"},
		sdk.Op{Kind: sdk.OpDelete, ID: bob.ID})
	if res[0].Err == nil || res[0].Err.Category != sdk.CategoryConflict || res[1].Err != nil ||
		res[2].Err == nil || res[2].Err.Category != sdk.CategoryNotFound {
		t.Errorf("deletes: %v, %v, %v; want conflict, ok, not_found", res[0].Err, res[1].Err, res[2].Err)
	}
}

// TestWriteXminVersions: without a version column the version is xmin, which
// changes on every update, even one that stores the same values.
func TestWriteXminVersions(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, peopleDDL)
	c := d.open(t)
	r := write(t, c, create(map[string]sdk.Value{"email": sdk.String("x@example.com")}))[0]
	seen := map[string]bool{r.Version: true}
	for i := 0; i < 3; i++ {
		u := write(t, c, sdk.Op{Kind: sdk.OpUpdate, ID: r.ID, IfVersion: r.Version, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("same")}})[0]
		if u.Err != nil || seen[u.Version] {
			t.Fatalf("update %d: version %q (err %v) seen before", i, u.Version, u.Err)
		}
		seen[u.Version] = true
		r = u
	}
	got := read(t, c, "people", "", "name")
	if len(got.recs) != 1 || got.recs[0].Version != r.Version {
		t.Errorf("read version %v, want the last write's %q", got.recs, r.Version)
	}
}

// TestWriteManyWithBadOps: a large create batch with bad ops scattered in it
// stores every good op, refuses every bad one, and keeps results in op order.
func TestWriteManyWithBadOps(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, peopleDDL)
	c := d.open(t)
	var ops []sdk.Op
	bad := map[int]bool{}
	for i := 0; i < 3000; i++ {
		e := fmt.Sprintf("m%d@example.com", i)
		if i%701 == 5 {
			e = "m0@example.com" // duplicate of op 0, detected only by the database
			bad[i] = true
		}
		ops = append(ops, create(map[string]sdk.Value{"email": sdk.String(e), "age": sdk.Int(int64(i))}))
	}
	res := write(t, c, ops...)
	for i, r := range res {
		if bad[i] != (r.Err != nil) {
			t.Fatalf("op %d: err %v, bad %v", i, r.Err, bad[i])
		}
		if r.Err == nil && (r.Values[2].Int != int64(i) || !strings.HasPrefix(r.Values[0].Str, "m")) {
			t.Fatalf("op %d: result values %v, not this op's", i, r.Values)
		}
	}
	var n int
	if err := d.conn.QueryRow(context.Background(), `SELECT count(*) FROM people`).Scan(&n); err != nil || n != 3000-len(bad) {
		t.Fatalf("%d rows stored (%v), want %d", n, err, 3000-len(bad))
	}
}

// TestWriteAfterSchemaChange: a column dropped behind the connector's cached
// catalog fails the batch as transient, and the retry works.
func TestWriteAfterSchemaChange(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, peopleDDL)
	c := d.open(t)
	if r := write(t, c, create(map[string]sdk.Value{"email": sdk.String("a@example.com")}))[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	d.exec(t, `ALTER TABLE people DROP COLUMN age`)
	req := sdk.WriteRequest{Object: "people", Fields: []string{"email", "age"},
		Ops: []sdk.Op{create(map[string]sdk.Value{"email": sdk.String("b@example.com"), "age": sdk.Int(3)})}}
	_, err := c.Write(context.Background(), req)
	if sdk.CategoryOf(err) != sdk.CategoryTransient {
		t.Fatalf("write with a stale catalog: %v, want a transient error", err)
	}
	// The retry sees the column gone: the op fails alone, naming it.
	res, err := c.Write(context.Background(), req)
	if err != nil || res[0].Err == nil || res[0].Err.Field != "age" {
		t.Fatalf("retry: %+v, %v; want the op refused on age", res, err)
	}
}

// TestConcurrentUse: one Conn serves concurrent writes, reads and lookups
// (the SDK shares it between RPCs) through its small pool.
func TestConcurrentUse(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, peopleDDL)
	c := d.open(t)
	ctx := context.Background()
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				e := sdk.String(fmt.Sprintf("g%d-%d@example.com", g, i))
				res, err := c.Write(ctx, sdk.WriteRequest{Object: "people", Fields: []string{"email"}, Ops: []sdk.Op{create(map[string]sdk.Value{"email": e})}})
				if err == nil && res[0].Err != nil {
					err = res[0].Err
				}
				if err == nil {
					var got []sdk.Record
					got, err = c.Lookup(ctx, sdk.LookupRequest{Object: "people", Field: "email", Values: []sdk.Value{e}, Fields: []string{"email"}})
					if err == nil && (len(got) != 1 || got[0].ID != res[0].ID) {
						err = fmt.Errorf("lookup %s: %v, want %s", e.Str, ids(got), res[0].ID)
					}
				}
				if err == nil {
					err = c.Read(ctx, sdk.ReadRequest{Object: "people", Fields: []string{"email"}}, &collector{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, c, "people", "", "email"); len(got.recs) != 160 {
		t.Errorf("%d rows, want 160", len(got.recs))
	}
}
