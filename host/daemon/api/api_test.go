package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/pluginhost"
)

func TestLoadToken(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	tok, err := LoadToken(home)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(TokenPath(home))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || len(tok) != 64 {
		t.Fatalf("token file mode %v, token %d chars: want 0600, 64", fi.Mode().Perm(), len(tok))
	}
	again, err := LoadToken(home)
	if err != nil || again != tok {
		t.Fatalf("second load %q, %v: want the same token", again, err)
	}
	if err := os.WriteFile(TokenPath(home), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadToken(home); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("short token accepted: %v", err)
	}
}

func TestRequireToken(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef"
	h := requireToken(tok, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret")) }))
	for _, c := range []struct {
		auth string
		code int
	}{
		{"", 401}, {"Bearer", 401}, {"Bearer ", 401}, {tok, 401}, {"bearer " + tok, 401},
		{"Bearer " + tok + "x", 401}, {"Bearer " + tok[:31], 401}, {"Bearer " + tok, 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/syncs", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("Authorization %q: %d, want %d", c.auth, rec.Code, c.code)
		}
		if c.code == 401 && rec.Body.Len() != 0 {
			t.Errorf("Authorization %q: 401 with body %q", c.auth, rec.Body.String())
		}
	}
}

// The exposition holds what the observed runs did, summed.
func TestMetricsObserveRun(t *testing.T) {
	m := NewMetrics()
	fin := time.Unix(1800000000, 500e6)
	m.ObserveRun(daemon.RunEvent{Sync: "cn", Duration: 700 * time.Millisecond, Report: engine.Report{Finished: fin,
		Left:  engine.Counts{Read: 10, Updated: 2},
		Right: engine.Counts{Read: 3, Created: 7},
		Errors: []engine.ErrorGroup{{Category: "validation", Count: 2, Records: []engine.RecordIssue{{Side: "left"}, {Side: "left"}}},
			{Category: "auth", Count: 1, Records: []engine.RecordIssue{{}}}}}})
	m.ObserveRun(daemon.RunEvent{Sync: "cn", Duration: 3 * time.Second, Err: errors.New("x"),
		Crash: &pluginhost.CrashError{Plugin: "sqlite"}, Report: engine.Report{Left: engine.Counts{Read: 5}}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	// client_golang writes labels sorted by name, "le" last.
	for _, want := range []string{
		`datasync_records_read_total{side="left",sync="cn"} 15`,
		`datasync_records_read_total{side="right",sync="cn"} 3`,
		`datasync_records_written_total{op="create",side="right",sync="cn"} 7`,
		`datasync_records_written_total{op="update",side="left",sync="cn"} 2`,
		`datasync_records_failed_total{category="validation",side="left",sync="cn"} 2`,
		`datasync_records_failed_total{category="auth",side="-",sync="cn"} 1`,
		`datasync_runs_total{status="ok",sync="cn"} 1`,
		`datasync_runs_total{status="failed",sync="cn"} 1`,
		`datasync_run_duration_seconds_bucket{status="ok",sync="cn",le="0.5"} 0`,
		`datasync_run_duration_seconds_bucket{status="ok",sync="cn",le="1"} 1`,
		`datasync_run_duration_seconds_bucket{status="failed",sync="cn",le="2.5"} 0`,
		`datasync_run_duration_seconds_bucket{status="failed",sync="cn",le="5"} 1`,
		`datasync_run_duration_seconds_bucket{status="failed",sync="cn",le="+Inf"} 1`,
		`datasync_run_duration_seconds_sum{status="ok",sync="cn"} 0.7`,
		`datasync_last_success_timestamp_seconds{sync="cn"} 1.8000000005e+09`,
		`datasync_plugin_restarts_total{plugin="sqlite"} 1`,
		"# TYPE datasync_run_duration_seconds histogram",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
