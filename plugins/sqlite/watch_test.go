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

// A commit by another process is noticed within a poll, for every watched
// table; no commit, no notice; the watch ends nil when cancelled.
func TestWatchNoticesCommitsThroughThePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	path := newDB(t, contactsDDL, `CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT)`)
	rc := launchPlugin(t)
	c, err := rc.Open(context.Background(), sdk.Config{Settings: map[string]string{settingPath: path, settingWatchPoll: "50ms"}})
	if err != nil {
		t.Fatal(err)
	}
	w := conformance.StartWatch(t, c.(sdk.Watcher), "contacts", "companies")
	next := w.Next
	if e, ok := next(10 * time.Second); !ok || e != "" {
		t.Fatalf("first notice %q (%v), want the ready notice", e, ok)
	}
	if e, ok := next(300 * time.Millisecond); ok {
		t.Fatalf("notice %q with no commit", e)
	}
	if _, err := rawDB(t, path).Exec(`INSERT INTO companies (name) VALUES ('Acme')`); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		e, ok := next(5 * time.Second)
		if !ok {
			t.Fatalf("notices %q within 5s of a commit, want both tables", got)
		}
		got = append(got, e)
	}
	if strings.Join(got, " ") != "contacts companies" {
		t.Fatalf("notices %q after one commit, want each watched table once", got)
	}
	if e, ok := next(300 * time.Millisecond); ok {
		t.Fatalf("notice %q with no further commit", e)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("Watch returned %v after its context was cancelled, want nil", err)
	}
}

func TestWatchPollSetting(t *testing.T) {
	path := newDB(t, contactsDDL)
	err := openConn(t, path, settingWatchPoll, "0").Watch(context.Background(), []string{"contacts"}, make(conformance.Notices, 1))
	var se *sdk.Error
	if !errors.As(err, &se) || se.Category != sdk.CategoryPermanent || !strings.Contains(se.Message, settingWatchPoll) {
		t.Fatalf("Watch with %s 0 = %v, want a permanent error naming the setting", settingWatchPoll, err)
	}
	_, err = New().Open(context.Background(), sdk.Config{Settings: map[string]string{settingPath: path, settingWatchPoll: "often"}})
	if !errors.As(err, &se) || se.Field != settingWatchPoll {
		t.Fatalf("Open with %s \"often\" = %v, want a field error on it", settingWatchPoll, err)
	}
}
