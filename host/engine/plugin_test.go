package engine

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

// TestOverPlugins runs the engine against two real memory plugin processes
// over go-plugin/gRPC. The test edits each app's data file through an
// in-process connector bound to the same file, as the app's users would. The
// right plugin is killed in the middle of a run; after relaunching it, the
// next run settles the journaled creates: the data is whole, with no duplicate.
func TestOverPlugins(t *testing.T) {
	bin := memoryPlugin(t)
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string]string{"crm": filepath.Join(dir, "crm.json"), "news": filepath.Join(dir, "news.json")}
	apps := map[string]*memory.Connector{}
	for name, path := range files {
		c := memory.New()
		if _, err := c.Open(ctx, config(path)); err != nil {
			t.Fatal(err)
		}
		apps[name] = c
	}
	kills := map[string]func(){}
	conns := map[string]Conn{}
	launch := func(name string) {
		rc, kill, err := sdk.LaunchPlugin(ctx, bin, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kill)
		conn, err := rc.Open(ctx, config(files[name]))
		if err != nil {
			t.Fatal(err)
		}
		kills[name], conns[name] = kill, conn
	}
	launch("crm")
	launch("news")

	st, def := storeWithSync(t, dir)
	crash, hostCrash := false, false
	eng := New(st, func(_ context.Context, name string) (Conn, error) { return conns[name], nil }, WithBatchSize(2),
		WithRetries(1, time.Millisecond),
		WithFailpoint(func(step string) error {
			if crash && step == "journaled" {
				kills["news"]() // the right plugin dies before the creates are sent
				crash = false
			}
			if hostCrash && step == "written" {
				hostCrash = false
				return errors.New("host killed after sending")
			}
			return nil
		}))

	for i := 0; i < 5; i++ {
		if _, err := apps["crm"].Create(obj, map[string]sdk.Value{"email": s(fmt.Sprintf("c%d@x.io", i)), "first_name": s("C")}); err != nil {
			t.Fatal(err)
		}
		if _, err := apps["news"].Create(obj, map[string]sdk.Value{"email": s(fmt.Sprintf("n%d@x.io", i)), "last_name": s("N")}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := eng.Run(ctx, def, Options{})
	if err != nil || rep.Left.Created != 5 || rep.Right.Created != 5 {
		t.Fatalf("first run over plugins: %v %+v", err, rep)
	}
	if rep, err := eng.Run(ctx, def, Options{}); err != nil || rep.Writes() != 0 {
		t.Fatalf("second run over plugins wrote: %v %+v", err, rep)
	}

	for i := 0; i < 4; i++ {
		if _, err := apps["crm"].Create(obj, map[string]sdk.Value{"email": s(fmt.Sprintf("late%d@x.io", i))}); err != nil {
			t.Fatal(err)
		}
	}
	crash = true
	_, err = eng.Run(ctx, def, Options{})
	var re *RunError
	if !errors.As(err, &re) || re.Side != "right" {
		t.Fatalf("a dead plugin must fail the run on its side, got %v", err)
	}
	launch("news")
	rep, err = eng.Run(ctx, def, Options{})
	if err != nil {
		t.Fatalf("run after relaunch: %v", err)
	}
	if n := len(apps["news"].Snapshot(obj)); n != 14 {
		t.Fatalf("right has %d records, want 14 (report %+v)", n, rep)
	}
	if links, _ := st.Links(ctx, def.Name); len(links) != 14 {
		t.Fatalf("%d links, want 14", len(links))
	}
	if rep, err := eng.Run(ctx, def, Options{}); err != nil || rep.Writes() != 0 {
		t.Fatalf("run after recovery wrote: %v %+v", err, rep)
	}

	// The host dies after creates reached the app: the next run finds them by
	// their correlation id over Lookup and links them.
	for i := 0; i < 2; i++ {
		if _, err := apps["crm"].Create(obj, map[string]sdk.Value{"email": s(fmt.Sprintf("sent%d@x.io", i))}); err != nil {
			t.Fatal(err)
		}
	}
	hostCrash = true
	if _, err := eng.Run(ctx, def, Options{}); err == nil {
		t.Fatal("failpoint did not stop the run")
	}
	rep, err = eng.Run(ctx, def, Options{})
	if err != nil || rep.Settled != 2 || rep.Right.Created != 0 {
		t.Fatalf("settling over plugins: %v %+v", err, rep)
	}
	if n := len(apps["news"].Snapshot(obj)); n != 16 {
		t.Fatalf("right has %d records, want 16", n)
	}
}

// memoryPlugin builds the memory connector's plugin binary, or skips the
// test under -short.
func memoryPlugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and launches plugin binaries")
	}
	bin := filepath.Join(t.TempDir(), "datasync-connector-memory")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/memory").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// storeWithSync opens a state store in dir holding baseDef's sync.
func storeWithSync(t *testing.T, dir string) (*store.Store, syncdef.Definition) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	def := baseDef()
	b, _ := def.JSON()
	if err := st.PutSync(context.Background(), store.Sync{Name: def.Name, Definition: b}); err != nil {
		t.Fatal(err)
	}
	return st, def
}

func config(path string) sdk.Config {
	return sdk.Config{Settings: map[string]string{memory.SettingPath: path}, Secrets: map[string]string{memory.SecretToken: "secret"}}
}

// TestStreamedPairsLookedUpOverPlugins: past Engine.parkMax, a streamed
// first run looks its held matches up by id (a Lookup with no field) over
// gRPC in real plugin processes, and merges each pair as a parked one is.
func TestStreamedPairsLookedUpOverPlugins(t *testing.T) {
	bin := memoryPlugin(t)
	ctx := context.Background()
	dir := t.TempDir()
	apps, conns := map[string]*memory.Connector{}, map[string]Conn{}
	for _, name := range []string{"crm", "news"} {
		path := filepath.Join(dir, name+".json")
		c := memory.New()
		if _, err := c.Open(ctx, config(path)); err != nil {
			t.Fatal(err)
		}
		apps[name] = c
		rc, kill, err := sdk.LaunchPlugin(ctx, bin, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kill)
		if conns[name], err = rc.Open(ctx, config(path)); err != nil {
			t.Fatal(err)
		}
	}
	held := &wrapped{Conn: conns["news"]} // the right side: as large as the left, it is held
	conns["news"] = held
	for i := range 20 {
		if _, err := apps["crm"].Create(obj, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i)), "first_name": s("Ann")}); err != nil {
			t.Fatal(err)
		}
		email := fmt.Sprintf("r%d@x.io", i)
		if i%2 == 0 {
			email = fmt.Sprintf("l%d@x.io", i) // ten shared
		}
		if _, err := apps["news"].Create(obj, map[string]sdk.Value{"email": s(email), "last_name": s("Lee")}); err != nil {
			t.Fatal(err)
		}
	}
	st, def := storeWithSync(t, dir)
	eng := New(st, func(_ context.Context, name string) (Conn, error) { return conns[name], nil })
	eng.parkMax = 3
	rep, err := eng.Run(ctx, def, Options{})
	if err != nil || rep.Left.Created != 10 || rep.Right.Created != 10 {
		t.Fatalf("first run: %v %+v", err, rep)
	}
	if held.lookups == 0 {
		t.Fatal("no held record was looked up")
	}
	for name, c := range apps {
		recs := c.Snapshot(obj)
		merged := 0
		for _, it := range recs {
			if it.Fields["first_name"].Str == "Ann" && it.Fields["last_name"].Str == "Lee" {
				merged++
			}
		}
		if len(recs) != 30 || merged != 10 {
			t.Errorf("%s has %d records, %d with both names; want 30, and the 10 pairs merged", name, len(recs), merged)
		}
	}
	if links, _ := st.Links(ctx, def.Name); len(links) != 30 {
		t.Fatalf("%d links, want 30", len(links))
	}
	if rep, err := eng.Run(ctx, def, Options{}); err != nil || rep.Writes() != 0 {
		t.Fatalf("second run wrote: %v %+v", err, rep)
	}
}
