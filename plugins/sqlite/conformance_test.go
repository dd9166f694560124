package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

const contactsDDL = `CREATE TABLE contacts (
	id INTEGER PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	name TEXT,
	phone VARCHAR(20),
	age INTEGER,
	score DECIMAL(10,2),
	active BOOLEAN,
	birthday DATE,
	last_seen DATETIME,
	tags TEXT_LIST,
	notes TEXT,
	updated_at DATETIME NOT NULL
)`

func contactsHarness(c sdk.Connector, path string) conformance.Harness {
	// No credentials: the "bad" config is a file that is not there.
	bad := sdk.Config{Settings: map[string]string{settingPath: filepath.Join(filepath.Dir(path), "missing.db")}}
	return conformance.Harness{
		Connector:   c,
		Config:      sdk.Config{Settings: map[string]string{settingPath: path}},
		BadConfig:   &bad,
		BadCategory: sdk.CategoryUnreachable,
		Object:      "contacts",
		NewRecord: func(i int) map[string]sdk.Value {
			score, _ := sdk.Decimal(fmt.Sprintf("%d.%02d", i%1000, i%100))
			return map[string]sdk.Value{
				"email":     sdk.String(fmt.Sprintf("c%d@example.com", i)),
				"name":      sdk.String(fmt.Sprintf("Contact %d", i)),
				"phone":     sdk.String(fmt.Sprintf("+1 555 %07d", i%10_000_000)),
				"age":       sdk.Int(int64(i % 90)),
				"score":     score,
				"active":    sdk.Bool(i%2 == 0),
				"birthday":  sdk.Date(time.Date(1950+i%50, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)),
				"last_seen": sdk.DateTime(time.Unix(1_700_000_000+int64(i), int64(i%1000)*1000).UTC()),
				"tags":      sdk.StringList("t", fmt.Sprint(i)),
			}
		},
		Update: func(i int) map[string]sdk.Value {
			return map[string]sdk.Value{
				"name":   sdk.String(fmt.Sprintf("Contact %d (renamed)", i)),
				"age":    sdk.Int(int64(i%90 + 1)),
				"active": sdk.Bool(i%2 != 0),
			}
		},
		Invalid:       map[string]sdk.Value{"email": sdk.String("invalid@example.com"), "age": sdk.String("forty")},
		InvalidField:  "age",
		LookupField:   "email",
		UnicodeFields: []string{"name", "notes"},
		EmptyFields:   []string{"name", "notes", "phone"},
		NullFields:    []string{"notes", "age", "score", "active", "birthday", "last_seen", "tags"},
	}
}

// TestConformanceInProcess runs the SDK's suite against the connector as a
// Go value.
func TestConformanceInProcess(t *testing.T) {
	path := newDB(t, contactsDDL)
	conformance.Run(t, contactsHarness(New(), path))
}

// TestConformancePlugin builds the real binary and runs the suite through
// go-plugin, as the host will.
func TestConformancePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	path := newDB(t, contactsDDL)
	conformance.Run(t, contactsHarness(launchPlugin(t), path))
}

// launchPlugin builds the real binary and launches it through go-plugin.
func launchPlugin(t *testing.T) sdk.Connector {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-sqlite")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	rc, kill, err := sdk.LaunchPlugin(context.Background(), bin, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	return rc
}
