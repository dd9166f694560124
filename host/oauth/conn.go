package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

// Conn is the sdk.Conn of a connection that authenticates with OAuth2. Every call reaches the
// plugin with the current access token (refreshed ahead of expiry by the Refresher), and a call
// the plugin refuses with an auth error is retried once after one refresh — only when retrying
// cannot repeat an effect: a Read that delivered nothing yet, a Write whose every op failed
// with auth (or that returned an error: nothing of it was applied). A second auth error, or a
// refresh that needs the admin, is returned: the engine pauses the connection on it.
type Conn struct {
	connector sdk.Connector
	base      sdk.Config
	conf      *Config
	ref       *Refresher

	mu     sync.Mutex
	cur    *openConn
	closed bool
}

// openConn is the plugin connection opened with one access token; refs counts calls in flight,
// so a connection replaced after a refresh is closed only once they are done.
type openConn struct {
	conn    sdk.Conn
	token   string
	refs    int
	retired bool
}

// NewConn wraps connector for one connection: base is its settings and secrets as stored (the
// stored token, if there, is stripped before the plugin sees them); conf and r are its resolved
// OAuth2 client and refresher. Opening is lazy, at the first call.
func NewConn(connector sdk.Connector, base sdk.Config, conf *Config, r *Refresher) *Conn {
	return &Conn{connector: connector, base: base, conf: conf, ref: r}
}

// acquire returns the plugin connection for tok, opening it when tok is new.
func (c *Conn) acquire(ctx context.Context, tok *oauth2.Token) (*openConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("connection %s is closed", c.ref.connection)
	}
	if c.cur != nil && c.cur.token == tok.AccessToken {
		c.cur.refs++
		return c.cur, nil
	}
	secrets := c.conf.PluginSecrets(c.base.Secrets, tok)
	conn, err := c.connector.Open(ctx, sdk.Config{Settings: c.base.Settings, Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("open connection %s: %s", c.ref.connection, redactAll(err.Error(), secrets))
	}
	if old := c.cur; old != nil {
		old.retired = true
		if old.refs == 0 {
			old.conn.Close()
		}
	}
	c.cur = &openConn{conn: conn, token: tok.AccessToken, refs: 1}
	return c.cur, nil
}

func (c *Conn) release(o *openConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o.refs--
	if o.refs == 0 && o.retired {
		o.conn.Close()
	}
}

// call runs fn with the current token and, when it fails with auth and retry() allows, once more
// after refreshing.
func (c *Conn) call(ctx context.Context, fn func(sdk.Conn) error, retry func() bool) error {
	tok, err := c.ref.Token(ctx)
	if err != nil {
		return err
	}
	o, err := c.acquire(ctx, tok)
	if err != nil {
		return err
	}
	err = fn(o.conn)
	c.release(o)
	if sdk.CategoryOf(err) != sdk.CategoryAuth || !retry() {
		return err
	}
	tok, rerr := c.ref.RefreshAfterAuthError(ctx, o.token)
	if rerr != nil {
		return rerr
	}
	o, err = c.acquire(ctx, tok)
	if err != nil {
		return err
	}
	defer c.release(o)
	if err = fn(o.conn); sdk.CategoryOf(err) == sdk.CategoryAuth {
		return fmt.Errorf("%w (refused again with a freshly refreshed OAuth2 token: if it persists, run "+
			"`datasync connection reauth %s`)", err, c.ref.connection)
	}
	return err
}

func always() bool { return true }

// Check checks the account with the current token.
func (c *Conn) Check(ctx context.Context) (sdk.Account, error) {
	var acct sdk.Account
	err := c.call(ctx, func(conn sdk.Conn) (err error) {
		acct, err = conn.Check(ctx)
		return err
	}, always)
	return acct, err
}

// Schema returns the plugin's schema.
func (c *Conn) Schema(ctx context.Context) (sdk.Schema, error) {
	var s sdk.Schema
	err := c.call(ctx, func(conn sdk.Conn) (err error) {
		s, err = conn.Schema(ctx)
		return err
	}, always)
	return s, err
}

// Read reads; an auth error is retried only if nothing reached sink yet.
func (c *Conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	ws := &watchedSink{RecordSink: sink}
	return c.call(ctx, func(conn sdk.Conn) error { return conn.Read(ctx, req, ws) }, func() bool { return !ws.used })
}

// watchedSink notes whether a Read delivered anything.
type watchedSink struct {
	sdk.RecordSink
	used bool
}

func (s *watchedSink) Records(recs []sdk.Record) error {
	s.used = true
	return s.RecordSink.Records(recs)
}

func (s *watchedSink) Checkpoint(cursor string) error {
	s.used = true
	return s.RecordSink.Checkpoint(cursor)
}

// errOpsRefused marks a Write whose every op failed with auth: nothing was applied, so it may
// be retried whole.
var errOpsRefused = &sdk.Error{Category: sdk.CategoryAuth, Message: "every op of the batch was refused for auth"}

// Write writes; a batch refused as a whole for auth, or whose ops all failed with auth, is
// retried once after a refresh.
func (c *Conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	var res []sdk.WriteResult
	err := c.call(ctx, func(conn sdk.Conn) (err error) {
		res, err = conn.Write(ctx, req)
		if err == nil && allAuth(res) {
			return errOpsRefused
		}
		return err
	}, always)
	if errors.Is(err, errOpsRefused) {
		// Refused again after the refresh: the per-op results, as the plugin sent them.
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func allAuth(res []sdk.WriteResult) bool {
	for _, r := range res {
		if r.Err == nil || r.Err.Category != sdk.CategoryAuth {
			return false
		}
	}
	return len(res) > 0
}

// Lookup looks records up.
func (c *Conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	var recs []sdk.Record
	err := c.call(ctx, func(conn sdk.Conn) (err error) {
		recs, err = conn.Lookup(ctx, req)
		return err
	}, always)
	return recs, err
}

// Watch watches with the current token; an auth error before the plugin listens is retried
// once after a refresh. A watch outlives its token: when the app refuses it, the watch ends
// with that error and the daemon watches again, with a fresh one.
func (c *Conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	ws := &readySink{WatchSink: sink}
	return c.call(ctx, func(conn sdk.Conn) error {
		w, ok := conn.(sdk.Watcher)
		if !ok {
			return sdk.Errorf(sdk.CategoryPermanent, "watch: the connection cannot watch")
		}
		return w.Watch(ctx, objects, ws)
	}, func() bool { return !ws.ready })
}

// readySink notes whether a Watch said it listens.
type readySink struct {
	sdk.WatchSink
	ready bool
}

func (s *readySink) Ready() error {
	s.ready = true
	return s.WatchSink.Ready()
}

// Close closes the plugin connection (once calls in flight are done).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.cur == nil {
		return nil
	}
	c.cur.retired = true
	if c.cur.refs == 0 {
		return c.cur.conn.Close()
	}
	return nil
}

func redactAll(s string, secrets map[string]string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	return s
}
