package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "sqlite" || len(d.Auth.Fields) != 0 || d.Auth.OAuth2 != nil {
		t.Errorf("name %q, auth %+v: want sqlite without credentials", d.Name, d.Auth)
	}
	if !d.HasCapability(sdk.CapabilityLookup) {
		t.Error("lookup capability not advertised")
	}
	if err := d.Validate(sdk.Config{}); sdk.CategoryOf(err) != sdk.CategoryValidation || sdk.AsError(err).Field != settingPath {
		t.Errorf("a config without path: %v, want a validation error on %s", err, settingPath)
	}
	if got := d.WithDefaults(sdk.Config{}).Get(settingUpdatedAt); got != "updated_at" {
		t.Errorf("default updated_at_column = %q", got)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		category   sdk.Category
		message    string
	}{
		{"missing file", missing, sdk.CategoryUnreachable, "no such database file: " + missing},
		{"not a database", notDB, sdk.CategoryUnreachable, "is not a SQLite database"},
		{"a directory", dir, sdk.CategoryUnreachable, "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openConn(t, tc.path)
			_, err := c.Check(context.Background())
			e := sdk.AsError(err)
			if e == nil || e.Category != tc.category || !strings.Contains(e.Message, tc.message) {
				t.Errorf("Check = %v, want %s containing %q", err, tc.category, tc.message)
			}
			// Other calls fail the same way, not with a new empty database.
			if _, err := c.Schema(context.Background()); sdk.CategoryOf(err) != tc.category {
				t.Errorf("Schema = %v, want %s", err, tc.category)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check created the missing database file (stat: %v)", err)
	}
}

func TestCheckFingerprint(t *testing.T) {
	a := newDB(t, `CREATE TABLE x (id INTEGER PRIMARY KEY)`)
	b := newDB(t, `CREATE TABLE x (id INTEGER PRIMARY KEY)`)
	check := func(path string) sdk.Account {
		t.Helper()
		acct, err := openConn(t, path).Check(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return acct
	}
	a1, a2, b1 := check(a), check(a), check(b)
	if a1.Fingerprint == "" || a1 != a2 {
		t.Errorf("fingerprint of one file not stable: %+v vs %+v", a1, a2)
	}
	if a1.Fingerprint == b1.Fingerprint {
		t.Errorf("two files share fingerprint %s", a1.Fingerprint)
	}
	if !strings.Contains(a1.Label, a) {
		t.Errorf("label %q does not name the file", a1.Label)
	}
	// Another file moved into a's place is another database.
	if err := os.Rename(b, a); err != nil {
		t.Fatal(err)
	}
	if a3 := check(a); a3.Fingerprint == a1.Fingerprint {
		t.Error("a different file at the same path kept the fingerprint")
	}
}

func TestDSNEscapesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd?dir#50%")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data base.db")
	raw := newDB(t, `CREATE TABLE x (id INTEGER PRIMARY KEY)`)
	if err := os.Rename(raw, path); err != nil {
		t.Fatal(err)
	}
	if _, err := openConn(t, path).Check(context.Background()); err != nil {
		t.Errorf("a path with ? # %% and a space: %v", err)
	}
}

// TestConnectionsCheckpointLate: every connection the pool opens lets the
// WAL grow to walCheckpointPages before a commit checkpoints it (SQLite's
// default is 1,000 pages), readers as well as the writer.
func TestConnectionsCheckpointLate(t *testing.T) {
	c := openConn(t, newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`))
	ctx := context.Background()
	var conns []*sql.Conn
	for range 3 {
		sc, err := c.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, sc)
	}
	for i, sc := range conns {
		var pages int
		if err := sc.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		if pages != walCheckpointPages {
			t.Errorf("connection %d checkpoints at %d pages, want %d", i, pages, walCheckpointPages)
		}
		sc.Close()
	}
}
