package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// bins are the binaries the tests drive, built once by TestMain: datasync and
// the connector plugins by name.
type bins struct {
	datasync string
	plugins  map[string]string
}

// built is set once by TestMain and only read afterwards.
var built bins

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		b, err := build(dir, "postgres", "carddav", "ldap", "sqlite")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		built = b
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles datasync and the named plugins into dir.
func build(dir string, plugins ...string) (bins, error) {
	pkgs := map[string]string{"datasync": "./host/cmd/datasync"}
	for _, p := range plugins {
		pkgs["datasync-connector-"+p] = "./plugins/" + p
	}
	paths, err := testsvc.Build(dir, pkgs)
	if err != nil {
		return bins{}, err
	}
	b := bins{datasync: paths["datasync"], plugins: map[string]string{}}
	for _, p := range plugins {
		b.plugins[p] = paths["datasync-connector-"+p]
	}
	return b, nil
}

// cli runs the datasync binary against one home directory.
type cli struct {
	t     *testing.T
	home  string
	state string // --state: a postgres:// URL, or "" for state.db in home
}

// newCLI returns a datasync home for t with the named plugins installed.
func newCLI(t *testing.T, plugins ...string) cli {
	t.Helper()
	c := cli{t: t, home: t.TempDir()}
	for _, p := range plugins {
		if out := c.ok("plugin", "install", built.plugins[p]); !strings.Contains(out, "Installed plugin "+p+" ") {
			t.Fatalf("plugin install %s said: %s", p, out)
		}
	}
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs datasync with a clean environment (no DATASYNC_* from outside).
func (c cli) run(args ...string) result {
	c.t.Helper()
	global := []string{"--home", c.home}
	if c.state != "" {
		global = append(global, "--state", c.state)
	}
	cmd := exec.Command(built.datasync, append(global, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATASYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("datasync %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errOut.String(), code}
}

// ok runs datasync, fails the test unless it exits 0, and returns its stdout.
func (c cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("datasync %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// json runs datasync with --json and decodes its output into a zero v.
func (c cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	rv := reflect.ValueOf(v).Elem()
	rv.Set(reflect.Zero(rv.Type()))
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("datasync %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// counts are one side's counts of a run, as `sync run --json` prints them.
type counts struct {
	Read, Created, Updated, Deleted, Failed, Excluded, Unchanged, Verified, Conflicts, Queued int
}

// writes is what a run changed on the side.
func (n counts) writes() int {
	return n.Created + n.Updated + n.Deleted + n.Failed + n.Conflicts + n.Queued
}

type runOut struct {
	Status      string
	Writes      int
	Failed      int
	Error       string
	Left, Right counts
}

// syncRun runs a sync once (with flags such as --full) and fails the test
// unless the run completed with no failed record.
func (c cli) syncRun(name string, flags ...string) runOut {
	c.t.Helper()
	var r runOut
	c.json(&r, append([]string{"sync", "run", name}, flags...)...)
	if r.Status != "ok" || r.Failed != 0 || r.Left.Failed+r.Right.Failed != 0 {
		c.t.Fatalf("sync run %s: %+v\nerrors: %s", name, r, c.ok("sync", "errors", name))
	}
	return r
}

// noErrors fails the test unless `sync errors` lists nothing.
func (c cli) noErrors(name string) {
	c.t.Helper()
	var groups []json.RawMessage
	c.json(&groups, "sync", "errors", name)
	if len(groups) != 0 {
		c.t.Fatalf("sync errors %s: %s", name, c.ok("sync", "errors", name))
	}
}

// checkRow fails the test unless r has every column of want.
func checkRow(t *testing.T, what string, r row, want row) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no such row", what)
		return
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s: %s = %q, want %q (row %v)", what, k, r[k], v, r)
		}
	}
}
