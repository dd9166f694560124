package api

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
)

// nilStore answers the readiness probe; other calls are not made here.
type nilStore struct{ Store }

func (nilStore) Syncs(context.Context) ([]store.Sync, error) { return nil, nil }

type idle struct{ loaded bool }

func (c idle) Loaded() bool                                 { return c.loaded }
func (idle) Status(string) (daemon.SyncStatus, bool)        { return daemon.SyncStatus{}, false }
func (idle) Statuses() []daemon.SyncStatus                  { return nil }
func (idle) RunNow(string, engine.Options) error            { return daemon.ErrUnknownSync }
func (idle) SetState(context.Context, string, string) error { return daemon.ErrUnknownSync }

// Which routes are public: probes and the dashboard's static files (no
// data); everything else needs the token.
func TestRoutes(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		loaded       bool
		method, path string
		auth         bool
		code         int
		body         string
	}{
		{true, "GET", "/healthz", false, 200, "ok"},
		{true, "GET", "/readyz", false, 200, "ready"},
		{false, "GET", "/readyz", false, 503, "not loaded"},
		{true, "GET", "/", false, 200, "<title>datasync</title>"},
		{true, "GET", "/assets/app.js", false, 200, "sessionStorage"},
		{true, "GET", "/assets/style.css", false, 200, ".card"},
		{true, "GET", "/index.html", false, 401, ""},
		{true, "GET", "/anything", false, 401, ""},
		{true, "GET", "/anything", true, 404, ""},
		{true, "GET", "/api/v1/syncs", false, 401, ""},
		{true, "GET", "/api/v1/syncs", true, 200, "[]"},
		{true, "GET", "/api/v1/syncs/x", true, 404, "no such sync"},
		{true, "POST", "/api/v1/syncs/x/run", true, 404, "no such sync"},
		{true, "DELETE", "/api/v1/syncs/x", true, 405, ""},
		{true, "GET", "/metrics", false, 401, ""},
		{true, "GET", "/metrics", true, 200, "# TYPE process_resident_memory_bytes gauge"},
	} {
		h := New(nilStore{}, idle{c.loaded}, tok, NewMetrics(), hclog.NewNullLogger()).Handler()
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.auth {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s %s (token %v): %d %q, want %d with %q", c.method, c.path, c.auth, rec.Code, rec.Body.String(), c.code, c.body)
		}
		if c.path == "/" && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("dashboard without a CSP: %q", rec.Header().Get("Content-Security-Policy"))
		}
	}
}
