package clitest

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/scripts/testsvc"
)

// oauthGateway stands where HubSpot checks OAuth2 access tokens: it asks
// Glewlwyd's introspection endpoint about each request's bearer token and
// answers 401 (HubSpot's body) when it is not active; an active one is
// forwarded to the contract server, which knows only its own token.
func oauthGateway(t *testing.T, env testsvc.GlewlwydEnv, client testsvc.GlewlwydClient, srv *hubspottest.Server, upstream string) string {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	hc := &http.Client{Timeout: 20 * time.Second}
	active := func(tok string) (bool, error) {
		req, err := http.NewRequest(http.MethodPost, env.Issuer+"/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
		resp, err := hc.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var out struct{ Active bool }
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("introspect: HTTP %d", resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return false, fmt.Errorf("introspect: %w", err)
		}
		return out.Active, nil
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := false
		if found {
			var err error
			if ok, err = active(tok); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
			return
		}
		r.Header.Set("Authorization", "Bearer "+srv.Token())
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// TestHubSpotThroughCLI adds HubSpot connections through the datasync
// binary both ways the connector supports — a private-app token, and OAuth2
// with Glewlwyd as the provider (the code flow, then the host's refresh) —
// and runs a two-way contacts sync between the HubSpot contract server and
// SQLite while the server answers 429s: every record ends up on both sides
// exactly once, and a second run (after the token expired and was
// refreshed) writes nothing.
func TestHubSpotThroughCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Glewlwyd and builds the HubSpot plugin")
	}
	hubBin := filepath.Join(t.TempDir(), "hubspot")
	build := exec.Command("go", "build", "-o", hubBin, "./plugins/hubspot")
	build.Dir = moduleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the HubSpot plugin: %v\n%s", err, out)
	}
	srv := hubspottest.New(hubspottest.Options{Token: "pat-clitest"})
	srvURL := srv.Start(t)
	at := time.Now().Add(-time.Hour)
	const hubOnly, sqlOnly, shared = 150, 220, 30
	for i := range hubOnly {
		srv.Seed("contacts", map[string]string{"email": fmt.Sprintf("hub%d@example.com", i), "firstname": fmt.Sprintf("Hu%d", i),
			"lastname": "Bspot"}, at)
	}
	for i := range shared {
		srv.Seed("contacts", map[string]string{"email": fmt.Sprintf("both%d@example.com", i), "lastname": fmt.Sprintf("BothLast%d", i)}, at)
	}
	crm := newDB(t, "crm.db", crmSchema)
	for i := range sqlOnly {
		crm.exec(`INSERT INTO contacts (email, first_name, last_name, updated_at) VALUES (?, ?, 'Lite', '2026-01-01 00:00:00.000000')`,
			fmt.Sprintf("sql%d@example.com", i), fmt.Sprintf("Sq%d", i))
	}
	for i := range shared {
		crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES (?, ?, '2026-01-01 00:00:00.000000')`,
			fmt.Sprintf("both%d@example.com", i), fmt.Sprintf("Both%d", i))
	}

	home := t.TempDir()
	ok(t, home, "plugin", "install", hubBin)
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)

	// A private-app token skips the flow.
	r := ok(t, home, "connection", "add", "hubpat", "--plugin", "hubspot", "--set", "base_url="+srvURL, "--secret", "access_token=pat-clitest")
	if strings.Contains(r.stdout, "Open this URL") || !strings.Contains(r.stdout, "Added connection hubpat") {
		t.Errorf("connection add with a private-app token:\n%s", r.stdout)
	}
	fails(t, home, "--device: the token given as --secret access_token skips the OAuth2 flow", "connection", "add", "hubdev",
		"--plugin", "hubspot", "--set", "base_url="+srvURL, "--secret", "access_token=pat-clitest", "--device")
	fails(t, home, "--no-browser: plugin sqlite does not authorize with OAuth2", "connection", "add", "crm2",
		"--plugin", "sqlite", "--set", "path="+crm.path, "--no-browser")
	fails(t, home, "authentication failed", "connection", "add", "hubbad", "--plugin", "hubspot", "--set", "base_url="+srvURL,
		"--secret", "access_token=wrong")

	// OAuth2: the HubSpot connector's declared provider, pointed at Glewlwyd.
	t.Setenv(testsvc.SharedDirEnv, "")
	env := testsvc.Glewlwyd(t)
	port := freePort(t)
	client := testsvc.CreateClient(t, env, "http://127.0.0.1:"+strconv.Itoa(port)+oauth.DefaultRedirectPath)
	gw := oauthGateway(t, env, client, srv, srvURL)
	r = authorizeThroughCLI(t, home, env, false, "connection", "add", "hub", "--plugin", "hubspot", "--set", "base_url="+gw,
		"--set", "client_id="+client.ID, "--secret", "client_secret="+client.Secret, "--set", "auth_url="+env.AuthURL,
		"--set", "token_url="+env.TokenURL, "--set", "scopes="+env.Scope, "--redirect-port", strconv.Itoa(port))
	if r.code != 0 || !strings.Contains(r.stdout, "Added connection hub (plugin hubspot") {
		t.Fatalf("connection add hub with OAuth2: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	_, sec := storedSecrets(t, home, "hub")
	first, err := oauth.FromSecrets(sec)
	if err != nil || sec["access_token"] != "" {
		t.Fatalf("stored secrets of hub: token %v, a plain access_token stored: %v", err, sec["access_token"] != "")
	}

	ok(t, home, "sync", "create", "contacts", "--left", "hub/contacts", "--right", "crm/contacts", "--default-mappings")
	// Far below the connector's default of 100 per 10 s: the run meets 429s.
	srv.SetRateLimits(4, 12, 2)
	var run runOut
	okJSON(t, home, &run, "sync", "run", "contacts")
	st := srv.Stats()
	if st.RateLimited == 0 {
		t.Fatalf("no 429 during the run: the test proves nothing (%d requests)", st.Requests)
	}
	if run.Status != "ok" || run.Failed != 0 {
		t.Errorf("first run: %+v", run)
	}
	total := hubOnly + sqlOnly + shared
	emails := srv.Values("contacts", "email")
	distinct := map[string]bool{}
	for _, e := range emails {
		distinct[e] = true
	}
	if live := srv.Count("contacts"); live != total || len(distinct) != total || st.Created != sqlOnly {
		t.Errorf("HubSpot after the run: %d live, %d distinct emails, %d created; want %d, %d, %d",
			live, len(distinct), st.Created, total, total, sqlOnly)
	}
	db, err := sql.Open("sqlite3", crm.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinctRows int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT lower(email)) FROM contacts`).Scan(&rows, &distinctRows); err != nil {
		t.Fatal(err)
	}
	if rows != total || distinctRows != total {
		t.Errorf("SQLite after the run: %d rows, %d distinct emails; want %d", rows, distinctRows, total)
	}
	var firstName, lastName sql.NullString
	db.QueryRow(`SELECT first_name, last_name FROM contacts WHERE email = 'both7@example.com'`).Scan(&firstName, &lastName)
	if firstName.String != "Both7" || lastName.String != "BothLast7" {
		t.Errorf("SQLite both7: %q %q, want Both7 BothLast7 (merged)", firstName.String, lastName.String)
	}
	t.Logf("first run: %d requests, %d answered 429", st.Requests, st.RateLimited)

	// The token expires; the next run refreshes it (rotating the refresh token) and writes nothing.
	expireStoredToken(t, home, "hub")
	before := srv.Stats()
	okJSON(t, home, &run, "sync", "run", "contacts")
	after := srv.Stats()
	if run.Status != "ok" || run.Writes != 0 || run.Left.Created+run.Left.Updated+run.Right.Created+run.Right.Updated != 0 {
		t.Errorf("second run wrote: %+v", run)
	}
	for _, route := range []string{"create", "update", "upsert", "archive"} {
		key := "POST /crm/v3/objects/contacts/batch/" + route
		if after.ByRoute[key] != before.ByRoute[key] {
			t.Errorf("second run sent %d batch %s calls to HubSpot", after.ByRoute[key]-before.ByRoute[key], route)
		}
	}
	_, sec = storedSecrets(t, home, "hub")
	if second, err := oauth.FromSecrets(sec); err != nil || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Errorf("the expired token was not refreshed and stored: %v", err)
	}
	if n := srv.Count("contacts"); n != total {
		t.Errorf("HubSpot after the second run: %d contacts, want %d", n, total)
	}
}
