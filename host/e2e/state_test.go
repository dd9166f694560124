package e2e

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// TestStateInPostgres keeps datasync's state in PostgreSQL (--state): a
// first run creates, a second writes nothing, the links and runs are rows
// of that database and nothing is in the home; a second home sharing the
// state and the master key (another machine) knows the sync and its links,
// and its run writes nothing either. The password in the URL reaches no
// output.
func TestStateInPostgres(t *testing.T) {
	pg := newPG(t, `CREATE TABLE contacts (id serial PRIMARY KEY, email text UNIQUE, first_name text,
		updated_at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE subscribers (id serial PRIMARY KEY, email text UNIQUE, first_name text,
		updated_at timestamptz NOT NULL DEFAULT now())`)
	pg.exec(`INSERT INTO contacts (email, first_name) VALUES ('ann@example.com', 'Ann'), ('bob@example.com', 'Bob'),
		('cy@example.com', 'Cy')`)
	env := testsvc.Postgres(t)
	stateURL := testsvc.CreateDatabase(t, env)

	ds := newCLI(t, "postgres")
	ds.state = stateURL
	ds.ok("connection", "add", "crm", "--plugin", "postgres", "--set", "url="+pg.url, "--secret", "password="+pg.pass)
	ds.ok("sync", "create", "cn", "--left", "crm/contacts", "--right", "crm/subscribers", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right")
	if r := ds.syncRun("cn"); r.Right.Created != 3 {
		t.Fatalf("first run: %+v, want 3 created", r)
	}
	if r := ds.syncRun("cn"); r.Writes != 0 {
		t.Fatalf("second run: %+v, want no writes", r)
	}
	if _, err := os.Stat(filepath.Join(ds.home, "state.db")); err == nil {
		t.Fatalf("state.db was created in the home although the state is in PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := pgx.Connect(ctx, stateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	var links, runs int
	if err := st.QueryRow(ctx, `SELECT (SELECT count(*) FROM links WHERE sync_name = 'cn'),
		(SELECT count(*) FROM runs WHERE sync_name = 'cn' AND status = 'ok')`).Scan(&links, &runs); err != nil {
		t.Fatal(err)
	}
	if links != 3 || runs != 2 {
		t.Fatalf("the state database holds %d links and %d runs of cn, want 3 and 2", links, runs)
	}

	other := newCLI(t, "postgres")
	other.state = stateURL
	key, err := os.ReadFile(filepath.Join(ds.home, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other.home, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	pg.exec(`INSERT INTO contacts (email, first_name) VALUES ('dee@example.com', 'Dee')`)
	if r := other.syncRun("cn"); r.Right.Created != 1 || r.Writes != 1 {
		t.Fatalf("run from a second home sharing the state: %+v, want only dee created", r)
	}
	if n := len(pg.byEmail("subscribers")); n != 4 {
		t.Fatalf("%d subscribers, want 4 (no duplicates)", n)
	}
	cfg, err := pgx.ParseConfig(stateURL)
	if err != nil {
		t.Fatal(err)
	}
	r := ds.run("--log-level", "debug", "sync", "run", "cn")
	if strings.Contains(r.stdout+r.stderr, cfg.Password) {
		t.Fatalf("the state URL's password reached the output:\n%s\n%s", r.stdout, r.stderr)
	}
	if r := ds.run("sync", "list"); r.code != 0 || !strings.Contains(r.stdout, "cn") {
		t.Fatalf("sync list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := ds
	bad.state = "mysql://nope"
	if r := bad.run("sync", "list"); r.code == 0 || !strings.Contains(r.stderr, "--state: give a postgres://") {
		t.Fatalf("--state mysql://: exit %d\n%s", r.code, r.stderr)
	}
}

// Text that is not UTF-8 (Latin-1 in a SQLite file, as old apps wrote it)
// syncs byte for byte with the state in PostgreSQL, whose text holds only
// UTF-8: the first run copies it, the next writes nothing, and a change to
// it is copied as it is.
func TestLatin1TextWithStateInPostgres(t *testing.T) {
	const schema = `CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT, updated_at DATETIME)`
	crm, news := filepath.Join(t.TempDir(), "crm.db"), filepath.Join(t.TempDir(), "news.db")
	db := func(path string) *sql.DB {
		t.Helper()
		d, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if _, err := d.Exec(schema); err != nil {
			t.Fatal(err)
		}
		return d
	}
	src, dst := db(crm), db(news)
	// X'…' written as TEXT keeps its bytes: "Müller" and "Zoë" in Latin-1.
	if _, err := src.Exec(`INSERT INTO people (email, name, updated_at) VALUES
		('mu@example.com', CAST(X'4dfc6c6c6572' AS TEXT), '2026-01-01 00:00:00'),
		('zo@example.com', CAST(X'5a6feb' AS TEXT), '2026-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	names := func() map[string]string {
		t.Helper()
		rows, err := dst.Query(`SELECT email, CAST(name AS BLOB) FROM people`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var email string
			var name []byte
			if err := rows.Scan(&email, &name); err != nil {
				t.Fatal(err)
			}
			out[email] = string(name)
		}
		return out
	}

	ds := newCLI(t, "sqlite")
	ds.state = testsvc.CreateDatabase(t, testsvc.Postgres(t))
	ds.ok("connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm)
	ds.ok("connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news)
	ds.ok("sync", "create", "cn", "--left", "crm/people", "--right", "news/people", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right")
	if r := ds.syncRun("cn"); r.Right.Created != 2 {
		t.Fatalf("first run: %+v, want 2 created", r)
	}
	ds.noErrors("cn")
	if got := names(); got["mu@example.com"] != "M\xfcller" || got["zo@example.com"] != "Zo\xeb" {
		t.Fatalf("copied names %q, want the source's bytes", got)
	}
	if r := ds.syncRun("cn", "--full"); r.Writes != 0 {
		t.Fatalf("a full run after the first: %+v, want no writes", r)
	}
	if _, err := src.Exec(`UPDATE people SET name = CAST(X'4dfc6c6c6572e9' AS TEXT), updated_at = '2026-01-02 00:00:00'
		WHERE email = 'mu@example.com'`); err != nil {
		t.Fatal(err)
	}
	if r := ds.syncRun("cn"); r.Right.Updated != 1 || r.Writes != 1 {
		t.Fatalf("run after a change: %+v, want 1 update", r)
	}
	if got := names(); got["mu@example.com"] != "M\xfcller\xe9" {
		t.Fatalf("updated name %q, want the source's bytes", got["mu@example.com"])
	}
}
