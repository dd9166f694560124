package memory_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
	"github.com/datasync-io/datasync/sdk/memory"
	"github.com/datasync-io/datasync/sdk/memory/memorytest"
)

func open(t *testing.T, c *memory.Connector, settings map[string]string) sdk.Conn {
	t.Helper()
	conn, err := c.Open(context.Background(), sdk.Config{Settings: settings, Secrets: map[string]string{"token": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func writeOne(t *testing.T, conn sdk.Conn, op sdk.Op) sdk.WriteResult {
	t.Helper()
	res, err := conformance.WriteOps(context.Background(), conn, "contacts", op)
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func TestPersistenceSurvivesANewConnector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.json")
	ctx := context.Background()
	c1 := memory.New()
	conn1 := open(t, c1, map[string]string{"path": path})
	a1, err := conn1.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := writeOne(t, conn1, conformance.CreateOp(map[string]sdk.Value{
		"email": sdk.String("Ann@Example.com"), "tags": sdk.StringList("x", "ü"), "first_name": sdk.String(""),
	}))
	if _, err := c1.Create("contacts", memorytest.NewRecord(7)); err != nil {
		t.Fatal(err)
	}
	gone := writeOne(t, conn1, conformance.CreateOp(memorytest.NewRecord(8)))
	writeOne(t, conn1, conformance.DeleteOp(gone.ID, ""))
	before := c1.Snapshot("contacts")
	cursor, err := conformance.ReadAll(ctx, conn1, sdk.ReadRequest{Object: "contacts"})
	if err != nil {
		t.Fatal(err)
	}

	c2 := memory.New()
	conn2 := open(t, c2, map[string]string{"path": path})
	a2, err := conn2.Check(ctx)
	if err != nil || a2.Fingerprint != a1.Fingerprint {
		t.Errorf("fingerprint after reload %q (%v), want %q", a2.Fingerprint, err, a1.Fingerprint)
	}
	after := c2.Snapshot("contacts")
	if len(after) != 2 || len(before) != 2 {
		t.Fatalf("records before %d, after reload %d; want 2 and 2", len(before), len(after))
	}
	for id, b := range before {
		a, ok := after[id]
		if !ok || a.Version != b.Version || !a.ModifiedAt.Equal(b.ModifiedAt) || len(a.Fields) != len(b.Fields) {
			t.Errorf("record %s: before %+v, after reload %+v", id, b, a)
			continue
		}
		for f, v := range b.Fields {
			if !a.Fields[f].Equal(v) {
				t.Errorf("record %s field %s: %#v before, %#v after reload", id, f, v, a.Fields[f])
			}
		}
	}
	// Unique index rebuilt: the email is still taken, case-insensitively.
	if r := writeOne(t, conn2, conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("ann@example.com")})); r.Err == nil || r.Err.Category != sdk.CategoryDuplicate {
		t.Errorf("duplicate email after reload: %+v", r)
	}
	// The old cursor still means the same point; the tombstone is behind it.
	inc, err := conformance.ReadAll(ctx, conn2, sdk.ReadRequest{Object: "contacts", Cursor: cursor.Cursor})
	if err != nil || len(inc.All) != 0 {
		t.Errorf("read from the old cursor: %d records, %v; want none", len(inc.All), err)
	}
	up := writeOne(t, conn2, conformance.UpdateOp(kept.ID, kept.Version, map[string]sdk.Value{"company": sdk.String("B")}))
	if up.Err != nil || slices.Contains([]string{kept.Version, gone.Version}, up.Version) {
		t.Errorf("update after reload: %+v; the version must be new", up)
	}
}

func TestConnectorsSharingAFileSeeEachOthersWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.json")
	a, b := memory.New(), memory.New()
	open(t, a, map[string]string{"path": path})
	open(t, b, map[string]string{"path": path})
	it, err := a.Create("contacts", memorytest.NewRecord(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Get("contacts", it.ID); !ok || got.Version != it.Version {
		t.Fatalf("b sees %+v, %v; want a's record %+v", got, ok, it)
	}
	if _, err := b.Update("contacts", it.ID, map[string]sdk.Value{"company": sdk.String("B")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get("contacts", it.ID); !got.Fields["company"].Equal(sdk.String("B")) {
		t.Errorf("a sees company %#v after b's update", got.Fields["company"])
	}
}

func TestOpenRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		settings map[string]string
		secrets  map[string]string
		field    string
	}{
		{"no token", nil, nil, "token"},
		{"path in a missing directory", map[string]string{"path": filepath.Join(dir, "no", "such", "x.json")}, nil, "path"},
		{"corrupt data file", map[string]string{"path": corrupt}, nil, "path"},
		{"bad object name", map[string]string{"objects": "contacts,Bad Name"}, nil, "objects"},
		{"bad batch size", map[string]string{"batch_size": "0"}, nil, "batch_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secrets := tc.secrets
			if secrets == nil && tc.field != "token" {
				secrets = map[string]string{"token": "secret"}
			}
			_, err := memory.New().Open(context.Background(), sdk.Config{Settings: tc.settings, Secrets: secrets})
			e := sdk.AsError(err)
			if e == nil || e.Category != sdk.CategoryValidation || e.Field != tc.field {
				t.Errorf("open: %v; want a validation error on %s", err, tc.field)
			}
		})
	}
	t.Run("second path", func(t *testing.T) {
		c := memory.New()
		open(t, c, map[string]string{"path": filepath.Join(dir, "one.json")})
		open(t, c, map[string]string{"path": filepath.Join(dir, "one.json")}) // the same is fine
		_, err := c.Open(context.Background(), sdk.Config{Settings: map[string]string{"path": filepath.Join(dir, "two.json")},
			Secrets: map[string]string{"token": "secret"}})
		if e := sdk.AsError(err); e == nil || e.Field != "path" {
			t.Errorf("open with another path: %v; want a path error", err)
		}
	})
}

func TestValidation(t *testing.T) {
	tests := []struct {
		field string
		value sdk.Value
		want  sdk.Category // unspecified: accepted
	}{
		{"email", sdk.String("a@b.example"), 0},
		{"email", sdk.String(""), 0},
		{"email", sdk.String("no-at-sign"), sdk.CategoryValidation},
		{"email", sdk.String("a b@c.example"), sdk.CategoryValidation},
		{"email", sdk.String("a@b@c"), sdk.CategoryValidation},
		{"email", sdk.String("@c.example"), sdk.CategoryValidation},
		{"first_name", sdk.String(strings.Repeat("é", 100)), 0},
		{"first_name", sdk.String(strings.Repeat("é", 101)), sdk.CategoryValidation},
		{"first_name", sdk.Int(3), sdk.CategoryValidation},
		{"first_name", sdk.String("\xff"), sdk.CategoryValidation},
		{"first_name", sdk.Null, 0},
		{"phone", sdk.String("+49 (30) 123-45/6"), 0},
		{"phone", sdk.String("call me"), sdk.CategoryValidation},
		{"lifecycle_stage", sdk.String("customer"), 0},
		{"lifecycle_stage", sdk.String("prospect"), sdk.CategoryValidation},
		{"lifecycle_stage", sdk.String(""), sdk.CategoryValidation},
		{"tags", sdk.StringList(), 0},
		{"tags", sdk.String("a"), sdk.CategoryValidation},
		{"updated_at", sdk.DateTime(time.Now()), sdk.CategoryValidation},
		{"no_such_field", sdk.String("x"), sdk.CategoryValidation},
	}
	c := memory.New()
	conn := open(t, c, nil)
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%#v", tc.field, tc.value), func(t *testing.T) {
			r := writeOne(t, conn, conformance.CreateOp(map[string]sdk.Value{tc.field: tc.value}))
			if tc.want == 0 {
				if r.Err != nil {
					t.Fatalf("refused: %v", r.Err)
				}
				if got, _ := c.Get("contacts", r.ID); !got.Fields[tc.field].Equal(tc.value) && !tc.value.IsNull() {
					t.Errorf("stored %#v, want %#v", got.Fields[tc.field], tc.value)
				}
				return
			}
			if r.Err == nil || r.Err.Category != tc.want || r.Err.Field != tc.field {
				t.Errorf("got %+v, want a %s error on %s", r, tc.want, tc.field)
			}
		})
	}
}

func TestUniqueFields(t *testing.T) {
	c := memory.New()
	conn := open(t, c, nil)
	a := writeOne(t, conn, conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("Ann@Example.com"), "external_id": sdk.String("X1")}))
	b := writeOne(t, conn, conformance.CreateOp(map[string]sdk.Value{"email": sdk.String(""), "external_id": sdk.String("x1")}))
	if a.Err != nil || b.Err != nil {
		t.Fatalf("creates: %v, %v (external ids compare exactly, empty emails never collide)", a.Err, b.Err)
	}
	tests := []struct {
		name string
		op   sdk.Op
		want string // field of the duplicate error; "" for success
	}{
		{"same email, other case", conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("ann@EXAMPLE.com")}), "email"},
		{"same external id", conformance.CreateOp(map[string]sdk.Value{"external_id": sdk.String("X1")}), "external_id"},
		{"second empty email", conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("")}), ""},
		{"update to own email", conformance.UpdateOp(a.ID, "", map[string]sdk.Value{"email": sdk.String("ann@example.com")}), ""},
		{"update to another's email", conformance.UpdateOp(b.ID, "", map[string]sdk.Value{"email": sdk.String("ANN@example.com")}), "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := writeOne(t, conn, tc.op)
			switch {
			case tc.want == "" && r.Err != nil:
				t.Errorf("refused: %v", r.Err)
			case tc.want != "" && (r.Err == nil || r.Err.Category != sdk.CategoryDuplicate || r.Err.Field != tc.want):
				t.Errorf("got %+v, want a duplicate error on %s", r, tc.want)
			}
		})
	}
	// Deleting frees the email.
	writeOne(t, conn, conformance.DeleteOp(a.ID, ""))
	if r := writeOne(t, conn, conformance.CreateOp(map[string]sdk.Value{"email": sdk.String("ann@example.com")})); r.Err != nil {
		t.Errorf("email of a deleted record: %v", r.Err)
	}
}

func TestHooksShowInReads(t *testing.T) {
	ctx := context.Background()
	c := memory.New()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
	c.SetClock(func() time.Time { return clock })
	conn := open(t, c, nil)
	a, err := c.Create("contacts", map[string]sdk.Value{"email": sdk.String("a@x.example"), "company": sdk.String("A")})
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Truncate(time.Microsecond); !a.ModifiedAt.Equal(want) || !a.Fields["updated_at"].Equal(sdk.DateTime(want)) {
		t.Errorf("modified %v, updated_at %#v; want the clock %v", a.ModifiedAt, a.Fields["updated_at"], want)
	}
	b, err := c.Create("contacts", map[string]sdk.Value{"email": sdk.String("b@x.example")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("contacts", map[string]sdk.Value{"email": sdk.String("B@x.example")}); sdk.CategoryOf(err) != sdk.CategoryDuplicate {
		t.Errorf("hook create of a duplicate: %v", err)
	}
	full, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts", Fields: []string{"company", "email"}})
	if err != nil || len(full.All) != 2 {
		t.Fatalf("full read: %v, %v", full.All, err)
	}
	if got := conformance.AsMap([]string{"company", "email"}, full.All[0]); full.All[0].ID != a.ID || !got["company"].Equal(sdk.String("A")) {
		t.Errorf("first record %+v, want %s with company A", full.All[0], a.ID)
	}

	clock = clock.Add(time.Hour)
	up, err := c.Update("contacts", a.ID, map[string]sdk.Value{"company": sdk.Null, "first_name": sdk.String("Ann")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := up.Fields["company"]; ok || up.Version == a.Version || !up.Fields["email"].Equal(sdk.String("a@x.example")) {
		t.Errorf("after the patch %+v: company cleared, email kept, new version wanted", up)
	}
	if err := c.Delete("contacts", b.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("contacts", b.ID); sdk.CategoryOf(err) != sdk.CategoryNotFound {
		t.Errorf("second delete: %v", err)
	}
	if _, ok := c.Get("contacts", b.ID); ok {
		t.Error("Get finds a deleted record")
	}
	inc, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts", Cursor: full.Cursor, Fields: []string{"first_name"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.All) != 2 || inc.All[0].ID != a.ID || !inc.All[0].Values[0].Equal(sdk.String("Ann")) ||
		inc.All[1].ID != b.ID || !inc.All[1].Deleted {
		t.Errorf("incremental read %+v: want %s updated, then %s's tombstone", inc.All, a.ID, b.ID)
	}
	if !inc.All[0].ModifiedAt.Equal(clock.Truncate(time.Microsecond)) {
		t.Errorf("modified_at %v, want %v", inc.All[0].ModifiedAt, clock)
	}
	if snap := c.Snapshot("contacts"); len(snap) != 1 || snap[a.ID].Version != up.Version {
		t.Errorf("snapshot %+v: want only %s at %s", snap, a.ID, up.Version)
	}
}

func TestFailer(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	t.Run("whole write", func(t *testing.T) {
		c := memory.New()
		conn := open(t, c, nil)
		c.SetFailer(func(op string) error {
			if op == "write" {
				return boom
			}
			return nil
		})
		_, err := conformance.WriteOps(ctx, conn, "contacts", conformance.CreateOp(memorytest.NewRecord(1)))
		if !errors.Is(err, boom) || len(c.Snapshot("contacts")) != 0 {
			t.Errorf("write: %v, %d records; want boom and nothing applied", err, len(c.Snapshot("contacts")))
		}
		c.SetFailer(nil)
		if r := writeOne(t, conn, conformance.CreateOp(memorytest.NewRecord(1))); r.Err != nil {
			t.Errorf("after removing the failer: %v", r.Err)
		}
	})
	t.Run("one op", func(t *testing.T) {
		c := memory.New()
		conn := open(t, c, nil)
		n := 0
		c.SetFailer(func(op string) error {
			if op == "write.create" {
				if n++; n == 2 {
					return sdk.Errorf(sdk.CategoryTransient, "try later")
				}
			}
			return nil
		})
		res, err := conformance.WriteOps(ctx, conn, "contacts", conformance.CreateOp(memorytest.NewRecord(1)),
			conformance.CreateOp(memorytest.NewRecord(2)), conformance.CreateOp(memorytest.NewRecord(3)))
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil || res[2].Err != nil || sdk.CategoryOf(res[1].Err) != sdk.CategoryTransient {
			t.Errorf("results %+v: want the second op alone to fail transiently", res)
		}
		if len(c.Snapshot("contacts")) != 2 {
			t.Errorf("%d records, want 2", len(c.Snapshot("contacts")))
		}
	})
	t.Run("read mid-stream", func(t *testing.T) {
		c := memory.New()
		conn := open(t, c, map[string]string{"batch_size": "2"})
		for i := range 5 {
			if _, err := c.Create("contacts", memorytest.NewRecord(i)); err != nil {
				t.Fatal(err)
			}
		}
		batches := 0
		c.SetFailer(func(op string) error {
			if op == "read.batch" {
				if batches++; batches == 2 {
					return boom
				}
			}
			return nil
		})
		got, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts"})
		if !errors.Is(err, boom) || len(got.All) != 2 || got.Checkpoints != 0 {
			t.Errorf("read: %v, %d records, %d checkpoints; want boom after one batch of 2, no checkpoint", err, len(got.All), got.Checkpoints)
		}
	})
	t.Run("check", func(t *testing.T) {
		c := memory.New()
		conn := open(t, c, nil)
		c.SetFailer(func(op string) error {
			if op == "check" {
				return sdk.Errorf(sdk.CategoryUnreachable, "down")
			}
			return nil
		})
		if _, err := conn.Check(ctx); sdk.CategoryOf(err) != sdk.CategoryUnreachable {
			t.Errorf("check: %v; want unreachable", err)
		}
	})
}

func TestBadTokenRefusesEveryCall(t *testing.T) {
	ctx := context.Background()
	c := memory.New()
	conn, err := c.Open(ctx, sdk.Config{Settings: map[string]string{"expected_token": "t0"}, Secrets: map[string]string{"token": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	_, e1 := conn.Check(ctx)
	_, e2 := conn.Schema(ctx)
	_, e3 := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts"})
	_, e4 := conformance.WriteOps(ctx, conn, "contacts", conformance.CreateOp(memorytest.NewRecord(1)))
	_, e5 := conn.Lookup(ctx, sdk.LookupRequest{Object: "contacts", Field: "email", Values: []sdk.Value{sdk.String("x@y.z")}})
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if sdk.CategoryOf(err) != sdk.CategoryAuth {
			t.Errorf("call %d: %v; want auth", i, err)
		}
	}
	good, err := c.Open(ctx, sdk.Config{Settings: map[string]string{"expected_token": "t0"}, Secrets: map[string]string{"token": "t0"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Check(ctx); err != nil {
		t.Errorf("check with the expected token: %v", err)
	}
}

func TestObjectsAndCursors(t *testing.T) {
	ctx := context.Background()
	c := memory.New()
	conn := open(t, c, map[string]string{"objects": "contacts, leads"})
	s, err := conn.Schema(ctx)
	if err != nil || !slices.Equal(s.ObjectNames(), []string{"contacts", "leads"}) {
		t.Fatalf("schema objects %v, %v", s.ObjectNames(), err)
	}
	if _, err := c.Create("leads", memorytest.NewRecord(1)); err != nil {
		t.Fatal(err)
	}
	// Objects are separate: the same email is fine in another one.
	if _, err := c.Create("contacts", memorytest.NewRecord(1)); err != nil {
		t.Fatal(err)
	}
	leads, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "leads"})
	if err != nil || len(leads.All) != 1 {
		t.Errorf("leads: %d records, %v; want 1", len(leads.All), err)
	}
	tests := []struct {
		name string
		req  sdk.ReadRequest
		want sdk.Category
	}{
		{"unknown object", sdk.ReadRequest{Object: "deals"}, sdk.CategoryNotFound},
		{"unknown field", sdk.ReadRequest{Object: "contacts", Fields: []string{"nope"}}, sdk.CategoryValidation},
		{"foreign cursor", sdk.ReadRequest{Object: "contacts", Cursor: "abc"}, sdk.CategoryPermanent},
		{"cursor ahead of the data", sdk.ReadRequest{Object: "contacts", Cursor: "999"}, sdk.CategoryPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := conformance.ReadAll(ctx, conn, tc.req); sdk.CategoryOf(err) != tc.want {
				t.Errorf("read: %v; want %s", err, tc.want)
			}
		})
	}
}

func TestSaveFailureAppliesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c := memory.New()
	conn := open(t, c, map[string]string{"path": filepath.Join(dir, "data.json")})
	first := writeOne(t, conn, conformance.CreateOp(memorytest.NewRecord(1)))
	if err := os.RemoveAll(dir); err != nil { // the disk goes away
		t.Fatal(err)
	}
	_, err := conformance.WriteOps(context.Background(), conn, "contacts",
		conformance.CreateOp(memorytest.NewRecord(2)), conformance.DeleteOp(first.ID, ""))
	if err == nil {
		t.Fatal("write with the data directory gone succeeded")
	}
	snap := c.Snapshot("contacts")
	if len(snap) != 1 || snap[first.ID].Version != first.Version {
		t.Errorf("after a failed save: %+v; want only %s at %s", snap, first.ID, first.Version)
	}
}

// Many goroutines writing, reading and using hooks at once (run with -race):
// every create lands once, with its own id and version.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	c := memory.New()
	conn := open(t, c, nil)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				i := w*each + k
				if w%2 == 0 {
					r, err := conformance.WriteOps(ctx, conn, "contacts", conformance.CreateOp(memorytest.NewRecord(i)))
					if err == nil && r[0].Err != nil {
						err = r[0].Err
					}
					errs <- err
				} else {
					_, err := c.Create("contacts", memorytest.NewRecord(i))
					errs <- err
				}
				if _, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts", Fields: []string{"email"}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	snap := c.Snapshot("contacts")
	versions := map[string]bool{}
	for _, it := range snap {
		versions[it.Version] = true
	}
	if len(snap) != workers*each || len(versions) != workers*each {
		t.Errorf("%d records with %d distinct versions; want %d of each", len(snap), len(versions), workers*each)
	}
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	c := memory.New()
	conn := open(t, c, nil)
	a, _ := c.Create("contacts", map[string]sdk.Value{"email": sdk.String("Ann@Example.com"), "company": sdk.String("Acme")})
	b, _ := c.Create("contacts", map[string]sdk.Value{"company": sdk.String("Acme")})
	gone, _ := c.Create("contacts", map[string]sdk.Value{"email": sdk.String("gone@example.com"), "company": sdk.String("Acme")})
	if err := c.Delete("contacts", gone.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		field  string
		values []sdk.Value
		want   []string
	}{
		{"email ignores case", "email", []sdk.Value{sdk.String("ann@EXAMPLE.com")}, []string{a.ID}},
		{"null finds nothing", "email", []sdk.Value{sdk.Null}, nil},
		{"deleted are not found", "email", []sdk.Value{sdk.String("gone@example.com")}, nil},
		{"non-unique field finds all", "company", []sdk.Value{sdk.String("Acme"), sdk.String("Other")}, []string{a.ID, b.ID}},
		{"other fields compare exactly", "company", []sdk.Value{sdk.String("acme")}, nil},
		{"no field: by id", "", []sdk.Value{sdk.String(b.ID), sdk.String(gone.ID), sdk.String("nope")}, []string{b.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := conn.Lookup(ctx, sdk.LookupRequest{Object: "contacts", Field: tc.field, Values: tc.values, Fields: []string{"company"}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
				if len(r.Values) != 1 || !r.Values[0].Equal(sdk.String("Acme")) {
					t.Errorf("record %s values %v, want [Acme]", r.ID, r.Values)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) {
				t.Errorf("found %v, want %v", ids, tc.want)
			}
		})
	}
	if _, err := conn.Lookup(ctx, sdk.LookupRequest{Object: "contacts", Field: "nope"}); sdk.CategoryOf(err) != sdk.CategoryValidation {
		t.Errorf("lookup by an unknown field: %v", err)
	}
}
