package e2e

import (
	"strings"
	"testing"
)

// TestBulkEditsInSlicesPostgres syncs two PostgreSQL tables both ways, then
// changes every row on both sides, the right in the opposite order: the run
// goes in slices (a side's read stops past 20,000 changes), most records
// have their two changes read in different slices, and the writes a slice
// makes with a version a later slice's read has passed are refused by the
// connector (IfVersion) and merged by that later slice. In the end every
// row holds both changes, nothing failed, and the next run has nothing to
// do: the echoes of every slice's writes were skipped.
func TestBulkEditsInSlicesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	const n = 25000
	table := `(id bigserial PRIMARY KEY, email text UNIQUE, first_name text, last_name text,
		updated_at timestamptz NOT NULL DEFAULT now())`
	pg := newPG(t, `CREATE TABLE src `+table+`; CREATE TABLE dst `+table)
	pg.exec(`INSERT INTO src (email, first_name, last_name) SELECT 'c' || i || '@x.io', 'F' || i, 'L' || i FROM generate_series(1, $1::int) i`, n)

	ds := newCLI(t, "postgres")
	ds.ok("connection", "add", "pg", "--plugin", "postgres", "--set", "url="+pg.url, "--secret", "password="+pg.pass)
	ds.ok("sync", "create", "bulk", "--left", "pg/src", "--right", "pg/dst", "--default-mappings")
	if r := ds.syncRun("bulk"); r.Right.Created != n {
		t.Fatalf("first run: %+v, want %d created on the right", r, n)
	}

	// Every row changed on each side, one field each; the right's rows
	// stamped in the opposite order of the left's (a few milliseconds back,
	// still after the first run's writes).
	pg.exec(`UPDATE src SET first_name = first_name || '!', updated_at = clock_timestamp()`)
	pg.exec(`UPDATE dst SET last_name = last_name || '?', updated_at = now() - id * interval '1 microsecond'`)
	var r struct {
		runOut
		Slices int
	}
	ds.json(&r, "sync", "run", "bulk")
	if r.Status != "ok" || r.Failed != 0 || r.Left.Failed+r.Right.Failed != 0 {
		t.Fatalf("bulk run: %+v\nerrors: %s", r, ds.ok("sync", "errors", "bulk"))
	}
	t.Logf("bulk run: %d slices, left %+v, right %+v", r.Slices, r.Left, r.Right)
	if r.Slices < 2 {
		t.Errorf("bulk run went in %d slices, want at least 2", r.Slices)
	}
	if r.Left.Read != n || r.Right.Read != n || r.Left.Updated != n || r.Right.Updated != n {
		t.Errorf("bulk run: %+v, want %d read and updated on each side", r, n)
	}
	ds.noErrors("bulk")
	for _, tbl := range []string{"src", "dst"} {
		rows := pg.byEmail(tbl)
		if len(rows) != n {
			t.Fatalf("%s has %d rows, want %d", tbl, len(rows), n)
		}
		bad := 0
		for email, row := range rows {
			if !strings.HasSuffix(row["first_name"], "!") || !strings.HasSuffix(row["last_name"], "?") {
				if bad++; bad <= 3 {
					t.Errorf("%s %s lacks a change: %v", tbl, email, row)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d rows lack a change", tbl, bad, n)
		}
	}
	if q := ds.syncRun("bulk"); q.Writes != 0 || q.Left.Read+q.Right.Read != 0 {
		t.Errorf("run after the bulk run: %+v, want nothing read or written", q)
	}
}
