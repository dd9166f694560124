package main

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

type wantOp struct {
	cat   sdk.Category // 0: must succeed
	field string
}

func checkResults(t *testing.T, res []sdk.WriteResult, want map[int]wantOp) {
	t.Helper()
	for i, r := range res {
		w, bad := want[i]
		switch {
		case !bad && r.Err != nil:
			t.Errorf("op %d: %v, want success", i, r.Err)
		case !bad && r.ID == "":
			t.Errorf("op %d: success without an id: %+v", i, r)
		case bad && r.Err == nil:
			t.Errorf("op %d: succeeded, want %s on %q", i, w.cat, w.field)
		case bad && (r.Err.Category != w.cat || r.Err.Field != w.field):
			t.Errorf("op %d: %v (field %q), want %s on %q", i, r.Err, r.Err.Field, w.cat, w.field)
		}
	}
}

// TestBatchCreatePerOpErrors: one batch of creates with an invalid email, a
// duplicate email, an unknown property, a read-only property and an unknown
// enum option fails exactly those ops, with the field named, and creates the
// rest — whether HubSpot answers per input (multi-status, asked for with
// objectWriteTraceId) or refuses the whole batch (then it is split).
func TestBatchCreatePerOpErrors(t *testing.T) {
	for _, multi := range []bool{true, false} {
		t.Run(fmt.Sprintf("multi-status %v", multi), func(t *testing.T) {
			srv, c := open(t, hubspottest.Options{NoMultiStatus: !multi})
			taken := write(t, c, "contacts", createOp("taken@example.com"))[0]
			if taken.Err != nil {
				t.Fatal(taken.Err)
			}
			var ops []sdk.Op
			for i := range 12 {
				ops = append(ops, createOp(fmt.Sprintf("ok%d@example.com", i), "firstname", sdk.String("F")))
			}
			ops[3] = createOp("not an email", "firstname", sdk.String("Bad"))
			ops[5] = createOp("unknown@example.com", "nosuch", sdk.String("x"))
			ops[7] = createOp("TAKEN@example.com")
			ops[8] = createOp("ro@example.com", "createdate", sdk.String("2020-01-01"))
			ops[10] = createOp("enum@example.com", "lifecyclestage", sdk.String("royalty"))
			res := write(t, c, "contacts", ops...)
			checkResults(t, res, map[int]wantOp{
				3: {sdk.CategoryValidation, "email"}, 5: {sdk.CategoryValidation, "nosuch"},
				7: {sdk.CategoryDuplicate, "email"}, 8: {sdk.CategoryValidation, "createdate"},
				10: {sdk.CategoryValidation, "lifecyclestage"},
			})
			st := srv.Stats()
			if st.Created != 1+7 || srv.Count("contacts") != 8 {
				t.Errorf("server created %d and holds %d; want the 7 good ones and the first", st.Created, srv.Count("contacts"))
			}
			creates := st.ByRoute["POST /crm/v3/objects/contacts/batch/create"] - 1
			if multi && creates != 1 {
				t.Errorf("multi-status: %d batch creates, want 1", creates)
			}
			// Halving isolates each of the 3 bad ops in at most 2×log2(10) calls.
			if !multi && (creates < 3 || creates > 1+3*2*4) {
				t.Errorf("split batch: %d batch creates for 3 bad ops among 10 sent", creates)
			}
			for i, r := range res {
				if r.Err == nil && r.Version == "" {
					t.Errorf("create %d: no version", i)
				}
			}
			emails := srv.Values("contacts", "email")
			for i, r := range res {
				if r.Err == nil && emails[r.ID] != fmt.Sprintf("ok%d@example.com", i) {
					t.Errorf("op %d: record %s has email %q", i, r.ID, emails[r.ID])
				}
			}
		})
	}
}

// TestBatchUpdatePerOpErrors: HubSpot refuses a batch update as a whole for
// one invalid value or one unique clash; the batch is split so only those
// ops fail. Missing records and stale versions fail before anything is sent.
func TestBatchUpdatePerOpErrors(t *testing.T) {
	srv, c := open(t, hubspottest.Options{})
	var ops []sdk.Op
	for i := range 8 {
		ops = append(ops, createOp(fmt.Sprintf("u%d@example.com", i)))
	}
	made := write(t, c, "contacts", ops...)
	gone := made[7]
	write(t, c, "contacts", conformance.DeleteOp(gone.ID, ""))
	patch := func(i int, f string, v sdk.Value) sdk.Op {
		return conformance.UpdateOp(made[i].ID, "", map[string]sdk.Value{f: v})
	}
	upd := []sdk.Op{
		patch(0, "firstname", sdk.String("A")),
		patch(1, "email", sdk.String("still not an email")),
		patch(2, "firstname", sdk.String("C")),
		patch(3, "email", sdk.String("u0@example.com")), // u0's email
		patch(4, "firstname", sdk.String("E")),
		conformance.UpdateOp(made[5].ID, "1999-01-01T00:00:00.000Z", map[string]sdk.Value{"firstname": sdk.String("F")}),
		patch(7, "firstname", sdk.String("G")),
		patch(6, "score", sdk.String("lots")),
	}
	res := write(t, c, "contacts", upd...)
	checkResults(t, res, map[int]wantOp{
		1: {sdk.CategoryValidation, "email"}, 3: {sdk.CategoryDuplicate, "email"},
		5: {sdk.CategoryConflict, ""}, 6: {sdk.CategoryNotFound, ""}, 7: {sdk.CategoryValidation, "score"},
	})
	names := srv.Values("contacts", "firstname")
	for i, want := range map[int]string{0: "A", 2: "C", 4: "E", 5: ""} {
		if names[made[i].ID] != want {
			t.Errorf("record %d firstname %q, want %q", i, names[made[i].ID], want)
		}
	}
	if emails := srv.Values("contacts", "email"); emails[made[1].ID] != "u1@example.com" || emails[made[3].ID] != "u3@example.com" {
		t.Errorf("refused updates changed emails: %v", emails)
	}
	for i, r := range res {
		if r.Err == nil && r.Version == made[i].Version {
			t.Errorf("update %d kept version %s", i, r.Version)
		}
	}
}

// TestDeleteMissing: HubSpot archives unknown ids without complaint; the
// connector reports them not_found, and a stale version as conflict.
func TestDeleteMissing(t *testing.T) {
	srv, c := open(t, hubspottest.Options{})
	made := write(t, c, "contacts", createOp("d1@example.com"), createOp("d2@example.com"), createOp("d3@example.com"))
	write(t, c, "contacts", conformance.UpdateOp(made[2].ID, "", map[string]sdk.Value{"firstname": sdk.String("new")}))
	res := write(t, c, "contacts", conformance.DeleteOp(made[0].ID, made[0].Version), conformance.DeleteOp("99999999", ""),
		conformance.DeleteOp(made[1].ID, ""), conformance.DeleteOp(made[2].ID, made[2].Version))
	checkResults(t, res, map[int]wantOp{1: {sdk.CategoryNotFound, ""}, 3: {sdk.CategoryConflict, ""}})
	if n := srv.Count("contacts"); n != 1 {
		t.Errorf("%d contacts left, want 1", n)
	}
}
