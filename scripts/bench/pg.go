package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgTable is the contacts table on both PostgreSQL sides and for the baseline: a bigserial key,
// the ten text fields (email unique), the connector's updated-at column (indexed, for
// incremental reads) and its external-id column for crash-safe creates.
func pgTable(name string) string {
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = f + " text"
		if f == "email" {
			cols[i] += " UNIQUE"
		}
	}
	return fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s;
CREATE TABLE %[1]s (id bigserial PRIMARY KEY, %[2]s,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), datasync_id text UNIQUE);
CREATE INDEX ON %[1]s (updated_at, id);`, name, strings.Join(cols, ", "))
}

// pgCreate (re)creates table name, empty.
func pgCreate(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, pgTable(name)); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// pgSeed (re)creates table name with contacts 0..n-1.
func pgSeed(ctx context.Context, url, name string, n int) error {
	if err := pgCreate(ctx, url, name); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		return contact(i-1, 0), nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{name}, fields, src); err != nil {
		return fmt.Errorf("seed %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+name); err != nil {
		return fmt.Errorf("analyze %s: %w", name, err)
	}
	return nil
}

// pgBaseline is the raw copy a hand-written program would do: one pgx connection streams
// SELECT of the source table into CopyFrom on another, into an empty table of the same shape.
// It returns the rows copied, the time taken, and the CPU of the server (whose postmaster is
// pid, 0 when unknown) and of this process during the copy.
func pgBaseline(ctx context.Context, url string, pid int, from, to string) (n int64, took, server, proc time.Duration, err error) {
	if err := pgCreate(ctx, url, to); err != nil {
		return 0, 0, 0, 0, err
	}
	meter := serverMeter(pid)
	cpu0, _ := procCPU(os.Getpid())
	began := time.Now()
	rd, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer rd.Close(ctx)
	wr, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer wr.Close(ctx)
	rows, err := rd.Query(ctx, "SELECT "+strings.Join(fields, ", ")+" FROM "+from)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("select from %s: %w", from, err)
	}
	defer rows.Close()
	n, err = wr.CopyFrom(ctx, pgx.Identifier{to}, fields, rows)
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("copy into %s: %w", to, err)
	}
	took = time.Since(began)
	cpu1, _ := procCPU(os.Getpid())
	proc = cpu1 - cpu0
	server = meter() // the two backends are still there: their CPU counts as theirs
	// Untimed: the copy's own vacuum and analyze, which autovacuum would
	// otherwise run in the middle of the re-runs timed next.
	if _, err := wr.Exec(ctx, "VACUUM ANALYZE "+to); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("vacuum %s: %w", to, err)
	}
	return n, took, server, proc, nil
}

// pgTouch changes every 100th row of table name with an id in [lo, hi] (1 %): a new phone and
// source, and the updated-at the connector reads incrementally by. It returns how many changed.
func pgTouch(ctx context.Context, url, name string, variant, lo, hi int) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s SET phone = phone || ' x%d', source = source || ' (edit %d)',
  updated_at = clock_timestamp() WHERE id %% 100 = 0 AND id BETWEEN $1 AND $2`, name, variant, variant), lo, hi)
	if err != nil {
		return 0, fmt.Errorf("change 1%% of %s: %w", name, err)
	}
	return tag.RowsAffected(), nil
}

// pgCount returns the rows of table name.
func pgCount(ctx context.Context, url, name string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", name, err)
	}
	return n, nil
}
