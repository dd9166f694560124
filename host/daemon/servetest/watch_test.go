package servetest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/scripts/testsvc"
)

// A row added to a watched PostgreSQL table reaches SQLite within seconds,
// though the sync is scheduled hourly: the table's trigger notifies the
// connector's LISTEN channel, and the daemon runs the sync on the notice.
func TestWatchedChangeSyncsWithinSeconds(t *testing.T) {
	env := testsvc.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exec, crmURL := watchedTable(ctx, t, env)
	exec(`INSERT INTO contacts (email, first_name) VALUES ('ann@example.com', 'Ann')`)
	news := newDB(t, "news.db", newsSchema)
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.postgres)
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "postgres",
		"--set", "url="+crmURL, "--set", "watch_channel=datasync", "--secret", "password="+env.Password)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)
	ok(t, home, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right", "--every", "1h")
	ok(t, home, "sync", "activate", "cn")

	s := serve(t, home)
	s.waitRuns("cn", 1, 30*time.Second) // the first run, at start
	if n := news.int(`SELECT count(*) FROM subscribers WHERE email = 'ann@example.com'`); n != 1 {
		t.Fatalf("%d copies of ann after the first run, want 1", n)
	}
	var view struct {
		Watched []string `json:"watched"`
		NextRun string   `json:"next_run"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.get("/api/v1/syncs/cn", &view); strings.Join(view.Watched, ",") != "left"; s.get("/api/v1/syncs/cn", &view) {
		if time.Now().After(deadline) {
			t.Fatalf("the sync's source is not watched after 20s (watched %q)", view.Watched)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var status struct {
		WatchedBy map[string]string `json:"watched_by"`
	}
	if err := json.Unmarshal([]byte(ok(t, home, "sync", "status", "cn", "--json")), &status); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(":%d", s.cmd.Process.Pid); len(status.WatchedBy) != 1 || !strings.HasSuffix(status.WatchedBy["left"], want) {
		t.Fatalf("sync status says watched_by %q, want the left side by the daemon (host%s)", status.WatchedBy, want)
	}
	if out := ok(t, home, "sync", "status", "cn"); !strings.Contains(out, "Watched:   left side, by ") {
		t.Fatalf("sync status does not say who watches the source:\n%s", out)
	}

	bobArrives(t, news, "PostgreSQL", "SQLite", func() {
		exec(`INSERT INTO contacts (email, first_name) VALUES ('bob@example.com', 'Bob')`)
	})
	s.waitRuns("cn", 2, 10*time.Second)
	time.Sleep(2 * time.Second) // a third run would start within a second or two
	if rs := s.runs("cn"); len(rs) != 2 || rs[0].Status != "ok" || rs[0].Right.Created != 1 {
		t.Fatalf("runs %+v, want two, the second creating bob", rs)
	}
	_, body := s.do("GET", "/metrics", "Bearer "+s.token)
	if n := metric(string(body), "datasync_watch_notices_total", `sync="cn"`, `side="left"`); n != 1 {
		t.Fatalf("datasync_watch_notices_total of cn's left side = %v after one insert, want 1", n)
	}
	if !strings.Contains(s.logText(), "watching for changes") {
		t.Fatalf("the log does not say the side is watched")
	}
}

// The same with SQLite, whose connector polls the file's change counter: a
// row added to the source file is copied within seconds of an hourly
// schedule, and the sync's own writes to its target (not watched: one-way)
// start no run.
func TestWatchedSQLiteFile(t *testing.T) {
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('ann@example.com', 'Ann', ?)`, stamp0)
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)
	ok(t, home, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right", "--every", "1h")
	ok(t, home, "sync", "activate", "cn")
	s := serve(t, home)
	s.waitRuns("cn", 1, 30*time.Second)
	bobArrives(t, news, "crm.db", "news.db", func() {
		crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('bob@example.com', 'Bob', ?)`, stamp0)
	})
	time.Sleep(3 * time.Second) // a run started by the sync's own write would come within two
	if rs := s.runs("cn"); len(rs) != 2 || rs[0].Right.Created != 1 {
		t.Fatalf("runs %+v, want two, the second creating bob", rs)
	}
}

// A run of the sync by another process (here: its lease taken in the test,
// as another machine's daemon would) shows in the API as running_by.
func TestAPISaysWhoElseRunsTheSync(t *testing.T) {
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	home := t.TempDir()
	setup(t, home, crm, news)
	s := serve(t, home)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var view struct {
		RunningBy string `json:"running_by"`
	}
	s.get("/api/v1/syncs/cn", &view)
	if view.RunningBy != "" {
		t.Fatalf("running_by %q before anyone runs the sync", view.RunningBy)
	}
	l, err := st.AcquireLease(ctx, "cn", "elsewhere.example:4242", time.Hour, false, "")
	if err != nil {
		t.Fatal(err)
	}
	s.get("/api/v1/syncs/cn", &view)
	if view.RunningBy != "elsewhere.example:4242" {
		t.Fatalf("running_by %q while another process holds the lease, want it named", view.RunningBy)
	}
	if err := st.ReleaseLease(ctx, l, time.Time{}); err != nil {
		t.Fatal(err)
	}
	view.RunningBy = ""
	s.get("/api/v1/syncs/cn", &view)
	if view.RunningBy != "" {
		t.Fatalf("running_by %q once the lease is released", view.RunningBy)
	}
}

// watchedTable makes a database whose contacts table notifies channel
// datasync of every change (the trigger the connector's README gives). It
// returns what runs SQL there and the database's URL without its password.
func watchedTable(ctx context.Context, t *testing.T, env testsvc.PostgresEnv) (exec func(q string), url string) {
	t.Helper()
	full := testsvc.CreateDatabase(t, env)
	pg, err := pgx.Connect(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })
	exec = func(q string) {
		t.Helper()
		if _, err := pg.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE contacts (id serial PRIMARY KEY, email text, first_name text,
		updated_at timestamptz NOT NULL DEFAULT now())`)
	exec(`CREATE FUNCTION datasync_notify() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_notify('datasync', TG_TABLE_NAME); RETURN NULL; END $$`)
	exec(`CREATE TRIGGER contacts_datasync AFTER INSERT OR UPDATE OR DELETE ON contacts
		FOR EACH STATEMENT EXECUTE FUNCTION datasync_notify()`)
	cfg := pg.Config()
	return exec, fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, env.Host, env.Port, cfg.Database)
}

// bobArrives runs insert (bob into the watched source, from, whose sync
// runs hourly) and waits until bob is among news's subscribers (in to):
// within seconds, or the watch failed.
func bobArrives(t *testing.T, news db, from, to string, insert func()) {
	t.Helper()
	start := time.Now()
	insert()
	for news.int(`SELECT count(*) FROM subscribers WHERE email = 'bob@example.com'`) == 0 {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("bob not in %s 15s after his insert into %s (the next scheduled run is in an hour)", to, from)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a row inserted into %s reached %s in %v", from, to, time.Since(start).Round(time.Millisecond))
}
