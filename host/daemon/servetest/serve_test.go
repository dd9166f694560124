package servetest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every endpoint but /healthz and /readyz answers 401 with an empty body
// to a request without the token or with a wrong one, and nothing runs.
func TestUnauthorized(t *testing.T) {
	home := t.TempDir()
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('ann@example.com', 'Ann', ?)`, stamp0)
	setup(t, home, crm, news)
	s := serve(t, home)

	fi, err := os.Stat(filepath.Join(home, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || len(s.token) < 32 {
		t.Fatalf("api.token mode %v, %d chars: want 0600 and a long token", fi.Mode().Perm(), len(s.token))
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := s.do("GET", p, ""); code != http.StatusOK {
			t.Errorf("GET %s without token: %d, want 200", p, code)
		}
	}
	endpoints := []struct{ method, path string }{
		{"GET", "/api/v1/syncs"}, {"GET", "/api/v1/syncs/cn"}, {"GET", "/api/v1/syncs/cn/errors"},
		{"GET", "/api/v1/syncs/cn/records?created=1"}, {"GET", "/api/v1/syncs/cn/conflicts"},
		{"GET", "/api/v1/syncs/cn/runs"}, {"GET", "/api/v1/syncs/cn/records/left/1/history"},
		{"POST", "/api/v1/syncs/cn/run"}, {"POST", "/api/v1/syncs/cn/pause"}, {"POST", "/api/v1/syncs/cn/resume"},
		{"POST", "/api/v1/syncs/cn/retry"}, {"GET", "/metrics"}, {"GET", "/api/v1/nope"},
		{"GET", "/api/v1/syncs/nope"},
	}
	for _, e := range endpoints {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + s.token[:len(s.token)-1], s.token, "Basic " + s.token} {
			code, body := s.do(e.method, e.path, auth)
			if code != http.StatusUnauthorized || len(body) != 0 {
				t.Errorf("%s %s with Authorization %q: %d %q, want 401 and no body", e.method, e.path, auth, code, body)
			}
		}
	}
	if got := s.runs("cn"); len(got) != 0 {
		t.Fatalf("unauthorized POSTs ran the sync: %+v", got)
	}
	if news.int(`SELECT COUNT(*) FROM subscribers`) != 0 {
		t.Fatal("unauthorized POSTs wrote records")
	}
	// With the token the same endpoints answer.
	if code, _ := s.do("GET", "/api/v1/syncs/cn", "Bearer "+s.token); code != http.StatusOK {
		t.Fatalf("with token: %d", code)
	}
	if code, _ := s.do("GET", "/api/v1/syncs/nope", "Bearer "+s.token); code != http.StatusNotFound {
		t.Fatalf("unknown sync with token: %d, want 404", code)
	}
}

// After a run, /metrics shows what the run did: records read, written and
// failed per side and category, one ok run with its duration, the time of
// the last success.
func TestMetricsMatchRun(t *testing.T) {
	home := t.TempDir()
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	for i, e := range []string{"ann@example.com", "bob@example.com", "not-an-email", "cy@example.com", "dee@example.com"} {
		crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES (?, ?, ?)`, e, fmt.Sprint("P", i), stamp0)
	}
	setup(t, home, crm, news)
	s := serve(t, home)
	var m0 string
	{
		_, b := s.do("GET", "/metrics", "Bearer "+s.token)
		m0 = string(b)
	}
	if v := metric(m0, "datasync_runs_total"); v != -1 {
		t.Fatalf("runs counted before any run: %v", v)
	}
	before := time.Now()
	s.post("/api/v1/syncs/cn/run")
	rs := s.waitRuns("cn", 1, 30*time.Second)
	r := rs[0]
	if r.Status != "ok" || r.Left.Read != 5 || r.Right.Created != 4 {
		t.Fatalf("run %+v: want ok, 5 read on the left, 4 created on the right", r)
	}
	var groups []struct {
		Category string
		Count    int
		Hint     string
		Records  []struct {
			Side     string
			RecordID string `json:"record_id"`
			Field    string
			Value    string
		}
	}
	s.get("/api/v1/syncs/cn/errors", &groups)
	if len(groups) != 1 || groups[0].Category != "validation" || groups[0].Count != 1 ||
		groups[0].Records[0].Value != "not-an-email" || groups[0].Hint == "" {
		t.Fatalf("errors %+v: want one validation error on not-an-email with a hint", groups)
	}
	failSide := groups[0].Records[0].Side

	// The run is stored as finished a moment before the daemon counts it.
	var text string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, b := s.do("GET", "/metrics", "Bearer "+s.token)
		text = string(b)
		if metric(text, "datasync_runs_total", `sync="cn"`) >= 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"datasync_records_read_total", []string{`sync="cn"`, `side="left"`}, float64(r.Left.Read)},
		{"datasync_records_read_total", []string{`sync="cn"`, `side="right"`}, float64(r.Right.Read)},
		{"datasync_records_written_total", []string{`sync="cn"`, `side="right"`, `op="create"`}, float64(r.Right.Created)},
		{"datasync_records_written_total", []string{`sync="cn"`, `side="right"`, `op="update"`}, float64(r.Right.Updated)},
		{"datasync_records_written_total", []string{`sync="cn"`, `side="left"`, `op="create"`}, float64(r.Left.Created)},
		{"datasync_records_failed_total", []string{`sync="cn"`, `side="` + failSide + `"`, `category="validation"`}, 1},
		{"datasync_runs_total", []string{`sync="cn"`, `status="ok"`}, 1},
		{"datasync_run_duration_seconds_count", []string{`sync="cn"`, `status="ok"`}, 1},
	} {
		if got := metric(text, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	last := metric(text, "datasync_last_success_timestamp_seconds", `sync="cn"`)
	if last < float64(before.Unix())-1 || last > float64(time.Now().Unix())+1 {
		t.Errorf("last success %v, want between %v and now", last, before.Unix())
	}
	if news.int(`SELECT COUNT(*) FROM subscribers`) != r.Right.Created {
		t.Fatalf("right table holds %d rows, run says %d created", news.int(`SELECT COUNT(*) FROM subscribers`), r.Right.Created)
	}
	var list []struct {
		Name   string
		Health struct{ Syncing, Excluded, Failing int }
	}
	s.get("/api/v1/syncs", &list)
	if len(list) != 1 || list[0].Health.Syncing != 4 || list[0].Health.Failing != 1 {
		t.Fatalf("sync list %+v: want 4 syncing, 1 failing", list)
	}
	var created []struct {
		Op, Side string
		RecordID string `json:"record_id"`
	}
	s.get("/api/v1/syncs/cn/records?created=1", &created)
	if len(created) != 4 || created[0].Op != "create" || created[0].Side != "right" {
		t.Fatalf("created records %+v", created)
	}
	var hist struct {
		History []struct {
			Op, Direction string
			Changes       []struct{ Field string }
		}
	}
	s.get("/api/v1/syncs/cn/records/right/"+created[0].RecordID+"/history", &hist)
	if len(hist.History) != 1 || hist.History[0].Op != "create" || hist.History[0].Direction != "left-to-right" ||
		len(hist.History[0].Changes) == 0 {
		t.Fatalf("history of right/%s: %+v", created[0].RecordID, hist)
	}
}

// SIGTERM in the middle of a run of thousands of records: the batch in
// flight commits, the plugins stop, serve exits 0; the next run completes
// the data without a duplicate.
func TestGracefulShutdownLosesNothing(t *testing.T) {
	const n = 4000
	home := t.TempDir()
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	{
		s := crm.open()
		tx, err := s.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if _, err := tx.Exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES (?, ?, ?)`,
				fmt.Sprintf("p%05d@example.com", i), fmt.Sprint("Person ", i), stamp0); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	setup(t, home, crm, news)
	s := serve(t, home, "--batch-size", "10")
	s.post("/api/v1/syncs/cn/run")
	deadline := time.Now().Add(60 * time.Second)
	for news.int(`SELECT COUNT(*) FROM subscribers`) < 200 {
		if time.Now().After(deadline) {
			t.Fatal("the run wrote nothing in 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	plugins := children(s.cmd.Process.Pid)
	if len(plugins) == 0 {
		t.Fatal("no plugin processes under serve mid-run")
	}
	if code := s.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0", code)
	}
	for _, p := range plugins {
		if alive(p) {
			t.Errorf("plugin %d outlived serve", p)
		}
	}
	got := news.int(`SELECT COUNT(*) FROM subscribers`)
	if got >= n {
		t.Fatalf("the run finished (%d rows) before SIGTERM: the test did not interrupt it", got)
	}
	if !strings.Contains(s.logText(), "stopped for shutdown") {
		t.Errorf("log does not say the run stopped for shutdown")
	}
	t.Logf("%d of %d rows written when SIGTERM arrived", got, n)

	// Everything written before the stop was committed: the next run
	// creates exactly the rest.
	ok(t, home, "sync", "run", "cn")
	if got := news.int(`SELECT COUNT(*) FROM subscribers`); got != n {
		t.Fatalf("%d rows after the second run, want %d", got, n)
	}
	if d := news.int(`SELECT COUNT(DISTINCT email) FROM subscribers`); d != n {
		t.Fatalf("%d distinct emails in %d rows: duplicates", d, n)
	}
	if bad := news.int(`SELECT COUNT(*) FROM subscribers WHERE firstname != 'Person ' || CAST(CAST(substr(email, 2, 5) AS INTEGER) AS TEXT)`); bad != 0 {
		t.Fatalf("%d rows with the wrong name", bad)
	}
	// A third run writes nothing.
	out := ok(t, home, "sync", "run", "cn", "--json")
	if !strings.Contains(out, `"writes": 0`) {
		t.Fatalf("third run wrote again:\n%s", out)
	}
}

// A plugin that crashes fails its run with the crash as the cause; the
// daemon launches it again after a backoff and the next run succeeds.
func TestCrashedPluginIsRestarted(t *testing.T) {
	home := t.TempDir()
	people := newDB(t, "people.db", `CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT, updated_at TEXT)`)
	marker := filepath.Join(t.TempDir(), "crashed")
	ok(t, home, "plugin", "install", bins.flaky)
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "src", "--plugin", "flaky", "--set", "marker="+marker)
	ok(t, home, "connection", "add", "dst", "--plugin", "sqlite", "--set", "path="+people.path)
	ok(t, home, "sync", "create", "fx", "--left", "src/contacts", "--right", "dst/people", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right")
	ok(t, home, "sync", "activate", "fx")
	s := serve(t, home)
	s.post("/api/v1/syncs/fx/run")
	rs := s.waitRuns("fx", 2, 60*time.Second)
	first, second := rs[1], rs[0]
	if first.Status != "failed" || !strings.Contains(first.Error, "plugin flaky crashed") ||
		!strings.Contains(first.Error, "first read crashes on purpose") {
		t.Fatalf("first run %+v: want failed with the crash's cause", first)
	}
	if second.Status != "ok" || second.Right.Created != 3 {
		t.Fatalf("second run %+v: want ok with 3 created after the relaunch", second)
	}
	if got := people.int(`SELECT COUNT(*) FROM people`); got != 3 {
		t.Fatalf("%d people, want 3", got)
	}
	_, b := s.do("GET", "/metrics", "Bearer "+s.token)
	if v := metric(string(b), "datasync_plugin_restarts_total", `plugin="flaky"`); v != 1 {
		t.Fatalf("plugin restarts = %v, want 1", v)
	}
	if code := s.stop(syscall.SIGINT, 30*time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGINT", code)
	}
}
