package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

// tokenServer is a token endpoint answering a scripted sequence (the last answer repeats) and
// recording the refresh tokens it was sent.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	script  []func(w http.ResponseWriter, n int)
	sent    []string
	delay   time.Duration
	release chan struct{} // if set, each answer waits for it
}

func newTokenServer(t *testing.T, script ...func(w http.ResponseWriter, n int)) *tokenServer {
	ts := &tokenServer{script: script}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		ts.mu.Lock()
		ts.sent = append(ts.sent, r.Form.Get("refresh_token"))
		n := len(ts.sent)
		step := ts.script[min(n, len(ts.script))-1]
		ts.mu.Unlock()
		if ts.release != nil {
			<-ts.release
		}
		time.Sleep(ts.delay)
		step(w, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) requests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.sent...)
}

func (ts *tokenServer) config() *Config {
	return &Config{ClientID: "c", ClientSecret: "s", TokenURL: ts.URL + "/token", AuthURL: ts.URL + "/auth",
		AuthStyle: oauth2.AuthStyleInHeader}
}

// issue answers a new token pair numbered n (rotation); scope is omitted when empty.
func issue(scope string) func(http.ResponseWriter, int) {
	return func(w http.ResponseWriter, n int) {
		body := map[string]any{"access_token": fmt.Sprintf("access-%d", n), "refresh_token": fmt.Sprintf("refresh-%d", n),
			"token_type": "Bearer", "expires_in": 3600}
		if scope != "" {
			body["scope"] = scope
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}
}

func fail(status int, body string) func(http.ResponseWriter, int) {
	return func(w http.ResponseWriter, _ int) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func startToken(expiresIn time.Duration) *oauth2.Token {
	return Token{AccessToken: "access-0", RefreshToken: "refresh-0", TokenType: "Bearer",
		Expiry: time.Now().Add(expiresIn), Scopes: []string{"crm"}}.OAuth2()
}

var fast = RefresherOptions{Backoff: 5 * time.Millisecond, Attempts: 3}

func TestRefresherOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		script    []func(http.ResponseWriter, int)
		expiresIn time.Duration // of the starting token
		want      string        // access token handed out; "" for an error
		wantErr   func(error) bool
		requests  int
		saved     int
	}{
		{name: "plenty of time left: no request", script: []func(http.ResponseWriter, int){issue("")},
			expiresIn: time.Hour, want: "access-0", requests: 0, saved: 0},
		{name: "inside the leeway: refreshed", script: []func(http.ResponseWriter, int){issue("")},
			expiresIn: 30 * time.Second, want: "access-1", requests: 1, saved: 1},
		{name: "5xx twice then fine", script: []func(http.ResponseWriter, int){fail(503, ""), fail(502, ""), issue("")},
			expiresIn: -time.Minute, want: "access-3", requests: 3, saved: 1},
		{name: "429 then fine", script: []func(http.ResponseWriter, int){fail(429, ""), issue("")},
			expiresIn: -time.Minute, want: "access-2", requests: 2, saved: 1},
		{name: "5xx throughout, expired: transient error", script: []func(http.ResponseWriter, int){fail(500, `{"error":"server_error"}`)},
			expiresIn: -time.Minute, wantErr: IsTransient, requests: 3},
		{name: "5xx throughout, still valid: current token", script: []func(http.ResponseWriter, int){fail(503, "")},
			expiresIn: 30 * time.Second, want: "access-0", requests: 3},
		{name: "invalid_grant: reauth", script: []func(http.ResponseWriter, int){fail(400, `{"error":"invalid_grant","error_description":"revoked"}`)},
			expiresIn: -time.Minute, wantErr: isReauth("invalid_grant: revoked"), requests: 1},
		{name: "bare 400: reauth", script: []func(http.ResponseWriter, int){fail(400, "")},
			expiresIn: -time.Minute, wantErr: isReauth("HTTP 400"), requests: 1},
		{name: "invalid_client: permanent, not retried", script: []func(http.ResponseWriter, int){fail(401, `{"error":"invalid_client"}`)},
			expiresIn: -time.Minute, wantErr: func(err error) bool {
				var re *RefreshError
				return errors.As(err, &re) && !re.Transient && sdk.CategoryOf(err) == sdk.CategoryAuth &&
					strings.Contains(err.Error(), "client id and secret")
			}, requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTokenServer(t, tc.script...)
			sv := &saves{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := NewRefresher("crm", ts.config(), startToken(tc.expiresIn), sv.save, fast)
			tok, err := r.Token(ctx)
			switch {
			case tc.wantErr != nil:
				if err == nil || !tc.wantErr(err) {
					t.Errorf("Token: %v, %v; want a matching error", NewToken(tok), err)
				}
			case err != nil || tok.AccessToken != tc.want:
				t.Errorf("Token: %v, %v; want %s", NewToken(tok), err, tc.want)
			}
			if got := ts.requests(); len(got) != tc.requests || (len(got) > 0 && got[0] != "refresh-0") {
				t.Errorf("requests sent refresh tokens %q, want %d requests with refresh-0", got, tc.requests)
			}
			if got := sv.list(); len(got) != tc.saved || (tc.saved > 0 && got[0].AccessToken != tc.want) {
				t.Errorf("saved %d tokens, want %d", len(got), tc.saved)
			}
		})
	}
}

func isReauth(reason string) func(error) bool {
	return func(err error) bool {
		var re *ReauthRequiredError
		return errors.As(err, &re) && re.Connection == "crm" && strings.Contains(re.Reason, reason) &&
			sdk.CategoryOf(err) == sdk.CategoryAuth && strings.Contains(err.Error(), "`datasync connection reauth crm`")
	}
}

func TestRefresherRotationAndScope(t *testing.T) {
	ts := newTokenServer(t, issue(""), issue("crm other"))
	sv := &saves{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewRefresher("crm", ts.config(), startToken(time.Hour), sv.save, fast)
	t1, err := r.RefreshAfterAuthError(ctx, "access-0")
	if err != nil {
		t.Fatal(err)
	}
	// The answer omitted scope: the granted scopes stay; the rotated refresh token is used next.
	if got := NewToken(t1); got.RefreshToken != "refresh-1" || strings.Join(got.Scopes, " ") != "crm" {
		t.Errorf("after refresh 1: %v", got)
	}
	t2, err := r.RefreshAfterAuthError(ctx, "access-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := NewToken(t2); got.RefreshToken != "refresh-2" || strings.Join(got.Scopes, " ") != "crm other" {
		t.Errorf("after refresh 2: %v", got)
	}
	if got := ts.requests(); strings.Join(got, ",") != "refresh-0,refresh-1" {
		t.Errorf("refresh tokens sent: %q, want the rotated one the second time", got)
	}
	// A stale rejection (access-0 again) does not refresh a third time.
	if t3, err := r.RefreshAfterAuthError(ctx, "access-0"); err != nil || t3.AccessToken != "access-2" || len(ts.requests()) != 2 {
		t.Errorf("stale rejection: %v, %v, %d requests", NewToken(t3), err, len(ts.requests()))
	}
	if s := sv.list(); len(s) != 2 || s[1].RefreshToken != "refresh-2" {
		t.Errorf("saved %d tokens", len(s))
	}
}

func TestRefresherSavesBeforeHandingOut(t *testing.T) {
	ts := newTokenServer(t, issue(""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var saved []string
	failing := true
	save := func(_ context.Context, tok *oauth2.Token) error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return errors.New("database is locked")
		}
		saved = append(saved, tok.RefreshToken)
		return nil
	}
	r := NewRefresher("crm", ts.config(), startToken(-time.Minute), save, fast)
	tok, err := r.Token(ctx)
	if err == nil || tok != nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("Token with a failing save: %v, %v; want the save error and no token", NewToken(tok), err)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	// The rotated token was kept in memory: the next call saves it, without asking the provider.
	tok, err = r.Token(ctx)
	if err != nil || tok.RefreshToken != "refresh-1" {
		t.Fatalf("Token after the save recovers: %v, %v", NewToken(tok), err)
	}
	if len(ts.requests()) != 1 || len(saved) != 1 || saved[0] != "refresh-1" {
		t.Errorf("%d requests, saved %q: want 1 request and the rotated token saved", len(ts.requests()), saved)
	}
}

func TestRefresherSingleFlight(t *testing.T) {
	ts := newTokenServer(t, issue(""))
	ts.release = make(chan struct{})
	sv := &saves{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewRefresher("crm", ts.config(), startToken(time.Hour), sv.save, fast)

	// One caller gives up while the refresh is in flight; the refresh still completes for the rest.
	quitter, quit := context.WithCancel(ctx)
	quitErr := make(chan error, 1)
	go func() {
		_, err := r.RefreshAfterAuthError(quitter, "access-0")
		quitErr <- err
	}()
	waitFor(t, func() bool { return len(ts.requests()) == 1 })
	quit()
	if err := <-quitErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up got %v", err)
	}
	results := make(chan *oauth2.Token, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := r.RefreshAfterAuthError(ctx, "access-0")
			if err != nil {
				t.Errorf("waiter: %v", err)
			}
			results <- tok
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the refresh in flight
	close(ts.release)
	wg.Wait()
	close(results)
	for tok := range results {
		if tok == nil || tok.AccessToken != "access-1" {
			t.Fatalf("a waiter got %v", NewToken(tok))
		}
	}
	if n := len(ts.requests()); n != 1 {
		t.Errorf("%d refresh requests for 21 callers, want 1", n)
	}
	if len(sv.list()) != 1 {
		t.Errorf("saved %d times, want 1", len(sv.list()))
	}
}

func TestRefresherNeedsReauthWithoutRefreshToken(t *testing.T) {
	ts := newTokenServer(t, issue(""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok := startToken(-time.Minute)
	tok.RefreshToken = ""
	r := NewRefresher("crm", ts.config(), tok, (&saves{}).save, fast)
	if _, err := r.Token(ctx); !isReauth("no refresh token")(err) {
		t.Errorf("expired token without refresh token: %v", err)
	}
	r2 := NewRefresher("crm", ts.config(), nil, (&saves{}).save, fast)
	if _, err := r2.Token(ctx); !isReauth("no OAuth2 token")(err) {
		t.Errorf("no token at all: %v", err)
	}
	if len(ts.requests()) != 0 {
		t.Errorf("asked the provider %d times", len(ts.requests()))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
