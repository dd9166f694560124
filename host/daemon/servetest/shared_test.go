package servetest

import (
	"context"
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
