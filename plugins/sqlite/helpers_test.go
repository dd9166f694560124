package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// newDB creates a database file in a temporary directory, runs ddl in it,
// and returns its path.
func newDB(t testing.TB, ddl ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range ddl {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// rawDB opens the file directly, to look at what the connector stored.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openConn opens the connector on path with extra settings.
func openConn(t testing.TB, path string, settings ...string) *conn {
	t.Helper()
	cfg := sdk.Config{Settings: map[string]string{settingPath: path}}
	for i := 0; i+1 < len(settings); i += 2 {
		cfg.Settings[settings[i]] = settings[i+1]
	}
	c, err := New().Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn)
}

// write runs ops and fails the test on a batch error.
func write(t testing.TB, c sdk.Conn, object string, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res, err := conformance.WriteOps(context.Background(), c, object, ops...)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return res
}

// writeOK runs ops that must all succeed.
func writeOK(t testing.TB, c sdk.Conn, object string, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res := write(t, c, object, ops...)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("op %d (%s): %v", i, ops[i].Kind, r.Err)
		}
	}
	return res
}

// readAll reads object from cursor with the given fields.
func readAll(t testing.TB, c sdk.Conn, object, cursor string, fields ...string) *conformance.Collector {
	t.Helper()
	col, err := conformance.ReadAll(context.Background(), c, sdk.ReadRequest{Object: object, Cursor: cursor, Fields: fields})
	if err != nil {
		t.Fatalf("read %s from %q: %v", object, cursor, err)
	}
	return col
}
