package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestColumnType(t *testing.T) {
	tests := []struct {
		name, decl string
		typ        sdk.FieldType
		maxLen     int
		exposed    bool
	}{
		{"n", "INTEGER", sdk.TypeInteger, 0, true},
		{"n", "BIGINT", sdk.TypeInteger, 0, true},
		{"n", "int", sdk.TypeInteger, 0, true},
		{"n", "UNSIGNED BIG INT", sdk.TypeInteger, 0, true},
		{"x", "REAL", sdk.TypeDecimal, 0, true},
		{"x", "DOUBLE PRECISION", sdk.TypeDecimal, 0, true},
		{"x", "FLOAT", sdk.TypeDecimal, 0, true},
		{"x", "NUMERIC", sdk.TypeDecimal, 0, true},
		{"x", "DECIMAL(10,2)", sdk.TypeDecimal, 0, true},
		{"b", "BOOLEAN", sdk.TypeBoolean, 0, true},
		{"b", "bool", sdk.TypeBoolean, 0, true},
		{"d", "DATE", sdk.TypeDate, 0, true},
		{"d", "DATETIME", sdk.TypeDateTime, 0, true},
		{"d", "TIMESTAMP", sdk.TypeDateTime, 0, true},
		{"s", "TEXT", sdk.TypeString, 0, true},
		{"s", "VARCHAR(255)", sdk.TypeString, 255, true},
		{"s", "varchar( 20 )", sdk.TypeString, 20, true},
		{"s", "NVARCHAR(12)", sdk.TypeString, 12, true},
		{"s", "CHARACTER(3)", sdk.TypeString, 3, true},
		{"s", "TEXT(50)", sdk.TypeString, 0, true},
		{"s", "CLOB", sdk.TypeString, 0, true},
		{"s", "", sdk.TypeString, 0, true},
		{"s", "UUID", sdk.TypeString, 0, true},
		{"s", "JSON", sdk.TypeString, 0, true},
		{"email", "TEXT", sdk.TypeEmail, 0, true},
		{"Email", "VARCHAR(100)", sdk.TypeEmail, 100, true},
		{"work_email", "TEXT", sdk.TypeEmail, 0, true},
		{"email", "", sdk.TypeEmail, 0, true},
		{"emails_sent", "INTEGER", sdk.TypeInteger, 0, true},
		{"email_count", "INTEGER", sdk.TypeInteger, 0, true},
		{"emailer", "TEXT", sdk.TypeString, 0, true},
		{"tags", "TEXT_LIST", sdk.TypeStringList, 0, true},
		{"tags", "string_list", sdk.TypeStringList, 0, true},
		{"photo", "BLOB", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.decl, func(t *testing.T) {
			typ, maxLen, exposed := columnType(tc.name, tc.decl)
			if exposed != tc.exposed || (exposed && (typ != tc.typ || maxLen != tc.maxLen)) {
				t.Errorf("columnType(%q, %q) = %s, %d, %v; want %s, %d, %v",
					tc.name, tc.decl, typ, maxLen, exposed, tc.typ, tc.maxLen, tc.exposed)
			}
		})
	}
}

func TestAffinity(t *testing.T) {
	tests := map[string]affinity{
		"INTEGER": affInteger, "TINYINT": affInteger, "POINT": affInteger, // "POINT" contains INT
		"VARCHAR(3)": affText, "CLOB": affText, "TEXT": affText,
		"": affBlob, "BLOB": affBlob,
		"REAL": affReal, "FLOAT": affReal, "DOUBLE": affReal,
		"NUMERIC": affNumeric, "DECIMAL(10,5)": affNumeric, "DATE": affNumeric, "BOOLEAN": affNumeric,
	}
	for decl, want := range tests {
		if got := affinityOf(decl); got != want {
			t.Errorf("affinityOf(%q) = %d, want %d", decl, got, want)
		}
	}
}

func TestSchema(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE people (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			email VARCHAR(120) NOT NULL UNIQUE,
			name TEXT NOT NULL DEFAULT '',
			nick TEXT NOT NULL,
			code TEXT,
			age INT CHECK (age >= 0),
			photo BLOB,
			upper_name TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL,
			updated_at DATETIME NOT NULL
		)`,
		`CREATE UNIQUE INDEX people_code ON people(code)`,
		`CREATE UNIQUE INDEX people_pair ON people(name, nick)`,
		`CREATE UNIQUE INDEX people_partial ON people(age) WHERE age > 100`,
		`CREATE TABLE tags (slug TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID`,
		`CREATE TABLE links (a INTEGER, b INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID`,
		`CREATE TABLE loose (a, b INTEGER)`,
		`CREATE TABLE days (day DATE PRIMARY KEY, note TEXT)`,
	)
	c := openConn(t, path)
	sch, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// links has no single id; sqlite_sequence (made by AUTOINCREMENT) is internal.
	if got, want := sch.ObjectNames(), []string{"days", "loose", "people", "tags"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("objects = %v, want %v", got, want)
	}
	people, _ := sch.Object("people")
	wantFields := []sdk.Field{
		{Name: "email", Label: "email", Type: sdk.TypeEmail, Required: true, Unique: true, MaxLength: 120},
		{Name: "name", Label: "name", Type: sdk.TypeString},
		{Name: "nick", Label: "nick", Type: sdk.TypeString, Required: true},
		{Name: "code", Label: "code", Type: sdk.TypeString, Unique: true},
		{Name: "age", Label: "age", Type: sdk.TypeInteger},
		{Name: "upper_name", Label: "upper_name", Type: sdk.TypeString, ReadOnly: true},
		{Name: "updated_at", Label: "updated_at", Type: sdk.TypeDateTime, ReadOnly: true},
	}
	if !reflect.DeepEqual(people.Fields, wantFields) {
		t.Errorf("people fields:\n got %+v\nwant %+v", people.Fields, wantFields)
	}
	if !people.Incremental || people.Tombstones {
		t.Errorf("people: Incremental %v, Tombstones %v; want true, false", people.Incremental, people.Tombstones)
	}

	tags, _ := sch.Object("tags")
	if want := []sdk.Field{
		{Name: "slug", Label: "slug", Type: sdk.TypeString, Unique: true},
		{Name: "label", Label: "label", Type: sdk.TypeString},
	}; !reflect.DeepEqual(tags.Fields, want) {
		t.Errorf("tags fields = %+v, want %+v", tags.Fields, want)
	}
	if tags.Incremental {
		t.Error("tags has no updated_at but is incremental")
	}
	days, _ := sch.Object("days")
	if f, _ := days.Field("day"); !f.Required || !f.Unique || f.Type != sdk.TypeDate {
		t.Errorf("days.day = %+v: a non-text key must be required and unique", f)
	}
	loose, _ := sch.Object("loose")
	if got := loose.FieldNames(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("loose fields = %v", got)
	}

	tests := []struct {
		table string
		id    idKind
		idCol string
	}{
		{"people", idRowid, "id"}, {"tags", idGenerated, "slug"}, {"loose", idRowid, ""}, {"days", idGiven, "day"},
	}
	tables, err := c.load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		for _, tb := range tables {
			if tb.name != tc.table {
				continue
			}
			col := ""
			if tb.idCol >= 0 {
				col = tb.cols[tb.idCol].name
			}
			if tb.id != tc.id || col != tc.idCol {
				t.Errorf("%s: id kind %d column %q, want %d %q", tc.table, tb.id, col, tc.id, tc.idCol)
			}
		}
	}
}

func TestSchemaSettings(t *testing.T) {
	path := newDB(t,
		`CREATE TABLE a (id INTEGER PRIMARY KEY, changed INTEGER, updated_at TEXT)`,
		`CREATE TABLE b (id INTEGER PRIMARY KEY, x TEXT)`,
		`CREATE TABLE c (id INTEGER PRIMARY KEY, x TEXT)`,
	)
	c := openConn(t, path, settingTables, " a, C ", settingUpdatedAt, "changed")
	sch, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sch.ObjectNames(); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Fatalf("tables filter: objects = %v, want [a c]", got)
	}
	a, _ := sch.Object("a")
	changed, _ := a.Field("changed")
	updated, _ := a.Field("updated_at")
	if !a.Incremental || !changed.ReadOnly || updated.ReadOnly {
		t.Errorf("updated_at_column=changed: Incremental %v, changed read-only %v, updated_at read-only %v",
			a.Incremental, changed.ReadOnly, updated.ReadOnly)
	}
}

// TestSchemaFollowsChanges checks a table added after the first Schema call
// shows up: the cache is keyed by the database's schema_version.
func TestSchemaFollowsChanges(t *testing.T) {
	path := newDB(t, `CREATE TABLE a (id INTEGER PRIMARY KEY)`)
	c := openConn(t, path)
	if sch, _ := c.Schema(context.Background()); len(sch.Objects) != 1 {
		t.Fatalf("objects = %v", sch.ObjectNames())
	}
	if _, err := rawDB(t, path).Exec(`CREATE TABLE b (id INTEGER PRIMARY KEY, x TEXT)`); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sch.ObjectNames(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("after CREATE TABLE: objects = %v", got)
	}
}
