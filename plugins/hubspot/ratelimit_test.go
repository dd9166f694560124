package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// TestRateLimitedRunLosesNothing: the server allows far fewer requests than
// the connector is configured to send, so 429s (with Retry-After) come
// mid-write and mid-read. The run is slower; every record arrives exactly
// once, counted on the server, and reads return each exactly once.
func TestRateLimitedRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out Retry-After")
	}
	// The connector believes it may send 1000 per 10 s; the server allows 6
	// per second and 25 per 10 seconds.
	srv, c := open(t, hubspottest.Options{}, settingPerTenSeconds, "1000", settingSearchPerSecond, "0")
	start := readAll(t, c, "contacts", "", "email")
	srv.SetRateLimits(6, 25, 3)

	const n = 650
	ops := make([]sdk.Op, n)
	for i := range ops {
		ops[i] = createOp(fmt.Sprintf("rl%d@example.com", i), "firstname", sdk.String(fmt.Sprint(i)))
	}
	began := time.Now()
	res := write(t, c, "contacts", ops...)
	ids := map[string]bool{}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("create %d: %v", i, r.Err)
		}
		ids[r.ID] = true
	}
	st := srv.Stats()
	if st.Created != n || srv.Count("contacts") != n || len(ids) != n {
		t.Fatalf("after %d creates: server created %d, holds %d, %d distinct ids", n, st.Created, srv.Count("contacts"), len(ids))
	}
	// Updates of all of them, through 429s too.
	upd := make([]sdk.Op, n)
	for i, r := range res {
		upd[i] = conformance.UpdateOp(r.ID, r.Version, map[string]sdk.Value{"lastname": sdk.String(fmt.Sprintf("L%d", i))})
	}
	for i, r := range write(t, c, "contacts", upd...) {
		if r.Err != nil {
			t.Fatalf("update %d: %v", i, r.Err)
		}
	}
	lastnames := srv.Values("contacts", "lastname")
	for i, r := range res {
		if lastnames[r.ID] != fmt.Sprintf("L%d", i) {
			t.Fatalf("record %s lastname %q, want L%d", r.ID, lastnames[r.ID], i)
		}
	}
	// Reads through 429s: the full list and the search both.
	full := distinct(t, readAll(t, c, "contacts", "", "email", "lastname").All)
	inc := distinct(t, readAll(t, c, "contacts", start.Cursor, "email", "lastname").All)
	for what, got := range map[string]map[string]sdk.Record{"full read": full, "incremental read": inc} {
		if len(got) != n {
			t.Errorf("%s: %d records, want %d", what, len(got), n)
		}
		for id := range ids {
			if _, ok := got[id]; !ok {
				t.Errorf("%s: record %s missing", what, id)
				break
			}
		}
	}
	st = srv.Stats()
	if st.RateLimited == 0 {
		t.Fatalf("the server never answered 429: the test proves nothing (%+v)", st)
	}
	if st.Created != n {
		t.Errorf("server created %d records in all, want %d", st.Created, n)
	}
	t.Logf("%d requests, %d answered 429, in %v", st.Requests, st.RateLimited, time.Since(began).Round(time.Millisecond))
}

// TestServerErrorsRetried: 5xx answers are retried where resending is safe
// (reads, updates, archives); creates are not resent as creates: contacts
// go again as upserts by email, others fail transient — never a duplicate.
func TestServerErrorsRetried(t *testing.T) {
	ctx := context.Background()
	srv, c := open(t, hubspottest.Options{})
	c.(*conn).api.BaseDelay = 20 * time.Millisecond // keep the backoffs short
	start := readAll(t, c, "contacts", "", "email")

	// A create refused with a 503 (nothing done) and one whose answer was
	// lost (done): both come back as one record each, resent as upserts by email.
	srv.Fail("POST", "/batch/create", 503, 1)
	first := write(t, c, "contacts", createOp("s1@example.com", "firstname", sdk.String("One")))
	srv.FailAfter("POST", "/batch/create", 502, 1)
	second := write(t, c, "contacts", createOp("s2@example.com", "firstname", sdk.String("Two")))
	res := []sdk.WriteResult{first[0], second[0]}
	for i, r := range res {
		if r.Err != nil || r.ID == "" {
			t.Fatalf("create %d through a 5xx: %+v", i, r)
		}
	}
	if n, st := srv.Count("contacts"), srv.Stats(); n != 2 || st.Created != 2 {
		t.Fatalf("after two creates through 5xx answers the server holds %d contacts (created %d), want 2", n, st.Created)
	}
	if st := srv.Stats(); st.ByRoute["POST /crm/v3/objects/contacts/batch/upsert"] != 2 {
		t.Errorf("%d upserts, want 2", st.ByRoute["POST /crm/v3/objects/contacts/batch/upsert"])
	}
	// Companies have no email to upsert by: a 503 fails the create as
	// transient, nothing is created, and sending it again creates it once.
	srv.Fail("POST", "/batch/create", 503, 1)
	company := conformance.CreateOp(map[string]sdk.Value{"name": sdk.String("Acme")})
	if r := write(t, c, "companies", company)[0]; r.Err == nil || r.Err.Category != sdk.CategoryTransient {
		t.Errorf("company create during a 503: %+v, want transient", r)
	}
	if n := srv.Count("companies"); n != 0 {
		t.Fatalf("a refused create left %d companies", n)
	}
	if r := write(t, c, "companies", company)[0]; r.Err != nil || srv.Count("companies") != 1 {
		t.Fatalf("company create again: %v; %d companies", r.Err, srv.Count("companies"))
	}
	srv.Fail("POST", "/batch/read", 502, 1)
	srv.Fail("POST", "/batch/update", 503, 2)
	for _, r := range write(t, c, "contacts", conformance.UpdateOp(res[0].ID, "", map[string]sdk.Value{"firstname": sdk.String("Up")})) {
		if r.Err != nil {
			t.Fatalf("update through 502/503s: %v", r.Err)
		}
	}
	srv.Fail("POST", "/search", 500, 2)
	srv.Fail("GET", "/crm/v3/objects/contacts", 504, 1)
	inc := distinct(t, readAll(t, c, "contacts", start.Cursor, "email", "firstname").All)
	if len(inc) != 2 || inc[res[0].ID].Values[1].Str != "Up" {
		t.Errorf("read through 500s: %v", inc)
	}
	srv.Fail("POST", "/batch/archive", 503, 1)
	for _, r := range write(t, c, "contacts", conformance.DeleteOp(res[1].ID, "")) {
		if r.Err != nil {
			t.Fatalf("delete through a 503: %v", r.Err)
		}
	}
	if n, st := srv.Count("contacts"), srv.Stats(); n != 1 || st.Created != 3 || st.Injected != 10 {
		t.Errorf("server holds %d contacts, created %d, answered %d injected failures; want 1, 3, 10", n, st.Created, st.Injected)
	}
	// Persistent failure: retries are bounded and the error says transient.
	srv.Fail("POST", "/search", 503, 100)
	_, err := c.Lookup(ctx, sdk.LookupRequest{Object: "contacts", Field: "email", Values: []sdk.Value{sdk.String("s1@example.com")}, Fields: []string{"email"}})
	if sdk.CategoryOf(err) != sdk.CategoryTransient {
		t.Errorf("lookup while search keeps failing: %v, want transient", err)
	}
}
