package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

func TestCheck(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	acct, err := d.open(t).Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(acct.Fingerprint, "postgres:") || !strings.Contains(acct.Label, "schema public") {
		t.Errorf("account = %+v", acct)
	}
	// The same database through another schema setting is the same account; another database is not.
	d.exec(t, `CREATE SCHEMA crm`)
	if a2, err := d.open(t, "schema", "crm").Check(ctx); err != nil || a2.Fingerprint != acct.Fingerprint {
		t.Errorf("schema crm: %+v, %v; want fingerprint %q", a2, err, acct.Fingerprint)
	}
	other := newTestDB(t)
	if a3, err := other.open(t).Check(ctx); err != nil || a3.Fingerprint == acct.Fingerprint {
		t.Errorf("another database: %+v, %v; want another fingerprint than %q", a3, err, acct.Fingerprint)
	}

	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	tests := []struct {
		name     string
		settings map[string]string
		secrets  map[string]string
		cat      sdk.Category
		field    string
		says     string
	}{
		{name: "wrong password", secrets: map[string]string{"password": "nope"}, cat: sdk.CategoryAuth,
			says: "authentication failed: check user and password"},
		{name: "password in the URL, wrong", settings: map[string]string{"url": "postgres://" + d.env.User + ":nope@" + d.env.Host + ":" + strconv.Itoa(d.env.Port) + "/" + d.env.DB},
			secrets: map[string]string{}, cat: sdk.CategoryAuth, says: "authentication failed"},
		{name: "unreachable port", settings: map[string]string{"url": "postgres://" + d.env.User + "@127.0.0.1:" + strconv.Itoa(deadPort) + "/x"},
			cat: sdk.CategoryUnreachable, says: "cannot reach PostgreSQL at 127.0.0.1:" + strconv.Itoa(deadPort)},
		{name: "missing schema", settings: map[string]string{"schema": "nosuch"}, cat: sdk.CategoryValidation, field: "schema",
			says: `schema "nosuch" does not exist`},
		{name: "missing database", settings: map[string]string{"url": "postgres://" + d.env.User + "@" + d.env.Host + ":" + strconv.Itoa(d.env.Port) + "/nosuchdb"},
			cat: sdk.CategoryValidation, field: "url", says: `database "nosuchdb" does not exist`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sdk.Config{Settings: map[string]string{}, Secrets: map[string]string{}}
			for k, v := range d.cfg.Settings {
				cfg.Settings[k] = v
			}
			for k, v := range d.cfg.Secrets {
				cfg.Secrets[k] = v
			}
			for k, v := range tc.settings {
				cfg.Settings[k] = v
			}
			if tc.secrets != nil {
				cfg.Secrets = tc.secrets
			}
			conn, err := New().Open(ctx, cfg)
			if err == nil {
				defer conn.Close()
				_, err = conn.Check(ctx)
			}
			e := sdk.AsError(err)
			if e == nil || e.Category != tc.cat || e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("check: %v; want %s error on %q saying %q", err, tc.cat, tc.field, tc.says)
			}
			if strings.Contains(e.Error(), "nope") || strings.Contains(e.Error(), d.env.Password) {
				t.Errorf("error shows a password: %v", e)
			}
		})
	}

	// Bad settings values are refused at Open.
	for name, s := range map[string][2]string{
		"unparsable url": {"url", "postgres://a:b@host:notaport/db"},
		"bad window":     {"late_commit_window", "soon"},
	} {
		cfg := sdk.Config{Settings: map[string]string{"url": d.cfg.Settings["url"], s[0]: s[1]}}
		if _, err := New().Open(ctx, cfg); sdk.AsError(err).Field != s[0] {
			t.Errorf("%s: open gave %v, want a validation error on %s", name, err, s[0])
		}
	}
}

// A user who may not use the schema is told which grant is missing, and a
// schema that exists under another letter case is not taken for it.
func TestCheckSchemaWithoutUsage(t *testing.T) {
	d := newTestDB(t)
	ctx := context.Background()
	d.exec(t, `CREATE SCHEMA locked`)
	role := "ds_nousage_" + strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 10)
	admin := adminConn(t, d.env.AdminURL)
	if _, err := admin.Exec(ctx, `CREATE ROLE `+role+` LOGIN PASSWORD 'pw'`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE `+role) })
	for _, tc := range []struct {
		schema string
		cat    sdk.Category
		says   string
	}{
		{"locked", sdk.CategoryForbidden, `may not use schema "locked" (GRANT USAGE ON SCHEMA locked TO ` + role + `)`},
		{"LOCKED", sdk.CategoryValidation, `schema "LOCKED" does not exist`},
	} {
		url := strings.Replace(d.cfg.Settings["url"], "//"+d.env.User+"@", "//"+role+"@", 1)
		cfg := sdk.Config{Settings: map[string]string{"url": url, "schema": tc.schema}, Secrets: map[string]string{"password": "pw"}}
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Check(ctx)
		conn.Close()
		if e := sdk.AsError(err); e == nil || e.Category != tc.cat || !strings.Contains(e.Message, tc.says) {
			t.Errorf("schema %s: check gave %v; want a %s error saying %q", tc.schema, err, tc.cat, tc.says)
		}
	}
}
