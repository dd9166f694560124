package testsvc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SharedDirEnv names the environment variable pointing at a directory where services were
// started once for the whole test run (scripts/test.sh): DIR/<service>/env is read from there.
const SharedDirEnv = "DATASYNC_TESTSVC_DIR"

// startTimeout bounds one start script: the slowest (initdb) takes a few seconds.
const startTimeout = 2 * time.Minute

// requirement is a program a service script needs and the Debian package providing it.
type requirement struct {
	glob string // a command name, or an absolute path pattern
	pkg  string
}

func requirements(svc string) []requirement {
	common := []requirement{{"bash", "bash"}, {"openssl", "openssl"}, {"/usr/bin/python3", "python3"}}
	switch svc {
	case "postgres":
		return append(common, requirement{"/usr/lib/postgresql/*/bin/initdb", "postgresql"},
			requirement{"psql", "postgresql-client"}, requirement{"setpriv", "util-linux"})
	case "radicale":
		return append(common, requirement{"radicale", "radicale"}, requirement{"curl", "curl"})
	case "slapd":
		return append(common, requirement{"/usr/sbin/slapd", "slapd"},
			requirement{"/usr/lib/ldap/back_mdb.so", "slapd"}, requirement{"ldapwhoami", "ldap-utils"})
	case "glewlwyd":
		return append(common, requirement{"glewlwyd", "glewlwyd"},
			requirement{"/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz", "glewlwyd"},
			requirement{"sqlite3", "sqlite3"}, requirement{"curl", "curl"}, requirement{"jq", "jq"})
	}
	return common
}

// missing returns the packages whose programs are not installed.
func missing(svc string) []string {
	var pkgs []string
	for _, r := range requirements(svc) {
		found := false
		if filepath.IsAbs(r.glob) {
			m, _ := filepath.Glob(r.glob)
			found = len(m) > 0
		} else {
			_, err := exec.LookPath(r.glob)
			found = err == nil
		}
		if !found && !contains(pkgs, r.pkg) {
			pkgs = append(pkgs, r.pkg)
		}
	}
	return pkgs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unavailable skips the test locally, but fails it under CI=true, where a missing service
// means the machine was not set up and the test would otherwise silently prove nothing.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this fails instead of skipping; scripts/services/install.sh installs it)", msg)
	}
	t.Skipf("%s: skipping (scripts/services/install.sh installs it)", msg)
}

// scriptPath locates scripts/services/<svc>.sh next to this package's source.
func scriptPath(t testing.TB, svc string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatalf("testsvc: cannot locate its own source to find scripts/services")
	}
	p := filepath.Join(filepath.Dir(file), "..", "services", svc+".sh")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testsvc: service script: %v", err)
	}
	return p
}

// start returns the service's env file contents and its directory: from the shared directory
// when one is set and holds the service, else from a fresh instance stopped at test cleanup.
func start(t testing.TB, svc string) (map[string]string, string) {
	t.Helper()
	if shared := os.Getenv(SharedDirEnv); shared != "" {
		dir := filepath.Join(shared, svc)
		env, err := readEnv(filepath.Join(dir, "env"))
		switch {
		case err == nil:
			return env, dir
		case !errors.Is(err, fs.ErrNotExist):
			t.Fatalf("testsvc: shared %s: %v", svc, err)
		}
		t.Logf("testsvc: %s has no %s; starting a private one", shared, svc)
	}
	if pkgs := missing(svc); len(pkgs) > 0 {
		unavailable(t, fmt.Sprintf("testsvc: %s is not installed: apt-get install -y %s", svc, strings.Join(pkgs, " ")))
	}
	if svc == "postgres" && os.Geteuid() != 0 {
		unavailable(t, "testsvc: postgres.sh runs the server as user postgres and needs root")
	}
	script := scriptPath(t, svc)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	began := time.Now()
	cmd := exec.CommandContext(ctx, "bash", script, "start", dir)
	// The script stops the server by itself if this test binary dies without cleaning up.
	cmd.Env = append(os.Environ(), "DATASYNC_TESTSVC_PARENT_PID="+strconv.Itoa(os.Getpid()))
	out, err := cmd.CombinedOutput()
	// Registered before checking err: a half-started server must not outlive the test either.
	t.Cleanup(func() { stop(t, script, dir) })
	if err != nil {
		t.Fatalf("testsvc: start %s: %v\n%s%s", svc, err, out, tail(filepath.Join(dir, "log")))
	}
	env, err := readEnv(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatalf("testsvc: start %s: %v", svc, err)
	}
	t.Logf("testsvc: started %s in %s (%s)", svc, time.Since(began).Round(time.Millisecond), dir)
	return env, dir
}

func stop(t testing.TB, script, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "bash", script, "stop", dir).CombinedOutput(); err != nil {
		t.Errorf("testsvc: stop %s: %v\n%s", dir, err, out)
	}
}

// tail returns the end of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return fmt.Sprintf("--- %s:\n%s", path, b)
}

// readEnv parses the KEY='value' lines the service scripts write.
func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read env %s: %w", path, err)
	}
	defer f.Close()
	return parseEnv(f, path)
}

func parseEnv(r io.Reader, name string) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("parse env %s line %d: want KEY=VALUE, got %q", name, n, line)
		}
		if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
			val = val[1 : len(val)-1]
		}
		env[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse env %s: %w", name, err)
	}
	return env, nil
}

// fields reads required keys out of an env map, failing the test on the first one missing.
type fields struct {
	t   testing.TB
	svc string
	env map[string]string
}

func (f fields) str(key string) string {
	f.t.Helper()
	v, ok := f.env[key]
	if !ok || v == "" {
		f.t.Fatalf("testsvc: %s env has no %s", f.svc, key)
	}
	return v
}

func (f fields) port(key string) int {
	f.t.Helper()
	p, err := strconv.Atoi(f.str(key))
	if err != nil || p <= 0 || p > 65535 {
		f.t.Fatalf("testsvc: %s env %s=%q is not a port", f.svc, key, f.env[key])
	}
	return p
}
