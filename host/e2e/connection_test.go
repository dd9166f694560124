package e2e

import (
	"encoding/json"
	"maps"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// TestConnectionAddRefusesBadSettings gives `connection add` wrong
// passwords, unreachable hosts and missing databases, schemas, address
// books and base DNs on the real servers: each is refused with an error
// naming the cause, no secret is echoed, and nothing is saved. The right
// settings then pass, so the refusals were for the settings named; a sync on
// a missing table is refused too.
func TestConnectionAddRefusesBadSettings(t *testing.T) {
	pgEnv, rad, dir := testsvc.Postgres(t), testsvc.Radicale(t), testsvc.Slapd(t)
	closed := closedPort(t)
	pgURL := func(host string, port int, db string) string {
		u := url.URL{Scheme: "postgres", User: url.User(pgEnv.User), Host: net.JoinHostPort(host, strconv.Itoa(port)),
			Path: "/" + db, RawQuery: "sslmode=disable"}
		return u.String()
	}
	const wrong = "wrong-e2e-password"
	pg := func(url, schema, pass string) []string {
		args := []string{"--plugin", "postgres", "--set", "url=" + url, "--secret", "password=" + pass}
		if schema != "" {
			args = append(args, "--set", "schema="+schema)
		}
		return args
	}
	dav := func(server, book, pass string) []string {
		return []string{"--plugin", "carddav", "--set", "url=" + server, "--set", "addressbook=" + book,
			"--set", "username=" + rad.User, "--secret", "password=" + pass}
	}
	ldapArgs := func(server, base, pass string) []string {
		return []string{"--plugin", "ldap", "--set", "url=" + server, "--set", "bind_dn=" + dir.BindDN,
			"--secret", "password=" + pass, "--set", "base_dn=" + base}
	}
	closedHTTP := "http://127.0.0.1:" + strconv.Itoa(closed)
	closedLDAP := "ldap://127.0.0.1:" + strconv.Itoa(closed)
	cases := []struct {
		name string
		args []string
		want string // what stderr must say after "connection bad not saved: "
	}{
		{"postgres wrong password", pg(pgURL(pgEnv.Host, pgEnv.Port, pgEnv.DB), "", wrong),
			"authentication failed"},
		{"postgres unreachable", pg(pgURL("127.0.0.1", closed, pgEnv.DB), "", pgEnv.Password),
			"unreachable: cannot reach PostgreSQL at 127.0.0.1:" + strconv.Itoa(closed)},
		{"postgres missing database", pg(pgURL(pgEnv.Host, pgEnv.Port, "no_such_db"), "", pgEnv.Password),
			`invalid url: database "no_such_db" does not exist`},
		{"postgres missing schema", pg(pgURL(pgEnv.Host, pgEnv.Port, pgEnv.DB), "no_such_schema", pgEnv.Password),
			`invalid schema: schema "no_such_schema" does not exist`},
		{"carddav wrong password", dav(rad.URL, rad.AddressBook, wrong),
			"authentication failed: check username and password"},
		{"carddav unreachable", dav(closedHTTP, rad.AddressBook, rad.Password),
			"unreachable"},
		{"carddav missing address book", dav(rad.URL, "/"+rad.User+"/no-such-book/", rad.Password),
			"invalid addressbook: /" + rad.User + "/no-such-book/ is not an address book"},
		{"ldap wrong password", ldapArgs(dir.URL, dir.PeopleDN, wrong),
			"authentication failed: check bind_dn and password"},
		{"ldap unreachable", ldapArgs(closedLDAP, dir.PeopleDN, dir.BindPassword),
			"unreachable"},
		{"ldap missing base DN", ldapArgs(dir.URL, "ou=no-such-ou,"+dir.BaseDN, dir.BindPassword),
			`invalid base_dn: base DN "ou=no-such-ou,` + dir.BaseDN + `" does not exist`},
	}
	ds := newCLI(t, "postgres", "carddav", "ldap")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := cli{t: t, home: ds.home}
			r := ds.run(append([]string{"connection", "add", "bad"}, c.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, "connection bad not saved: "+c.want) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant a failure saying %q", r.code, r.stdout, r.stderr, "connection bad not saved: "+c.want)
			}
			for _, secret := range []string{wrong, pgEnv.Password, rad.Password, dir.BindPassword} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("a password appears in the output:\n%s%s", r.stdout, r.stderr)
				}
			}
			if got := connections(ds); len(got) != 0 {
				t.Errorf("a refused connection was saved: %s", got)
			}
		})
	}

	// The same settings, corrected, are accepted.
	ds.ok(append([]string{"connection", "add", "pg"}, pg(pgURL(pgEnv.Host, pgEnv.Port, pgEnv.DB), "", pgEnv.Password)...)...)
	ds.ok(append([]string{"connection", "add", "dav"}, dav(rad.URL, rad.AddressBook, rad.Password)...)...)
	ds.ok(append([]string{"connection", "add", "dir"}, ldapArgs(dir.URL, dir.PeopleDN, dir.BindPassword)...)...)
	var saved []struct{ Name, Status string }
	ds.json(&saved, "connection", "list")
	if len(saved) != 3 {
		t.Fatalf("connection list after three good adds: %+v", saved)
	}
	for _, c := range saved {
		if c.Status != "ok" {
			t.Errorf("connection %s: status %q, want ok", c.Name, c.Status)
		}
	}

	// A missing table is refused when a sync names it, and no sync is saved.
	r := ds.run("sync", "create", "s", "--left", "pg/no_such_table", "--right", "dav/contacts", "--default-mappings")
	if r.code == 0 || !strings.Contains(r.stderr, `connection pg has no object "no_such_table"`) {
		t.Errorf("sync create on a missing table: exit %d\nstderr: %s", r.code, r.stderr)
	}
	var syncs []json.RawMessage
	ds.json(&syncs, "sync", "list")
	if len(syncs) != 0 {
		t.Errorf("a refused sync was saved: %s", syncs)
	}
}

// connections returns `connection list --json` as raw entries.
func connections(ds cli) []json.RawMessage {
	ds.t.Helper()
	var out []json.RawMessage
	ds.json(&out, "connection", "list")
	return out
}

// closedPort returns a loopback TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestConnectionUpdate changes a PostgreSQL connection's settings and
// password: what is named changes once the plugin logs in with it; a wrong
// password, an unknown field or a missing schema is refused, names the
// cause, echoes no secret and changes nothing; another database is another
// account, refused until accepted.
func TestConnectionUpdate(t *testing.T) {
	pg := newPG(t, `CREATE TABLE contacts (id serial PRIMARY KEY, email text, updated_at timestamptz NOT NULL DEFAULT now())`)
	other := newPG(t, `SELECT 1`)
	ds := newCLI(t, "postgres")
	ds.ok("connection", "add", "pg", "--plugin", "postgres", "--set", "url="+pg.url, "--secret", "password="+pg.pass)
	settings := func() map[string]string {
		var list []struct {
			Settings     map[string]string `json:"settings"`
			AccountLabel string            `json:"account_label"`
		}
		if err := json.Unmarshal([]byte(ds.ok("connection", "list", "--json")), &list); err != nil || len(list) != 1 {
			t.Fatalf("connection list --json: %v, %d connections", err, len(list))
		}
		list[0].Settings["(account)"] = list[0].AccountLabel
		return list[0].Settings
	}

	if out := ds.ok("connection", "update", "pg", "--set", "watch_channel=datasync"); !strings.Contains(out, "Updated connection pg (set watch_channel)") {
		t.Fatalf("update said: %s", out)
	}
	if got := settings()["watch_channel"]; got != "datasync" {
		t.Fatalf("watch_channel = %q after the update, want datasync", got)
	}
	before := settings()
	const wrong = "wrong-update-password"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret", "password=" + wrong}, "connection pg not updated: authentication failed"},
		{[]string{"--set", "schema=no_such_schema"}, `connection pg not updated: invalid schema: schema "no_such_schema" does not exist`},
		{[]string{"--set", "nosuch=1"}, "--set nosuch: plugin postgres has no field nosuch"},
		{[]string{"--set", "password=x"}, "--set password: password is a secret"},
		{[]string{"--set", "url=" + other.url}, "connection pg not updated: the new configuration reaches another account"},
		{nil, "nothing to change"},
	} {
		r := ds.run(append([]string{"connection", "update", "pg"}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stdout+r.stderr, wrong) {
			t.Errorf("update %q: exit %d\nstdout: %s\nstderr: %s\nwant a failure saying %q, and no secret", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
	if after := settings(); !maps.Equal(after, before) {
		t.Fatalf("refused updates changed the connection: %v, was %v", after, before)
	}
	ds.ok("connection", "test", "pg") // the old password still in place

	out := ds.ok("connection", "update", "pg", "--set", "url="+other.url, "--unset", "watch_channel", "--accept-account")
	if !strings.Contains(out, "Updated connection pg (set url, unset watch_channel)") {
		t.Fatalf("update said: %s", out)
	}
	after := settings()
	if _, ok := after["watch_channel"]; ok || after["url"] != other.url || after["(account)"] == before["(account)"] {
		t.Fatalf("after an accepted move to another database: %v (was %v)", after, before)
	}
	ds.ok("connection", "test", "pg")
}
