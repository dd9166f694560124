package servetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// Two daemons (two homes, as on two machines) share a state in PostgreSQL
// and a sync due every second: its runs never overlap, it runs on one
// schedule between them (not once each), and its record is copied once.
func TestTwoDaemonsShareAPostgresState(t *testing.T) {
	env := testsvc.Postgres(t)
	url := testsvc.CreateDatabase(t, env)
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('ann@example.com', 'Ann', ?)`, stamp0)
	homes := []string{t.TempDir(), t.TempDir()}
	for _, h := range homes {
		ok(t, h, "plugin", "install", bins.sqlite)
	}
	state := []string{"--state", url}
	ok(t, homes[0], append(state, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)...)
	ok(t, homes[0], append(state, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)...)
	ok(t, homes[0], append(state, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers",
		"--default-mappings", "--direction", "left-to-right", "--create-in", "right", "--every", "1s")...)
	ok(t, homes[0], append(state, "sync", "activate", "cn")...)

	var daemons []*server
	for _, h := range homes {
		daemons = append(daemons, serveWith(t, h, state))
		time.Sleep(500 * time.Millisecond) // out of step: each one's schedule alone would fall between the other's runs
	}
	const span = 6 * time.Second
	time.Sleep(span)
	for _, d := range daemons {
		if code := d.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	rows, err := db.Query(ctx, `SELECT started_at, finished_at, status, error FROM runs WHERE sync_name = 'cn' ORDER BY started_at`)
	if err != nil {
		t.Fatal(err)
	}
	type run2 struct{ start, end, status, err string }
	var runs []run2
	for rows.Next() {
		var r run2
		if err := rows.Scan(&r.start, &r.end, &r.status, &r.err); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, r := range runs {
		if r.status != "ok" && !strings.Contains(r.err, "run stopped") { // a run the daemons' stop cut short
			t.Errorf("run %d: status %s: %s", i, r.status, r.err)
		}
		if i > 0 && r.start < runs[i-1].end {
			t.Errorf("run %d started at %s, before run %d ended at %s", i, r.start, i-1, runs[i-1].end)
		}
	}
	// Due a second after the last ended and looked for each second (the
	// daemon's tick): a run every ~2s, 3 or 4 in ~6.5s. Each daemon on its
	// own schedule made 7 (measured).
	if len(runs) < 2 || len(runs) > 5 {
		t.Errorf("%d runs of a sync due every second, in %v, shared by two daemons; want 2..5", len(runs), span)
	}
	if n := news.int(`SELECT count(*) FROM subscribers WHERE email = 'ann@example.com'`); n != 1 {
		t.Fatalf("%d copies of ann, want 1", n)
	}
	for _, d := range daemons {
		if !strings.Contains(d.logText(), "take their sync's lease") {
			t.Fatalf("a daemon does not say it takes leases")
		}
	}
}

// Two daemons sharing a state watch a PostgreSQL table once between them:
// one connection LISTENs, not one each; both report the side watched, and
// a row inserted reaches SQLite within seconds, copied once.
func TestTwoDaemonsWatchATableOnce(t *testing.T) {
	env := testsvc.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exec, crmURL := watchedTable(ctx, t, env)
	state := []string{"--state", testsvc.CreateDatabase(t, env)}
	news := newDB(t, "news.db", newsSchema)
	homes := []string{t.TempDir(), t.TempDir()}
	for _, h := range homes {
		ok(t, h, "plugin", "install", bins.postgres)
		ok(t, h, "plugin", "install", bins.sqlite)
	}
	ok(t, homes[0], append(state, "connection", "add", "crm", "--plugin", "postgres", "--set", "url="+crmURL,
		"--set", "watch_channel=datasync", "--secret", "password="+env.Password)...)
	ok(t, homes[0], append(state, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)...)
	ok(t, homes[0], append(state, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers",
		"--default-mappings", "--direction", "left-to-right", "--create-in", "right", "--every", "1h")...)
	ok(t, homes[0], append(state, "sync", "activate", "cn")...)
	key, err := os.ReadFile(filepath.Join(homes[0], "master.key")) // the crm password is sealed with it
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(homes[1], "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}

	daemons := []*server{serveWith(t, homes[0], state), serveWith(t, homes[1], state)}
	for _, d := range daemons {
		var view struct {
			Watched []string `json:"watched"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for d.get("/api/v1/syncs/cn", &view); strings.Join(view.Watched, ",") != "left"; d.get("/api/v1/syncs/cn", &view) {
			if time.Now().After(deadline) {
				t.Fatalf("a daemon reports %q watched after 30s, want the source (left), watched by one of them", view.Watched)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	db, err := pgx.Connect(ctx, testsvc.CreateDatabase(t, env)) // any database: pg_stat_activity is the server's
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	dbname := strings.TrimSuffix(crmURL[strings.LastIndex(crmURL, "/")+1:], "?sslmode=disable")
	listening := func() (n int) {
		t.Helper()
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'`,
			dbname).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(2 * time.Second) // room for a second watch to start, were there one
	if n := listening(); n != 1 {
		t.Fatalf("%d connections LISTEN on the watched database for two daemons, want 1", n)
	}

	bobArrives(t, news, "PostgreSQL", "SQLite", func() {
		exec(`INSERT INTO contacts (email, first_name) VALUES ('bob@example.com', 'Bob')`)
	})
	time.Sleep(2 * time.Second)
	if n := news.int(`SELECT count(*) FROM subscribers`); n != 1 {
		t.Fatalf("%d subscribers, want bob once", n)
	}
	for _, d := range daemons {
		if code := d.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	}
}
