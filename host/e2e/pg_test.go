package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// pgDB is a fresh PostgreSQL database for one test, reached directly with pgx
// to set up data and to check what datasync wrote.
type pgDB struct {
	t    *testing.T
	conn *pgx.Conn
	url  string // without the password, for --set url=...
	pass string // for --secret password=...
}

func newPG(t *testing.T, schema string) pgDB {
	t.Helper()
	env := testsvc.Postgres(t)
	full := testsvc.CreateDatabase(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, full)
	if err != nil {
		t.Fatalf("connect %s: %v", full, err)
	}
	// Cleanups run last-in first-out: this closes before the database is dropped.
	t.Cleanup(func() { conn.Close(context.Background()) })
	u, err := url.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(env.User)
	db := pgDB{t: t, conn: conn, url: u.String(), pass: env.Password}
	db.exec(schema)
	return db
}

func (d pgDB) exec(q string, args ...any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.conn.Exec(ctx, q, args...); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
}

// row is a table row, column → text ("" for NULL).
type row map[string]string

// byEmail returns a table's rows by lower-cased email, every column as text.
func (d pgDB) byEmail(table string) map[string]row {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := d.conn.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
	if err != nil {
		d.t.Fatalf("select %s: %v", table, err)
	}
	defer rs.Close()
	out := map[string]row{}
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			d.t.Fatalf("select %s: %v", table, err)
		}
		r := row{}
		for i, f := range rs.FieldDescriptions() {
			r[f.Name] = text(vals[i])
		}
		email := strings.ToLower(r["email"])
		if _, dup := out[email]; dup {
			d.t.Fatalf("two rows in %s with email %q", table, email)
		}
		out[email] = r
	}
	if err := rs.Err(); err != nil {
		d.t.Fatalf("select %s: %v", table, err)
	}
	return out
}

// text renders a column value; timestamps to the microsecond, so an
// unchanged updated_at compares equal and a rewritten one does not.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " "))
	}
}
