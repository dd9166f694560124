package main

import (
	"context"
	"slices"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestSchemaMapping(t *testing.T) {
	d := newTestDB(t)
	d.exec(t,
		`CREATE TYPE stage AS ENUM ('lead', 'customer', 'churned')`,
		`CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%')`,
		`CREATE TABLE contacts (
			id bigserial PRIMARY KEY,
			email varchar(120) NOT NULL UNIQUE,
			work_email text,
			backup email_address,
			first_name varchar(50),
			code char(4),
			note text,
			age int4 NOT NULL,
			small int2,
			big int8,
			score numeric(10,2),
			ratio float8,
			active boolean NOT NULL DEFAULT true,
			birthday date,
			seen_at timestamp,
			created_at timestamptz NOT NULL DEFAULT now(),
			tags text[],
			names varchar(20)[],
			stage stage,
			full_name text GENERATED ALWAYS AS (coalesce(first_name, '') || ' ' || coalesce(note, '')) STORED,
			seq int GENERATED ALWAYS AS IDENTITY,
			datasync_id text UNIQUE,
			updated_at timestamptz NOT NULL DEFAULT now()
		)`,
		`CREATE TABLE pairs (a int, b text, v text, PRIMARY KEY (a, b))`,
		`CREATE TABLE nokey (x int)`,
		`CREATE VIEW active_contacts AS SELECT id, email, updated_at FROM contacts WHERE active`,
		`CREATE VIEW noid AS SELECT email FROM contacts`,
	)
	c := d.open(t)
	sch, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sch.ObjectNames(), []string{"active_contacts", "contacts", "pairs"}; !slices.Equal(got, want) {
		t.Fatalf("objects = %v, want %v (no table without key, no view without id)", got, want)
	}
	obj, _ := sch.Object("contacts")
	if !obj.Incremental || obj.Tombstones || obj.ReadOnly || obj.ExternalIDField != "datasync_id" {
		t.Errorf("contacts = incremental %v, tombstones %v, read-only %v, external id %q", obj.Incremental, obj.Tombstones, obj.ReadOnly, obj.ExternalIDField)
	}
	tests := []struct {
		name                       string
		typ                        sdk.FieldType
		required, readOnly, unique bool
		maxLen                     int
		enum                       []string
	}{
		{name: "id", typ: sdk.TypeInteger, unique: true},
		{name: "email", typ: sdk.TypeEmail, required: true, unique: true, maxLen: 120},
		{name: "work_email", typ: sdk.TypeEmail},
		{name: "backup", typ: sdk.TypeEmail},
		{name: "first_name", typ: sdk.TypeString, maxLen: 50},
		{name: "code", typ: sdk.TypeString, maxLen: 4},
		{name: "note", typ: sdk.TypeString},
		{name: "age", typ: sdk.TypeInteger, required: true},
		{name: "small", typ: sdk.TypeInteger},
		{name: "big", typ: sdk.TypeInteger},
		{name: "score", typ: sdk.TypeDecimal},
		{name: "ratio", typ: sdk.TypeDecimal},
		{name: "active", typ: sdk.TypeBoolean},
		{name: "birthday", typ: sdk.TypeDate},
		{name: "seen_at", typ: sdk.TypeDateTime},
		{name: "created_at", typ: sdk.TypeDateTime},
		{name: "tags", typ: sdk.TypeStringList},
		{name: "names", typ: sdk.TypeStringList},
		{name: "stage", typ: sdk.TypeEnum, enum: []string{"lead", "customer", "churned"}},
		{name: "full_name", typ: sdk.TypeString, readOnly: true},
		{name: "seq", typ: sdk.TypeInteger, readOnly: true},
		{name: "datasync_id", typ: sdk.TypeString, unique: true},
		{name: "updated_at", typ: sdk.TypeDateTime, readOnly: true},
	}
	if len(obj.Fields) != len(tests) {
		t.Errorf("contacts has %d fields, want %d: %v", len(obj.Fields), len(tests), obj.FieldNames())
	}
	for _, tc := range tests {
		f, ok := obj.Field(tc.name)
		if !ok {
			t.Errorf("no field %s", tc.name)
			continue
		}
		if f.Type != tc.typ || f.Required != tc.required || f.ReadOnly != tc.readOnly || f.Unique != tc.unique ||
			f.MaxLength != tc.maxLen || !slices.Equal(f.EnumOptions, tc.enum) {
			t.Errorf("%s = %s required %v read-only %v unique %v max %d enum %v; want %s %v %v %v %d %v", tc.name,
				f.Type, f.Required, f.ReadOnly, f.Unique, f.MaxLength, f.EnumOptions,
				tc.typ, tc.required, tc.readOnly, tc.unique, tc.maxLen, tc.enum)
		}
	}
	pairs, _ := sch.Object("pairs")
	if !pairs.ReadOnly || pairs.Incremental {
		t.Errorf("pairs (composite key) = read-only %v incremental %v, want read-only, full reads", pairs.ReadOnly, pairs.Incremental)
	}
	view, _ := sch.Object("active_contacts")
	if !view.ReadOnly || view.Incremental {
		t.Errorf("view = read-only %v incremental %v, want read-only, full reads", view.ReadOnly, view.Incremental)
	}
	for _, f := range view.Fields {
		if !f.ReadOnly {
			t.Errorf("view field %s is writable", f.Name)
		}
	}

	// A soft-delete column is no field: it makes tombstones.
	d.exec(t, `ALTER TABLE contacts ADD COLUMN deleted_at timestamptz`)
	c2 := d.open(t, "soft_delete_column", "deleted_at")
	sch, err = c2.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	obj, _ = sch.Object("contacts")
	if _, ok := obj.Field("deleted_at"); ok || !obj.Tombstones {
		t.Errorf("with soft_delete_column: deleted_at listed %v, tombstones %v", ok, obj.Tombstones)
	}

	// Composite keys read with joined, escaped ids.
	d.exec(t, `INSERT INTO pairs VALUES (1, 'x/y', 'v')`)
	got := read(t, c, "pairs", "", "v")
	if len(got.recs) != 1 || got.recs[0].ID != "1/x%2Fy" {
		t.Errorf("pairs read ids %v, want [1/x%%2Fy]", ids(got.recs))
	}
	res, err := c.Write(context.Background(), sdk.WriteRequest{Object: "pairs", Fields: []string{"v"},
		Ops: []sdk.Op{{Kind: sdk.OpUpdate, ID: "1/x%2Fy", Fields: []string{"v"}, Values: []sdk.Value{sdk.String("w")}}}})
	if err == nil || sdk.CategoryOf(err) != sdk.CategoryPermanent {
		t.Errorf("write to composite-key table: %v %v, want a permanent error", res, err)
	}

	// A composite key with an updated-at column reads incrementally, keyset on all key columns.
	d.exec(t, `CREATE TABLE pairs2 (a int, b text, v text, updated_at timestamptz NOT NULL DEFAULT '2025-01-01', PRIMARY KEY (a, b))`,
		`INSERT INTO pairs2 (a, b, v) VALUES (1, 'b', 'x'), (2, 'a', 'y')`)
	full := read(t, c, "pairs2", "", "v")
	if len(full.recs) != 2 || full.cursor == "" {
		t.Fatalf("pairs2 full read: %v, cursor %q", ids(full.recs), full.cursor)
	}
	d.exec(t, `INSERT INTO pairs2 (a, b, v) VALUES (2, 'b', 'z')`)
	if inc := read(t, c, "pairs2", full.cursor, "v"); !slices.Equal(ids(inc.recs), []string{"2/b"}) {
		t.Errorf("pairs2 incremental read: %v, want [2/b]", ids(inc.recs))
	}
}
