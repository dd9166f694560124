package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// SaveFunc persists a connection's new token (sealed, in its secrets) before anyone uses it.
type SaveFunc func(ctx context.Context, tok *oauth2.Token) error

// RefresherOptions tune a Refresher; zero values take the defaults.
type RefresherOptions struct {
	HTTPClient *http.Client     // token requests; nil: http.DefaultClient
	Leeway     time.Duration    // refresh when less than this is left; default 60 s
	Attempts   int              // tries per refresh on transient failures; default 4
	Backoff    time.Duration    // first wait between tries, doubling; default 500 ms
	Timeout    time.Duration    // bound on one refresh, all tries included; default 2 min
	Now        func() time.Time // default time.Now

	// For several hosts sharing one store (each with its own Refresher for the connection):
	// Lock, if set, is held around each refresh (a lease in the store), and Load, if set, reads
	// the stored token under it first. A token another host stored since is adopted instead of
	// refreshed: refreshing with the refresh token it rotated out would be a replay, which
	// providers with reuse detection answer by revoking the whole grant.
	Lock func(ctx context.Context) (unlock func(), err error)
	Load func(ctx context.Context) (*oauth2.Token, error)
}

// Refresher holds one connection's token and refreshes it: before it expires, and after a plugin
// reported an auth error with it. One refresh runs at a time: concurrent callers wait for the
// refresh in flight and share its result. A new token (with its rotated refresh token) is saved
// through SaveFunc before it is handed out; a dead refresh token makes every later call fail
// with the same *ReauthRequiredError, without asking the provider again, until Replace.
type Refresher struct {
	connection string
	conf       *Config
	save       SaveFunc
	opts       RefresherOptions

	mu       sync.Mutex
	tok      *oauth2.Token
	unsaved  bool  // tok came from a refresh whose save failed: save before handing it out
	dead     error // *ReauthRequiredError once the refresh token is known dead
	inflight *refreshCall
}

// refreshCall is the refresh in flight; done closes when tok/err are set.
type refreshCall struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// NewRefresher returns the refresher of connection, starting from its stored token.
func NewRefresher(connection string, conf *Config, tok *oauth2.Token, save SaveFunc, opts RefresherOptions) *Refresher {
	if opts.Leeway <= 0 {
		opts.Leeway = 60 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Refresher{connection: connection, conf: conf, save: save, opts: opts, tok: tok}
}

// Token returns a token to call the plugin with, refreshing it first when less than the leeway
// is left. When that refresh fails transiently but the current token has not expired yet, it
// returns the current token: the next call tries again.
func (r *Refresher) Token(ctx context.Context) (*oauth2.Token, error) {
	tok, err := r.refresh(ctx, func(cur *oauth2.Token) bool {
		return !cur.Expiry.IsZero() && !r.opts.Now().Add(r.opts.Leeway).Before(cur.Expiry)
	})
	if err != nil && IsTransient(err) {
		r.mu.Lock()
		cur, unsaved := r.tok, r.unsaved
		r.mu.Unlock()
		if cur != nil && !unsaved && r.opts.Now().Before(cur.Expiry) {
			return cur, nil
		}
	}
	return tok, err
}

// RefreshAfterAuthError is for a plugin call that failed with an auth error using the access
// token rejected: it refreshes, unless the token was already replaced since (another caller's
// refresh), and returns the token to retry with. The caller retries once; a second auth error
// with the new token is the connection's auth error.
func (r *Refresher) RefreshAfterAuthError(ctx context.Context, rejected string) (*oauth2.Token, error) {
	return r.refresh(ctx, func(cur *oauth2.Token) bool { return cur.AccessToken == rejected })
}

// Replace installs a token obtained by running the flow again (`datasync connection reauth`),
// clearing a dead refresh token. The caller has saved tok already.
func (r *Refresher) Replace(tok *oauth2.Token) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tok, r.unsaved, r.dead = tok, false, nil
}

// refresh refreshes when need says the current token needs it, or joins the refresh in flight.
func (r *Refresher) refresh(ctx context.Context, need func(*oauth2.Token) bool) (*oauth2.Token, error) {
	r.mu.Lock()
	if r.dead != nil {
		err := r.dead
		r.mu.Unlock()
		return nil, err
	}
	if r.tok == nil {
		r.mu.Unlock()
		return nil, &ReauthRequiredError{Connection: r.connection, Reason: "it holds no OAuth2 token"}
	}
	c := r.inflight
	if c == nil {
		if !r.unsaved && !need(r.tok) {
			tok := r.tok
			r.mu.Unlock()
			return tok, nil
		}
		c = &refreshCall{done: make(chan struct{})}
		r.inflight = c
		// The refresh outlives a caller that gives up: the others wait for it, and a rotated
		// refresh token must be saved whoever asked.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		go func() {
			defer cancel()
			r.run(rctx, c, need)
		}()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.tok, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("refresh OAuth2 token of connection %s: %w", r.connection, ctx.Err())
	}
}

// run performs one refresh and publishes its outcome to the callers waiting on c.
func (r *Refresher) run(ctx context.Context, c *refreshCall, need func(*oauth2.Token) bool) {
	r.mu.Lock()
	cur, unsaved := r.tok, r.unsaved
	r.mu.Unlock()

	tok, unsaved, err := r.refreshAndSave(ctx, cur, unsaved, need)

	r.mu.Lock()
	switch {
	case err == nil || unsaved:
		r.tok, r.unsaved = tok, unsaved
	case errors.As(err, new(*ReauthRequiredError)):
		r.dead = err
	}
	r.inflight = nil
	r.mu.Unlock()
	if err != nil {
		tok = nil
	}
	c.tok, c.err = tok, err
	close(c.done)
}

// refreshAndSave gets the next token — the unsaved one we hold, another host's stored one, or a
// refreshed one — and saves it, all under the optional cross-host lock. unsaved reports a token
// the caller must keep (the provider may have rotated the refresh token) but not hand out.
func (r *Refresher) refreshAndSave(ctx context.Context, cur *oauth2.Token, unsaved bool,
	need func(*oauth2.Token) bool) (*oauth2.Token, bool, error) {
	if r.opts.Lock != nil {
		unlock, err := r.opts.Lock(ctx)
		if err != nil {
			return nil, false, &RefreshError{Connection: r.connection, Transient: true,
				Err: fmt.Errorf("lock the token for refresh: %w", err)}
		}
		defer unlock()
	}
	tok := cur
	if !unsaved {
		if r.opts.Load != nil {
			stored, err := r.opts.Load(ctx)
			if err != nil {
				return nil, false, &RefreshError{Connection: r.connection, Transient: true,
					Err: fmt.Errorf("load the stored token: %w", err)}
			}
			if stored != nil && (stored.AccessToken != cur.AccessToken || stored.RefreshToken != cur.RefreshToken) {
				if !need(stored) {
					return stored, false, nil // another host refreshed: already stored
				}
				cur = stored // refresh from the newest refresh token
			}
		}
		var err error
		if tok, err = r.request(ctx, cur); err != nil {
			return nil, false, err
		}
	}
	if err := r.save(ctx, tok); err != nil {
		return tok, true, fmt.Errorf("save refreshed OAuth2 token of connection %s: %w", r.connection, err)
	}
	return tok, false, nil
}

// request sends the refresh_token grant, retrying transient failures with backoff.
func (r *Refresher) request(ctx context.Context, cur *oauth2.Token) (*oauth2.Token, error) {
	if cur.RefreshToken == "" {
		return nil, &ReauthRequiredError{Connection: r.connection, Reason: "the token expired and the provider gave no refresh token"}
	}
	conf := r.conf.oauth2Config("")
	hctx := withClient(ctx, r.opts.HTTPClient)
	wait := r.opts.Backoff
	for attempt := 1; ; attempt++ {
		// An already expired token makes the source refresh at once.
		src := conf.TokenSource(hctx, &oauth2.Token{RefreshToken: cur.RefreshToken, Expiry: time.Unix(1, 0)})
		tok, err := src.Token()
		if err == nil {
			if tok.AccessToken == "" {
				err = errors.New("the token endpoint answered no access token")
			} else {
				return keepScope(tok, cur), nil
			}
		}
		switch classify(err) {
		case outcomeDead:
			return nil, &ReauthRequiredError{Connection: r.connection, Reason: reason(err), Err: err}
		case outcomePermanent:
			return nil, &RefreshError{Connection: r.connection, Err: err}
		}
		if attempt >= r.opts.Attempts || ctx.Err() != nil {
			return nil, &RefreshError{Connection: r.connection, Transient: true,
				Err: fmt.Errorf("%d attempts: %w", attempt, err)}
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return nil, &RefreshError{Connection: r.connection, Transient: true, Err: ctx.Err()}
		}
	}
}

// keepScope carries the granted scopes over when a refresh answer omits them (RFC 6749 §5.1:
// omitted means unchanged).
func keepScope(tok, prev *oauth2.Token) *oauth2.Token {
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		return tok
	}
	if s, ok := prev.Extra("scope").(string); ok && s != "" {
		return tok.WithExtra(map[string]any{"scope": s})
	}
	return tok
}
