package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// contactsDDL is a contacts table using most column types the connector maps.
const contactsDDL = `
CREATE TYPE stage AS ENUM ('lead', 'customer', 'churned');
CREATE TABLE contacts (
	id bigserial PRIMARY KEY,
	email varchar(200) NOT NULL UNIQUE,
	first_name varchar(50),
	last_name text,
	phone text,
	note text,
	age int,
	score numeric(12, 2),
	active boolean,
	birthday date,
	last_contact timestamptz,
	tags text[],
	stage stage,
	datasync_id text UNIQUE,
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz
);
CREATE INDEX contacts_updated_at ON contacts (updated_at, id);`

// buildPlugin builds the connector binary into a temp dir.
func buildPlugin(t *testing.T) string { return buildPluginB(t) }

func buildPluginB(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-postgres")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// launch starts the plugin binary and returns its connector.
func launch(t *testing.T) sdk.Connector {
	t.Helper()
	rc, kill, err := sdk.LaunchPlugin(context.Background(), buildPlugin(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	return rc
}

func TestConformance(t *testing.T) {
	d := newTestDB(t)
	d.exec(t, contactsDDL,
		// The trigger the README gives, so that the suite's Watch test runs.
		`CREATE FUNCTION datasync_notify() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_notify('datasync', TG_TABLE_NAME); RETURN NULL; END $$`,
		`CREATE TRIGGER contacts_datasync AFTER INSERT OR UPDATE OR DELETE ON contacts
		FOR EACH STATEMENT EXECUTE FUNCTION datasync_notify()`)
	cfg := d.cfg
	cfg.Settings["soft_delete_column"] = "deleted_at"
	cfg.Settings["watch_channel"] = "datasync"
	bad := sdk.Config{Settings: cfg.Settings, Secrets: map[string]string{"password": "wrong-" + d.env.Password}}
	conformance.Run(t, conformance.Harness{
		Connector: launch(t),
		Config:    cfg,
		BadConfig: &bad,
		Object:    "contacts",
		NewRecord: func(i int) map[string]sdk.Value {
			score, _ := sdk.Decimal(fmt.Sprintf("%d.25", i%1000))
			return map[string]sdk.Value{
				"email":        sdk.String(fmt.Sprintf("person%d@example.com", i)),
				"first_name":   sdk.String(fmt.Sprintf("First%d", i)),
				"last_name":    sdk.String("Last"),
				"phone":        sdk.String(fmt.Sprintf("+1 555 %07d", i%10_000_000)),
				"note":         sdk.Null,
				"age":          sdk.Int(int64(i % 90)),
				"score":        score,
				"active":       sdk.Bool(i%2 == 0),
				"birthday":     sdk.Date(time.Date(1980+i%30, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)),
				"last_contact": sdk.DateTime(time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC).Add(time.Duration(i) * time.Second)),
				"tags":         sdk.StringList("a", fmt.Sprintf("t%d", i), `quote " and \ backslash`),
				"stage":        sdk.String("lead"),
			}
		},
		Update: func(i int) map[string]sdk.Value {
			return map[string]sdk.Value{
				"first_name": sdk.String(fmt.Sprintf("Changed%d", i)),
				"stage":      sdk.String("customer"),
				"tags":       sdk.StringList(),
			}
		},
		Invalid:       map[string]sdk.Value{"email": sdk.String("too-long@example.com"), "first_name": sdk.String(string(make([]byte, 51)) + "x")},
		InvalidField:  "first_name",
		LookupField:   "email",
		UnicodeFields: []string{"last_name", "note"},
		EmptyFields:   []string{"note", "phone"},
		NullFields:    []string{"note", "phone", "age", "birthday", "last_contact"},
	})
}
