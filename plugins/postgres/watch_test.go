package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// watchThroughPlugin opens d's config plus settings through the plugin
// binary and starts watching objects.
func watchThroughPlugin(t *testing.T, d *testDB, objects []string, settings ...string) *conformance.Watching {
	t.Helper()
	conn, err := launch(t).Open(context.Background(), d.config(settings...))
	if err != nil {
		t.Fatal(err)
	}
	w, ok := conn.(sdk.Watcher)
	if !ok {
		t.Fatalf("%T is not an sdk.Watcher", conn)
	}
	return conformance.StartWatch(t, w, objects...)
}

// next is w's next notice, within 10s.
func next(t *testing.T, w *conformance.Watching) string {
	t.Helper()
	e, ok := w.Next(10 * time.Second)
	if !ok {
		t.Fatal("no notice within 10s")
	}
	return e
}

func TestWatchNoticesChangesOfWatchedTables(t *testing.T) {
	d := newTestDB(t)
	d.exec(t,
		`CREATE TABLE contacts (id serial PRIMARY KEY, email text, updated_at timestamptz)`,
		`CREATE TABLE companies (id serial PRIMARY KEY, name text, updated_at timestamptz)`,
		`CREATE FUNCTION notify_datasync() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_notify('datasync', TG_TABLE_NAME); RETURN NULL; END $$`,
		`CREATE TRIGGER contacts_changed AFTER INSERT OR UPDATE OR DELETE ON contacts
		FOR EACH STATEMENT EXECUTE FUNCTION notify_datasync()`)
	w := watchThroughPlugin(t, d, []string{"contacts", "companies"}, "watch_channel", "datasync")
	if e := next(t, w); e != "" {
		t.Fatalf("first notice %q, want the ready notice", e)
	}
	d.exec(t,
		`INSERT INTO contacts (email) VALUES ('a@x.example')`, // the trigger's notice
		`SELECT pg_notify('datasync', 'elsewhere.companies')`, // another schema's table
		`SELECT pg_notify('datasync', 'public.companies')`,
		`SELECT pg_notify('datasync', 'unwatched')`,
		`SELECT pg_notify('other_channel', 'contacts')`,
		`SELECT pg_notify('datasync', '')`, // any watched table
		`SELECT pg_notify('datasync', 'contacts')`)
	want := []string{"contacts", "companies", "contacts", "companies", "contacts"}
	var got []string
	for range want {
		got = append(got, next(t, w))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("notices %q, want %q", got, want)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("Watch returned %v after its context was cancelled, want nil", err)
	}
	if e, ok := w.Next(50 * time.Millisecond); ok {
		t.Fatalf("unexpected notice %q", e)
	}
}

func TestWatchWithoutChannelSaysWhatToSet(t *testing.T) {
	d := newTestDB(t)
	err := watchThroughPlugin(t, d, []string{"contacts"}).Ended(10 * time.Second)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Category != sdk.CategoryPermanent || !strings.Contains(se.Message, "watch_channel") {
		t.Fatalf("Watch without watch_channel returned %v, want a permanent error naming watch_channel", err)
	}
}

func TestWatchEndsWhenItsConnectionDies(t *testing.T) {
	d := newTestDB(t)
	w := watchThroughPlugin(t, d, []string{"contacts"}, "watch_channel", "datasync")
	if e := next(t, w); e != "" {
		t.Fatalf("first notice %q, want the ready notice", e)
	}
	d.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	err := w.Ended(10 * time.Second)
	var se *sdk.Error
	if !errors.As(err, &se) || (se.Category != sdk.CategoryTransient && se.Category != sdk.CategoryUnreachable) {
		t.Fatalf("Watch on a terminated connection returned %v, want a transient or unreachable error", err)
	}
}
