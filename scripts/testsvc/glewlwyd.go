package testsvc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// GlewlwydEnv is a running Glewlwyd OAuth2 / OpenID Connect server. Its oidc plugin allows the
// authorization code grant with PKCE (S256), refresh tokens with rotation (one use: a used
// refresh token dies; replaying it fails and revokes its successor), client credentials, the
// device grant, and token introspection / revocation (RFC 7662 / 7009).
type GlewlwydEnv struct {
	URL           string // http://127.0.0.1:PORT
	APIURL        string // URL + /api
	AdminUser     string
	AdminPassword string
	Plugin        string // oidc plugin instance name
	Issuer        string // APIURL/Plugin; discovery at Issuer + /.well-known/openid-configuration
	AuthURL       string
	TokenURL      string
	DeviceURL     string
	RevokeURL     string
	Scope         string // a scope that the user and the client both have
	ClientID      string // a confidential client, secret via client_secret_basic or _post
	ClientSecret  string
	RedirectURI   string // the client's only redirect URI: exact match, ports included
	User          string
	Password      string
	Dir           string // service directory: log, env, glewlwyd.db
}

// Glewlwyd returns a Glewlwyd server for t: the shared one when DATASYNC_TESTSVC_DIR is set,
// else a fresh one stopped when t ends. Tests needing their own redirect URI use CreateClient.
func Glewlwyd(t testing.TB) GlewlwydEnv {
	t.Helper()
	env, dir := start(t, "glewlwyd")
	f := fields{t, "glewlwyd", env}
	return GlewlwydEnv{
		URL:           f.str("GLEWLWYD_URL"),
		APIURL:        f.str("GLEWLWYD_API_URL"),
		AdminUser:     f.str("GLEWLWYD_ADMIN_USER"),
		AdminPassword: f.str("GLEWLWYD_ADMIN_PASSWORD"),
		Plugin:        f.str("GLEWLWYD_PLUGIN"),
		Issuer:        f.str("GLEWLWYD_ISSUER"),
		AuthURL:       f.str("GLEWLWYD_AUTH_URL"),
		TokenURL:      f.str("GLEWLWYD_TOKEN_URL"),
		DeviceURL:     f.str("GLEWLWYD_DEVICE_URL"),
		RevokeURL:     f.str("GLEWLWYD_REVOKE_URL"),
		Scope:         f.str("GLEWLWYD_SCOPE"),
		ClientID:      f.str("GLEWLWYD_CLIENT_ID"),
		ClientSecret:  f.str("GLEWLWYD_CLIENT_SECRET"),
		RedirectURI:   f.str("GLEWLWYD_REDIRECT_URI"),
		User:          f.str("GLEWLWYD_USER"),
		Password:      f.str("GLEWLWYD_PASSWORD"),
		Dir:           dir,
	}
}

// GlewlwydClient is a confidential client registered for one test.
type GlewlwydClient struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

// CreateClient registers a confidential client for t alone, allowed env.Scope, the code,
// refresh_token, client_credentials and device grants, and exactly redirectURIs (Glewlwyd
// compares them whole, port included: register the loopback URI once its port is known).
// It is deleted when t ends.
func CreateClient(t testing.TB, env GlewlwydEnv, redirectURIs ...string) GlewlwydClient {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testsvc: random client secret: %v", err)
	}
	c := GlewlwydClient{ID: strings.ReplaceAll(uniqueName(t, "t", 100), "_", "-"),
		Secret: hex.EncodeToString(b[:]), RedirectURIs: redirectURIs}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	admin := adminSession(t, env)
	apiCall(t, admin, http.MethodPost, env.APIURL+"/client/", map[string]any{
		"client_id": c.ID, "name": "datasync test " + t.Name(), "client_secret": c.Secret,
		"confidential": true, "enabled": true, "redirect_uri": c.RedirectURIs,
		"authorization_type":         []string{"code", "refresh_token", "client_credentials", "device_authorization"},
		"token_endpoint_auth_method": []string{"client_secret_basic", "client_secret_post"},
		"scope":                      []string{env.Scope},
	}, nil)
	t.Cleanup(func() {
		apiCall(t, adminSession(t, env), http.MethodDelete, env.APIURL+"/client/"+url.PathEscape(c.ID), nil, nil)
	})
	return c
}

// Authorize plays the browser for an authorization request URL (as a host would print it):
// it logs in as env.User, grants the client the requested scope, and returns where Glewlwyd
// redirects, normally the client's redirect URI with code and state (or error) in its query.
func Authorize(t testing.TB, env GlewlwydEnv, authURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatalf("testsvc: authorization URL %q: %v", authURL, err)
	}
	q := u.Query()
	clientID, scope := q.Get("client_id"), q.Get("scope")
	if clientID == "" {
		t.Fatalf("testsvc: authorization URL %q has no client_id", authURL)
	}
	user := login(t, env, env.User, env.Password)
	apiCall(t, user, http.MethodPut, env.APIURL+"/auth/grant/"+url.PathEscape(clientID),
		map[string]string{"scope": scope}, nil)
	// g_continue: the user is logged in and has consented, so go on to the redirect instead
	// of showing the login page.
	q.Set("g_continue", "")
	u.RawQuery = q.Encode()
	resp := send(t, user, http.MethodGet, u.String(), nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("testsvc: authorization request: want a 302 redirect, got HTTP %d (%v): %s",
			resp.StatusCode, err, body)
	}
	if strings.Contains(loc.Path, "login.html") {
		t.Fatalf("testsvc: authorization request sent the user to the login page: %s", loc)
	}
	return loc
}

// adminSession logs in as the administrator; a session is valid for 600 s.
func adminSession(t testing.TB, env GlewlwydEnv) *http.Client {
	t.Helper()
	return login(t, env, env.AdminUser, env.AdminPassword)
}

// login returns an HTTP client holding a Glewlwyd session cookie for username. It never
// follows redirects, so callers see where Glewlwyd sends the browser.
func login(t testing.TB, env GlewlwydEnv, username, password string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("testsvc: cookie jar: %v", err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	apiCall(t, c, http.MethodPost, env.APIURL+"/auth/",
		map[string]string{"username": username, "password": password}, nil)
	return c
}

func send(t testing.TB, c *http.Client, method, u string, body any) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("testsvc: encode %s %s: %v", method, u, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatalf("testsvc: %s %s: %v", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("testsvc: %s %s: %v", method, u, err)
	}
	return resp
}

// apiCall sends a JSON request, fails t unless the answer is 2xx, and decodes it into out.
func apiCall(t testing.TB, c *http.Client, method, u string, body, out any) {
	t.Helper()
	resp := send(t, c, method, u, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testsvc: read %s %s: %v", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("testsvc: %s %s: HTTP %d: %s", method, u, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("testsvc: decode %s %s: %v: %s", method, u, err, b)
		}
	}
}
