package servetest

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A sync defined while the daemon runs is picked up on SIGHUP and runs on
// its schedule; pause through the API stops it, resume starts it again.
func TestReloadScheduleAndPause(t *testing.T) {
	home := t.TempDir()
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('ann@example.com', 'Ann', ?)`, stamp0)
	setup(t, home, crm, news)
	s := serve(t, home)

	type syncView struct {
		Name    string
		State   string
		Every   string
		NextRun *time.Time `json:"next_run"`
	}
	var list []syncView
	s.get("/api/v1/syncs", &list)
	if len(list) != 1 || list[0].Every != "on demand" || list[0].NextRun != nil {
		t.Fatalf("syncs %+v: want cn, on demand, no next run", list)
	}
	ok(t, home, "sync", "create", "tick", "--left", "crm/contacts", "--right", "news/subscribers", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right", "--every", "1s")
	ok(t, home, "sync", "activate", "tick")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.get("/api/v1/syncs", &list)
		if len(list) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP the daemon knows %+v", list)
		}
	}
	rs := s.waitRuns("tick", 3, 30*time.Second)
	if rs[len(rs)-1].Right.Created != 1 || rs[0].Status != "ok" {
		t.Fatalf("runs of tick %+v: want the first to create Ann", rs)
	}
	if news.int(`SELECT COUNT(*) FROM subscribers`) != 1 {
		t.Fatal("scheduled runs duplicated or lost Ann")
	}

	s.post("/api/v1/syncs/tick/pause")
	var one syncView
	s.get("/api/v1/syncs/tick", &one)
	if one.State != "paused" || one.NextRun != nil {
		t.Fatalf("after pause: %+v", one)
	}
	time.Sleep(1500 * time.Millisecond) // a run in flight may end
	n := len(s.runs("tick"))
	time.Sleep(2500 * time.Millisecond)
	if m := len(s.runs("tick")); m != n {
		t.Fatalf("paused sync ran %d more times", m-n)
	}
	if out := ok(t, home, "sync", "list", "--json"); !strings.Contains(out, `"paused"`) {
		t.Fatalf("pause not stored:\n%s", out)
	}
	s.post("/api/v1/syncs/tick/resume")
	s.waitRuns("tick", n+1, 10*time.Second)
	if code := s.stop(syscall.SIGTERM, 30*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
