package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// echoRows is how many rows TestIncrementalEchoCost writes
// (DATASYNC_ECHO_ROWS, default 200,000: the problem showed only at that size).
func echoRows() int {
	if n, err := strconv.Atoi(os.Getenv("DATASYNC_ECHO_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// TestIncrementalEchoCost is the bench's no-change re-run at the connector:
// a cursor taken on the empty table, then rows created through Write (COPY,
// as the host writes them, with their external ids) into a freshly made
// table, then an incremental read from that cursor, which returns them all
// (the host's echoes). It logs the read's cost per row and the plans of its
// queries; then the same read skipping the writes' marks, which returns none
// of them.
func TestIncrementalEchoCost(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: writes 200,000 rows")
	}
	n := echoRows()
	d := newTestDB(t)
	d.exec(t, `CREATE TABLE contacts (id bigserial PRIMARY KEY, email text UNIQUE, first_name text, last_name text,
	phone text, company text, city text, country text, stage text, owner text, source text,
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), datasync_id text UNIQUE)`,
		`CREATE INDEX ON contacts (updated_at, id)`)
	c := d.open(t)
	ctx := context.Background()
	fields := append(append([]string(nil), benchFields...), "datasync_id")
	empty := read(t, c, "contacts", "", fields...)
	if len(empty.recs) != 0 {
		t.Fatalf("empty table read %d records", len(empty.recs))
	}
	var marks []string
	for from := 0; from < n; from += sdk.BatchRecords {
		ops := benchOps(min(sdk.BatchRecords, n-from), from)
		for i := range ops {
			ops[i].Fields = fields
			ops[i].Values = append(ops[i].Values, sdk.String(fmt.Sprintf("link-%d", from+i)))
		}
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: fields, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		marks = append(marks, marksOf(res)...)
	}
	type query struct {
		sql  string
		args []any
	}
	var queries []query
	c.traceQuery = func(sql string, args []any) { queries = append(queries, query{sql, args}) }
	start := time.Now()
	col := &countSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "contacts", Cursor: empty.cursor, Fields: fields}, col); err != nil {
		t.Fatal(err)
	}
	c.traceQuery = nil
	el := time.Since(start)
	if col.n != n {
		t.Fatalf("incremental read returned %d records, want %d", col.n, n)
	}
	t.Logf("incremental read of %d echoes: %v, %.1f µs/row, %d queries", n, el, float64(el.Microseconds())/float64(n), len(queries))
	start = time.Now()
	full := &countSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "contacts", Fields: fields}, full); err != nil {
		t.Fatal(err)
	}
	fullEl := time.Since(start)
	// Before the read kept the planner from sorting, the incremental read took
	// 9 times the full read here (3.5 s against 0.38 s); now about as long.
	// Logged, not asserted: speed belongs to make bench, the plan is checked
	// below.
	t.Logf("full read of the same rows: %v", fullEl)

	// With the marks (one per write: its COPY's subtransaction) the echoes
	// stay in the database, and the cursor still moves past them.
	start = time.Now()
	skipping := &countSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "contacts", Cursor: empty.cursor, Fields: fields, Skip: marks}, skipping); err != nil {
		t.Fatal(err)
	}
	t.Logf("incremental read skipping %d marks: %v, %d records", len(marks), time.Since(start), skipping.n)
	if skipping.n != 0 {
		t.Fatalf("incremental read skipping the marks returned %d records, want none", skipping.n)
	}
	if again := read(t, c, "contacts", skipping.cursor, fields...); len(again.recs) != 0 {
		t.Fatalf("read from the skipping read's cursor: %d records, want none", len(again.recs))
	}

	// The second page is where it went wrong: no statistics yet, so the
	// planner guessed 180 rows past the mark and sorted all 195,000 of them
	// for each page. As the read plans it (enable_sort off), custom or
	// generic, it walks the index and stops after a page.
	q := queries[1]
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, sorting := range []string{"on", "off"} {
			plan := explain(t, d, q.sql, q.args, "plan_cache_mode = "+mode, "enable_sort = "+sorting)
			if os.Getenv("DATASYNC_EXPLAIN") != "" {
				t.Logf("%s, enable_sort %s: %s %v\n%s", mode, sorting, q.sql, q.args, plan)
			}
			if sorting == "off" && (strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan using")) {
				t.Errorf("page query, %s: not an index walk:\n%s", mode, plan)
			}
		}
	}
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of sql as a prepared statement
// (so that plan_cache_mode applies) after SET LOCAL of each setting.
func explain(t *testing.T, d *testDB, sql string, args []any, settings ...string) string {
	t.Helper()
	ctx := context.Background()
	tx, err := d.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range settings {
		if _, err := tx.Exec(ctx, "SET LOCAL "+s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}
