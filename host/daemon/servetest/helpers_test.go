package servetest

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// bins are the real binaries the tests drive, built once by TestMain.
var bins struct{ datasync, sqlite, postgres, flaky string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "servetest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		built, err := testsvc.Build(dir, map[string]string{
			"datasync": "./host/cmd/datasync",
			"sqlite":   "./plugins/sqlite",
			"postgres": "./plugins/postgres",
			"flaky":    "./host/daemon/servetest/testdata/flaky",
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		bins.datasync, bins.sqlite, bins.postgres, bins.flaky = built["datasync"], built["sqlite"], built["postgres"], built["flaky"]
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

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATASYNC_") {
			env = append(env, kv)
		}
	}
	return env
}

// ok runs datasync once and fails the test unless it exits 0.
func ok(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bins.datasync, append([]string{"--home", home}, args...)...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("datasync %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// db is a SQLite file the sqlite plugin serves; each call opens and closes
// it, so the test holds no connection while the plugin writes.
type db struct {
	t    *testing.T
	path string
}

func newDB(t *testing.T, name, schema string) db {
	d := db{t: t, path: filepath.Join(t.TempDir(), name)}
	d.exec(schema)
	return d
}

func (d db) open() *sql.DB {
	d.t.Helper()
	s, err := sql.Open("sqlite3", d.path+"?_busy_timeout=10000")
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}

func (d db) exec(q string, args ...any) {
	d.t.Helper()
	s := d.open()
	defer s.Close()
	if _, err := s.Exec(q, args...); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
}

func (d db) int(q string, args ...any) int {
	d.t.Helper()
	s := d.open()
	defer s.Close()
	var n int
	if err := s.QueryRow(q, args...).Scan(&n); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
	return n
}

const (
	crmSchema  = `CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, updated_at TEXT)`
	newsSchema = `CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT, firstname TEXT, updated_at TEXT)`
	stamp0     = "2026-01-01 00:00:00.000000"
)

// setup installs the sqlite plugin, adds connections crm and news on the
// two databases and defines sync cn between them, active, run on demand.
func setup(t *testing.T, home string, crm, news db) {
	t.Helper()
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)
	ok(t, home, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers", "--default-mappings",
		"--direction", "left-to-right", "--create-in", "right")
	ok(t, home, "sync", "activate", "cn")
}

// server is a running `datasync serve`.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	base  string
	token string
	done  chan struct{}
	err   error
	mu    sync.Mutex
	log   bytes.Buffer
}

var listenRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)

// serve starts `datasync serve` on a free port and waits until it listens.
// Syncs without a schedule run only when asked (--default-every 0), so
// tests decide when runs happen.
func serve(t *testing.T, home string, args ...string) *server {
	t.Helper()
	return serveWith(t, home, nil, args...)
}

// serveWith is serve with global flags (--state, say).
func serveWith(t *testing.T, home string, global []string, args ...string) *server {
	t.Helper()
	global = append([]string{"--home", home, "--log-level", "debug", "--log-format", "json"}, global...)
	cmd := exec.Command(bins.datasync, append(append(global, "serve", "--listen", "127.0.0.1:0", "--default-every", "0"), args...)...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", s.logText())
		}
	})
	select {
	case a := <-addr:
		s.base = a
	case <-s.done:
		t.Fatalf("serve exited: %v\n%s", s.err, s.logText())
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not listen\n%s", s.logText())
	}
	b, err := os.ReadFile(filepath.Join(home, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(b))
	return s
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// do sends a request with the token (or the given Authorization value) and
// returns status and body.
func (s *server) do(method, path, auth string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// get GETs path with the token into v, failing unless 200.
func (s *server) get(path string, v any) {
	s.t.Helper()
	code, b := s.do("GET", path, "Bearer "+s.token)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			s.t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
}

func (s *server) post(path string) {
	s.t.Helper()
	code, b := s.do("POST", path, "Bearer "+s.token)
	if code != http.StatusAccepted {
		s.t.Fatalf("POST %s: %d %s", path, code, b)
	}
}

type counts struct {
	Read, Created, Updated, Deleted, Failed int
}

type run struct {
	ID     string
	Status string
	Left   counts
	Right  counts
	Errors int
	Error  string
}

// runs returns the sync's runs, newest first.
func (s *server) runs(sync string) []run {
	var rs []run
	s.get("/api/v1/syncs/"+sync+"/runs", &rs)
	return rs
}

// waitRuns waits until sync has n finished runs and returns them.
func (s *server) waitRuns(sync string, n int, d time.Duration) []run {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs := s.runs(sync)
		done := 0
		for _, r := range rs {
			if r.Status != "running" {
				done++
			}
		}
		if done >= n {
			return rs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %v for %d finished runs of %s; have %+v", d, n, sync, rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and waits for the exit; it returns the exit code.
func (s *server) stop(sig syscall.Signal, d time.Duration) int {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(d):
		s.t.Fatalf("serve did not exit within %v of %v", d, sig)
	}
	return s.cmd.ProcessState.ExitCode()
}

// metric returns the value of the sample name{labels} in a /metrics text,
// or -1 when absent.
func metric(text, name string, labels ...string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		head := line[:sp]
		all := true
		for _, l := range labels {
			if !strings.Contains(head, l) {
				all = false
			}
		}
		if !all {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err == nil {
			return v
		}
	}
	return -1
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
