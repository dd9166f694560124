package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// codeServer is a token endpoint for the authorization_code grant that checks the PKCE verifier
// against the challenge the authorization URL carried.
func codeServer(t *testing.T, challenge *string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "good-code" ||
			oauth2.S256ChallengeFromVerifier(r.PostForm.Get("code_verifier")) != *challenge {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"a1","refresh_token":"r1","token_type":"Bearer","expires_in":60}`)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestCompletePasted(t *testing.T) {
	var challenge string
	ts := codeServer(t, &challenge)
	cfg := &Config{ClientID: "c", AuthURL: ts.URL + "/auth", TokenURL: ts.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
	tests := []struct {
		name    string
		pasted  func(state string) string
		wantErr string // "" for success
	}{
		{"full URL", func(s string) string { return "http://127.0.0.1/callback?code=good-code&state=" + s }, ""},
		{"URL with blanks and newline", func(s string) string { return "\t http://127.0.0.1/callback?state=" + s + "&code=good-code \r\n" }, ""},
		{"query string", func(s string) string { return "?code=good-code&state=" + url.QueryEscape(s) }, ""},
		{"query string without ?", func(s string) string { return "code=good-code&state=" + s }, ""},
		{"bare code", func(string) string { return "good-code\n" }, ""},
		{"wrong state", func(string) string { return "http://127.0.0.1/callback?code=good-code&state=other" }, ErrStateMismatch.Error()},
		{"no state", func(string) string { return "http://127.0.0.1/callback?code=good-code" }, ErrStateMismatch.Error()},
		{"error redirect", func(s string) string {
			return "http://127.0.0.1/callback?error=invalid_scope&error_description=bad+scope&state=" + s
		}, "invalid_scope (bad scope)"},
		{"neither code nor error", func(s string) string { return "http://127.0.0.1/callback?state=" + s }, "neither a code nor an error"},
		{"empty", func(string) string { return "  \n" }, "nothing was pasted"},
		{"prose", func(string) string { return "the code is good-code" }, "paste the redirect URL or the code alone"},
		{"wrong code", func(string) string { return "bad-code" }, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			a, err := (&Flow{Config: cfg, NoBrowser: true}).Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(a.URL)
			challenge = u.Query().Get("code_challenge")
			if a.RedirectURI != noBrowserRedirectURI || u.Query().Get("redirect_uri") != noBrowserRedirectURI {
				t.Errorf("no-browser redirect URI %s", a.RedirectURI)
			}
			tok, err := a.Complete(ctx, tc.pasted(a.state))
			if tc.wantErr == "" {
				if err != nil || tok.AccessToken != "a1" {
					t.Fatalf("Complete: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Complete: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoopbackListener(t *testing.T) {
	var challenge string
	ts := codeServer(t, &challenge)
	cfg := &Config{ClientID: "c", AuthURL: ts.URL + "/auth", TokenURL: ts.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}

	t.Run("random port on 127.0.0.1, other paths 404, closed after use", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(a.RedirectURI)
		if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" || u.Path != DefaultRedirectPath {
			t.Fatalf("redirect URI %s", a.RedirectURI)
		}
		if status, _ := browserGet(t, "http://"+u.Host+"/favicon.ico"); status != http.StatusNotFound {
			t.Errorf("other path: HTTP %d", status)
		}
		au, _ := url.Parse(a.URL)
		challenge = au.Query().Get("code_challenge")
		ch := waitAsync(ctx, a)
		if status, body := browserGet(t, a.RedirectURI+"?code=good-code&state="+a.state); status != http.StatusOK {
			t.Fatalf("redirect: HTTP %d %s", status, body)
		}
		if tok, err := recv(t, ch); err != nil || tok.AccessToken != "a1" {
			t.Fatalf("Wait: %v", err)
		}
		if _, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			t.Errorf("the listener still accepts connections after the flow ended")
		}
	})

	t.Run("failed exchange shown to the browser", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := (&Flow{Config: cfg}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ch := waitAsync(ctx, a)
		if status, body := browserGet(t, a.RedirectURI+"?code=stale-code&state="+a.state); status != http.StatusBadGateway ||
			!strings.Contains(body, "invalid_grant") {
			t.Errorf("redirect with a refused code: HTTP %d %s", status, body)
		}
		if _, err := recv(t, ch); err == nil || !strings.Contains(err.Error(), "exchange the authorization code") {
			t.Errorf("Wait: %v", err)
		}
	})

	t.Run("times out with ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		a, err := (&Flow{Config: cfg}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait: %v, want the deadline", err)
		}
	})

	t.Run("fixed loopback redirect URI from settings", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		fixed := *cfg
		fixed.RedirectURI = fmt.Sprintf("http://127.0.0.1:%d/oauth/done", port)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := (&Flow{Config: &fixed}).Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if a.RedirectURI != fixed.RedirectURI {
			t.Errorf("redirect URI %s, want %s", a.RedirectURI, fixed.RedirectURI)
		}
		ch := waitAsync(ctx, a)
		if status, _ := browserGet(t, a.RedirectURI+"?state=x&code=y"); status != http.StatusBadRequest {
			t.Errorf("the fixed redirect path is not served: HTTP %d", status)
		}
		if _, err := recv(t, ch); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("Wait: %v", err)
		}
	})

	t.Run("non-loopback redirect URI refused without --no-browser", func(t *testing.T) {
		remote := *cfg
		remote.RedirectURI = "https://app.example/cb"
		if _, err := (&Flow{Config: &remote}).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "--no-browser") {
			t.Errorf("Start: %v", err)
		}
		if a, err := (&Flow{Config: &remote, NoBrowser: true}).Start(context.Background()); err != nil || a.RedirectURI != remote.RedirectURI {
			t.Errorf("Start --no-browser: %v", err)
		}
	})

	t.Run("Wait needs the listener", func(t *testing.T) {
		a, err := (&Flow{Config: cfg, NoBrowser: true}).Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "Complete") {
			t.Errorf("Wait in no-browser mode: %v", err)
		}
	})

	t.Run("Run --no-browser gives up with ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		blocked, _ := net.Pipe() // never yields a line
		defer blocked.Close()
		var out strings.Builder
		if _, err := (&Flow{Config: cfg, NoBrowser: true}).Run(ctx, &out, blocked); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run: %v", err)
		}
		if !strings.Contains(out.String(), cfg.AuthURL+"?") {
			t.Errorf("Run printed no URL: %s", out.String())
		}
	})
}
