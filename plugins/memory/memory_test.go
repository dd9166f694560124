package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
	"github.com/datasync-io/datasync/sdk/memory/memorytest"
)

// build compiles this plugin into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-memory")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func launch(t *testing.T, bin string) (*sdk.RemoteConnector, func()) {
	t.Helper()
	rc, kill, err := sdk.LaunchPlugin(context.Background(), bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	return rc, kill
}

// The real binary over go-plugin: the conformance suite, once with the data
// in the plugin process only and once through a data file; then data kept
// between launches.
func TestPlugin(t *testing.T) {
	bin := build(t)
	t.Run("Conformance", func(t *testing.T) {
		rc, _ := launch(t, bin)
		conformance.Run(t, memorytest.Harness(rc, nil))
	})
	t.Run("ConformanceDataFile", func(t *testing.T) {
		rc, _ := launch(t, bin)
		conformance.Run(t, memorytest.Harness(rc, map[string]string{"path": filepath.Join(t.TempDir(), "data.json")}))
	})
	t.Run("KeepsDataBetweenLaunches", func(t *testing.T) { testKeepsData(t, bin) })
}

// With a path, data written by one plugin process is there for the next one,
// as between two host commands, and it is the same account.
func testKeepsData(t *testing.T, bin string) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.json")
	cfg := sdk.Config{Settings: map[string]string{"path": path}, Secrets: map[string]string{"token": "secret"}}

	rc, kill := launch(t, bin)
	conn, err := rc.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := conn.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conformance.WriteOps(ctx, conn, "contacts", conformance.CreateOp(memorytest.NewRecord(1)), conformance.CreateOp(memorytest.NewRecord(2)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if _, err := conformance.WriteOps(ctx, conn, "contacts", conformance.DeleteOp(res[1].ID, "")); err != nil {
		t.Fatal(err)
	}
	first, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: "contacts", Fields: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	kill()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("data file: %v", err)
	}

	rc2, _ := launch(t, bin)
	conn2, err := rc2.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	acct2, err := conn2.Check(ctx)
	if err != nil || acct2.Fingerprint != acct.Fingerprint {
		t.Errorf("second launch: fingerprint %q, %v; want %q", acct2.Fingerprint, err, acct.Fingerprint)
	}
	got, err := conformance.ReadAll(ctx, conn2, sdk.ReadRequest{Object: "contacts", Fields: []string{"email"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.All) != 1 || got.All[0].ID != res[0].ID || got.All[0].Version != res[0].Version ||
		!got.All[0].Values[0].Equal(sdk.String("person1@example.com")) {
		t.Fatalf("second launch reads %+v, want only %s at version %s", got.All, res[0].ID, res[0].Version)
	}
	// The cursor of the first process still works in the second: nothing new.
	inc, err := conformance.ReadAll(ctx, conn2, sdk.ReadRequest{Object: "contacts", Cursor: first.Cursor, Fields: []string{"email"}})
	if err != nil || len(inc.All) != 0 {
		t.Errorf("read from the first process's cursor: %d records, %v; want none", len(inc.All), err)
	}
	// New writes continue the sequence: versions never repeat.
	up, err := conformance.WriteOps(ctx, conn2, "contacts", conformance.UpdateOp(res[0].ID, res[0].Version, map[string]sdk.Value{"company": sdk.String("Next")}))
	if err != nil || up[0].Err != nil {
		t.Fatalf("update after relaunch: %v %v", err, up)
	}
	if up[0].Version == res[0].Version || up[0].Version == res[1].Version {
		t.Errorf("version after relaunch %q repeats an earlier one", up[0].Version)
	}
}
