package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/host/pluginhost"
	"github.com/datasync-io/datasync/host/secrets"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// env is what every command shares: where state lives, the log and the
// standard streams. The app's Before hook fills it from the global flags.
type env struct {
	home   string
	state  string // a postgres:// URL, or "": state.db in home
	log    hclog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// interactive reports whether stdin is a terminal (prompts allowed).
	interactive func() bool

	mu  sync.Mutex // guards mgr: a sync run opens both sides at once
	mgr *pluginhost.Manager
}

// openStore opens the state database (--state, or state.db in $home),
// creating $home on first use.
func (e *env) openStore(ctx context.Context) (*store.Store, error) {
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		return nil, fmt.Errorf("create datasync home %s: %w", e.home, err)
	}
	if e.state != "" {
		return store.Open(ctx, e.state)
	}
	return store.Open(ctx, filepath.Join(e.home, store.FileName))
}

// plugins returns the plugin manager of $home/plugins.
func (e *env) plugins() *pluginhost.Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mgr == nil {
		e.mgr = pluginhost.New(e.home, e.log)
	}
	return e.mgr
}

// shutdown stops every plugin the commands launched and did not stop.
func (e *env) shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mgr != nil {
		e.mgr.Shutdown()
	}
}

// secretBox returns the box of the master key.
func (e *env) secretBox() (*secrets.Box, error) {
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		return nil, fmt.Errorf("create datasync home %s: %w", e.home, err)
	}
	return secrets.Load(e.home)
}

// storedConnection opens the store and reads connection name from it; the
// caller closes the store.
func (e *env) storedConnection(ctx context.Context, name string) (*store.Store, store.Connection, error) {
	st, err := e.openStore(ctx)
	if err != nil {
		return nil, store.Connection{}, err
	}
	cn, err := st.Connection(ctx, name)
	if err != nil {
		st.Close()
		return nil, store.Connection{}, connectionError(name, err)
	}
	return st, cn, nil
}

// sealSecrets encrypts a connection's credentials with the master key, for
// the store; none seal to nil.
func (e *env) sealSecrets(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	box, err := e.secretBox()
	if err != nil {
		return nil, err
	}
	return box.Seal(m)
}

// openConnection launches the plugin of the named connection, opens it
// with its settings and decrypted secrets, and checks that it reaches the
// account it was added with (a failure is one connection-level error, e.g.
// "connection crm: authentication failed: ...", recorded as the
// connection's status). The returned func closes the connection and stops
// the plugin; call it when done.
func (e *env) openConnection(ctx context.Context, name string) (sdk.Conn, sdk.Description, func(), error) {
	st, err := e.openStore(ctx)
	if err != nil {
		return nil, sdk.Description{}, nil, err
	}
	defer st.Close()
	c, err := st.Connection(ctx, name)
	if err != nil {
		return nil, sdk.Description{}, nil, connectionError(name, err)
	}
	lc, err := e.launchConnection(ctx, c)
	if err != nil {
		return nil, sdk.Description{}, nil, err
	}
	if _, err := e.checkAccount(ctx, c, lc); err != nil {
		lc.close()
		if serr := st.SetConnectionStatus(ctx, name, statusOf(err)); serr != nil {
			e.log.Warn("could not record connection status", "connection", name, "error", serr)
		}
		return nil, sdk.Description{}, nil, err
	}
	return lc.conn, lc.desc, lc.close, nil
}

// liveConn is a stored connection opened through its running plugin.
type liveConn struct {
	conn  sdk.Conn
	desc  sdk.Description
	cfg   sdk.Config
	close func()
}

// launchConnection launches c's plugin (its highest installed version) and
// opens c, without checking the account.
func (e *env) launchConnection(ctx context.Context, c store.Connection) (*liveConn, error) {
	cfg, err := e.connectionConfig(c)
	if err != nil {
		return nil, err
	}
	p, err := e.plugins().Launch(ctx, c.Plugin)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	desc, err := p.Describe(ctx)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("connection %s: describe plugin %s: %w", c.Name, c.Plugin, err)
	}
	cfg = desc.WithDefaults(cfg)
	conn, err := e.openPluginConn(ctx, c, p, desc, cfg) // OAuth2 connections get the host's token handling
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("connection %s: open: %s", c.Name, redact(err.Error(), cfg.Secrets))
	}
	conn = describedConn{Conn: conn, desc: desc}
	return &liveConn{conn: conn, desc: desc, cfg: cfg, close: func() {
		_ = conn.Close()
		p.Close()
	}}, nil
}

// describedConn is an open connection that can say what its connector
// advertises (the engine asks before lookups by id).
type describedConn struct {
	sdk.Conn
	desc sdk.Description
}

func (c describedConn) Capable(capability string) bool { return c.desc.HasCapability(capability) }

// Watch passes a watching connector's notices on (sdk.Watcher).
func (c describedConn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	w, ok := c.Conn.(sdk.Watcher)
	if !ok || !c.desc.HasCapability(sdk.CapabilityWatch) {
		return sdk.Errorf(sdk.CategoryPermanent, "watch: plugin %s does not watch for changes", c.desc.Name)
	}
	return w.Watch(ctx, objects, sink)
}

// connectionConfig returns a stored connection's settings and decrypted
// secrets.
func (e *env) connectionConfig(c store.Connection) (sdk.Config, error) {
	cfg := sdk.Config{Settings: c.Settings, Secrets: map[string]string{}}
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	if len(c.Secrets) == 0 {
		return cfg, nil
	}
	box, err := e.secretBox()
	if err != nil {
		return sdk.Config{}, err
	}
	sec, err := box.Open(c.Secrets)
	if err != nil {
		return sdk.Config{}, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	cfg.Secrets = sec
	return cfg, nil
}

// connectionError explains a failed lookup of a connection by name.
func connectionError(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("connection %s does not exist: see `datasync connection list`", name)
	}
	return err
}

// accountChangedError refuses a connection whose account is no longer the
// one it was added with.
type accountChangedError struct {
	Connection string
	Was, Now   string // account labels (fingerprints when unlabelled)
}

func (e *accountChangedError) Error() string {
	which := fmt.Sprintf("it was %q and is now %q", e.Was, e.Now)
	if e.Was == e.Now {
		// Same label, other identity: a file replaced by a copy, say.
		which = fmt.Sprintf("it is still labelled %q, but the connector reports another identity behind it (a replaced or restored file or directory, say)", e.Now)
	}
	return fmt.Sprintf("connection %s now points at another account: %s. "+
		"Syncs using it are refused until you confirm; if this is intended, run `datasync connection test %s --accept-account`",
		e.Connection, which, e.Connection)
}

// accepted is what `connection test --accept-account` says of the change.
func (e *accountChangedError) accepted() string {
	if e.Was == e.Now {
		return fmt.Sprintf("Connection %s: the new identity behind account %s is accepted", e.Connection, e.Now)
	}
	return fmt.Sprintf("Connection %s now points at account %s (was %s): accepted", e.Connection, e.Now, e.Was)
}

// checkAccount runs Check and compares the account with the one c was
// added with. A check failure comes back as the admin's message.
func (e *env) checkAccount(ctx context.Context, c store.Connection, lc *liveConn) (sdk.Account, error) {
	acct, err := lc.conn.Check(ctx)
	if err != nil {
		return sdk.Account{}, fmt.Errorf("connection %s: %w", c.Name, checkError(lc.desc, err, lc.cfg.Secrets))
	}
	if c.AccountFingerprint != "" && acct.Fingerprint != c.AccountFingerprint {
		return acct, &accountChangedError{Connection: c.Name, Was: orElse(c.AccountLabel, c.AccountFingerprint),
			Now: orElse(acct.Label, acct.Fingerprint)}
	}
	return acct, nil
}

// Connection statuses recorded in the store.
const (
	statusOK             = "ok"
	statusAccountChanged = "account_changed"
	statusCrashed        = "plugin_crashed"
)

// statusOf names the failure err as a connection status: the error
// category (auth, unreachable, ...), account_changed or plugin_crashed.
func statusOf(err error) string {
	var ac *accountChangedError
	var crash *pluginhost.CrashError
	switch {
	case err == nil:
		return statusOK
	case errors.As(err, &ac):
		return statusAccountChanged
	case errors.As(err, &crash):
		return statusCrashed
	}
	return sdk.CategoryOf(err).String()
}

func orElse(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

// checkFailure is a failed Check as an admin reads it; it wraps the
// connector's error so its category stays visible to errors.As.
type checkFailure struct {
	msg string
	err error
}

func (e *checkFailure) Error() string { return e.msg }
func (e *checkFailure) Unwrap() error { return e.err }

// checkError turns a failed Check into what an admin reads: the cause and
// which fields to look at. Secret values are blanked out of it.
func checkError(desc sdk.Description, err error, secretValues map[string]string) error {
	var crash *pluginhost.CrashError
	var reauth *oauth.ReauthRequiredError
	if errors.As(err, &crash) || errors.As(err, &reauth) {
		return err // says what happened and, for a dead OAuth2 grant, the command that fixes it
	}
	e := sdk.AsError(err)
	msg := redact(e.Message, secretValues)
	var out string
	switch e.Category {
	case sdk.CategoryAuth:
		var names []string
		for _, f := range desc.Auth.Fields {
			names = append(names, f.Name)
		}
		what := "the credentials"
		if len(names) > 0 {
			what = joinAnd(names)
		}
		out = fmt.Sprintf("authentication failed: check %s (the app said: %s)", what, msg)
	case sdk.CategoryUnreachable:
		out = "unreachable: " + msg
	case sdk.CategoryForbidden:
		out = fmt.Sprintf("access denied: %s (see the account requirements in `datasync plugin info %s`)", msg, desc.Name)
	case sdk.CategoryValidation:
		if e.Field != "" {
			out = fmt.Sprintf("invalid %s: %s", e.Field, msg)
		} else {
			out = "invalid settings: " + msg
		}
	default:
		out = fmt.Sprintf("check failed (%s): %s", e.Category, msg)
	}
	return &checkFailure{msg: out, err: e}
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// redact replaces every non-empty secret value in s with ****.
func redact(s string, secretValues map[string]string) string {
	for _, v := range secretValues {
		if v != "" {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	return s
}

// printJSON writes v as indented JSON to stdout.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table is an aligned text table on stdout.
type table struct {
	tw *tabwriter.Writer
}

// newTable starts a table with the given column headers.
func (e *env) newTable(headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)}
	t.row(headers...)
	return t
}

// row adds a row; tabs and newlines in cells are flattened to spaces.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }
