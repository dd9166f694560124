package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
)

// TestCLITwoWaySyncWithSQLite drives the real datasync binary and the real
// HubSpot and SQLite plugins: `connection add` for HubSpot with a token, then
// a two-way contacts sync between the contract server and a SQLite file
// while the server answers 429s. Every record ends up on both sides exactly
// once (counted on the server and in the file), a second run writes nothing,
// and a change on each side then flows to the other.
func TestCLITwoWaySyncWithSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds datasync and two plugins")
	}
	dir := t.TempDir()
	root := strings.TrimSuffix(strings.TrimSpace(goEnv(t, "GOMOD")), "/go.mod")
	bins := map[string]string{}
	for name, pkg := range map[string]string{"datasync": "./host/cmd/datasync",
		"datasync-connector-hubspot": "./plugins/hubspot", "datasync-connector-sqlite": "./plugins/sqlite"} {
		bins[name] = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bins[name], pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	home := filepath.Join(dir, "home")
	ds := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bins["datasync"], append([]string{"--home", home}, args...)...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DATASYNC_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Stdin = strings.NewReader("")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("datasync %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}

	// HubSpot: 600 contacts of its own and 50 also in the file (with other fields set).
	srv := hubspottest.New(hubspottest.Options{Token: "pat-e2e"})
	url := srv.Start(t)
	at := time.Now().Add(-time.Hour)
	for i := range 600 {
		srv.Seed("contacts", map[string]string{"email": fmt.Sprintf("hub%d@example.com", i), "firstname": fmt.Sprintf("Hu%d", i),
			"lastname": "Bspot", "company": "HubCo"}, at)
	}
	for i := range 50 {
		srv.Seed("contacts", map[string]string{"email": fmt.Sprintf("both%d@example.com", i), "lastname": fmt.Sprintf("BothLast%d", i)}, at)
	}
	// SQLite: 900 of its own and the 50 shared ones (with a first name).
	dbPath := filepath.Join(dir, "crm.db")
	db, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec1 := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(`CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, first_name TEXT, last_name TEXT,
		phone VARCHAR(40), company TEXT, updated_at DATETIME NOT NULL)`)
	for i := range 900 {
		exec1(`INSERT INTO contacts (email, first_name, last_name, company, updated_at) VALUES (?, ?, 'Lite', 'SqlCo', '2026-01-01 00:00:00')`,
			fmt.Sprintf("sql%d@example.com", i), fmt.Sprintf("Sq%d", i))
	}
	for i := range 50 {
		exec1(`INSERT INTO contacts (email, first_name, updated_at) VALUES (?, ?, '2026-01-01 00:00:00')`,
			fmt.Sprintf("both%d@example.com", i), fmt.Sprintf("Both%d", i))
	}

	ds("plugin", "install", bins["datasync-connector-hubspot"])
	ds("plugin", "install", bins["datasync-connector-sqlite"])
	if out := ds("connection", "add", "hub", "--plugin", "hubspot", "--set", "base_url="+url, "--secret", "access_token=pat-e2e"); !strings.Contains(out, "portal 12345678") {
		t.Errorf("connection add: %s", out)
	}
	ds("connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+dbPath)
	ds("sync", "create", "contacts", "--left", "hub/contacts", "--right", "crm/contacts", "--default-mappings")

	// The server allows much less than the connector's default 100 per 10 s.
	srv.SetRateLimits(5, 30, 2)
	out := ds("sync", "run", "contacts")
	st := srv.Stats()
	if st.RateLimited == 0 {
		t.Fatalf("no 429 during the run: the test proves nothing\n%s", out)
	}
	if live := srv.Count("contacts"); live != 1550 || st.Created != 900 {
		t.Errorf("HubSpot after the run: %d live, %d created through the API; want 1550, 900\n%s", live, st.Created, out)
	}
	emails := srv.Values("contacts", "email")
	distinct := map[string]bool{}
	for _, e := range emails {
		distinct[e] = true
	}
	if len(distinct) != len(emails) {
		t.Errorf("HubSpot holds %d contacts but %d distinct emails", len(emails), len(distinct))
	}
	var rows, distinctRows int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT email) FROM contacts`).Scan(&rows, &distinctRows); err != nil {
		t.Fatal(err)
	}
	if rows != 1550 || distinctRows != 1550 {
		t.Errorf("SQLite after the run: %d rows, %d distinct emails; want 1550", rows, distinctRows)
	}
	// Shared records were merged: each side got the other's fields.
	var first, last sql.NullString
	db.QueryRow(`SELECT first_name, last_name FROM contacts WHERE email = 'both7@example.com'`).Scan(&first, &last)
	if first.String != "Both7" || last.String != "BothLast7" {
		t.Errorf("SQLite both7: %q %q, want Both7 BothLast7", first.String, last.String)
	}
	firstnames := srv.Values("contacts", "firstname")
	for id, e := range emails {
		if e == "both7@example.com" && firstnames[id] != "Both7" {
			t.Errorf("HubSpot both7 firstname %q, want Both7", firstnames[id])
		}
	}
	t.Logf("first run, %d requests, %d answered 429:\n%s", st.Requests, st.RateLimited, out)

	// A second run writes nothing.
	before := srv.Stats()
	out = ds("sync", "run", "contacts")
	after := srv.Stats()
	for _, route := range []string{"create", "update", "upsert", "archive"} {
		key := "POST /crm/v3/objects/contacts/batch/" + route
		if after.ByRoute[key] != before.ByRoute[key] {
			t.Errorf("second run sent %d batch %s calls to HubSpot\n%s", after.ByRoute[key]-before.ByRoute[key], route, out)
		}
	}
	if !strings.Contains(out, "Nothing to write") {
		t.Errorf("second run: %s", out)
	}

	// A change on each side flows to the other.
	var hub5 string
	for id, e := range emails {
		if e == "hub5@example.com" {
			hub5 = id
		}
	}
	srv.Touch("contacts", hub5, map[string]string{"firstname": "ChangedInHubSpot"})
	exec1(`UPDATE contacts SET last_name = 'ChangedInSQLite', updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE email = 'sql7@example.com'`)
	out = ds("sync", "run", "contacts")
	db.QueryRow(`SELECT first_name FROM contacts WHERE email = 'hub5@example.com'`).Scan(&first)
	if first.String != "ChangedInHubSpot" {
		t.Errorf("SQLite hub5 first_name %q after the run\n%s", first.String, out)
	}
	found := false
	lastnamesNow := srv.Values("contacts", "lastname")
	for id, e := range srv.Values("contacts", "email") {
		if e == "sql7@example.com" {
			found = true
			if lastnamesNow[id] != "ChangedInSQLite" {
				t.Errorf("HubSpot sql7 lastname %q after the run\n%s", lastnamesNow[id], out)
			}
		}
	}
	if !found {
		t.Error("sql7 missing from HubSpot")
	}
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
