package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// A row some other writer set to exactly the (id, stamp) pair a marked
// write of ours stored is the one change a read skipping that mark would
// wrongly leave out; the host's own "same version, unchanged" rule would
// take it for unchanged too. The tests below do not try it.

// readSkip reads object from cursor, skipping marks.
func readSkip(t testing.TB, c sdk.Conn, object, cursor string, skip []string, fields ...string) *conformance.Collector {
	t.Helper()
	col, err := conformance.ReadAll(context.Background(), c, sdk.ReadRequest{Object: object, Cursor: cursor, Fields: fields, Skip: skip})
	if err != nil {
		t.Fatalf("read %s from %q skipping %d marks: %v", object, cursor, len(skip), err)
	}
	return col
}

// marksOf returns the distinct marks of results, failing on a successful
// create or update without one, unless the batch has a set mark (carried
// by the first of its rows only).
func marksOf(t testing.TB, ops []sdk.Op, res []sdk.WriteResult) []string {
	t.Helper()
	set := slices.ContainsFunc(res, func(r sdk.WriteResult) bool { return strings.HasPrefix(r.Mark, "sq1:s:") })
	var out []string
	for i, r := range res {
		if r.Err == nil && ops[i].Kind != sdk.OpDelete && r.Mark == "" && !set {
			t.Fatalf("op %d (%s) succeeded without a mark", i, ops[i].Kind)
		}
		if r.Mark != "" && !slices.Contains(out, r.Mark) {
			out = append(out, r.Mark)
		}
	}
	return out
}

func sortedIDs(recs []sdk.Record) []string {
	out := ids(recs)
	slices.Sort(out)
	return out
}

func sortedStrings(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// stampFor is a stamp as a table with an integer or text updated-at
// column stores it.
func stampFor(intStamp bool, at time.Time) any {
	if intStamp {
		return at.UTC().UnixMicro()
	}
	return at.UTC().Format(stampLayout)
}

func createOps(fields []string, n int, value func(k int) []sdk.Value) []sdk.Op {
	ops := make([]sdk.Op, n)
	for k := range ops {
		ops[k] = sdk.Op{Kind: sdk.OpCreate, Fields: fields, Values: value(k)}
	}
	return ops
}

// TestMarkEchoes: a batch of many creates and some updates carries few
// marks where ids are rowids (one per run), one per row elsewhere; a read
// from before it skipping them returns nothing, yet returns what others
// changed since (plain SQL setting updated-at) and a later write of ours.
func TestMarkEchoes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ddl      string
		intStamp bool
		textID   bool
		insert   string // a row from another program: name ?1, stamp ?2
	}{
		{"text stamps", `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, updated_at DATETIME)`, false, false,
			`INSERT INTO items (name, updated_at) VALUES (?1, ?2)`},
		{"integer stamps", `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, updated_at INTEGER)`, true, false,
			`INSERT INTO items (name, updated_at) VALUES (?1, ?2)`},
		{"hidden rowid", `CREATE TABLE items (name TEXT UNIQUE, updated_at TEXT)`, false, false,
			`INSERT INTO items (name, updated_at) VALUES (?1, ?2)`},
		{"text id", `CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT UNIQUE, updated_at DATETIME)`, false, true,
			`INSERT INTO items (id, name, updated_at) VALUES ('other:' || ?1, ?1, ?2)`},
		{"text id without rowid, integer stamps", `CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT UNIQUE, updated_at INTEGER) WITHOUT ROWID`, true, true,
			`INSERT INTO items (id, name, updated_at) VALUES ('other:' || ?1, ?1, ?2)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newDB(t, tc.ddl)
			c := openConn(t, path)
			db := rawDB(t, path)
			fields := []string{"name"}
			if tc.textID {
				fields = []string{"id", "name"}
			}
			value := func(name string, k int) []sdk.Value {
				if !tc.textID {
					return []sdk.Value{sdk.String(name)}
				}
				if k%2 == 0 {
					return []sdk.Value{sdk.String("k:" + name + ":x"), sdk.String(name)} // ids holding ':'
				}
				return []sdk.Value{sdk.Null, sdk.String(name)} // a generated UUID
			}
			seed := writeOK(t, c, "items", createOps(fields, 10, func(k int) []sdk.Value { return value(fmt.Sprint("seed", k), k) })...)
			c0 := readAll(t, c, "items", "", fields...).Cursor

			// 3000 creates, updates of two seed rows, 500 creates: more than one
			// read batch, and one run of consecutive rowids (and stamps: the
			// updates' come after the creates').
			ops := createOps(fields, 3000, func(k int) []sdk.Value { return value(fmt.Sprint("a", k), k) })
			ops = append(ops,
				sdk.Op{Kind: sdk.OpUpdate, ID: seed[3].ID, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("seed3 renamed")}},
				sdk.Op{Kind: sdk.OpUpdate, ID: seed[6].ID, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("seed6 renamed")}})
			ops = append(ops, createOps(fields, 500, func(k int) []sdk.Value { return value(fmt.Sprint("b", k), k) })...)
			res := writeOK(t, c, "items", ops...)
			marks := marksOf(t, ops, res)
			if tc.textID {
				if len(marks) != len(ops) {
					t.Errorf("%d marks for %d ops on a table keyed by text, want one each", len(marks), len(ops))
				}
			} else if len(marks) != 2 || !strings.HasPrefix(marks[1], "sq1:s:") {
				t.Errorf("marks %q: want 2, one run of creates and one set of the two updates", marks)
			} else if n := len(slices.DeleteFunc(slices.Clone(res), func(r sdk.WriteResult) bool { return r.Mark != marks[1] })); n != 1 {
				t.Errorf("the set mark rides on %d results, want 1 (repeated, it would cross the wire once per row)", n)
			}
			if n := len(readAll(t, c, "items", c0, fields...).All); n != len(ops) {
				t.Fatalf("read from before the write without marks: %d records, want %d", n, len(ops))
			}
			skipped := readSkip(t, c, "items", c0, marks, fields...)
			if len(skipped.All) != 0 {
				t.Fatalf("read skipping the write's marks: got %d records (first %s), want none", len(skipped.All), skipped.All[0].ID)
			}
			if again := readAll(t, c, "items", skipped.Cursor, fields...); len(again.All) != 0 {
				t.Fatalf("read from the skipping read's cursor: got %v, want nothing", ids(again.All))
			}

			// Another program changes a marked row, setting its updated-at, and
			// adds one: both come back despite the marks.
			later := time.Now().Add(time.Second)
			if _, err := db.Exec(`UPDATE items SET name = 'changed', updated_at = ? WHERE name = 'a100'`, stampFor(tc.intStamp, later)); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.insert, "foreign", stampFor(tc.intStamp, later)); err != nil {
				t.Fatal(err)
			}
			var foreignID string
			if err := db.QueryRow(`SELECT CAST(` + c.mustTable(t, "items").idExpr + ` AS TEXT) FROM items WHERE name = 'foreign'`).Scan(&foreignID); err != nil {
				t.Fatal(err)
			}
			want := sortedStrings(res[100].ID, foreignID)
			if got := sortedIDs(readSkip(t, c, "items", c0, marks, fields...).All); !slices.Equal(got, want) {
				t.Fatalf("read skipping the marks after changes by another program: got %v, want %v", got, want)
			}

			// A later write of ours to a marked row gives it another stamp: the
			// old marks no longer name it.
			upd := []sdk.Op{{Kind: sdk.OpUpdate, ID: res[200].ID, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("a200 again")}}}
			next := writeOK(t, c, "items", upd...)
			want = sortedStrings(res[100].ID, foreignID, res[200].ID)
			if got := sortedIDs(readSkip(t, c, "items", c0, marks, fields...).All); !slices.Equal(got, want) {
				t.Fatalf("read skipping the first write's marks after a later write: got %v, want %v", got, want)
			}
			want = sortedStrings(res[100].ID, foreignID)
			if got := sortedIDs(readSkip(t, c, "items", c0, append(marksOf(t, upd, next), marks...), fields...).All); !slices.Equal(got, want) {
				t.Fatalf("read skipping both writes' marks: got %v, want %v", got, want)
			}
		})
	}
}

func (c *conn) mustTable(t testing.TB, name string) *table {
	t.Helper()
	tb, err := c.table(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestMarkRuns: a failed op or a delete does not break a run of creates
// (it takes no stamp and no rowid), while a row out of order does.
func TestMarkRuns(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, updated_at DATETIME)`)
	c := openConn(t, path)
	name := func(s string) sdk.Op {
		return sdk.Op{Kind: sdk.OpCreate, Fields: []string{"name"}, Values: []sdk.Value{sdk.String(s)}}
	}
	seed := writeOK(t, c, "items", name("dup"), name("gone"))
	c0 := readAll(t, c, "items", "").Cursor
	// A clock ahead of the wall clock: stamps follow it, not time.Now.
	c.clock.last = time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	ops := []sdk.Op{name("a"), name("dup"), name("b"), {Kind: sdk.OpDelete, ID: seed[1].ID}, name("c"),
		{Kind: sdk.OpUpdate, ID: seed[0].ID, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("dup2")}}, name("d")}
	res := write(t, c, "items", ops...)
	if res[1].Err == nil || res[1].Mark != "" || res[3].Err != nil || res[3].Mark != "" {
		t.Fatalf("the duplicate create (%v, mark %q) and the delete (%v, mark %q): want a failure and a success, neither marked",
			res[1].Err, res[1].Mark, res[3].Err, res[3].Mark)
	}
	run := res[0].Mark
	if !strings.HasPrefix(run, "sq1:r:") || res[2].Mark != run || res[4].Mark != run || res[6].Mark != run {
		t.Errorf("marks of creates a, b, c, d: %q, %q, %q, %q; want one range mark, the update between them not breaking it",
			run, res[2].Mark, res[4].Mark, res[6].Mark)
	}
	if !strings.HasPrefix(res[5].Mark, "sq1:i:") {
		t.Errorf("mark of the update %q: want a single-row mark", res[5].Mark)
	}
	// The stamps of the batch's successful creates are consecutive, and
	// its update's comes after the five creates' (the failed one's unused).
	for i, k := range []int{0, 2, 4, 6} {
		if want := res[0].ModifiedAt.Add(time.Duration(i) * time.Microsecond); !res[k].ModifiedAt.Equal(want) {
			t.Errorf("op %d stamped %v, want %v", k, res[k].ModifiedAt, want)
		}
	}
	if want := res[0].ModifiedAt.Add(5 * time.Microsecond); !res[5].ModifiedAt.Equal(want) {
		t.Errorf("the update stamped %v, want %v", res[5].ModifiedAt, want)
	}
	// A read from before the batch, skipping its marks, returns none of
	// its rows.
	if got := readSkip(t, c, "items", c0, marksOf(t, ops, res)).All; len(got) != 0 {
		t.Errorf("read skipping the batch's marks returned %v", sortedIDs(got))
	}
	// A later batch's stamps follow.
	if next := writeOK(t, c, "items", name("e")); !next[0].ModifiedAt.After(res[5].ModifiedAt) {
		t.Errorf("next batch stamped %v, not after %v", next[0].ModifiedAt, res[5].ModifiedAt)
	}
	// Updates of consecutive rows (a and b) share a range mark too, and
	// the creates between them another.
	rename := func(id, s string) sdk.Op {
		return sdk.Op{Kind: sdk.OpUpdate, ID: id, Fields: []string{"name"}, Values: []sdk.Value{sdk.String(s)}}
	}
	res2 := writeOK(t, c, "items", rename(res[0].ID, "a2"), name("f"), rename(res[2].ID, "b2"), name("g"))
	if m := res2[0].Mark; !strings.HasPrefix(m, "sq1:r:") || res2[2].Mark != m {
		t.Errorf("marks of the updates of a and b: %q, %q; want one range mark", m, res2[2].Mark)
	}
	if m := res2[1].Mark; !strings.HasPrefix(m, "sq1:r:") || res2[3].Mark != m || m == res2[0].Mark {
		t.Errorf("marks of creates f and g: %q, %q; want another range mark", m, res2[3].Mark)
	}
}

// TestMarkNothing: tables whose writes cannot be marked exactly get none.
func TestMarkNothing(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE plain (id INTEGER PRIMARY KEY, name TEXT)`,
		`CREATE TABLE triggered (id INTEGER PRIMARY KEY, name TEXT, n INTEGER DEFAULT 0, updated_at DATETIME)`,
		`CREATE TRIGGER bump AFTER INSERT ON triggered BEGIN UPDATE triggered SET n = n + 1 WHERE id = NEW.id; END`)
	c := openConn(t, path)
	for _, obj := range []string{"plain", "triggered"} {
		res := writeOK(t, c, obj, sdk.Op{Kind: sdk.OpCreate, Fields: []string{"name"}, Values: []sdk.Value{sdk.String("x")}})
		if res[0].Mark != "" {
			t.Errorf("%s: mark %q, want none", obj, res[0].Mark)
		}
	}
}

// TestMarkCursorPastSkipped: when the last rows of a read are skipped, its
// cursor still moves past them, whether rows came before them or not.
func TestMarkCursorPastSkipped(t *testing.T) {
	for _, n := range []int{3, readBatch + 5} { // rows of another program's before ours
		t.Run(fmt.Sprint(n, " rows before"), func(t *testing.T) {
			path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
			c := openConn(t, path)
			db := rawDB(t, path)
			c0 := readAll(t, c, "items", "", "name").Cursor
			for i := range n {
				if _, err := db.Exec(`INSERT INTO items (name, updated_at) VALUES (?, ?)`, fmt.Sprint("other", i),
					stampFor(false, time.Now().Add(-time.Minute).Add(time.Duration(i)*time.Microsecond))); err != nil {
					t.Fatal(err)
				}
			}
			ops := createOps([]string{"name"}, 50, func(k int) []sdk.Value { return []sdk.Value{sdk.String(fmt.Sprint("ours", k))} })
			marks := marksOf(t, ops, writeOK(t, c, "items", ops...))
			got := readSkip(t, c, "items", c0, marks, "name")
			if len(got.All) != n {
				t.Fatalf("read skipping our marks: %d records, want the other program's %d", len(got.All), n)
			}
			if again := readAll(t, c, "items", got.Cursor, "name"); len(again.All) != 0 {
				t.Fatalf("read from the skipping read's cursor: got %d records (%v…), want none", len(again.All), again.All[0].ID)
			}
		})
	}
}

// TestMarkNullStamp: a marked row someone set to a NULL updated-at is read
// (a NULL must not make the skip condition NULL, which would leave it out).
func TestMarkNullStamp(t *testing.T) {
	for _, ddl := range []string{
		`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`,
		`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER)`,
		`CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, updated_at DATETIME)`,
		`CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT, updated_at INTEGER)`,
	} {
		path := newDB(t, ddl)
		c := openConn(t, path)
		db := rawDB(t, path)
		// A row without updated-at: the full read's cursor is at a NULL stamp,
		// from which NULL-stamped rows with a greater id are read.
		if _, err := db.Exec(`INSERT INTO items (id, name) VALUES (0, 'first')`); err != nil {
			t.Fatal(err)
		}
		c0 := readAll(t, c, "items", "", "name").Cursor
		ops := createOps([]string{"id", "name"}, 20, func(k int) []sdk.Value {
			return []sdk.Value{sdk.String(fmt.Sprint(k + 1)), sdk.String(fmt.Sprint("n", k))}
		})
		if strings.Contains(ddl, "INTEGER PRIMARY KEY") {
			ops = createOps([]string{"name"}, 20, func(k int) []sdk.Value { return []sdk.Value{sdk.String(fmt.Sprint("n", k))} })
		}
		res := writeOK(t, c, "items", ops...)
		marks := marksOf(t, ops, res)
		if _, err := db.Exec(`UPDATE items SET updated_at = NULL WHERE name = 'n7'`); err != nil {
			t.Fatal(err)
		}
		if got := ids(readSkip(t, c, "items", c0, marks, "name").All); !slices.Equal(got, []string{res[7].ID}) {
			t.Errorf("%s: read skipping the marks after a row's stamp was cleared: got %v, want [%s]", ddl, got, res[7].ID)
		}
	}
}

// TestMarkRangeSeconds: range marks over text stamps are matched second by
// second, and hold across many seconds (sparse rows, checked against
// stamps one microsecond off).
func TestMarkRangeSeconds(t *testing.T) {
	for _, intStamp := range []bool{false, true} {
		t.Run(fmt.Sprint("integer stamps ", intStamp), func(t *testing.T) {
			ddl := `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`
			if intStamp {
				ddl = `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER)`
			}
			path := newDB(t, ddl)
			c := openConn(t, path)
			db := rawDB(t, path)
			start := readAll(t, c, "items", "", "name").Cursor // the start of the table

			// Through the connector: a batch whose stamps cross a second.
			c.clock.last = time.Date(2030, 1, 1, 0, 0, 0, 999_990_000, time.UTC)
			ops := createOps([]string{"name"}, 25, func(k int) []sdk.Value { return []sdk.Value{sdk.String(fmt.Sprint("n", k))} })
			res := writeOK(t, c, "items", ops...)
			marks := marksOf(t, ops, res)
			if len(marks) != 1 || res[0].ModifiedAt.Second() == res[24].ModifiedAt.Second() {
				t.Fatalf("marks %q, stamps %v to %v: want one mark across a second", marks, res[0].ModifiedAt, res[24].ModifiedAt)
			}
			if got := readSkip(t, c, "items", start, marks, "name"); len(got.All) != 0 {
				t.Fatalf("read skipping the batch's mark: got %v, want nothing", ids(got.All))
			}

			// Rows 1000 to 3,500,999 stamped from 1.999000 s on, as one mark
			// names them (over 3 seconds): a few stored at their stamps, and
			// some a microsecond or a second off, or just past the range.
			const first, last = 1000, 3_500_999
			base := time.Date(2031, 1, 1, 0, 0, 1, 999_000_000, time.UTC)
			stampOf := func(r int64) time.Time { return base.Add(time.Duration(r-first) * time.Microsecond) }
			for _, r := range []int64{first, first + 999, first + 1000, first + 1001, 1_500_000, 2_001_000, last - 1, last} {
				if _, err := db.Exec(`INSERT INTO items (id, name, updated_at) VALUES (?, 'x', ?)`, r, stampFor(intStamp, stampOf(r))); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			for _, off := range []struct {
				r int64
				d time.Duration
			}{{first + 500, time.Microsecond}, {first + 1002, -time.Microsecond}, {1_500_001, time.Second}, {2_001_001, -time.Microsecond}, {last - 2, time.Microsecond}, {last + 1, 0}} {
				if _, err := db.Exec(`INSERT INTO items (id, name, updated_at) VALUES (?, 'x', ?)`, off.r, stampFor(intStamp, stampOf(off.r).Add(off.d))); err != nil {
					t.Fatal(err)
				}
				want = append(want, fmt.Sprint(off.r))
			}
			slices.Sort(want)
			m := fmt.Sprintf("sq1:r:%d:%d:%d", first, last, base.UnixMicro())
			got := sortedIDs(readSkip(t, c, "items", start, append(marks, m), "name").All)
			if !slices.Equal(got, want) {
				t.Fatalf("read skipping %s: got %v, want only the rows a microsecond off %v", m, got, want)
			}
		})
	}
}

// TestMarkManyRanges: range marks beyond maxRangeTerms are looked up row
// by row, so all of them still apply.
func TestMarkManyRanges(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	c := openConn(t, path)
	db := rawDB(t, path)
	start := readAll(t, c, "items", "", "name").Cursor
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var marks []string
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	n := maxRangeTerms + 100
	want := map[string]bool{} // the rows no mark names at their stamps
	between := 0              // rows between ranges
	for i := range n {
		// Ranges of 2 rows, stamps a second apart: one term each.
		at := base.Add(time.Duration(i) * time.Second)
		r := int64(10*i + 1)
		for k := range int64(2) {
			if _, err := tx.Exec(`INSERT INTO items (id, name, updated_at) VALUES (?, 'x', ?)`, r+k, stampFor(false, at.Add(time.Duration(k)*time.Microsecond))); err != nil {
				t.Fatal(err)
			}
		}
		marks = append(marks, fmt.Sprintf("sq1:r:%d:%d:%d", r, r+1, at.UnixMicro()))
		if i%7 == 0 {
			// A row between two ranges, and (every other time) a marked
			// row changed since: read, whichever term the row's id meets.
			if _, err := tx.Exec(`INSERT INTO items (id, name, updated_at) VALUES (?, 'y', ?)`, r+5, stampFor(false, at.Add(time.Millisecond))); err != nil {
				t.Fatal(err)
			}
			want[fmt.Sprint(r+5)] = true
			between++
			if i%2 == 0 {
				if _, err := tx.Exec(`UPDATE items SET updated_at = ? WHERE id = ?`, stampFor(false, at.Add(2*time.Millisecond)), r+1); err != nil {
					t.Fatal(err)
				}
				want[fmt.Sprint(r+1)] = true
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got := readSkip(t, c, "items", start, marks, "name")
	ids := map[string]bool{}
	for _, x := range got.All {
		ids[x.ID] = true
	}
	if !maps.Equal(ids, want) {
		t.Fatalf("read skipping %d range marks: %d records, want the %d no mark names (%v)", len(marks), len(ids), len(want), got.All)
	}
	if got := readAll(t, c, "items", start, "name"); len(got.All) != 2*n+between {
		t.Fatalf("read without marks: %d records, want %d", len(got.All), 2*n+between)
	}
}

// TestParseSkip: only well-formed marks of this connector count.
func TestParseSkip(t *testing.T) {
	ranges, rows := parseSkip([]string{
		"sq1:r:1:10:1700000000000000", "sq1:r:1:10:1700000000000000", // a duplicate
		"sq1:r:10:1:5", "sq1:r:1:2", "sq1:r:a:2:3", "sq1:r:1:2:-3", // reversed, short, not numbers, negative
		"sq1:i:1700000000000000:tk:a:b", "sq1:i:5:i42", "sq1:i:5:r1.5",
		"sq1:i:5:n", "sq1:i:5:", "sq1:i:5:x1", "sq1:i:x:i1", "sq1:i:5:rNaN", "sq1:i:5:ia", // null, empty, unknown kind, bad
		"pgx:123", "not-a-mark", "", "x:1-2", "sq2:r:1:2:3",
		"sq1:s:100:7.0,9.3,x.1,8.-1,8,", "sq1:s:-1:1.0", "sq1:s:5", // a set with bad items among good ones, a bad stamp, no list
	})
	if want := []rowRange{{1, 10, 1700000000000000}}; !slices.Equal(ranges, want) {
		t.Errorf("ranges = %v, want %v", ranges, want)
	}
	if want := []rowMark{{"k:a:b", 1700000000000000}, {int64(42), 5}, {1.5, 5}, {int64(7), 100}, {int64(9), 103}}; !slices.Equal(rows, want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
}

// TestMarkReadTakesNoWriteLock: a read skipping marks runs beside a
// writer holding the database's write lock.
func TestMarkReadTakesNoWriteLock(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, updated_at DATETIME)`)
	c := openConn(t, path)
	c0 := readAll(t, c, "items", "", "name").Cursor
	ops := createOps([]string{"name"}, 5, func(k int) []sdk.Value { return []sdk.Value{sdk.String(fmt.Sprint(k))} })
	marks := marksOf(t, ops, writeOK(t, c, "items", ops...))

	db := rawDB(t, path)
	lock, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer lock.ExecContext(context.Background(), "ROLLBACK")
	began := time.Now()
	if got := readSkip(t, c, "items", c0, marks, "name"); len(got.All) != 0 {
		t.Fatalf("got %v, want nothing", ids(got.All))
	}
	if d := time.Since(began); d > busyTimeout/2 {
		t.Fatalf("the read took %v beside a writer: it waited for the write lock", d)
	}
}
