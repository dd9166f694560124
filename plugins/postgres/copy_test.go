package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// TestCopyPath: large create runs go through COPY; their results (ids,
// versions, stored values) must equal what a read returns afterwards, with
// or without triggers changing rows, and with keys drawn or given.
func TestCopyPath(t *testing.T) {
	d := newTestDB(t)
	d.exec(t,
		`CREATE TABLE plain (id serial PRIMARY KEY, name varchar(20), n int8, ok boolean, born date, seen timestamptz,
			version int NOT NULL DEFAULT 0, updated_at timestamptz)`,
		`CREATE TABLE trig (id serial PRIMARY KEY, name varchar(20), n int8, ok boolean, born date, seen timestamptz,
			version int NOT NULL DEFAULT 0, updated_at timestamptz)`,
		`CREATE FUNCTION up() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$`,
		`CREATE TRIGGER up BEFORE INSERT ON trig FOR EACH ROW EXECUTE FUNCTION up()`,
		`CREATE TABLE keyed (code text PRIMARY KEY, name text, updated_at timestamptz)`,
		`CREATE TABLE small (id serial PRIMARY KEY, n int2)`,
	)
	c := d.open(t, "version_column", "version")
	ctx := context.Background()
	fields := []string{"name", "n", "ok", "born", "seen"}
	mk := func(i int) sdk.Op {
		return sdk.Op{Kind: sdk.OpCreate, CorrelationID: fmt.Sprint(i), Fields: fields, Values: []sdk.Value{
			sdk.String(fmt.Sprintf("name %d", i)), sdk.String(fmt.Sprint(i * 1000)), // text for an integer: stored as a number
			sdk.Bool(i%3 == 0), sdk.Date(time.Date(1990, 1, 1+i, 0, 0, 0, 0, time.UTC)),
			sdk.DateTime(time.Date(2025, 5, 6, 7, 8, 9, i*1000, time.UTC))}}
	}
	for _, table := range []string{"plain", "trig"} {
		t.Run(table, func(t *testing.T) {
			var ops []sdk.Op
			for i := 0; i < 300; i++ {
				ops = append(ops, mk(i))
			}
			ops[150].Values[2] = sdk.Null
			res, err := c.Write(ctx, sdk.WriteRequest{Object: table, Fields: fields, Ops: ops})
			if err != nil {
				t.Fatal(err)
			}
			got := read(t, c, table, "", fields...)
			stored, err := byID(got.recs)
			if err != nil || len(stored) != 300 {
				t.Fatalf("read %d records, %v; want 300", len(stored), err)
			}
			for i, r := range res {
				s, ok := stored[r.ID]
				if r.Err != nil || !ok || r.CorrelationID != fmt.Sprint(i) {
					t.Fatalf("op %d: %+v; stored %v", i, r, ok)
				}
				if r.Version != s.Version || r.Version != "1" || !r.ModifiedAt.Equal(s.ModifiedAt) {
					t.Errorf("op %d: version %q modified %v; read %q %v", i, r.Version, r.ModifiedAt, s.Version, s.ModifiedAt)
				}
				for j := range fields {
					if !r.Values[j].Equal(s.Values[j]) {
						t.Errorf("op %d %s: result %#v, stored %#v", i, fields[j], r.Values[j], s.Values[j])
					}
				}
			}
			// One COPY stamps every row with one clock reading (INSERT stamps each row).
			if !res[0].ModifiedAt.Equal(res[299].ModifiedAt) {
				t.Errorf("rows stamped %v and %v: the run did not go through COPY", res[0].ModifiedAt, res[299].ModifiedAt)
			}
			if table == "trig" && res[7].Values[0].Str != "NAME 7" {
				t.Errorf("trigger-changed name came back as %#v", res[7].Values[0])
			}
			if res[0].Values[1].Kind != sdk.KindInteger || res[150].Values[2].Kind != sdk.KindNull {
				t.Errorf("result values %v / %v: want an integer, a null", res[0].Values, res[150].Values)
			}
		})
	}
	t.Run("given keys", func(t *testing.T) {
		var ops []sdk.Op
		for i := 0; i < 100; i++ {
			ops = append(ops, sdk.Op{Kind: sdk.OpCreate, Fields: []string{"code", "name"},
				Values: []sdk.Value{sdk.String(fmt.Sprintf("C-%03d", i)), sdk.String(strings.Repeat("x", i))}})
		}
		ops[99].Values[0] = sdk.String("C-000") // a duplicate key: COPY fails, the INSERT path attributes it
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "keyed", Fields: []string{"code", "name"}, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res[:99] {
			if r.Err != nil || r.ID != fmt.Sprintf("C-%03d", i) || len(r.Values[1].Str) != i {
				t.Fatalf("op %d: %+v", i, r)
			}
		}
		if e := res[99].Err; e == nil || e.Category != sdk.CategoryDuplicate || e.Field != "code" {
			t.Errorf("duplicate key: %v, want duplicate on code", e)
		}
	})
	t.Run("value out of range", func(t *testing.T) {
		var ops []sdk.Op
		for i := 0; i < 100; i++ {
			ops = append(ops, sdk.Op{Kind: sdk.OpCreate, Fields: []string{"n"}, Values: []sdk.Value{sdk.Int(int64(i))}})
		}
		ops[42].Values[0] = sdk.Int(40000) // beyond int2
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "small", Fields: []string{"n"}, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if (i == 42) != (r.Err != nil) {
				t.Fatalf("op %d: %v", i, r.Err)
			}
		}
		if e := res[42].Err; e.Category != sdk.CategoryValidation || e.Field != "n" {
			t.Errorf("int2 overflow: %v, want validation on n", e)
		}
	})
}
