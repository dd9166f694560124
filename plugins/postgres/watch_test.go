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
// binary and starts watching objects. done has what Watch returned; stop
// cancels the watch and waits for it.
func watchThroughPlugin(t *testing.T, d *testDB, objects []string, settings ...string) (events conformance.Notices, done chan error, stop func() error) {
	t.Helper()
	conn, err := launch(t).Open(context.Background(), d.config(settings...))
	if err != nil {
		t.Fatal(err)
	}
	w, ok := conn.(sdk.Watcher)
	if !ok {
		t.Fatalf("%T is not an sdk.Watcher", conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events = make(conformance.Notices, 100)
	done = make(chan error, 1)
	go func() { done <- w.Watch(ctx, objects, events) }()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Watch did not return after its context was cancelled")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return events, done, stop
}

func next(t *testing.T, events conformance.Notices) string {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10s")
		return ""
	}
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
	events, _, stop := watchThroughPlugin(t, d, []string{"contacts", "companies"}, "watch_channel", "datasync")
	if e := next(t, events); e != "" {
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
		got = append(got, next(t, events))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("notices %q, want %q", got, want)
	}
	if err := stop(); err != nil {
		t.Fatalf("Watch returned %v after its context was cancelled, want nil", err)
	}
	select {
	case e := <-events:
		t.Fatalf("unexpected notice %q", e)
	default:
	}
}

func TestWatchWithoutChannelSaysWhatToSet(t *testing.T) {
	d := newTestDB(t)
	_, done, _ := watchThroughPlugin(t, d, []string{"contacts"})
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch without watch_channel did not return")
	}
	var se *sdk.Error
	if !errors.As(err, &se) || se.Category != sdk.CategoryPermanent || !strings.Contains(se.Message, "watch_channel") {
		t.Fatalf("Watch without watch_channel returned %v, want a permanent error naming watch_channel", err)
	}
}

func TestWatchEndsWhenItsConnectionDies(t *testing.T) {
	d := newTestDB(t)
	events, done, _ := watchThroughPlugin(t, d, []string{"contacts"}, "watch_channel", "datasync")
	if e := next(t, events); e != "" {
		t.Fatalf("first notice %q, want the ready notice", e)
	}
	d.exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch went on after its connection was terminated")
	}
	var se *sdk.Error
	if !errors.As(err, &se) || (se.Category != sdk.CategoryTransient && se.Category != sdk.CategoryUnreachable) {
		t.Fatalf("Watch on a terminated connection returned %v, want a transient or unreachable error", err)
	}
}
