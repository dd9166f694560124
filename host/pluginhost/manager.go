package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/datasync-io/datasync/sdk"
)

// Dir is the plugins directory's name inside $DATASYNC_HOME.
const Dir = "plugins"

// Timeouts of install's probe launch: a file that never answers the
// handshake must not hang install.
const (
	probeStartTimeout    = 15 * time.Second
	probeDescribeTimeout = 30 * time.Second
)

var (
	validName    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	validVersion = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	// go-plugin's refusal of a plugin whose protocol versions and the host's
	// share none; the number is the version the plugin offered.
	incompatibleVersion = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (\d+)`)
)

// Manager installs, lists and launches the plugins under one home.
type Manager struct {
	dir string
	log hclog.Logger
	now func() time.Time

	mu      sync.Mutex
	running map[*Plugin]struct{} // launched and not yet closed, for Shutdown
}

// New returns the manager of $home/plugins. Plugins' log lines go to logger,
// named after the plugin binary, at logger's level.
func New(home string, logger hclog.Logger) *Manager {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Manager{dir: filepath.Join(home, Dir), log: logger, now: time.Now, running: map[*Plugin]struct{}{}}
}

// Shutdown stops every plugin launched by m and not yet closed; call it
// before the host exits (on Linux the kernel also kills them if the host
// dies without it).
func (m *Manager) Shutdown() {
	m.mu.Lock()
	ps := make([]*Plugin, 0, len(m.running))
	for p := range m.running {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Close()
		}()
	}
	wg.Wait()
}

func (m *Manager) track(p *Plugin, running bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if running {
		m.running[p] = struct{}{}
	} else {
		delete(m.running, p)
	}
}

// Dir returns the plugins directory.
func (m *Manager) Dir() string { return m.dir }

// Install copies the plugin binary at path into the plugins directory after
// launching it once to learn who it is. It refuses files that are not
// connector plugins or speak another protocol major version; on any failure
// nothing is left behind. Installing a name and version again replaces it.
func (m *Manager) Install(ctx context.Context, path string) (Manifest, error) {
	if err := checkSource(path); err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("install %s: %w", path, err)
	}
	tmp, err := os.MkdirTemp(m.dir, ".tmp-")
	if err != nil {
		return Manifest{}, fmt.Errorf("install %s: %w", path, err)
	}
	defer os.RemoveAll(tmp) // gone already when the install succeeded
	probe := filepath.Join(tmp, "datasync-connector-probe")
	sum, err := copyHashed(path, probe)
	if err != nil {
		return Manifest{}, fmt.Errorf("install %s: copy: %w", path, err)
	}
	desc, err := m.probe(ctx, path, probe, sum)
	if err != nil {
		return Manifest{}, err
	}
	if desc.ProtocolMajor != sdk.ProtocolMajor {
		return Manifest{}, &ProtocolError{Path: path, Plugin: desc.ProtocolMajor, Host: sdk.ProtocolMajor}
	}
	if !validName.MatchString(desc.Name) {
		return Manifest{}, fmt.Errorf("install %s: the plugin calls itself %q; a plugin name must be lower-case letters, digits, - and _ (ask its vendor for a fixed build)", path, desc.Name)
	}
	if !validVersion.MatchString(desc.Version) {
		return Manifest{}, fmt.Errorf("install %s: plugin %s reports version %q, which is not a usable version (ask its vendor for a fixed build)", path, desc.Name, desc.Version)
	}
	man := manifestFrom(desc, sum, m.now())
	if err := os.Rename(probe, filepath.Join(tmp, BinaryPrefix+man.Name)); err != nil {
		return Manifest{}, fmt.Errorf("install %s: %w", path, err)
	}
	if err := writeManifest(tmp, man); err != nil {
		return Manifest{}, fmt.Errorf("install %s: write manifest: %w", path, err)
	}
	final := filepath.Join(m.dir, man.Name, man.Version)
	if err := m.replace(tmp, final); err != nil {
		return Manifest{}, fmt.Errorf("install %s as %s: %w", path, man.Ref(), err)
	}
	man.Path = filepath.Join(final, BinaryPrefix+man.Name)
	m.log.Info("plugin installed", "plugin", man.Name, "version", man.Version, "sha256", man.SHA256)
	return man, nil
}

// checkSource refuses what cannot be a plugin binary before copying it.
func checkSource(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist: give the path of a connector plugin binary", path)
	case err != nil:
		return fmt.Errorf("install %s: %w", path, err)
	case fi.IsDir():
		return fmt.Errorf("%s is a directory: give the path of the plugin binary inside it (datasync-connector-NAME)", path)
	case !fi.Mode().IsRegular():
		return &NotPluginError{Path: path, Reason: "it is not a regular file"}
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable (mode %04o): if you trust it, run `chmod +x %s` and install again", path, fi.Mode().Perm(), path)
	}
	return nil
}

// copyHashed copies src to dst (executable) and returns dst's SHA-256 in hex.
func copyHashed(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// probe launches the copied binary once (checksum-verified, so what runs is
// what was hashed) and asks it to describe itself.
func (m *Manager) probe(ctx context.Context, path, bin, sum string) (sdk.Description, error) {
	out := newCapture()
	cfg, err := m.clientConfig(bin, sum, out)
	if err != nil {
		return sdk.Description{}, err
	}
	cfg.StartTimeout = probeStartTimeout
	if !m.log.IsDebug() {
		// A refused file is killed unanswered, which go-plugin logs as a
		// warning and an error; the refusal message already says it all.
		cfg.Logger = hclog.NewNullLogger()
	}
	client := plugin.NewClient(cfg)
	defer client.Kill()
	if _, err := client.Start(); err != nil {
		return sdk.Description{}, startError(path, err, out)
	}
	rc, err := sdk.Dispense(client)
	if err != nil {
		return sdk.Description{}, fmt.Errorf("install %s: %w", path, err)
	}
	dctx, cancel := context.WithTimeout(ctx, probeDescribeTimeout)
	defer cancel()
	d, err := rc.Describe(dctx)
	if err != nil {
		if client.Exited() || waitExit(client, time.Second) {
			return sdk.Description{}, &CrashError{Plugin: filepath.Base(path), Output: out.Output(), Err: err}
		}
		return sdk.Description{}, fmt.Errorf("install %s: the plugin failed to describe itself: %w", path, err)
	}
	return d, nil
}

// startError explains why a file did not start as a plugin.
func startError(path string, err error, out *capture) error {
	if mm := incompatibleVersion.FindStringSubmatch(err.Error()); mm != nil {
		v, _ := strconv.Atoi(mm[1])
		return &ProtocolError{Path: path, Plugin: v, Host: sdk.ProtocolMajor}
	}
	if errors.Is(err, syscall.ENOEXEC) {
		return &NotPluginError{Path: path, Reason: "it is not a program this machine can run (exec format error)"}
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s cannot be executed (permission denied): check the file and the plugins directory %s allow execution", path, filepath.Dir(filepath.Dir(path)))
	}
	msg := firstLine(err.Error())
	var reason string
	switch {
	case msg == "plugin exited before we could connect" || msg == "Unrecognized remote plugin message:":
		reason = "it exited without answering"
	case strings.HasPrefix(msg, "Unrecognized remote plugin message: "):
		reason = "it printed " + strconv.Quote(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "))
	case msg == "timeout while waiting for plugin to start":
		reason = fmt.Sprintf("it did not answer within %s", probeStartTimeout)
	default:
		reason = msg
	}
	if said := out.Output(); said != "" {
		reason += "; its error output: " + firstLine(said)
	}
	return &NotPluginError{Path: path, Reason: "it did not complete the plugin handshake (" + reason + ")"}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// replace moves the version directory tmp to final, replacing what is there.
func (m *Manager) replace(tmp, final string) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(final); err == nil {
		old, err := os.MkdirTemp(m.dir, ".old-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(old)
		if err := os.Rename(final, filepath.Join(old, "v")); err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			_ = os.Rename(filepath.Join(old, "v"), final)
			return err
		}
		return nil
	}
	return os.Rename(tmp, final)
}

// List returns every installed plugin version, by name then version.
func (m *Manager) List() ([]Manifest, error) {
	names, err := os.ReadDir(m.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	var out []Manifest
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue
		}
		vs, err := m.versions(n.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// versions returns the installed versions of name, oldest first.
func (m *Manager) versions(name string) ([]Manifest, error) {
	entries, err := os.ReadDir(filepath.Join(m.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list plugin %s: %w", name, err)
	}
	var out []Manifest
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		man, err := readManifest(filepath.Join(m.dir, name, e.Name()))
		if err != nil {
			m.log.Warn("skipping broken plugin directory", "dir", filepath.Join(m.dir, name, e.Name()), "error", err)
			continue
		}
		out = append(out, man)
	}
	sort.Slice(out, func(i, j int) bool { return compareVersions(out[i].Version, out[j].Version) < 0 })
	return out, nil
}

// SplitRef splits "name@version"; version is empty when ref has none.
func SplitRef(ref string) (name, version string) {
	name, version, _ = strings.Cut(ref, "@")
	return name, version
}

// Info returns the manifest of ref: "name" (the highest installed version)
// or "name@version".
func (m *Manager) Info(ref string) (Manifest, error) {
	name, version := SplitRef(ref)
	if !validName.MatchString(name) || (version != "" && !validVersion.MatchString(version)) {
		return Manifest{}, fmt.Errorf("plugin %q: %w (write it as NAME or NAME@VERSION; see `datasync plugin list`)", ref, ErrNotInstalled)
	}
	vs, err := m.versions(name)
	if err != nil {
		return Manifest{}, err
	}
	if len(vs) == 0 {
		return Manifest{}, fmt.Errorf("plugin %s: %w: install it with `datasync plugin install PATH`", name, ErrNotInstalled)
	}
	if version == "" {
		return vs[len(vs)-1], nil
	}
	var have []string
	for _, v := range vs {
		if v.Version == version {
			return v, nil
		}
		have = append(have, v.Version)
	}
	return Manifest{}, fmt.Errorf("plugin %s version %s: %w (installed: %s)", name, version, ErrNotInstalled, strings.Join(have, ", "))
}

// Remove uninstalls ref: one version ("name@version") or every version of
// a name. It returns what it removed.
func (m *Manager) Remove(ref string) ([]Manifest, error) {
	name, version := SplitRef(ref)
	var gone []Manifest
	if version != "" {
		man, err := m.Info(ref)
		if err != nil {
			return nil, err
		}
		gone = []Manifest{man}
	} else {
		if _, err := m.Info(name); err != nil {
			return nil, err
		}
		vs, err := m.versions(name)
		if err != nil {
			return nil, err
		}
		gone = vs
	}
	for _, man := range gone {
		if err := os.RemoveAll(filepath.Dir(man.Path)); err != nil {
			return nil, fmt.Errorf("remove plugin %s: %w", man.Ref(), err)
		}
	}
	// The name's directory goes when its last version does.
	_ = os.Remove(filepath.Join(m.dir, name))
	return gone, nil
}

// compareVersions orders versions like semver: numeric parts numerically,
// a pre-release before its release; anything else as text.
func compareVersions(a, b string) int {
	a, b = strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v")
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	amain, apre, _ := strings.Cut(a, "-")
	bmain, bpre, _ := strings.Cut(b, "-")
	if c := compareDotted(amain, bmain); c != 0 {
		return c
	}
	switch {
	case apre == bpre:
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	return compareDotted(apre, bpre)
}

func compareDotted(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		if i >= len(as) {
			return -1
		}
		if i >= len(bs) {
			return 1
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		switch {
		case aerr == nil && berr == nil:
			if ai != bi {
				if ai < bi {
					return -1
				}
				return 1
			}
		case aerr == nil:
			return -1 // numeric identifiers sort before text ones
		case berr == nil:
			return 1
		default:
			if c := strings.Compare(as[i], bs[i]); c != 0 {
				return c
			}
		}
	}
	return 0
}
