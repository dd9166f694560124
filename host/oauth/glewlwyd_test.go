package oauth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

// These tests run the flows against a real Glewlwyd: the test plays the admin's browser (login
// and consent over Glewlwyd's HTTP API, then the redirect to the loopback listener).

// glewlwydConfig resolves a connection config the way the host will: the connector declares a
// provider elsewhere, the connection's settings point it at Glewlwyd and supply the client.
func glewlwydConfig(t *testing.T, env testsvc.GlewlwydEnv, client testsvc.GlewlwydClient, extra map[string]string) *Config {
	t.Helper()
	spec := sdk.OAuth2Spec{AuthURL: "https://provider.example/oauth/authorize", TokenURL: "https://provider.example/oauth/token",
		Scopes: []string{env.Scope}, PKCE: true, ClientFromSettings: true}
	settings := map[string]string{SettingClientID: client.ID, SettingAuthURL: env.AuthURL, SettingTokenURL: env.TokenURL,
		SettingDeviceAuthURL: env.DeviceURL}
	for k, v := range extra {
		settings[k] = v
	}
	cfg, err := Resolve(spec, sdk.Config{Settings: settings, Secrets: map[string]string{SettingClientSecret: client.Secret}})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return cfg
}

// loopbackClient opens the loopback listener first, so the client can be registered with its
// exact redirect URI (Glewlwyd compares ports too).
func loopbackClient(t *testing.T, env testsvc.GlewlwydEnv) (net.Listener, testsvc.GlewlwydClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, testsvc.CreateClient(t, env, "http://"+ln.Addr().String()+DefaultRedirectPath)
}

// browserGet follows the provider's redirect to the loopback listener, as the browser would.
func browserGet(t *testing.T, u string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type waited struct {
	tok *oauth2.Token
	err error
}

func waitAsync(ctx context.Context, a *Authorization) chan waited {
	ch := make(chan waited, 1)
	go func() {
		tok, err := a.Wait(ctx)
		ch <- waited{tok, err}
	}()
	return ch
}

func recv(t *testing.T, ch chan waited) (*oauth2.Token, error) {
	t.Helper()
	select {
	case w := <-ch:
		return w.tok, w.err
	case <-time.After(60 * time.Second):
		t.Fatal("the flow did not finish")
	}
	return nil, nil
}

// authorizeLoopback runs the whole code flow through the loopback listener and returns the token.
func authorizeLoopback(t *testing.T, env testsvc.GlewlwydEnv) (*Config, *oauth2.Token) {
	t.Helper()
	ln, client := loopbackClient(t, env)
	cfg := glewlwydConfig(t, env, client, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := (&Flow{Config: cfg, Listener: ln}).Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer a.Close()
	ch := waitAsync(ctx, a)
	loc := testsvc.Authorize(t, env, a.URL)
	if status, body := browserGet(t, loc.String()); status != http.StatusOK || !strings.Contains(body, "Authorized") {
		t.Fatalf("redirect to the listener: HTTP %d %s", status, body)
	}
	tok, err := recv(t, ch)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return cfg, tok
}

// countingTransport counts the requests that reach the provider.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// saves records what the Refresher persisted.
type saves struct {
	mu   sync.Mutex
	toks []*oauth2.Token
}

func (s *saves) save(_ context.Context, tok *oauth2.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toks = append(s.toks, tok)
	return nil
}

func (s *saves) list() []*oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*oauth2.Token(nil), s.toks...)
}

// rawRefresh sends a refresh_token grant by hand, to see what the provider thinks of a token.
func rawRefresh(t *testing.T, cfg *Config, refreshToken string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cfg.oauth2Config("").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
	return err
}

func TestGlewlwyd(t *testing.T) {
	// A Glewlwyd of our own, not the one `make test` shares, and the subtests one after another:
	// Glewlwyd on SQLite answers concurrent writes (other packages' tests included) with "Error
	// executing sql query" — HTTP 500, server_error, or a refused refresh.
	t.Setenv(testsvc.SharedDirEnv, "")
	env := testsvc.Glewlwyd(t)

	t.Run("CodeFlowRefreshRotation", func(t *testing.T) {
		ln, client := loopbackClient(t, env)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg, Listener: ln}).Start(ctx)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		defer a.Close()
		u, err := url.Parse(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		want := map[string]string{"response_type": "code", "client_id": client.ID, "redirect_uri": client.RedirectURIs[0],
			"scope": env.Scope, "state": a.state, "code_challenge_method": "S256",
			"code_challenge": oauth2.S256ChallengeFromVerifier(a.verifier)}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("authorization URL %s = %q, want %q", k, q.Get(k), v)
			}
		}
		if u.Scheme+"://"+u.Host+u.Path != env.AuthURL || len(a.state) < 40 || a.RedirectURI != client.RedirectURIs[0] {
			t.Errorf("authorization URL %s, state %q, redirect %s", a.URL, a.state, a.RedirectURI)
		}

		ch := waitAsync(ctx, a)
		loc := testsvc.Authorize(t, env, a.URL)
		if status, body := browserGet(t, loc.String()); status != http.StatusOK || !strings.Contains(body, "Authorized") {
			t.Fatalf("redirect to the listener: HTTP %d %s", status, body)
		}
		tok, err := recv(t, ch)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("token lacks access or refresh token: %v", NewToken(tok))
		}
		if left := time.Until(tok.Expiry); left < 59*time.Minute || left > 61*time.Minute {
			t.Errorf("token expires in %s, want about an hour", left)
		}
		if got := NewToken(tok).Scopes; len(got) != 1 || got[0] != env.Scope {
			t.Errorf("granted scopes %q, want [%s]", got, env.Scope)
		}
		back, err := FromSecrets(ToSecrets(tok))
		if err != nil || back.AccessToken != tok.AccessToken || back.RefreshToken != tok.RefreshToken ||
			!back.Expiry.Equal(tok.Expiry) || back.Extra("scope") != env.Scope {
			t.Errorf("secrets round trip: %v, %v", NewToken(back), err)
		}

		// Refresh after an auth error: one request, a rotated refresh token, saved before use.
		ct := &countingTransport{}
		sv := &saves{}
		r := NewRefresher("crm", cfg, tok, sv.save, RefresherOptions{HTTPClient: &http.Client{Transport: ct}})
		tok2, err := r.RefreshAfterAuthError(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh did not rotate: old %v new %v", NewToken(tok), NewToken(tok2))
		}
		if got := sv.list(); len(got) != 1 || got[0].RefreshToken != tok2.RefreshToken {
			t.Fatalf("saved %d tokens, want the rotated one", len(got))
		}
		if n := ct.n.Load(); n != 1 {
			t.Errorf("%d token requests, want 1", n)
		}
		// A late caller that saw the old access token rejected gets the new token, no request.
		if again, err := r.RefreshAfterAuthError(ctx, tok.AccessToken); err != nil || again.AccessToken != tok2.AccessToken {
			t.Errorf("late caller: %v, %v", NewToken(again), err)
		}
		if cur, err := r.Token(ctx); err != nil || cur.AccessToken != tok2.AccessToken || ct.n.Load() != 1 {
			t.Errorf("Token: %v, %v after %d requests", NewToken(cur), err, ct.n.Load())
		}

		// The rotated-out refresh token is dead; replaying it also revokes its successor
		// (Glewlwyd's reuse detection), so the next refresh needs the admin.
		if err := rawRefresh(t, cfg, tok.RefreshToken); err == nil {
			t.Fatal("the old refresh token still works after rotation")
		}
		_, err = r.RefreshAfterAuthError(ctx, tok2.AccessToken)
		var re *ReauthRequiredError
		if !errors.As(err, &re) || re.Connection != "crm" {
			t.Fatalf("refresh after replay: %v, want *ReauthRequiredError", err)
		}
		if !strings.Contains(err.Error(), "datasync connection reauth crm") || sdk.CategoryOf(err) != sdk.CategoryAuth {
			t.Errorf("error %q (category %s) should name the reauth command and be an auth error", err, sdk.CategoryOf(err))
		}
		if n := ct.n.Load(); n != 2 {
			t.Errorf("%d token requests, want 2 (a dead token is not retried)", n)
		}
		if len(sv.list()) != 1 {
			t.Errorf("a failed refresh saved a token")
		}
		// From now on the connection stays in need of reauth without asking the provider.
		if _, err := r.Token(ctx); !errors.As(err, &re) {
			t.Errorf("Token after a dead refresh: %v", err)
		}
		if _, err := r.RefreshAfterAuthError(ctx, tok2.AccessToken); !errors.As(err, &re) || ct.n.Load() != 2 {
			t.Errorf("second refresh after a dead one: %v, %d requests", err, ct.n.Load())
		}
	})

	t.Run("RunLoopbackPrintsURL", func(t *testing.T) {
		ln, client := loopbackClient(t, env)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		pr, pw := io.Pipe()
		ch := make(chan waited, 1)
		go func() {
			tok, err := (&Flow{Config: cfg, Listener: ln}).Run(ctx, pw, strings.NewReader(""))
			pw.Close()
			ch <- waited{tok, err}
		}()
		authURL := printedURL(t, pr, env.AuthURL)
		go io.Copy(io.Discard, pr)
		loc := testsvc.Authorize(t, env, authURL)
		if status, body := browserGet(t, loc.String()); status != http.StatusOK {
			t.Fatalf("redirect to the listener: HTTP %d %s", status, body)
		}
		tok, err := recv(t, ch)
		if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("Run: %v, %v", NewToken(tok), err)
		}
	})

	t.Run("ConcurrentRefreshOnce", func(t *testing.T) {
		cfg, tok := authorizeLoopback(t, env)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ct := &countingTransport{}
		sv := &saves{}
		near := *tok
		near.Expiry = time.Now().Add(20 * time.Second) // inside the 60 s leeway
		r := NewRefresher("crm", cfg, &near, sv.save, RefresherOptions{HTTPClient: &http.Client{Transport: ct}})

		got := concurrently(t, 16, func() (*oauth2.Token, error) { return r.Token(ctx) })
		if n := ct.n.Load(); n != 1 {
			t.Fatalf("16 callers near expiry made %d token requests, want 1", n)
		}
		first := got[0]
		for _, g := range got {
			if g.AccessToken != first.AccessToken || g.AccessToken == tok.AccessToken {
				t.Fatalf("callers got different or stale tokens")
			}
		}
		// 16 plugin calls rejecting that token at once: one refresh again.
		got = concurrently(t, 16, func() (*oauth2.Token, error) { return r.RefreshAfterAuthError(ctx, first.AccessToken) })
		if n := ct.n.Load(); n != 2 {
			t.Fatalf("16 auth errors made %d more token requests, want 1", n-1)
		}
		for _, g := range got {
			if g.AccessToken != got[0].AccessToken || g.AccessToken == first.AccessToken {
				t.Fatalf("callers got different or stale tokens after the auth errors")
			}
		}
		s := sv.list()
		if len(s) != 2 || s[0].RefreshToken != first.RefreshToken || s[1].RefreshToken != got[0].RefreshToken ||
			s[0].RefreshToken == s[1].RefreshToken {
			t.Fatalf("saved %d tokens, want each rotation once", len(s))
		}
		if err := rawRefresh(t, cfg, got[0].RefreshToken); err != nil {
			t.Errorf("the last saved refresh token does not work: %v", err)
		}
	})

	t.Run("RevokedRefreshTokenNeedsReauth", func(t *testing.T) {
		cfg, tok := authorizeLoopback(t, env)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		revoke(t, ctx, env, cfg, tok.RefreshToken, "refresh_token")
		ct := &countingTransport{}
		sv := &saves{}
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		r := NewRefresher("mail", cfg, &expired, sv.save, RefresherOptions{HTTPClient: &http.Client{Transport: ct}})
		_, err := r.Token(ctx)
		var re *ReauthRequiredError
		if !errors.As(err, &re) || re.Connection != "mail" || !strings.Contains(err.Error(), "`datasync connection reauth mail`") {
			t.Fatalf("refresh with a revoked token: %v, want *ReauthRequiredError naming the reauth command", err)
		}
		if ct.n.Load() != 1 || len(sv.list()) != 0 {
			t.Errorf("%d requests, %d saves: want 1 and 0", ct.n.Load(), len(sv.list()))
		}
		// After `connection reauth`, the host installs the new token and syncs resume.
		_, fresh := authorizeLoopback(t, env)
		r.Replace(fresh)
		if cur, err := r.Token(ctx); err != nil || cur.AccessToken != fresh.AccessToken {
			t.Errorf("Token after Replace: %v", err)
		}
	})

	t.Run("NoBrowserPasteURL", func(t *testing.T) {
		client := testsvc.CreateClient(t, env, noBrowserRedirectURI)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		outR, outW := io.Pipe()
		inR, inW := io.Pipe()
		ch := make(chan waited, 1)
		go func() {
			tok, err := (&Flow{Config: cfg, NoBrowser: true}).Run(ctx, outW, inR)
			outW.Close()
			ch <- waited{tok, err}
		}()
		authURL := printedURL(t, outR, env.AuthURL)
		go io.Copy(io.Discard, outR)
		loc := testsvc.Authorize(t, env, authURL)
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != noBrowserRedirectURI {
			t.Fatalf("redirected to %s, want %s", loc, noBrowserRedirectURI)
		}
		fmt.Fprintf(inW, "  %s  \n", loc) // as pasted from an address bar, with stray blanks
		tok, err := recv(t, ch)
		if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("Run --no-browser: %v, %v", NewToken(tok), err)
		}
	})

	t.Run("NoBrowserPasteCode", func(t *testing.T) {
		client := testsvc.CreateClient(t, env, "http://127.0.0.1/pasted")
		cfg := glewlwydConfig(t, env, client, map[string]string{SettingRedirectURI: "http://127.0.0.1/pasted"})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg, NoBrowser: true}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a.RedirectURI != "http://127.0.0.1/pasted" {
			t.Fatalf("redirect URI %s, want the connection's redirect_uri", a.RedirectURI)
		}
		loc := testsvc.Authorize(t, env, a.URL)
		tok, err := a.Complete(ctx, loc.Query().Get("code")+"\n")
		if err != nil || tok.AccessToken == "" {
			t.Fatalf("Complete with the bare code: %v", err)
		}
	})

	t.Run("PKCEBindsTheCode", func(t *testing.T) {
		client := testsvc.CreateClient(t, env, noBrowserRedirectURI)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		f := &Flow{Config: cfg, NoBrowser: true}
		a1, err := f.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := f.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a1.state == a2.state || a1.verifier == a2.verifier {
			t.Fatal("two authorizations share state or verifier")
		}
		loc := testsvc.Authorize(t, env, a1.URL)
		// a1's code with a2's verifier: the provider refuses it.
		if _, err := a2.Complete(ctx, loc.Query().Get("code")); err == nil {
			t.Fatal("a code was exchanged with another request's PKCE verifier")
		}
	})

	t.Run("StateMismatchRefused", func(t *testing.T) {
		client := testsvc.CreateClient(t, env, noBrowserRedirectURI)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg, NoBrowser: true}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		loc := testsvc.Authorize(t, env, a.URL)
		q := loc.Query()
		q.Set("state", "forged")
		loc.RawQuery = q.Encode()
		if _, err := a.Complete(ctx, loc.String()); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("pasted URL with a forged state: %v, want ErrStateMismatch", err)
		}
		q.Del("state")
		if _, err := a.Complete(ctx, "?"+q.Encode()); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("pasted query without state: %v, want ErrStateMismatch", err)
		}

		// Through the loopback listener: the first redirect decides, and the browser is told.
		ln, lclient := loopbackClient(t, env)
		la, err := (&Flow{Config: glewlwydConfig(t, env, lclient, nil), Listener: ln}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ch := waitAsync(ctx, la)
		lloc := testsvc.Authorize(t, env, la.URL)
		lq := lloc.Query()
		lq.Set("state", "forged")
		lloc.RawQuery = lq.Encode()
		if status, body := browserGet(t, lloc.String()); status != http.StatusBadRequest || !strings.Contains(body, "state") {
			t.Errorf("listener answered a forged state with HTTP %d %s", status, body)
		}
		if _, err := recv(t, ch); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("Wait after a forged state: %v, want ErrStateMismatch", err)
		}
	})

	t.Run("ErrorRedirectNamed", func(t *testing.T) {
		ln, client := loopbackClient(t, env)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg, Listener: ln}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ch := waitAsync(ctx, a)
		// What a provider sends when the user clicks "deny" (RFC 6749 §4.1.2.1).
		q := url.Values{"error": {"access_denied"}, "error_description": {"The user denied the request"}, "state": {a.state}}
		status, body := browserGet(t, a.RedirectURI+"?"+q.Encode())
		if status != http.StatusBadRequest || !strings.Contains(body, "access_denied") {
			t.Errorf("listener answered the error redirect with HTTP %d %s", status, body)
		}
		_, err = recv(t, ch)
		var ae *AuthorizationError
		if !errors.As(err, &ae) || ae.Code != "access_denied" || !strings.Contains(err.Error(), "The user denied the request") {
			t.Errorf("Wait after an error redirect: %v", err)
		}
	})

	t.Run("ConnRefreshesOnAuthError", func(t *testing.T) { testConn(t, env) })

	t.Run("TwoHostsShareOneGrant", func(t *testing.T) {
		// Two daemons sharing a store, each with its own Refresher for the connection. With
		// the store's lock and load hooks the second adopts what the first stored.
		cfg, tok := authorizeLoopback(t, env)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		st := &sharedStore{tok: tok}
		ct := &countingTransport{}
		opts := RefresherOptions{HTTPClient: &http.Client{Transport: ct}, Lock: st.lock, Load: st.load}
		a := NewRefresher("crm", cfg, tok, st.save, opts)
		b := NewRefresher("crm", cfg, tok, st.save, opts)
		ta, err := a.RefreshAfterAuthError(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := b.RefreshAfterAuthError(ctx, tok.AccessToken)
		if err != nil || tb.RefreshToken != ta.RefreshToken || ct.n.Load() != 1 {
			t.Fatalf("second host: %v, same token %v, %d requests; want the first host's token, 1 request",
				err, err == nil && tb.RefreshToken == ta.RefreshToken, ct.n.Load())
		}
		// Both hosts now refresh from the newest refresh token, one after the other.
		if _, err := b.RefreshAfterAuthError(ctx, ta.AccessToken); err != nil {
			t.Fatalf("host b refresh: %v", err)
		}
		if _, err := a.RefreshAfterAuthError(ctx, ta.AccessToken); err != nil || ct.n.Load() != 2 {
			t.Fatalf("host a after b refreshed: %v, %d requests; want b's token adopted", err, ct.n.Load())
		}

		// Without the hooks the second host replays the rotated-out refresh token, and Glewlwyd
		// revokes the grant: this is what the hooks prevent.
		cfg2, tok2 := authorizeLoopback(t, env)
		a2 := NewRefresher("crm", cfg2, tok2, (&saves{}).save, RefresherOptions{})
		b2 := NewRefresher("crm", cfg2, tok2, (&saves{}).save, RefresherOptions{})
		if _, err := a2.RefreshAfterAuthError(ctx, tok2.AccessToken); err != nil {
			t.Fatal(err)
		}
		var re *ReauthRequiredError
		if _, err := b2.RefreshAfterAuthError(ctx, tok2.AccessToken); !errors.As(err, &re) {
			t.Errorf("a replay without the hooks: %v, want *ReauthRequiredError", err)
		}
	})

	t.Run("DeviceGrant", func(t *testing.T) {
		client := testsvc.CreateClient(t, env)
		cfg := glewlwydConfig(t, env, client, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		outR, outW := io.Pipe()
		ch := make(chan waited, 1)
		go func() {
			tok, err := (&Flow{Config: cfg}).RunDevice(ctx, outW)
			outW.Close()
			ch <- waited{tok, err}
		}()
		var verifyURI, userCode string
		sc := bufio.NewScanner(outR)
		for sc.Scan() && userCode == "" {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, env.URL):
				verifyURI = line
			case verifyURI != "" && line != "" && !strings.Contains(line, " "):
				userCode = line
			}
		}
		go io.Copy(io.Discard, outR)
		if verifyURI == "" || userCode == "" {
			t.Fatalf("RunDevice printed no verification URI / user code")
		}
		// Not approved yet: the poll goes on (authorization_pending) rather than failing.
		select {
		case w := <-ch:
			t.Fatalf("device flow ended before approval: %v", w.err)
		case <-time.After(2500 * time.Millisecond):
		}
		approveDevice(t, ctx, env, client.ID, verifyURI, userCode)
		tok, err := recv(t, ch)
		if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("device grant: %v, %v", NewToken(tok), err)
		}
		// The device grant's tokens refresh like any other.
		r := NewRefresher("dev", cfg, tok, (&saves{}).save, RefresherOptions{})
		if tok2, err := r.RefreshAfterAuthError(ctx, tok.AccessToken); err != nil || tok2.RefreshToken == tok.RefreshToken {
			t.Errorf("refresh of a device grant token: %v", err)
		}
	})
}

// sharedStore is the token row two hosts share, with its lease.
type sharedStore struct {
	lease sync.Mutex
	mu    sync.Mutex
	tok   *oauth2.Token
}

func (s *sharedStore) lock(context.Context) (func(), error) {
	s.lease.Lock()
	return s.lease.Unlock, nil
}

func (s *sharedStore) load(context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, nil
}

func (s *sharedStore) save(_ context.Context, tok *oauth2.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
	return nil
}

// printedURL reads the flow's output up to the authorization URL it prints.
func printedURL(t *testing.T, r io.Reader, prefix string) string {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, prefix+"?") {
			return line
		}
	}
	t.Fatalf("the flow printed no authorization URL (%v)", sc.Err())
	return ""
}

func concurrently(t *testing.T, n int, f func() (*oauth2.Token, error)) []*oauth2.Token {
	t.Helper()
	out := make([]*oauth2.Token, n)
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			out[i], errs[i] = f()
		}()
	}
	start.Done()
	done.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent caller: %v", err)
		}
	}
	return out
}

// revoke revokes a token at Glewlwyd's RFC 7009 endpoint as the client.
func revoke(t *testing.T, ctx context.Context, env testsvc.GlewlwydEnv, cfg *Config, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", resp.StatusCode)
	}
}

// approveDevice is the user on their phone: log in to Glewlwyd, consent to the client's scope,
// and open the verification URI with the user code.
func approveDevice(t *testing.T, ctx context.Context, env testsvc.GlewlwydEnv, clientID, verifyURI, userCode string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, u, body string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := call(http.MethodPost, env.APIURL+"/auth/",
		fmt.Sprintf(`{"username":%q,"password":%q}`, env.User, env.Password)); resp.StatusCode != http.StatusOK {
		t.Fatalf("user login: HTTP %d", resp.StatusCode)
	}
	if resp := call(http.MethodPut, env.APIURL+"/auth/grant/"+url.PathEscape(clientID),
		fmt.Sprintf(`{"scope":%q}`, env.Scope)); resp.StatusCode != http.StatusOK {
		t.Fatalf("consent: HTTP %d", resp.StatusCode)
	}
	// g_continue: logged in and consented, so the code is validated at once (Glewlwyd then
	// redirects to its "device complete" page).
	resp := call(http.MethodGet, verifyURI+"?"+url.Values{"code": {userCode}, "g_continue": {""}}.Encode(), "")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("device verification: HTTP %d", resp.StatusCode)
	}
}
