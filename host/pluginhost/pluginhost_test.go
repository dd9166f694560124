package pluginhost_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/pluginhost"
	"github.com/datasync-io/datasync/sdk"
)

// bins are the test programs TestMain builds from testdata.
var bins struct {
	tiny, tiny11, tinyStripped, v2, holder string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		builds := []struct {
			out     *string
			name    string
			pkg     string
			ldflags string
		}{
			{&bins.tiny, "tiny", "./testdata/tiny", ""},
			{&bins.tiny11, "tiny11", "./testdata/tiny", "-X main.version=1.1.0"},
			{&bins.tinyStripped, "tinystripped", "./testdata/tiny", "-s -w"},
			{&bins.v2, "v2", "./testdata/v2", ""},
			{&bins.holder, "holder", "./testdata/holder", ""},
		}
		for _, b := range builds {
			*b.out = filepath.Join(dir, b.name)
			cmd := exec.Command("go", "build", "-o", *b.out, "-ldflags", b.ldflags, b.pkg)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// leftovers lists what is in the plugins directory, at any depth.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

func TestInstallListInfoRemove(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	m := pluginhost.New(home, nil)

	man, err := m.Install(ctx, bins.tiny)
	if err != nil {
		t.Fatal(err)
	}
	if man.Name != "tiny" || man.Version != "1.0.0" || man.Protocol != sdk.ProtocolMajor {
		t.Fatalf("manifest identity = %s protocol %d", man.Ref(), man.Protocol)
	}
	if want := fileSum(t, bins.tiny); man.SHA256 != want {
		t.Fatalf("sha256 = %s, want %s", man.SHA256, want)
	}
	wantPath := filepath.Join(home, "plugins", "tiny", "1.0.0", "datasync-connector-tiny")
	if man.Path != wantPath {
		t.Fatalf("path = %s, want %s", man.Path, wantPath)
	}
	if got := fileSum(t, wantPath); got != man.SHA256 {
		t.Fatalf("installed binary sum %s differs from manifest %s", got, man.SHA256)
	}
	if len(man.AuthFields) != 2 || man.AuthFields[1].Name != "password" || !man.AuthFields[1].Secret || !man.AuthFields[1].Required {
		t.Fatalf("auth fields = %+v", man.AuthFields)
	}
	if len(man.Settings) != 3 || man.Settings[2].Default != "10" {
		t.Fatalf("settings = %+v", man.Settings)
	}
	if len(man.Requirements) != 1 || man.Requirements[0] != "a test account with read access" || man.Description != "Test connector: generated items" {
		t.Fatalf("requirements/description = %q %q", man.Requirements, man.Description)
	}
	if man.InstalledAt.IsZero() || time.Since(man.InstalledAt) > time.Minute {
		t.Fatalf("installed_at = %v", man.InstalledAt)
	}
	var onDisk map[string]any
	raw, err := os.ReadFile(filepath.Join(home, "plugins", "tiny", "1.0.0", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "version", "protocol", "sha256", "description", "auth_fields", "settings", "capabilities", "requirements", "installed_at"} {
		if _, ok := onDisk[k]; !ok {
			t.Errorf("manifest.json lacks %q: %s", k, raw)
		}
	}

	if _, err := m.Install(ctx, bins.tiny11); err != nil {
		t.Fatal(err)
	}
	list, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, l := range list {
		refs = append(refs, l.Ref())
	}
	if strings.Join(refs, " ") != "tiny@1.0.0 tiny@1.1.0" {
		t.Fatalf("list = %v", refs)
	}
	if latest, err := m.Info("tiny"); err != nil || latest.Version != "1.1.0" {
		t.Fatalf("info tiny = %v, %v; want 1.1.0", latest.Version, err)
	}
	if old, err := m.Info("tiny@1.0.0"); err != nil || old.SHA256 != man.SHA256 {
		t.Fatalf("info tiny@1.0.0 = %v, %v", old.Version, err)
	}
	if _, err := m.Info("tiny@9.9.9"); !errors.Is(err, pluginhost.ErrNotInstalled) || !strings.Contains(err.Error(), "installed: 1.0.0, 1.1.0") {
		t.Fatalf("info of a missing version: %v", err)
	}

	gone, err := m.Remove("tiny@1.0.0")
	if err != nil || len(gone) != 1 || gone[0].Version != "1.0.0" {
		t.Fatalf("remove tiny@1.0.0 = %v, %v", gone, err)
	}
	if list, _ := m.List(); len(list) != 1 || list[0].Version != "1.1.0" {
		t.Fatalf("after removing 1.0.0: %v", list)
	}
	if _, err := m.Remove("tiny"); err != nil {
		t.Fatal(err)
	}
	if list, _ := m.List(); len(list) != 0 {
		t.Fatalf("after removing tiny: %v", list)
	}
	if left := leftovers(t, m.Dir()); len(left) != 0 {
		t.Fatalf("plugins dir not empty after removing everything: %v", left)
	}
	if _, err := m.Info("tiny"); !errors.Is(err, pluginhost.ErrNotInstalled) {
		t.Fatalf("info after remove: %v", err)
	}
	if _, err := m.Remove("tiny"); !errors.Is(err, pluginhost.ErrNotInstalled) {
		t.Fatalf("remove of a removed plugin: %v", err)
	}
}

func TestReinstallReplaces(t *testing.T) {
	ctx := context.Background()
	m := pluginhost.New(t.TempDir(), nil)
	if _, err := m.Install(ctx, bins.tiny); err != nil {
		t.Fatal(err)
	}
	man, err := m.Install(ctx, bins.tinyStripped) // same name and version, other bytes
	if err != nil {
		t.Fatal(err)
	}
	want := fileSum(t, bins.tinyStripped)
	if want == fileSum(t, bins.tiny) {
		t.Fatal("test setup: stripped build has the same checksum")
	}
	list, err := m.List()
	if err != nil || len(list) != 1 || list[0].SHA256 != want || fileSum(t, list[0].Path) != want {
		t.Fatalf("after reinstall: %+v, %v; want one version with sum %s", list, err, want)
	}
	if man.SHA256 != want {
		t.Fatalf("returned manifest sum %s", man.SHA256)
	}
	for _, l := range leftovers(t, m.Dir()) {
		if strings.Contains(l, ".tmp-") || strings.Contains(l, ".old-") {
			t.Fatalf("leftover %s", l)
		}
	}
	p, err := m.Launch(ctx, "tiny")
	if err != nil {
		t.Fatalf("launch after reinstall: %v", err)
	}
	p.Close()
}

func TestInstallRefusals(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tinyBytes, err := os.ReadFile(bins.tiny)
	if err != nil {
		t.Fatal(err)
	}
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		path    string
		want    string
		errType any
	}{
		{"shell script", write("script.sh", "#!/bin/sh\necho hello from a script\n", 0o755),
			"script.sh is not a datasync connector plugin: it did not complete the plugin handshake (it printed \"hello from a script\")", &pluginhost.NotPluginError{}},
		{"true", trueBin, trueBin + " is not a datasync connector plugin: it did not complete the plugin handshake (it exited without answering)", &pluginhost.NotPluginError{}},
		{"garbage", write("garbage", "\x00\x01 not a program", 0o755),
			"garbage is not a datasync connector plugin: it is not a program this machine can run (exec format error)", &pluginhost.NotPluginError{}},
		{"wrong protocol", bins.v2,
			bins.v2 + " speaks connector protocol v2; this datasync speaks v1: install a version of the plugin built for v1", &pluginhost.ProtocolError{}},
		{"not executable", write("noexec", string(tinyBytes), 0o644), "noexec is not executable (mode 0644): if you trust it, run `chmod +x", nil},
		{"directory", src, " is a directory: give the path of the plugin binary", nil},
		{"missing", filepath.Join(src, "nope"), "nope does not exist", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := pluginhost.New(t.TempDir(), nil)
			_, err := m.Install(ctx, c.path)
			if err == nil {
				t.Fatal("install succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %q\nwant it to contain %q", err, c.want)
			}
			switch c.errType.(type) {
			case *pluginhost.NotPluginError:
				var e *pluginhost.NotPluginError
				if !errors.As(err, &e) {
					t.Fatalf("error is %T, want *NotPluginError", err)
				}
			case *pluginhost.ProtocolError:
				var e *pluginhost.ProtocolError
				if !errors.As(err, &e) || e.Plugin != 2 || e.Host != 1 {
					t.Fatalf("error is %#v, want *ProtocolError 2 vs 1", err)
				}
			}
			if left := leftovers(t, m.Dir()); len(left) != 0 {
				t.Fatalf("refused install left %v behind", left)
			}
			if list, _ := m.List(); len(list) != 0 {
				t.Fatalf("refused install is listed: %v", list)
			}
		})
	}
}

func TestTamperedBinaryRefused(t *testing.T) {
	ctx := context.Background()
	m := pluginhost.New(t.TempDir(), nil)
	man, err := m.Install(ctx, bins.tiny)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(man.Path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = launchRefused(t, m, "tiny")
	want := "plugin tiny 1.0.0: binary changed since it was installed (checksum mismatch); reinstall it with `datasync plugin install PATH`"
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
}

// A launch remembers that it checked the binary; a binary changed after
// that, even in place with its size and modification time kept, is
// hashed again and refused.
func TestTamperedAfterLaunchRefused(t *testing.T) {
	ctx := context.Background()
	m := pluginhost.New(t.TempDir(), nil)
	man, err := m.Install(ctx, bins.tiny)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second launch goes by the record
		p, err := m.Launch(ctx, "tiny")
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(man.Path), ".verified")); err != nil {
		t.Fatalf("no record of the check: %v", err)
	}
	fi, err := os.Stat(man.Path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(man.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The last byte flipped: same size, and the mtime is put back below.
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, fi.Size()-1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^b[0]}, fi.Size()-1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(man.Path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	launchRefused(t, m, "tiny")
}

// launchRefused launches ref, which must be refused as a changed binary,
// and returns the refusal.
func launchRefused(t *testing.T, m *pluginhost.Manager, ref string) error {
	t.Helper()
	p, err := m.Launch(context.Background(), ref)
	if err == nil {
		p.Close()
		t.Fatalf("%s was launched, though its binary changed", ref)
	}
	var ce *pluginhost.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T %v, want *ChecksumError", err, err)
	}
	return err
}

// syncBuffer is a bytes.Buffer safe for the log relay's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type collect struct {
	recs    []sdk.Record
	cursors []string
}

func (c *collect) Records(r []sdk.Record) error { c.recs = append(c.recs, r...); return nil }
func (c *collect) Checkpoint(s string) error    { c.cursors = append(c.cursors, s); return nil }

var goodConfig = sdk.Config{Settings: map[string]string{"username": "admin", "records": "7"}, Secrets: map[string]string{"password": "s3cret"}}

func TestLaunchCallsAndLogRelay(t *testing.T) {
	ctx := context.Background()
	t.Setenv("DATASYNC_MASTER_KEY", "must-not-reach-plugins")
	for _, level := range []hclog.Level{hclog.Info, hclog.Warn} {
		t.Run(level.String(), func(t *testing.T) {
			var logs syncBuffer
			logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: level, Output: &logs})
			p := launchTiny(ctx, t, logger)
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid()))
			if err != nil {
				t.Fatal(err)
			}
			vars := strings.Split(string(environ), "\x00")
			if !slices.Contains(vars, "DATASYNC_LOG_LEVEL="+level.String()) {
				t.Errorf("plugin environment lacks the host's log level %s", level)
			}
			for _, v := range vars {
				if strings.HasPrefix(v, "DATASYNC_MASTER_KEY=") {
					t.Errorf("plugin inherited %s", v)
				}
			}
			d, err := p.Describe(ctx)
			if err != nil || d.Name != "tiny" {
				t.Fatalf("describe = %v, %v", d.Name, err)
			}
			c, err := p.Open(ctx, goodConfig)
			if err != nil {
				t.Fatal(err)
			}
			acct, err := c.Check(ctx)
			if err != nil || acct.Fingerprint != "tiny:default" {
				t.Fatalf("check = %+v, %v", acct, err)
			}
			bad := sdk.Config{Settings: map[string]string{"username": "admin"}, Secrets: map[string]string{"password": "nope"}}
			c2, _ := p.Open(ctx, bad)
			if _, err := c2.Check(ctx); sdk.CategoryOf(err) != sdk.CategoryAuth {
				t.Fatalf("check with a bad password: %v, want an auth error", err)
			}
			var got collect
			if err := c.Read(ctx, sdk.ReadRequest{Object: "items"}, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.recs) != 7 || got.recs[6].ID != "i6" || got.recs[6].Values[1].Str != "item 6" {
				t.Fatalf("read %d records: %+v", len(got.recs), got.recs)
			}
			p.Close()
			if !p.Exited() {
				t.Fatal("plugin still running after Close")
			}
			line := ""
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "checking account") {
					line = l
				}
			}
			switch level {
			case hclog.Info:
				if !strings.Contains(line, "host.datasync-connector-tiny") || !strings.Contains(line, "username=admin") {
					t.Fatalf("plugin log line not relayed with the plugin's name:\n%s", logs.String())
				}
			case hclog.Warn:
				if line != "" {
					t.Fatalf("info line relayed at warn level: %s", line)
				}
			}
		})
	}
}

// processGone reports whether pid has exited (a zombie waiting for a reaper
// counts as gone: it runs no code).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if processGone(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return processGone(pid)
}

func TestCrashMidStream(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Warn, Output: &logs})
	m := pluginhost.New(t.TempDir(), logger)
	if _, err := m.Install(ctx, bins.tiny); err != nil {
		t.Fatal(err)
	}
	p, err := m.Launch(ctx, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pid := p.Pid()
	if pid == 0 || processGone(pid) {
		t.Fatalf("plugin pid %d not running", pid)
	}
	c, err := p.Open(ctx, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	var got collect
	err = c.Read(ctx, sdk.ReadRequest{Object: "boom"}, &got)
	if err == nil {
		t.Fatal("read of boom succeeded")
	}
	if len(got.recs) == 0 {
		t.Fatal("no records arrived before the crash: the panic was not mid-stream")
	}
	var ce *pluginhost.CrashError
	if !errors.As(err, &ce) {
		t.Fatalf("error is %T %v, want *CrashError", err, err)
	}
	if ce.Plugin != "tiny" || ce.Pid != pid {
		t.Fatalf("crash error names %s pid %d", ce.Plugin, ce.Pid)
	}
	if !strings.HasPrefix(err.Error(), "plugin tiny crashed: panic: boom: read exploded on purpose") {
		t.Fatalf("error = %q", err)
	}
	if !strings.Contains(ce.Output, "main.(*conn).Read") {
		t.Fatalf("output lacks the trace:\n%s", ce.Output)
	}
	if !waitGone(pid, 5*time.Second) {
		t.Fatalf("crashed plugin %d still running", pid)
	}
	if !strings.Contains(logs.String(), "panic: boom") {
		t.Fatalf("panic not in the host log:\n%s", logs.String())
	}

	// Restart: a new launch serves again.
	p2, err := m.Launch(ctx, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	c2, _ := p2.Open(ctx, goodConfig)
	var again collect
	if err := c2.Read(ctx, sdk.ReadRequest{Object: "items"}, &again); err != nil || len(again.recs) != 7 {
		t.Fatalf("read after restart: %d records, %v", len(again.recs), err)
	}
	// An ordinary error from a live plugin is not a crash.
	if err := c2.Read(ctx, sdk.ReadRequest{Object: "nothing"}, &again); err == nil || errors.As(err, &ce) {
		t.Fatalf("read of a missing object: %v", err)
	}
}

func TestNoOrphanWhenHostIsKilled(t *testing.T) {
	home := t.TempDir()
	if _, err := pluginhost.New(home, nil).Install(context.Background(), bins.tiny); err != nil {
		t.Fatal(err)
	}
	host := exec.Command(bins.holder, home, "tiny")
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	host.Stderr = &stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("holder printed no pid: %v; stderr:\n%s", err, stderr.String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if processGone(pid) {
		t.Fatalf("plugin %d is not running under the holder", pid)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	if !waitGone(pid, 5*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("plugin %d outlived its SIGKILLed host", pid)
	}
}

func TestCrashAtStart(t *testing.T) {
	ctx := context.Background()
	m := pluginhost.New(t.TempDir(), nil)
	if _, err := m.Install(ctx, bins.tiny); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TINY_PANIC_AT_START", "1")
	p, err := m.Launch(ctx, "tiny")
	if err == nil {
		p.Close()
		t.Fatal("a plugin panicking at start was launched")
	}
	var ce *pluginhost.CrashError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "plugin tiny crashed: panic: tiny: cannot start: TINY_PANIC_AT_START is set") {
		t.Fatalf("error = %T %q", err, err)
	}
}

func TestShutdownStopsRunningPlugins(t *testing.T) {
	ctx := context.Background()
	m := pluginhost.New(t.TempDir(), nil)
	if _, err := m.Install(ctx, bins.tiny); err != nil {
		t.Fatal(err)
	}
	var ps []*pluginhost.Plugin
	for range 3 {
		p, err := m.Launch(ctx, "tiny")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	ps[0].Close() // already closed: Shutdown must cope
	m.Shutdown()
	for _, p := range ps {
		if !p.Exited() || !waitGone(p.Pid(), 5*time.Second) {
			t.Fatalf("plugin %d still running after Shutdown", p.Pid())
		}
	}
	m.Shutdown() // nothing left: a no-op
}

// A plugin whose connector does not watch answers Watch with a permanent
// error, at once: the daemon then keeps its syncs to their schedules.
func TestWatchOfAPluginThatCannot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := launchTiny(ctx, t, hclog.NewNullLogger()).Open(ctx, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := c.(sdk.Watcher)
	if !ok {
		t.Fatalf("%T is not an sdk.Watcher", c)
	}
	err = w.Watch(ctx, []string{"contacts"}, nil)
	var se *sdk.Error
	if !errors.As(err, &se) || se.Category != sdk.CategoryPermanent || !strings.Contains(se.Message, "does not watch") {
		t.Fatalf("Watch = %v, want a permanent error saying the connector does not watch", err)
	}
}

// launchTiny installs the tiny plugin in a fresh plugins directory and
// launches it, closed when the test ends.
func launchTiny(ctx context.Context, t *testing.T, logger hclog.Logger) *pluginhost.Plugin {
	t.Helper()
	m := pluginhost.New(t.TempDir(), logger)
	if _, err := m.Install(ctx, bins.tiny); err != nil {
		t.Fatal(err)
	}
	p, err := m.Launch(ctx, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
