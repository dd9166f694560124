package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

const peopleDDL = `CREATE TABLE people (
	id INTEGER PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	nick TEXT NOT NULL,
	age INTEGER,
	updated_at TEXT
)`

func person(email, nick string) sdk.Op {
	return conformance.CreateOp(map[string]sdk.Value{"email": sdk.String(email), "nick": sdk.String(nick)})
}

// TestWriteMixedBatch: each invalid op is reported in its own result with
// the right category and field; the valid ones around it commit.
func TestWriteMixedBatch(t *testing.T) {
	path := newDB(t, peopleDDL)
	c := openConn(t, path)
	seed := writeOK(t, c, "people", person("ann@example.com", "ann"), person("bob@example.com", "bob"), person("cy@example.com", "cy"))

	ops := []sdk.Op{
		person("dee@example.com", "dee"), // 0 good
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("eve@example.com")}), // 1 nick missing
		person("ann@example.com", "ann2"),                                                  // 2 duplicate email
		conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("f@example.com"), "nick": sdk.String("f"), "age": sdk.String("abc")}), // 3 not an integer
		conformance.UpdateOp("9999", "", map[string]sdk.Value{"nick": sdk.String("x")}),                                                     // 4 no such row
		conformance.DeleteOp("9999", ""), // 5 no such row
		conformance.UpdateOp(seed[0].ID, "2000-01-01 00:00:00.000000", map[string]sdk.Value{"nick": sdk.String("x")}), // 6 stale
		conformance.UpdateOp(seed[1].ID, seed[1].Version, map[string]sdk.Value{"age": sdk.String("42")}),              // 7 good, integer from text
		conformance.DeleteOp(seed[2].ID, seed[2].Version),                                                             // 8 good
		conformance.UpdateOp(seed[0].ID, "", map[string]sdk.Value{"shoe_size": sdk.Int(44)}),                          // 9 unknown field
		conformance.UpdateOp(seed[1].ID, "", map[string]sdk.Value{"email": sdk.String("ann@example.com")}),            // 10 duplicate by update
		conformance.UpdateOp(seed[1].ID, "", map[string]sdk.Value{"nick": sdk.Null}),                                  // 11 NOT NULL by update
		conformance.UpdateOp("not-a-number", "", map[string]sdk.Value{"nick": sdk.String("x")}),                       // 12 malformed id
	}
	want := []struct {
		cat   sdk.Category
		field string
	}{
		{}, {sdk.CategoryValidation, "nick"}, {sdk.CategoryDuplicate, "email"}, {sdk.CategoryValidation, "age"},
		{sdk.CategoryNotFound, ""}, {sdk.CategoryNotFound, ""}, {sdk.CategoryConflict, ""}, {}, {},
		{sdk.CategoryValidation, "shoe_size"}, {sdk.CategoryDuplicate, "email"}, {sdk.CategoryValidation, "nick"},
		{sdk.CategoryNotFound, ""},
	}
	res := write(t, c, "people", ops...)
	for i, w := range want {
		r := res[i]
		switch {
		case w.cat == sdk.CategoryUnspecified && r.Err != nil:
			t.Errorf("op %d: %v, want success", i, r.Err)
		case w.cat != sdk.CategoryUnspecified && (r.Err == nil || r.Err.Category != w.cat || r.Err.Field != w.field):
			t.Errorf("op %d: %v, want %s on field %q", i, r.Err, w.cat, w.field)
		}
	}
	if res[7].Err == nil && (res[7].Version == seed[1].Version || res[7].ID != seed[1].ID) {
		t.Errorf("good update result %+v: want id %s and a new version", res[7], seed[1].ID)
	}

	got := map[string][]sdk.Value{}
	for _, r := range readAll(t, c, "people", "", "email", "nick", "age").All {
		got[r.Values[0].Str] = r.Values
	}
	wantRows := map[string][]sdk.Value{
		"ann@example.com": {sdk.String("ann@example.com"), sdk.String("ann"), sdk.Null},
		"bob@example.com": {sdk.String("bob@example.com"), sdk.String("bob"), sdk.Int(42)},
		"dee@example.com": {sdk.String("dee@example.com"), sdk.String("dee"), sdk.Null},
	}
	if len(got) != len(wantRows) {
		t.Errorf("rows after the batch: %v", got)
	}
	for email, w := range wantRows {
		if !slices.EqualFunc(got[email], w, sdk.Value.Equal) {
			t.Errorf("%s = %v, want %v", email, got[email], w)
		}
	}
}

// TestWriteResults: a result carries id, version, and the stored values in
// the request's field order, including fields the op did not set.
func TestWriteResults(t *testing.T) {
	path := newDB(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT DEFAULT 'dflt', b DECIMAL, updated_at TEXT)`)
	c := openConn(t, path)
	b, _ := sdk.Decimal("12.50")
	res, err := c.Write(context.Background(), sdk.WriteRequest{
		Object: "t", Fields: []string{"b", "a"},
		Ops: []sdk.Op{{Kind: sdk.OpCreate, CorrelationID: "corr-1", Fields: []string{"b"}, Values: []sdk.Value{b}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Err != nil || r.ID == "" || r.Version == "" || r.CorrelationID != "corr-1" {
		t.Fatalf("result %+v", r)
	}
	want := []sdk.Value{{Kind: sdk.KindDecimal, Str: "12.5"}, sdk.String("dflt")}
	if !slices.EqualFunc(r.Values, want, sdk.Value.Equal) {
		t.Errorf("stored values %v, want %v (request field order, default filled in)", r.Values, want)
	}
}

// TestVersionsChangeOnEveryWrite: writes of one row within the same
// microsecond still get distinct, increasing versions.
func TestVersionsChangeOnEveryWrite(t *testing.T) {
	path := newDB(t, peopleDDL)
	c := openConn(t, path)
	id := writeOK(t, c, "people", person("a@example.com", "a"))[0].ID
	var ops []sdk.Op
	for range 50 {
		ops = append(ops, conformance.UpdateOp(id, "", map[string]sdk.Value{"nick": sdk.String("same")}))
	}
	res := writeOK(t, c, "people", ops...)
	for i := 1; i < len(res); i++ {
		if res[i].Version <= res[i-1].Version {
			t.Fatalf("update %d: version %q not after %q", i, res[i].Version, res[i-1].Version)
		}
	}
	// An empty patch is a write too.
	last := res[len(res)-1].Version
	if r := writeOK(t, c, "people", conformance.UpdateOp(id, last, nil))[0]; r.Version == last {
		t.Error("an empty patch kept the version")
	}
}

// TestUpdatedAtIsTheConnectors: a value sent for the updated-at column is
// not stored; the connector's stamp is.
func TestUpdatedAtIsTheConnectors(t *testing.T) {
	path := newDB(t, peopleDDL)
	c := openConn(t, path)
	before := time.Now().UTC().Add(-time.Second).Format(stampLayout)
	r := writeOK(t, c, "people", conformance.CreateOp(map[string]sdk.Value{
		"email": sdk.String("a@example.com"), "nick": sdk.String("a"), "updated_at": sdk.String("1999-01-01 00:00:00"),
	}))[0]
	var stored string
	if err := rawDB(t, path).QueryRow(`SELECT updated_at FROM people WHERE id = ?`, r.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != r.Version || stored < before || len(stored) != len(stampLayout) {
		t.Errorf("stored updated_at %q (version %q): want the connector's stamp, after %q", stored, r.Version, before)
	}
}

// TestTextPrimaryKey: a create may choose the key or get a UUID; the key is
// unique and cannot be changed by an update.
func TestTextPrimaryKey(t *testing.T) {
	path := newDB(t, `CREATE TABLE tags (slug TEXT PRIMARY KEY, label TEXT, updated_at TEXT) WITHOUT ROWID`)
	c := openConn(t, path)
	res := write(t, c, "tags",
		conformance.CreateOp(map[string]sdk.Value{"slug": sdk.String("go"), "label": sdk.String("Go")}),
		conformance.CreateOp(map[string]sdk.Value{"label": sdk.String("generated")}),
		conformance.CreateOp(map[string]sdk.Value{"slug": sdk.String("go"), "label": sdk.String("again")}),
	)
	if res[0].Err != nil || res[0].ID != "go" {
		t.Errorf("create with slug: %+v", res[0])
	}
	if res[1].Err != nil || len(res[1].ID) != 36 || strings.Count(res[1].ID, "-") != 4 {
		t.Errorf("create without slug: id %q (%v), want a UUID", res[1].ID, res[1].Err)
	}
	if res[2].Err == nil || res[2].Err.Category != sdk.CategoryDuplicate || res[2].Err.Field != "slug" {
		t.Errorf("duplicate slug: %v, want duplicate on slug", res[2].Err)
	}
	upd := write(t, c, "tags",
		conformance.UpdateOp("go", "", map[string]sdk.Value{"slug": sdk.String("golang")}),
		conformance.UpdateOp("go", "", map[string]sdk.Value{"slug": sdk.String("go"), "label": sdk.String("Go!")}),
		conformance.DeleteOp(res[1].ID, ""),
	)
	if upd[0].Err == nil || upd[0].Err.Category != sdk.CategoryValidation || upd[0].Err.Field != "slug" {
		t.Errorf("changing the key: %v, want a validation error on slug", upd[0].Err)
	}
	if upd[1].Err != nil || upd[2].Err != nil {
		t.Errorf("update keeping the key: %v; delete: %v", upd[1].Err, upd[2].Err)
	}
	all := readAll(t, c, "tags", "", "slug", "label").All
	if len(all) != 1 || all[0].ID != "go" || !all[0].Values[1].Equal(sdk.String("Go!")) {
		t.Errorf("rows %+v, want only go = Go!", all)
	}
}

// TestRowidsAreNotReused: SQLite hands out max(rowid)+1, so deleting the
// newest row would give its id to the next create; the connector prevents
// that, also for tables without an INTEGER PRIMARY KEY.
func TestRowidsAreNotReused(t *testing.T) {
	for _, ddl := range []string{
		`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE t (name TEXT)`,
	} {
		c := openConn(t, newDB(t, ddl))
		a := writeOK(t, c, "t", conformance.CreateOp(map[string]sdk.Value{"name": sdk.String("a")}),
			conformance.CreateOp(map[string]sdk.Value{"name": sdk.String("b")}))
		writeOK(t, c, "t", conformance.DeleteOp(a[1].ID, ""))
		b := writeOK(t, c, "t", conformance.CreateOp(map[string]sdk.Value{"name": sdk.String("c")}))
		if b[0].ID == a[1].ID || b[0].ID == a[0].ID {
			t.Errorf("%s: new row got id %s; ids so far %s, %s (deleted)", ddl, b[0].ID, a[0].ID, a[1].ID)
		}
		if r := write(t, c, "t", conformance.UpdateOp(a[1].ID, "", map[string]sdk.Value{"name": sdk.String("x")}))[0]; r.Err == nil || r.Err.Category != sdk.CategoryNotFound {
			t.Errorf("%s: update of the deleted id: %v, want not_found", ddl, r.Err)
		}
	}
}

// TestSavepointsUndoTriggerEffects: with an ON CONFLICT FAIL column, SQLite
// would keep what a trigger did before the failure; the per-op savepoint
// undoes it, so the audit trail only holds the ops that succeeded.
func TestSavepointsUndoTriggerEffects(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT FAIL, updated_at TEXT)`,
		`CREATE TABLE audit (code TEXT)`,
		`CREATE TRIGGER t_audit BEFORE INSERT ON t BEGIN INSERT INTO audit (code) VALUES (NEW.code); END`,
	)
	c := openConn(t, path)
	res := write(t, c, "t",
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("a")}),
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("a")}),
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("b")}),
	)
	if res[0].Err != nil || res[2].Err != nil || res[1].Err == nil || res[1].Err.Category != sdk.CategoryDuplicate {
		t.Fatalf("results %v, %v, %v", res[0].Err, res[1].Err, res[2].Err)
	}
	var codes []string
	rows, err := rawDB(t, path).Query(`SELECT code FROM audit ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		codes = append(codes, s)
	}
	if !slices.Equal(codes, []string{"a", "b"}) {
		t.Errorf("audit rows %v, want [a b]: the failed op's trigger effect must be undone", codes)
	}
}

// TestRollbackClauseFailsTheBatch: ON CONFLICT ROLLBACK ends the whole
// transaction; the connector reports the batch failed and applied nothing.
func TestRollbackClauseFailsTheBatch(t *testing.T) {
	path := newDB(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE ON CONFLICT ROLLBACK)`)
	c := openConn(t, path)
	writeOK(t, c, "t", conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("a")}))
	_, err := conformance.WriteOps(context.Background(), c, "t",
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("b")}),
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("a")}),
		conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("c")}),
	)
	if err == nil || !strings.Contains(err.Error(), "ROLLBACK") {
		t.Fatalf("batch error %v, want one naming the ROLLBACK clause", err)
	}
	if got := readAll(t, c, "t", "", "code").All; len(got) != 1 {
		t.Errorf("%d rows after a failed batch, want the 1 from before", len(got))
	}
	writeOK(t, c, "t", conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("d")}))
}

func TestWriteUnknownObject(t *testing.T) {
	c := openConn(t, newDB(t, peopleDDL))
	_, err := c.Write(context.Background(), sdk.WriteRequest{Object: "nope", Ops: []sdk.Op{person("a@b.c", "a")}})
	if sdk.CategoryOf(err) != sdk.CategoryNotFound {
		t.Errorf("write to a missing table: %v, want not_found", err)
	}
}

// TestCheckConstraint: a CHECK failure is a validation error naming the
// column its expression mentions.
func TestCheckConstraint(t *testing.T) {
	c := openConn(t, newDB(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, age INTEGER CHECK (age >= 0), name TEXT) STRICT`))
	res := write(t, c, "t",
		conformance.CreateOp(map[string]sdk.Value{"age": sdk.Int(-1), "name": sdk.String("a")}),
		conformance.CreateOp(map[string]sdk.Value{"age": sdk.Int(1), "name": sdk.Int(7)}),
	)
	if e := res[0].Err; e == nil || e.Category != sdk.CategoryValidation || e.Field != "age" {
		t.Errorf("CHECK failure: %v, want a validation error on age", e)
	}
	if res[1].Err != nil || !res[1].Values[1].Equal(sdk.String("7")) {
		t.Errorf("an integer into a STRICT TEXT column: %+v, want stored as text \"7\"", res[1])
	}
}

// TestOddNames: table and column names needing quotes work everywhere.
func TestOddNames(t *testing.T) {
	c := openConn(t, newDB(t, `CREATE TABLE "odd ""t"" name" ("first name" TEXT UNIQUE, "select" INTEGER, updated_at TEXT)`))
	const table = `odd "t" name`
	r := writeOK(t, c, table, conformance.CreateOp(map[string]sdk.Value{"first name": sdk.String("Ann"), "select": sdk.Int(1)}))[0]
	writeOK(t, c, table, conformance.UpdateOp(r.ID, r.Version, map[string]sdk.Value{"select": sdk.Int(2)}))
	recs, err := c.Lookup(context.Background(), sdk.LookupRequest{Object: table, Field: "first name", Values: []sdk.Value{sdk.String("Ann")}, Fields: []string{"select"}})
	if err != nil || len(recs) != 1 || !recs[0].Values[0].Equal(sdk.Int(2)) {
		t.Errorf("lookup: %v, %v", recs, err)
	}
	col := readAll(t, c, table, "", "first name", "select")
	if len(col.All) != 1 || col.Cursor == "" {
		t.Errorf("read: %+v", col)
	}
}

// TestWriteCancelled: a batch whose context ends before it commits applies
// nothing.
func TestWriteCancelled(t *testing.T) {
	c := openConn(t, newDB(t, peopleDDL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Write(ctx, sdk.WriteRequest{Object: "people", Fields: []string{"email", "nick"}, Ops: []sdk.Op{person("a@example.com", "a")}})
	if err == nil {
		t.Fatal("a cancelled write succeeded")
	}
	if n := len(readAll(t, c, "people", "").All); n != 0 {
		t.Errorf("%d rows after a cancelled write", n)
	}
	writeOK(t, c, "people", person("b@example.com", "b")) // the connection is still usable
}
