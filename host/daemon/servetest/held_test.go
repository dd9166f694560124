package servetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A connection that now reaches another account holds its syncs with one
// error, whatever the number of records; `connection test` accepting the
// account lets the daemon resume them.
func TestHeldConnectionResumesAfterConnectionTest(t *testing.T) {
	home := t.TempDir()
	tiny := filepath.Join(t.TempDir(), "tiny")
	build := exec.Command("go", "build", "-o", tiny, "./host/pluginhost/testdata/tiny")
	build.Dir = moduleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tiny: %v\n%s", err, out)
	}
	account := filepath.Join(t.TempDir(), "account")
	if err := os.WriteFile(account, []byte("acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	items := newDB(t, "items.db", `CREATE TABLE items (id INTEGER PRIMARY KEY, item_id TEXT, title TEXT, n INTEGER, updated_at TEXT)`)
	ok(t, home, "plugin", "install", tiny)
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "src", "--plugin", "tiny", "--set", "username=admin", "--secret", "password=s3cret",
		"--set", "account_file="+account, "--set", "records=50")
	ok(t, home, "connection", "add", "dst", "--plugin", "sqlite", "--set", "path="+items.path)
	ok(t, home, "sync", "create", "tk", "--left", "src/items", "--right", "dst/items", "--match", "id=item_id",
		"--default-mappings", "--direction", "left-to-right", "--create-in", "right", "--every", "1s")
	ok(t, home, "sync", "map", "tk", "--add", "id=item_id")
	ok(t, home, "sync", "activate", "tk")

	if err := os.WriteFile(account, []byte("other-corp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, home)
	// The first run fails at the connection; then the sync is held.
	var one struct {
		Held   string
		Health struct{ Failing, Errors int }
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s.get("/api/v1/syncs/tk", &one)
		if one.Held != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sync never held: %+v", one)
		}
	}
	if one.Held != "connection src: account_changed" {
		t.Fatalf("held = %q", one.Held)
	}
	time.Sleep(3 * time.Second) // three schedule ticks
	rs := s.runs("tk")
	if len(rs) != 1 || rs[0].Status != "failed" || !strings.Contains(rs[0].Error, "another account") {
		t.Fatalf("runs while held %+v: want exactly the one failed run", rs)
	}
	var groups []struct {
		Category string
		Count    int
	}
	s.get("/api/v1/syncs/tk/errors", &groups)
	total := 0
	for _, g := range groups {
		total += g.Count
	}
	if total != 1 || items.int(`SELECT COUNT(*) FROM items`) != 0 {
		t.Fatalf("errors %+v: want one error for the connection, nothing written", groups)
	}

	ok(t, home, "connection", "test", "src", "--accept-account")
	rs = s.waitRuns("tk", 2, 30*time.Second)
	if rs[0].Status != "ok" || rs[0].Right.Created != 50 {
		t.Fatalf("run after the connection test %+v: want ok with 50 created", rs[0])
	}
	one.Held = "" // absent from the JSON when not held
	s.get("/api/v1/syncs/tk", &one)
	if one.Held != "" {
		t.Fatalf("still held: %q\nruns %+v\nconnections %s", one.Held, s.runs("tk"), ok(t, home, "connection", "list", "--json"))
	}
	if code := s.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
