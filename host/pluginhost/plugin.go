package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/datasync-io/datasync/sdk"
)

// crashWait bounds how long a failed call waits for the plugin process to
// be seen dead before its error is taken as an ordinary one.
const crashWait = 2 * time.Second

// hiddenEnv are host variables a plugin must not inherit.
var hiddenEnv = []string{"DATASYNC_MASTER_KEY"}

// Plugin is a running plugin process. It implements sdk.Connector; errors
// from it and from the connections it opens become *CrashError when the
// process died. Close it when done; after a crash, Launch again to restart.
type Plugin struct {
	m      *Manager
	man    Manifest
	client *plugin.Client
	cmd    *exec.Cmd
	rc     *sdk.RemoteConnector
	out    *capture
	once   sync.Once
}

var _ sdk.Connector = (*Plugin)(nil)

// clientConfig is the go-plugin configuration of one launch of bin: the
// SDK's base plus the checksum check, managed cleanup, stderr capture, the
// death signal and an environment without the host's secrets.
func (m *Manager) clientConfig(bin, sum string, out *capture) (*plugin.ClientConfig, error) {
	want, err := hex.DecodeString(sum)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("plugin %s: manifest checksum %q is not a SHA-256: reinstall the plugin", bin, sum)
	}
	cfg := sdk.ClientConfig(bin, m.log)
	cfg.SecureConfig = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	// Not go-plugin's Managed: its list of clients only grows, which a
	// daemon restarting plugins cannot afford; Manager.Shutdown does it.
	cfg.Stderr = out
	// ClientConfig's Cmd.Env already holds the environment plus the log
	// level; go-plugin appending os.Environ again would let a stale
	// DATASYNC_LOG_LEVEL win over the host's level.
	cfg.SkipHostEnv = true
	cfg.Cmd.Env = filterEnv(cfg.Cmd.Env)
	setDeathSignal(cfg.Cmd)
	return cfg, nil
}

func filterEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		hidden := false
		for _, h := range hiddenEnv {
			hidden = hidden || k == h
		}
		if !hidden {
			out = append(out, kv)
		}
	}
	return out
}

// Launch starts ref ("name" for the highest installed version, or
// "name@version"), verifying the binary's checksum against its manifest.
func (m *Manager) Launch(ctx context.Context, ref string) (*Plugin, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	man, err := m.Info(ref)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(man.Path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("plugin %s %s: its binary %s is missing; reinstall it with `datasync plugin install PATH`", man.Name, man.Version, man.Path)
	}
	out := newCapture()
	cfg, err := m.clientConfig(man.Path, man.SHA256, out)
	if err != nil {
		return nil, err
	}
	checked := wasVerified(man.Path, man.SHA256)
	if checked {
		cfg.SecureConfig = nil // this very file was hashed before
	}
	client := plugin.NewClient(cfg)
	_, err = client.Start()
	if err == nil && !checked {
		rememberVerified(man.Path, man.SHA256)
	}
	var rc *sdk.RemoteConnector
	if err == nil {
		rc, err = sdk.Dispense(client)
	}
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, &ChecksumError{Plugin: man.Name, Version: man.Version}
		}
		if out.Output() != "" {
			return nil, &CrashError{Plugin: man.Name, Version: man.Version, Output: out.Output(), Err: err}
		}
		return nil, fmt.Errorf("launch plugin %s %s: %s", man.Name, man.Version, firstLine(err.Error()))
	}
	p := &Plugin{m: m, man: man, client: client, cmd: cfg.Cmd, rc: rc, out: out}
	m.track(p, true)
	m.log.Debug("plugin started", "plugin", man.Name, "version", man.Version, "pid", p.Pid())
	return p, nil
}

// Manifest returns the manifest of the running plugin.
func (p *Plugin) Manifest() Manifest { return p.man }

// Connector returns the raw gRPC connector; its errors are not translated
// into *CrashError (pass them through Err for that).
func (p *Plugin) Connector() *sdk.RemoteConnector { return p.rc }

// Pid returns the plugin's process id.
func (p *Plugin) Pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Close stops the plugin (gracefully, then by kill) and waits for it.
func (p *Plugin) Close() {
	p.once.Do(func() {
		p.client.Kill()
		p.m.track(p, false)
	})
}

// Err returns err, or a *CrashError wrapping it when the plugin process has
// died: a call cut off by a crash fails with a transport error first and the
// process is reaped a moment later, so a transport-looking error waits
// briefly for the exit.
func (p *Plugin) Err(err error) error {
	if err == nil {
		return nil
	}
	var ce *CrashError
	if errors.As(err, &ce) {
		return err
	}
	if p.client.Exited() || (transportError(err) && waitExit(p.client, crashWait)) {
		return &CrashError{Plugin: p.man.Name, Version: p.man.Version, Pid: p.Pid(), Output: p.out.Output(), Err: err}
	}
	return err
}

// transportError reports whether err is a failure of the connection to the
// plugin rather than an answer from it.
func transportError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	e := sdk.AsError(err)
	if e.Category != sdk.CategoryTransient && e.Category != sdk.CategoryPermanent {
		return false
	}
	msg := e.Message
	for _, s := range []string{"plugin unavailable", "transport", "connection", "EOF", "closing"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func waitExit(c *plugin.Client, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.Exited() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c.Exited()
}

// Describe asks the plugin who it is.
func (p *Plugin) Describe(ctx context.Context) (sdk.Description, error) {
	d, err := p.rc.Describe(ctx)
	return d, p.Err(err)
}

// Open returns a connection whose errors become *CrashError when the plugin
// died.
func (p *Plugin) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	c, err := p.rc.Open(ctx, cfg)
	if err != nil {
		return nil, p.Err(err)
	}
	return &conn{p: p, c: c}, nil
}

type conn struct {
	p *Plugin
	c sdk.Conn
}

func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	a, err := c.c.Check(ctx)
	return a, c.p.Err(err)
}

func (c *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	s, err := c.c.Schema(ctx)
	return s, c.p.Err(err)
}

func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	return c.p.Err(c.c.Read(ctx, req, sink))
}

func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	r, err := c.c.Write(ctx, req)
	return r, c.p.Err(err)
}

func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	r, err := c.c.Lookup(ctx, req)
	return r, c.p.Err(err)
}

// Watch passes the plugin's notices on (sdk.Watcher).
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	w, ok := c.c.(sdk.Watcher)
	if !ok {
		return sdk.Errorf(sdk.CategoryPermanent, "watch: the connection cannot watch")
	}
	return c.p.Err(w.Watch(ctx, objects, sink))
}

func (c *conn) Close() error { return c.p.Err(c.c.Close()) }

// Limits of what capture keeps of a plugin's non-log stderr.
const (
	maxPanicLines = 60
	maxTailLines  = 20
)

// capture keeps what a plugin writes to stderr outside its JSON log: the
// panic trace from its first line, and the last few other lines. go-plugin
// writes each line and its newline separately, so lines are reassembled.
type capture struct {
	mu      sync.Mutex
	partial []byte
	panic   []string
	tail    []string
}

func newCapture() *capture { return &capture{} }

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, b...)
	for {
		i := strings.IndexByte(string(c.partial), '\n')
		if i < 0 {
			break
		}
		c.line(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	return len(b), nil
}

func (c *capture) line(l string) {
	l = strings.TrimRight(l, "\r")
	if strings.HasPrefix(l, "{") && strings.HasSuffix(l, "}") {
		return // an hclog JSON line: relayed to the host's log by go-plugin
	}
	if len(c.panic) == 0 && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) {
		c.panic = append(c.panic, l)
		return
	}
	if len(c.panic) > 0 {
		if len(c.panic) < maxPanicLines {
			c.panic = append(c.panic, l)
		}
		return
	}
	if strings.TrimSpace(l) == "" {
		return
	}
	c.tail = append(c.tail, l)
	if len(c.tail) > maxTailLines {
		c.tail = c.tail[1:]
	}
}

// Output returns the panic trace if the plugin panicked, else its last
// non-log lines.
func (c *capture) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.panic) > 0 {
		return strings.Join(c.panic, "\n")
	}
	return strings.Join(c.tail, "\n")
}
