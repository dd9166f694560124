package clitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/host/store"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// bins are the real binaries the tests drive, built once by TestMain.
var bins struct {
	datasync, tiny, v2, sqlite string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clitest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		built, err := testsvc.Build(dir, map[string]string{
			"datasync": "./host/cmd/datasync",
			"tiny":     "./host/pluginhost/testdata/tiny",
			"v2":       "./host/pluginhost/testdata/v2",
			"sqlite":   "./plugins/sqlite",
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		bins.datasync, bins.tiny, bins.v2, bins.sqlite = built["datasync"], built["tiny"], built["v2"], built["sqlite"]
		return m.Run()
	}()
	os.Exit(code)
}

func moduleRoot() string {
	root, err := testsvc.ModuleRoot()
	if err != nil {
		panic(err)
	}
	return root
}

type result struct {
	stdout, stderr string
	code           int
}

// datasync runs the datasync binary against home with a clean environment.
func datasync(t *testing.T, home string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bins.datasync, append([]string{"--home", home}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATASYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

// ok runs datasync and fails the test unless it exits 0.
func ok(t *testing.T, home string, args ...string) result {
	t.Helper()
	r := datasync(t, home, nil, args...)
	if r.code != 0 {
		t.Fatalf("datasync %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs datasync and fails the test unless it exits non-zero with
// want in its stderr.
func fails(t *testing.T, home, want string, args ...string) result {
	t.Helper()
	r := datasync(t, home, nil, args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("datasync %s: exit %d\nstderr: %s\nwant a failure saying %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
	return r
}

func sum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestPluginLifecycle(t *testing.T) {
	home := t.TempDir()
	r := ok(t, home, "plugin", "install", bins.tiny)
	if !strings.Contains(r.stdout, "Installed plugin tiny 1.0.0 (protocol v1, sha256 "+sum(t, bins.tiny)+")") {
		t.Fatalf("install said: %s", r.stdout)
	}
	if r := ok(t, home, "plugin", "list"); !strings.Contains(r.stdout, "tiny  1.0.0    v1") {
		t.Fatalf("list:\n%s", r.stdout)
	}
	var list []struct {
		Name, Version, SHA256, Path string
		Protocol                    int
	}
	if err := json.Unmarshal([]byte(ok(t, home, "plugin", "list", "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "tiny" || list[0].SHA256 != sum(t, bins.tiny) || list[0].Protocol != 1 ||
		list[0].Path != filepath.Join(home, "plugins", "tiny", "1.0.0", "datasync-connector-tiny") {
		t.Fatalf("list --json: %+v", list)
	}
	info := ok(t, home, "plugin", "info", "tiny").stdout
	for _, want := range []string{"tiny 1.0.0 (connector protocol v1)", "a test account with read access",
		"password  Password  required, secret", "records       Records       default 10",
		"datasync connection add NAME --plugin tiny --set username=admin --secret password=PASSWORD"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	var man struct {
		AuthFields []struct {
			Name   string
			Secret bool
		} `json:"auth_fields"`
		Requirements []string
	}
	if err := json.Unmarshal([]byte(ok(t, home, "plugin", "info", "tiny@1.0.0", "--json").stdout), &man); err != nil {
		t.Fatal(err)
	}
	if len(man.AuthFields) != 2 || !man.AuthFields[1].Secret || len(man.Requirements) != 1 {
		t.Fatalf("info --json: %+v", man)
	}
	if r := ok(t, home, "plugin", "remove", "tiny"); r.stdout != "Removed plugin tiny 1.0.0\n" {
		t.Fatalf("remove said %q", r.stdout)
	}
	if r := ok(t, home, "plugin", "list"); !strings.Contains(r.stdout, "No plugins installed") {
		t.Fatalf("list after remove: %s", r.stdout)
	}
	if r := ok(t, home, "plugin", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list --json after remove: %s", r.stdout)
	}
	fails(t, home, "plugin tiny: plugin not installed: install it with `datasync plugin install PATH`", "plugin", "info", "tiny")
}

func TestPluginRefusals(t *testing.T) {
	home := t.TempDir()
	script := filepath.Join(t.TempDir(), "fake-plugin.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho not a plugin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fails(t, home, script+" is not a datasync connector plugin: it did not complete the plugin handshake", "plugin", "install", script)
	fails(t, home, bins.v2+" speaks connector protocol v2; this datasync speaks v1: install a version of the plugin built for v1",
		"plugin", "install", bins.v2)
	if r := ok(t, home, "plugin", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("refused plugins listed: %s", r.stdout)
	}
	entries, _ := os.ReadDir(filepath.Join(home, "plugins"))
	if len(entries) != 0 {
		t.Fatalf("refused installs left %v", entries)
	}
}

func addTiny(t *testing.T, home, name string, extra ...string) result {
	t.Helper()
	args := append([]string{"connection", "add", name, "--plugin", "tiny", "--set", "username=admin", "--secret", "password=s3cret"}, extra...)
	return ok(t, home, args...)
}

func TestTamperedPluginRefusedAtLaunch(t *testing.T) {
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	addTiny(t, home, "crm")
	bin := filepath.Join(home, "plugins", "tiny", "1.0.0", "datasync-connector-tiny")
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("tampered")
	f.Close()
	fails(t, home, "plugin tiny 1.0.0: binary changed since it was installed (checksum mismatch); reinstall it with `datasync plugin install PATH`",
		"connection", "test", "crm")
	ok(t, home, "plugin", "install", bins.tiny)
	ok(t, home, "connection", "test", "crm")
}

func connections(t *testing.T, home string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(ok(t, home, "connection", "list", "--json").stdout), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConnectionAddRefusalsSaveNothing(t *testing.T) {
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	ok(t, home, "plugin", "install", bins.sqlite)
	missing := filepath.Join(t.TempDir(), "missing.db")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", []string{"--plugin", "tiny", "--set", "username=admin", "--secret", "password=nope"},
			"connection crm not saved: authentication failed: check username and password"},
		{"unreachable", []string{"--plugin", "tiny", "--set", "username=admin", "--set", "endpoint=down", "--secret", "password=s3cret"},
			"connection crm not saved: unreachable: dial tcp down.invalid:443: connection refused"},
		{"missing secret, no terminal", []string{"--plugin", "tiny", "--set", "username=admin"},
			"missing required field(s) of plugin tiny: pass --secret password=VALUE"},
		{"unknown field", []string{"--plugin", "tiny", "--set", "colour=red", "--set", "username=admin", "--secret", "password=s3cret"},
			"--set colour: plugin tiny has no field colour; its fields are: username, password, endpoint, account_file, records"},
		{"secret passed as setting", []string{"--plugin", "tiny", "--set", "username=admin", "--set", "password=s3cret"},
			"--set password: password is a secret: pass it with --secret password=VALUE"},
		{"plugin not installed", []string{"--plugin", "nosuch"}, "plugin nosuch: plugin not installed"},
		{"sqlite file missing", []string{"--plugin", "sqlite", "--set", "path=" + missing},
			"connection crm not saved: unreachable: no such database file: " + missing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fails(t, home, c.want, append([]string{"connection", "add", "crm"}, c.args...)...)
			if strings.Contains(r.stderr+r.stdout, "s3cret") || strings.Contains(r.stderr, "nope") {
				t.Fatalf("a secret value appears in the output:\n%s", r.stderr)
			}
			if got := connections(t, home); len(got) != 0 {
				t.Fatalf("refused connection saved: %v", got)
			}
			if _, err := os.Stat(filepath.Join(home, "master.key")); !os.IsNotExist(err) {
				t.Fatalf("a refused add created the master key (%v)", err)
			}
		})
	}
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	home := t.TempDir()
	const secret = "s3cret"
	var seen bytes.Buffer
	record := func(r result) { seen.WriteString(r.stdout + r.stderr) }
	trace := []string{"--log-level", "trace", "--log-format", "text"}
	record(ok(t, home, append(trace, "plugin", "install", bins.tiny)...))
	record(addTiny(t, home, "crm", trace...))
	record(ok(t, home, append(trace, "connection", "list")...))
	record(ok(t, home, append(trace, "connection", "test", "crm")...))
	record(ok(t, home, append(trace, "connection", "schema", "crm", "items", "--json")...))
	listJSON := ok(t, home, "connection", "list", "--json")
	record(listJSON)
	if strings.Contains(seen.String(), secret) {
		t.Fatalf("the secret appears in output or logs:\n%s", seen.String())
	}
	if !strings.Contains(seen.String(), "checking account") {
		t.Fatal("trace output lacks the plugin's relayed log: the check above proves little")
	}
	var list []struct {
		Settings map[string]string
		Secrets  map[string]string
	}
	if err := json.Unmarshal([]byte(listJSON.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Secrets["password"] != "****" || list[0].Settings["username"] != "admin" {
		t.Fatalf("list --json: %s", listJSON.stdout)
	}
	if r := ok(t, home, "connection", "list"); !strings.Contains(r.stdout, "password=****") {
		t.Fatalf("list does not show the secret as ****:\n%s", r.stdout)
	}

	var state []byte
	files, _ := filepath.Glob(filepath.Join(home, store.FileName+"*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		state = append(state, b...)
	}
	if !bytes.Contains(state, []byte("tiny:default")) {
		t.Fatalf("state files %v do not hold the connection: the grep below proves nothing", files)
	}
	if bytes.Contains(state, []byte(secret)) {
		t.Fatalf("the secret is stored in the clear in %v", files)
	}
	fi, err := os.Stat(filepath.Join(home, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v, mode %v", err, fi.Mode())
	}

	// Another master key cannot open the secrets.
	other := "DATASYNC_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	r := datasync(t, home, []string{other}, "connection", "test", "crm")
	if r.code == 0 || !strings.Contains(r.stderr, "connection crm: cannot decrypt secrets: the master key (DATASYNC_MASTER_KEY) is not the one they were sealed with") {
		t.Fatalf("test with another key: exit %d, %s", r.code, r.stderr)
	}
	// A key file others can read is refused with the fix.
	if err := os.Chmod(filepath.Join(home, "master.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, home, "(mode 0644): run `chmod 600 "+filepath.Join(home, "master.key")+"`", "connection", "test", "crm")
}

func TestConnectionAccountChange(t *testing.T) {
	home := t.TempDir()
	acct := filepath.Join(t.TempDir(), "account")
	os.WriteFile(acct, []byte("acme\n"), 0o644)
	ok(t, home, "plugin", "install", bins.tiny)
	if r := addTiny(t, home, "crm", "--set", "account_file="+acct); !strings.Contains(r.stdout, "Added connection crm (plugin tiny 1.0.0), account: admin on acme") {
		t.Fatalf("add said %s", r.stdout)
	}
	if r := ok(t, home, "connection", "test", "crm"); !strings.Contains(r.stdout, "Connection crm is OK: plugin tiny 1.0.0, account admin on acme") {
		t.Fatalf("test said %s", r.stdout)
	}
	os.WriteFile(acct, []byte("globex\n"), 0o644)
	fails(t, home, `connection crm now points at another account: it was "admin on acme" and is now "admin on globex"`, "connection", "test", "crm")
	fails(t, home, "run `datasync connection test crm --accept-account`", "connection", "test", "crm")
	if got := connections(t, home); got[0]["status"] != "account_changed" || got[0]["account_fingerprint"] != "tiny:acme" {
		t.Fatalf("after a refused change: %v", got[0])
	}
	if r := ok(t, home, "connection", "test", "crm", "--accept-account"); !strings.Contains(r.stdout, "now points at account admin on globex (was admin on acme): accepted") {
		t.Fatalf("accept said %s", r.stdout)
	}
	if got := connections(t, home); got[0]["status"] != "ok" || got[0]["account_fingerprint"] != "tiny:globex" {
		t.Fatalf("after accepting: %v", got[0])
	}
	ok(t, home, "connection", "test", "crm")
	// A check failing later is recorded as the connection's status.
	os.Remove(acct)
	fails(t, home, "connection crm: unreachable: read account file", "connection", "test", "crm")
	if got := connections(t, home); got[0]["status"] != "unreachable" {
		t.Fatalf("status after a failed test: %v", got[0]["status"])
	}
}

func TestConnectionSchema(t *testing.T) {
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	addTiny(t, home, "crm")
	out := ok(t, home, "connection", "schema", "crm").stdout
	for _, want := range []string{"boom    Items that crash the plugin when read  3       full", "items   Items"} {
		if !strings.Contains(out, want) {
			t.Errorf("schema lacks %q:\n%s", want, out)
		}
	}
	var obj struct {
		Name   string
		Fields []struct {
			Name, Type string
			Required   bool
			ReadOnly   bool `json:"read_only"`
			MaxLength  int  `json:"max_length"`
		}
	}
	if err := json.Unmarshal([]byte(ok(t, home, "connection", "schema", "crm", "items", "--json").stdout), &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Name != "items" || len(obj.Fields) != 3 || obj.Fields[1].Type != "string" || !obj.Fields[1].Required ||
		obj.Fields[1].MaxLength != 80 || obj.Fields[2].Type != "integer" || !obj.Fields[0].ReadOnly {
		t.Fatalf("schema items --json: %+v", obj)
	}
	if out := ok(t, home, "connection", "schema", "crm", "items").stdout; !strings.Contains(out, "title  string   required, max 80") {
		t.Fatalf("schema items:\n%s", out)
	}
	fails(t, home, `connection crm has no object "nope"; it has: boom, items`, "connection", "schema", "crm", "nope")
	fails(t, home, "connection nosuch does not exist: see `datasync connection list`", "connection", "schema", "nosuch")
}

func TestRemoveRefusedWhileInUse(t *testing.T) {
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	addTiny(t, home, "crm")
	addTiny(t, home, "hub")
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	def := `{"name":"s1","left":{"connection":"crm","object":"items"},"right":{"connection":"hub","object":"items"}}`
	if err := st.PutSync(ctx, store.Sync{Name: "s1", Definition: json.RawMessage(def)}); err != nil {
		t.Fatal(err)
	}
	fails(t, home, "connection crm is used by sync(s) s1: delete them first", "connection", "remove", "crm")
	fails(t, home, "plugin tiny is used by connection(s) crm, hub: remove them first", "plugin", "remove", "tiny")
	if err := st.DeleteSync(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if r := ok(t, home, "connection", "remove", "crm"); r.stdout != "Removed connection crm\n" {
		t.Fatalf("remove said %q", r.stdout)
	}
	if got := connections(t, home); len(got) != 1 || got[0]["name"] != "hub" {
		t.Fatalf("after remove: %v", got)
	}
	fails(t, home, "connection crm does not exist", "connection", "remove", "crm")
	fails(t, home, "connection hub already exists: remove it first", "connection", "add", "hub", "--plugin", "tiny")
}

func TestSQLiteConnection(t *testing.T) {
	home := t.TempDir()
	db := filepath.Join(t.TempDir(), "crm.db")
	sdb, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.Exec(`CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT, updated_at TEXT)`); err != nil {
		t.Fatal(err)
	}
	sdb.Close()
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+db)
	out := ok(t, home, "connection", "schema", "crm", "contacts").stdout
	if !strings.Contains(out, "email") || !strings.Contains(out, "required") || !strings.Contains(out, "unique") {
		t.Fatalf("schema of contacts:\n%s", out)
	}
}

func TestHelpTeaches(t *testing.T) {
	home := t.TempDir()
	if r := ok(t, home, "--help"); !strings.Contains(r.stdout, "Getting started:") || !strings.Contains(r.stdout, "connection") {
		t.Fatalf("--help:\n%s", r.stdout)
	}
	for _, cmd := range []string{"plugin install", "plugin list", "plugin info", "plugin remove",
		"connection add", "connection list", "connection test", "connection schema", "connection remove"} {
		r := ok(t, home, append(strings.Fields(cmd), "--help")...)
		if !strings.Contains(r.stdout, "Examples:\n") || !strings.Contains(r.stdout, "datasync "+cmd) {
			t.Errorf("%s --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}

// children returns the live processes whose parent is pid.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

func TestNoPluginOutlivesTheCLI(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			home := t.TempDir()
			ok(t, home, "plugin", "install", bins.tiny)
			cmd := exec.Command(bins.datasync, "--home", home, "connection", "add", "crm", "--plugin", "tiny",
				"--set", "username=admin", "--set", "endpoint=hang", "--secret", "password=s3cret", "--timeout", "1m")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			var plugin int
			for deadline := time.Now().Add(10 * time.Second); plugin == 0 && time.Now().Before(deadline); {
				for _, c := range children(cmd.Process.Pid) {
					if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c)); strings.HasSuffix(exe, "datasync-connector-tiny") {
						plugin = c
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if plugin == 0 {
				t.Fatalf("no plugin process appeared under datasync; stderr:\n%s", stderr.String())
			}
			time.Sleep(300 * time.Millisecond) // let the check get under way
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("datasync did not exit after the signal")
			}
			if sig != syscall.SIGKILL {
				if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(stderr.String(), "connection crm not saved: interrupted") {
					t.Fatalf("exit %d, stderr:\n%s", cmd.ProcessState.ExitCode(), stderr.String())
				}
			}
			for deadline := time.Now().Add(5 * time.Second); alive(plugin) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if alive(plugin) {
				syscall.Kill(plugin, syscall.SIGKILL)
				t.Fatalf("plugin %d outlived datasync (%s)", plugin, sig)
			}
			if got := connections(t, home); len(got) != 0 {
				t.Fatalf("interrupted add saved %v", got)
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	fails(t, home, "connection crm not saved: unreachable: no answer within 500ms (raise --timeout if the app is slow)",
		"connection", "add", "crm", "--plugin", "tiny", "--set", "username=admin", "--set", "endpoint=hang",
		"--secret", "password=s3cret", "--timeout", "500ms")
}

// TestPromptsOnTerminal runs connection add under a pseudo-terminal (script
// from util-linux) and answers the prompts for the missing fields.
func TestPromptsOnTerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed: no pseudo-terminal to test prompts with")
	}
	home := t.TempDir()
	ok(t, home, "plugin", "install", bins.tiny)
	line := fmt.Sprintf("%s --home %s connection add crm --plugin tiny", bins.datasync, home)
	cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=dumb")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Answer each prompt once it is shown: typed-ahead input would be
	// echoed by the terminal before echo is turned off for the secret.
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(out.String(), s) {
				return
			}
		}
		t.Fatalf("no prompt %q; output:\n%s", s, out.String())
	}
	waitFor("Username (username)")
	io.WriteString(stdin, "admin\n")
	waitFor("Password (password)")
	time.Sleep(100 * time.Millisecond)
	io.WriteString(stdin, "s3cret\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Added connection crm") {
		t.Fatalf("output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Fatalf("the secret was echoed:\n%s", out.String())
	}
	if got := connections(t, home); len(got) != 1 || got[0]["account_label"] != "admin on default" {
		t.Fatalf("saved: %v", got)
	}
}

// lockedBuffer is a bytes.Buffer read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
