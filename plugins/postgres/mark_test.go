package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

const itemsDDL = `CREATE TABLE items (id bigserial PRIMARY KEY, v text, w text, version int NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), deleted_at timestamptz);
CREATE INDEX ON items (updated_at, id);
INSERT INTO items (v) SELECT 'seed' || g FROM generate_series(1, 10) g`

func createV(v string) sdk.Op {
	return sdk.Op{Kind: sdk.OpCreate, Fields: []string{"v"}, Values: []sdk.Value{sdk.String(v)}}
}

func updateV(id int, v string) sdk.Op {
	return sdk.Op{Kind: sdk.OpUpdate, ID: strconv.Itoa(id), Fields: []string{"v"}, Values: []sdk.Value{sdk.String(v)}}
}

// writeItems writes ops to items and fails the test on any error.
func writeItems(t *testing.T, c *Conn, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res, err := c.Write(context.Background(), sdk.WriteRequest{Object: "items", Fields: []string{"v"}, Ops: ops})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("write op %d: %v", i, r.Err)
		}
	}
	return res
}

func marksOf(res ...[]sdk.WriteResult) []string {
	var out []string
	for _, rs := range res {
		for _, r := range rs {
			if r.Mark != "" && !slices.Contains(out, r.Mark) {
				out = append(out, r.Mark)
			}
		}
	}
	return out
}

func readSkipping(t *testing.T, c *Conn, cursor string, skip []string) *collector {
	t.Helper()
	col := &collector{}
	if err := c.Read(context.Background(), sdk.ReadRequest{Object: "items", Cursor: cursor, Fields: []string{"v"}, Skip: skip}, col); err != nil {
		t.Fatalf("read from %q skipping %d marks: %v", cursor, len(skip), err)
	}
	return col
}

// idValues is id → v of the records, failing on a record read twice.
func idValues(t *testing.T, recs []sdk.Record) map[string]string {
	t.Helper()
	m, err := byID(recs)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(m))
	for id, r := range m {
		out[id] = r.Values[0].Str
	}
	return out
}

// TestWriteMarks: created and updated rows (COPY, INSERT, batched and single
// UPDATE, each under its own savepoint) carry the full xid of the
// subtransaction that wrote them, which is what their xmin says; no marks
// when the version is a column, or when a trigger, a rule or a cascading
// foreign key could change other rows in the write's transaction.
func TestWriteMarks(t *testing.T) {
	cases := []struct {
		name     string
		ddl      []string
		settings []string
		marks    bool
	}{
		{name: "xmin", marks: true},
		{name: "xmin, soft delete", settings: []string{"soft_delete_column", "deleted_at"}, marks: true},
		{name: "version column", settings: []string{"version_column", "version"}},
		{name: "trigger", ddl: []string{
			`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
			`CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch()`}},
		{name: "rule", ddl: []string{`CREATE RULE also AS ON UPDATE TO items DO ALSO NOTIFY items`}},
		{name: "cascading foreign key", ddl: []string{
			`ALTER TABLE items ADD CONSTRAINT items_w_key UNIQUE (w)`,
			`CREATE TABLE children (id int PRIMARY KEY, w text REFERENCES items (w) ON UPDATE CASCADE)`}},
		{name: "restricting foreign key", marks: true, ddl: []string{
			`ALTER TABLE items ADD CONSTRAINT items_w_key UNIQUE (w)`,
			`CREATE TABLE children (id int PRIMARY KEY, w text REFERENCES items (w))`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDB(t)
			d.exec(t, itemsDDL)
			d.exec(t, tc.ddl...)
			c := d.open(t, tc.settings...)
			ctx := context.Background()
			// A COPY run, an INSERT, a batched UPDATE, a single UPDATE, a delete.
			var ops []sdk.Op
			for i := range copyMin + 6 {
				ops = append(ops, createV(fmt.Sprintf("copied%d", i)))
			}
			ops = append(ops, sdk.Op{Kind: sdk.OpCreate, Fields: []string{"v", "w"}, Values: []sdk.Value{sdk.String("inserted"), sdk.String("w")}})
			for id := 1; id <= 5; id++ {
				ops = append(ops, updateV(id, fmt.Sprintf("batch%d", id)))
			}
			ops = append(ops, sdk.Op{Kind: sdk.OpUpdate, ID: "6", Fields: []string{"v", "w"}, Values: []sdk.Value{sdk.String("single"), sdk.String("x")}},
				sdk.Op{Kind: sdk.OpDelete, ID: "7"})
			var before int64
			if err := d.conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			res := writeItems(t, c, ops...)
			if !tc.marks {
				if m := marksOf(res); len(m) != 0 {
					t.Fatalf("marks %v; want none", m)
				}
				return
			}
			// Every row the write left is marked: results grouped by mark are
			// exactly the rows whose full xmin is that xid.
			softDelete := slices.Contains(tc.settings, "soft_delete_column")
			byMark := map[string][]string{}
			for i, r := range res {
				if ops[i].Kind == sdk.OpDelete && !softDelete {
					if r.Mark != "" {
						t.Errorf("hard delete of %s: mark %q, want none (its version is the removed row's)", r.ID, r.Mark)
					}
					continue
				}
				x, ok := strings.CutPrefix(r.Mark, markPrefix)
				full, err := strconv.ParseUint(x, 10, 64)
				if !ok || err != nil {
					t.Fatalf("op %d (%v %s): mark %q, want %s and an xid", i, ops[i].Kind, r.ID, r.Mark, markPrefix)
				}
				if v, _ := strconv.ParseUint(r.Version, 10, 32); uint32(full) != uint32(v) || full < uint64(before) {
					t.Errorf("op %d (%s): mark %q for version %s, xids from %d on", i, r.ID, r.Mark, r.Version, before)
				}
				byMark[r.Mark] = append(byMark[r.Mark], r.ID)
			}
			// COPY, INSERT, batched UPDATE, each single op: a subtransaction each.
			if want := 3 + 1 + btoi(softDelete); len(byMark) != want {
				t.Errorf("%d distinct marks, want %d: %v", len(byMark), want, slices.Collect(maps.Keys(byMark)))
			}
			var xmax int64
			if err := d.conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8`).Scan(&xmax); err != nil {
				t.Fatal(err)
			}
			for mark, want := range byMark {
				xid := strings.TrimPrefix(mark, markPrefix)
				var got []string
				if err := d.conn.QueryRow(ctx, `SELECT coalesce(array_agg(id::text ORDER BY id), '{}') FROM items t WHERE `+
					fullXmin(uint64(xmax))+" = "+xid).Scan(&got); err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(want, func(a, b string) int {
					x, _ := strconv.Atoi(a)
					y, _ := strconv.Atoi(b)
					return x - y
				})
				if !slices.Equal(got, want) {
					t.Errorf("rows written by %s: %v, want %v", mark, got, want)
				}
			}
		})
	}
}

// TestIncrementalSkipMarks: a read from a cursor taken before three writes,
// skipping their marks, returns only what others changed in between and
// after (an insert between the writes, a written row changed again, a seed
// row changed), and its cursor ends past the skipped rows that come last.
// Without marks, or with foreign or garbage ones, the same read returns
// every change.
func TestIncrementalSkipMarks(t *testing.T) {
	for _, others := range []int{1, pageSize + 1} {
		t.Run(fmt.Sprintf("%d inserted by others", others), func(t *testing.T) {
			d := newTestDB(t)
			d.exec(t, itemsDDL)
			c := d.open(t)
			c0 := read(t, c, "items", "", "v")
			want := map[string]string{}  // id → v: the changes of others
			wrote := map[string]string{} // id → v: the connector's last writes

			var a []sdk.Op
			for i := range copyMin + 6 {
				a = append(a, createV(fmt.Sprintf("a%d", i)))
			}
			for id := 1; id <= 4; id++ {
				a = append(a, updateV(id, "a-upd"))
			}
			// Another session's transaction is open during the write: its row,
			// stamped before the write's rows, commits after them.
			during := adminConn(t, d.url)
			tx, err := during.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(context.Background(), `INSERT INTO items (v) VALUES ('other-during')`); err != nil {
				t.Fatal(err)
			}
			resA := writeItems(t, c, a...)
			if err := tx.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			d.exec(t, fmt.Sprintf(`INSERT INTO items (v) SELECT 'other' || g FROM generate_series(1, %d) g`, others))
			resB := writeItems(t, c, createV("b1"), createV("b2"), updateV(5, "b-upd"))
			d.exec(t, `UPDATE items SET v = 'again', updated_at = clock_timestamp() WHERE id = `+resA[0].ID,
				`UPDATE items SET v = 'seed6-other', updated_at = clock_timestamp() WHERE id = 6`)
			// The last changes are the connector's: the read's last page
			// ends before them.
			resC := writeItems(t, c, updateV(7, "c-upd"), updateV(8, "c-upd"), updateV(9, "c-upd"), updateV(10, "c-upd"))
			for _, res := range [][]sdk.WriteResult{resA, resB, resC} {
				for _, r := range res {
					wrote[r.ID] = r.Values[0].Str
				}
			}
			rows, err := d.conn.Query(context.Background(), `SELECT id::text, v FROM items WHERE v LIKE 'other%' OR v IN ('again', 'seed6-other')`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, v string
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatal(err)
				}
				want[id] = v
			}
			if rows.Err() != nil || len(want) != others+3 {
				t.Fatalf("setup: %d rows changed by others (%v), want %d", len(want), rows.Err(), others+3)
			}
			every := maps.Clone(wrote)
			maps.Copy(every, want)
			marks := marksOf(resA, resB, resC)
			if len(marks) < 4 {
				t.Fatalf("marks %v: want one per subtransaction", marks)
			}

			skipping := readSkipping(t, c, c0.cursor, marks)
			if got := idValues(t, skipping.recs); !maps.Equal(got, want) {
				t.Fatalf("read skipping the marks: %d records, want %d (the changes of others only)", len(got), len(want))
			}
			plain := read(t, c, "items", c0.cursor, "v")
			if got := idValues(t, plain.recs); !maps.Equal(got, every) {
				t.Fatalf("read without marks: %d records, want every change (%d)", len(got), len(every))
			}
			// Both end at the same place: the last row the connector wrote.
			cs, err1 := parseCursor(skipping.cursor)
			cp, err2 := parseCursor(plain.cursor)
			if err1 != nil || err2 != nil || cs.TS == nil || cp.TS == nil || *cs.TS != *cp.TS || !slices.Equal(cs.Key, cp.Key) {
				t.Fatalf("cursor of the skipping read %+v (%v), of the plain read %+v (%v): want the same mark", cs, err1, cp, err2)
			}
			if last := plain.recs[len(plain.recs)-1]; wrote[last.ID] == "" || cs.Key[0] != last.ID {
				t.Fatalf("plain read ends with %s, the skipping read's cursor at %v: want a row the connector wrote", last.ID, cs.Key)
			}
			if again := read(t, c, "items", skipping.cursor, "v"); len(again.recs) != 0 {
				t.Fatalf("read from the skipping read's cursor: %v, want nothing", ids(again.recs))
			}

			for _, skip := range [][]string{
				{"mem:1-2", "pgx:", "pgx:abc", "pgx:-5", "pgx:1", "pgx:99999999999999999999", "", "PGX:" + strings.TrimPrefix(marks[0], markPrefix)},
				{"other:" + strings.TrimPrefix(marks[0], markPrefix), " " + marks[1], marks[2] + " "},
			} {
				if got := idValues(t, readSkipping(t, c, c0.cursor, skip).recs); !maps.Equal(got, every) {
					t.Errorf("read skipping %q: %d records, want every change (%d)", skip, len(got), len(every))
				}
			}
			mixed := append([]string{"mem:0-9", "pgx:x"}, marks...)
			if got := idValues(t, readSkipping(t, c, c0.cursor, mixed).recs); !maps.Equal(got, want) {
				t.Errorf("read skipping the marks among foreign ones: %d records, want %d", len(got), len(want))
			}

			// Later changes, the connector's and others', after the skipping
			// read's cursor: skipping the write's marks, only the others' come.
			time.Sleep(time.Millisecond)
			resD := writeItems(t, c, updateV(2, "d-upd"), createV("d1"))
			d.exec(t, `UPDATE items SET v = 'late-other', updated_at = clock_timestamp() WHERE id = 3`)
			next := readSkipping(t, c, skipping.cursor, marksOf(resD))
			if got := idValues(t, next.recs); !maps.Equal(got, map[string]string{"3": "late-other"}) {
				t.Errorf("next read skipping its write: %v, want only 3", got)
			}
			if got := idValues(t, read(t, c, "items", skipping.cursor, "v").recs); len(got) != 3 || got["2"] != "d-upd" || got["3"] != "late-other" {
				t.Errorf("next read without marks: %v, want 2, 3 and the created row", got)
			}
			if again := read(t, c, "items", next.cursor, "v"); len(again.recs) != 0 {
				t.Errorf("read after the next one: %v, want nothing", ids(again.recs))
			}
		})
	}
}

// TestIncrementalSkipMarksCatchUp: rows a write stamped before the previous
// read's mark but committed after it come from the catch-up query, which
// also leaves out the marked ones.
func TestIncrementalSkipMarksCatchUp(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, itemsDDL)
	c := d.open(t)
	ctx := context.Background()
	var xmax int64
	if err := d.conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8`).Scan(&xmax); err != nil {
		t.Fatal(err)
	}
	res := writeItems(t, c, createV("w1"), createV("w2"), updateV(1, "w-upd"))
	d.exec(t, `INSERT INTO items (v) VALUES ('other')`)
	res2 := writeItems(t, c, updateV(2, "w-upd2"))
	// As a read would leave it with these writes in progress: its mark after
	// their stamps, its xmax before their xids.
	mark := time.Now().Add(time.Second).UnixMicro()
	cur := cursor{TS: &mark, Key: []string{"0"}, Xmax: uint64(xmax)}.encode()

	plain := read(t, c, "items", cur, "v")
	if got := idValues(t, plain.recs); len(got) != 5 || got["1"] != "w-upd" || got["2"] != "w-upd2" || !slices.Contains(slices.Collect(maps.Values(got)), "other") {
		t.Fatalf("catch-up without marks: %v, want the 4 rows written and the other one", got)
	}
	skipping := readSkipping(t, c, cur, marksOf(res, res2))
	if got := idValues(t, skipping.recs); len(got) != 1 || !slices.Contains(slices.Collect(maps.Values(got)), "other") {
		t.Fatalf("catch-up skipping the marks: %v, want the other row only", got)
	}
	if again := readSkipping(t, c, skipping.cursor, marksOf(res)); len(again.recs) != 0 {
		t.Errorf("read after the catch-up: %v, want nothing", ids(again.recs))
	}
	// Statements with a skip list are not kept prepared (each read's
	// differs), unlike the plain read's on the same connection.
	var plainKept, skipKept int
	if err := c.withConn(ctx, func(pc *pgx.Conn) error {
		// The patterns are split so that this statement does not match them.
		return pc.QueryRow(ctx, `SELECT count(*) FILTER (WHERE statement LIKE '%xm' || 'in%' AND statement NOT LIKE '%<> ' || 'ALL%'),
			count(*) FILTER (WHERE statement LIKE '%<> ' || 'ALL%') FROM pg_prepared_statements`).Scan(&plainKept, &skipKept)
	}); err != nil {
		t.Fatal(err)
	}
	if plainKept == 0 || skipKept != 0 {
		t.Errorf("prepared statements: %d of plain reads, %d with skip lists; want some, none", plainKept, skipKept)
	}
}
