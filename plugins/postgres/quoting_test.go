package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// TestQuotedNames: schema, table and column names that need quoting work on
// every path (COPY and INSERT creates, updates, incremental reads, lookup).
func TestQuotedNames(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, `CREATE SCHEMA "Sales Team"`,
		`CREATE TABLE "Sales Team"."Order Items" ("Key" serial PRIMARY KEY, "Full Name" text UNIQUE, "select" int,
			"Updated At" timestamptz NOT NULL DEFAULT now())`)
	c := d.open(t, "schema", "Sales Team", "updated_at_column", "Updated At")
	ctx := context.Background()
	obj := "Order Items"
	full := read(t, c, obj, "")
	if len(full.recs) != 0 || full.cursor == "" {
		t.Fatalf("empty table: %v, cursor %q", ids(full.recs), full.cursor)
	}
	fields := []string{"Full Name", "select"}
	for _, n := range []int{100, 2} { // a COPY-sized run, then an INSERT-sized one
		var ops []sdk.Op
		for i := 0; i < n; i++ {
			ops = append(ops, sdk.Op{Kind: sdk.OpCreate, Fields: fields, Values: []sdk.Value{sdk.String(fmt.Sprintf("n%d-%d", n, i)), sdk.Int(int64(i))}})
		}
		res, err := c.Write(ctx, sdk.WriteRequest{Object: obj, Fields: fields, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || r.Values[0].Str != fmt.Sprintf("n%d-%d", n, i) {
				t.Fatalf("create %d of %d: %+v", i, n, r)
			}
		}
	}
	inc := read(t, c, obj, full.cursor, fields...)
	if len(inc.recs) != 102 {
		t.Fatalf("incremental read: %d records, want 102", len(inc.recs))
	}
	res, err := c.Write(ctx, sdk.WriteRequest{Object: obj, Fields: []string{"select"}, Ops: []sdk.Op{
		{Kind: sdk.OpUpdate, ID: inc.recs[0].ID, IfVersion: inc.recs[0].Version, Fields: []string{"select"}, Values: []sdk.Value{sdk.Int(-5)}},
		{Kind: sdk.OpDelete, ID: inc.recs[1].ID, IfVersion: inc.recs[1].Version}}})
	if err != nil || res[0].Err != nil || res[1].Err != nil || res[0].Values[0].Int != -5 {
		t.Fatalf("update and delete: %+v, %v", res, err)
	}
	got, err := c.Lookup(ctx, sdk.LookupRequest{Object: obj, Field: "Full Name", Values: []sdk.Value{sdk.String("n2-1"), sdk.String("none")}, Fields: fields})
	if err != nil || len(got) != 1 || got[0].Values[0].Str != "n2-1" {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if again := read(t, c, obj, inc.cursor, fields...); !slices.Equal(ids(again.recs), []string{inc.recs[0].ID}) {
		t.Errorf("read after the update: %v, want [%s]", ids(again.recs), inc.recs[0].ID)
	}
}
