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

	"golang.org/x/oauth2"
)

// deviceServer follows RFC 8628: /device answers a device code, /token answers the scripted
// errors (authorization_pending, slow_down, access_denied, expired_token) and then a token.
// Glewlwyd's device grant is tested for real in TestGlewlwyd; this drives the answers Glewlwyd
// cannot be made to give on demand (slow_down, expiry).
type deviceServer struct {
	*httptest.Server
	mu       sync.Mutex
	polls    []time.Time
	script   []string // per poll: an RFC 8628 error code, or "" for the token
	authForm map[string][]string
}

func newDeviceServer(t *testing.T, expiresIn int, script ...string) *deviceServer {
	ds := &deviceServer{script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /device", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ds.mu.Lock()
		ds.authForm = r.PostForm
		ds.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"device_code": "dev-code-1", "user_code": "WDJB-MJHT",
			"verification_uri": "https://idp.example/device", "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
			"expires_in": expiresIn, "interval": 1})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" || r.PostForm.Get("device_code") != "dev-code-1" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_request"}`)
			return
		}
		ds.mu.Lock()
		ds.polls = append(ds.polls, time.Now())
		step := ds.script[min(len(ds.polls), len(ds.script))-1]
		ds.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if step != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, step)
			return
		}
		fmt.Fprint(w, `{"access_token":"dev-access","refresh_token":"dev-refresh","token_type":"Bearer","expires_in":3600}`)
	})
	ds.Server = httptest.NewServer(mux)
	t.Cleanup(ds.Close)
	return ds
}

func (ds *deviceServer) flow() *Flow {
	return &Flow{Config: &Config{ClientID: "tv-app", ClientSecret: "tv-secret", TokenURL: ds.URL + "/token",
		DeviceAuthURL: ds.URL + "/device", Scopes: []string{"crm"}, AuthStyle: oauth2.AuthStyleInHeader}}
}

func (ds *deviceServer) pollTimes() []time.Time {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	return append([]time.Time(nil), ds.polls...)
}

func TestDevicePolling(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		script    []string
		wantErr   func(error) bool
		polls     int
		minGap    map[int]time.Duration // poll index → least wait before it
	}{
		// x/oauth2 polls on a ticker, so the gaps the server sees move by how
		// late each request arrives: ~110 ms on a loaded CI machine. Half a
		// second of slack still tells waiting the interval from not waiting.
		{name: "pending then approved", expiresIn: 60, script: []string{"authorization_pending", "authorization_pending", ""},
			polls: 3, minGap: map[int]time.Duration{1: 500 * time.Millisecond, 2: 500 * time.Millisecond}},
		{name: "slow_down adds 5 s to the interval", expiresIn: 60, script: []string{"slow_down", ""},
			polls: 2, minGap: map[int]time.Duration{1: 5500 * time.Millisecond}},
		{name: "access denied", expiresIn: 60, script: []string{"authorization_pending", "access_denied"}, polls: 2,
			wantErr: func(err error) bool {
				var ae *AuthorizationError
				return errors.As(err, &ae) && ae.Code == "access_denied"
			}},
		{name: "expired_token", expiresIn: 60, script: []string{"expired_token"}, polls: 1,
			wantErr: func(err error) bool { return errors.Is(err, ErrDeviceCodeExpired) }},
		{name: "code expires while pending", expiresIn: 2, script: []string{"authorization_pending"}, polls: 1,
			wantErr: func(err error) bool { return errors.Is(err, ErrDeviceCodeExpired) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ds := newDeviceServer(t, tc.expiresIn, tc.script...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out strings.Builder
			tok, err := ds.flow().RunDevice(ctx, &out)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("RunDevice: %v, %v", NewToken(tok), err)
				}
			} else if err != nil || tok.AccessToken != "dev-access" || tok.RefreshToken != "dev-refresh" {
				t.Fatalf("RunDevice: %v, %v", NewToken(tok), err)
			}
			polls := ds.pollTimes()
			if len(polls) < tc.polls || len(polls) > tc.polls+1 {
				t.Errorf("%d polls, want %d", len(polls), tc.polls)
			}
			for i, gap := range tc.minGap {
				if i < len(polls) && polls[i].Sub(polls[i-1]) < gap {
					t.Errorf("poll %d came %s after the previous, want at least %s", i, polls[i].Sub(polls[i-1]), gap)
				}
			}
			for _, want := range []string{"https://idp.example/device", "WDJB-MJHT"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %s:\n%s", want, out.String())
				}
			}
			ds.mu.Lock()
			form := ds.authForm
			ds.mu.Unlock()
			if form["client_id"][0] != "tv-app" || form["client_secret"][0] != "tv-secret" || form["scope"][0] != "crm" {
				t.Errorf("device authorization request form %v", form)
			}
		})
	}
}

func TestDevicePollingStopsWithContext(t *testing.T) {
	t.Parallel()
	ds := newDeviceServer(t, 600, "authorization_pending")
	f := ds.flow()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	da, err := f.StartDevice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = f.PollDevice(ctx, da)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDeviceCodeExpired) {
		t.Errorf("PollDevice when the caller gives up: %v, want the context's error (not an expired code)", err)
	}
	if time.Since(began) > 5*time.Second {
		t.Errorf("PollDevice took %s to notice the context", time.Since(began))
	}
}

func TestDeviceNotDeclared(t *testing.T) {
	f := &Flow{Config: &Config{ClientID: "a", TokenURL: "https://p.example/token", AuthURL: "https://p.example/auth"}}
	if _, err := f.StartDevice(context.Background()); err == nil || !strings.Contains(err.Error(), "no device authorization URL") {
		t.Errorf("StartDevice without a device URL: %v", err)
	}
}
