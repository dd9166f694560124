package clitest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/host/secrets"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/scripts/testsvc"
)

// buildOAuthMem builds the test connector of testdata/oauthmem.
func buildOAuthMem(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oauthmem")
	cmd := exec.Command("go", "build", "-o", out, "./host/cli/clitest/testdata/oauthmem")
	cmd.Dir = moduleRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build oauthmem: %v\n%s", err, b)
	}
	return out
}

// freePort picks a loopback port nobody listens on now, to register the
// client's redirect URI with before the CLI listens there.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// authorizeThroughCLI runs a datasync command that runs the OAuth2 code flow
// and plays the admin: it reads the URL the CLI prints, logs in and consents
// at Glewlwyd, then follows the redirect to the CLI's loopback listener (or,
// with paste, types the redirect URL into the CLI's stdin).
func authorizeThroughCLI(t *testing.T, home string, env testsvc.GlewlwydEnv, paste bool, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.datasync, append([]string{"--home", home}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATASYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, pw), &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	authURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			if s := strings.TrimSpace(sc.Text()); !sent && strings.HasPrefix(s, env.AuthURL+"?") {
				authURL <- s
				sent = true
			}
		}
		if !sent {
			close(authURL)
		}
	}()
	var u string
	select {
	case u = <-authURL:
	case <-ctx.Done():
	}
	if u == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("datasync %s printed no authorization URL:\n%s\n%s", strings.Join(args, " "), out.String(), errOut.String())
	}
	loc := testsvc.Authorize(t, env, u)
	if paste {
		io.WriteString(stdin, loc.String()+"\n")
	} else {
		resp, err := http.Get(loc.String())
		if err != nil {
			t.Fatalf("redirect to the CLI's listener %s: %v", loc, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Authorized") {
			t.Errorf("the CLI's listener answered HTTP %d: %s", resp.StatusCode, body)
		}
	}
	stdin.Close()
	err = cmd.Wait()
	pw.Close()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

// storedSecrets reads a connection's decrypted secrets the way the host does.
func storedSecrets(t *testing.T, home, name string) (store.Connection, map[string]string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.Connection(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := box.Open(c.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	return c, sec
}

// expireStoredToken makes the stored access token look expired, as if the
// connection had not been used for its lifetime.
func expireStoredToken(t *testing.T, home, name string) {
	t.Helper()
	_, sec := storedSecrets(t, home, name)
	sec[oauth.SecretExpiry] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	box, err := secrets.Load(home)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal(sec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetConnectionSecrets(ctx, name, sealed); err != nil {
		t.Fatal(err)
	}
}

// tokenRequest posts a form to Glewlwyd's token or revocation endpoint as
// the client and returns the HTTP status.
func tokenRequest(t *testing.T, endpoint string, client testsvc.GlewlwydClient, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client.ID), url.QueryEscape(client.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stateFiles returns the bytes of the state database and its WAL.
func stateFiles(t *testing.T, home string) []byte {
	t.Helper()
	var all []byte
	for _, f := range []string{store.FileName, store.FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(home, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// TestOAuthConnectionLifecycle drives the datasync binary through an OAuth2
// connection against a real Glewlwyd: `connection add` runs the code flow
// with PKCE over the loopback redirect, the token is stored encrypted, a
// later sync run refreshes the expired token and stores the rotated refresh
// token, a revoked grant becomes one auth error naming `connection reauth`
// with the connection held, and `connection reauth` (pasting the redirect)
// brings it back.
func TestOAuthConnectionLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Glewlwyd")
	}
	// A private server: Glewlwyd on SQLite fails concurrent writes from other packages' tests.
	t.Setenv(testsvc.SharedDirEnv, "")
	env := testsvc.Glewlwyd(t)
	port := freePort(t)
	client := testsvc.CreateClient(t, env, "http://127.0.0.1:"+strconv.Itoa(port)+oauth.DefaultRedirectPath)

	home := t.TempDir()
	ok(t, home, "plugin", "install", buildOAuthMem(t))
	ok(t, home, "plugin", "install", bins.sqlite)
	crm := newDB(t, "crm.db", crmSchema)
	for i, c := range [][]any{{"ann@example.com", "Ann", "Archer"}, {"bob@example.com", "Bob", "Baker"}} {
		crm.exec(`INSERT INTO contacts (id, email, first_name, last_name, updated_at) VALUES (?, ?, ?, ?, ?)`,
			i+1, c[0], c[1], c[2], "2026-01-01 00:00:00.000000")
	}
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)

	add := []string{"connection", "add", "app", "--plugin", "oauthmem",
		"--set", "client_id=" + client.ID, "--secret", "client_secret=" + client.Secret,
		"--set", "auth_url=" + env.AuthURL, "--set", "token_url=" + env.TokenURL, "--set", "scopes=" + env.Scope,
		"--set", "introspect_url=" + env.Issuer + "/introspect", "--set", "path=" + filepath.Join(t.TempDir(), "app.json"),
		"--redirect-port", strconv.Itoa(port)}
	// Without the client secret the flow has no client to run as: refused, nothing saved.
	fails(t, home, "client_secret", append([]string{"connection", "add", "bad", "--plugin", "oauthmem", "--secret", "client_secret=x"},
		"--set", "introspect_url=http://127.0.0.1:1/x")...)

	r := authorizeThroughCLI(t, home, env, false, add...)
	if r.code != 0 || !strings.Contains(r.stdout, "Added connection app (plugin oauthmem 1.0.0), account: "+env.User) {
		t.Fatalf("connection add: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Open this URL in a browser") || !strings.Contains(r.stdout, "code_challenge_method=S256") {
		t.Errorf("connection add did not print a PKCE authorization URL:\n%s", r.stdout)
	}
	conn, sec := storedSecrets(t, home, "app")
	first, err := oauth.FromSecrets(sec)
	if err != nil || first.RefreshToken == "" || first.Expiry.IsZero() {
		t.Fatalf("stored token: %v (refresh token stored: %v)", err, first != nil && first.RefreshToken != "")
	}
	if conn.Status != "ok" || conn.Settings["client_id"] != client.ID || sec["client_secret"] != client.Secret {
		t.Errorf("stored connection: status %q, settings %v", conn.Status, conn.Settings)
	}
	raw := stateFiles(t, home)
	for what, v := range map[string]string{"access token": first.AccessToken, "refresh token": first.RefreshToken,
		"client secret": client.Secret} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the %s is in state.db in clear", what)
		}
	}
	for _, c := range connections(t, home) {
		if c["name"] == "app" {
			for k, v := range c["secrets"].(map[string]any) {
				if v != "****" {
					t.Errorf("connection list shows secret %s", k)
				}
			}
		}
	}

	// A sync into the OAuth2 app; then the token expires and the next run refreshes it first.
	ok(t, home, "sync", "create", "s", "--left", "crm/contacts", "--right", "app/contacts", "--default-mappings",
		"--direction", "left-to-right")
	ok(t, home, "sync", "run", "s")
	expireStoredToken(t, home, "app")
	ok(t, home, "sync", "run", "s")
	_, sec = storedSecrets(t, home, "app")
	second, err := oauth.FromSecrets(sec)
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken ||
		!second.Expiry.After(time.Now()) {
		t.Fatalf("after a run with an expired token: access changed %v, refresh rotated %v, expiry %s",
			second.AccessToken != first.AccessToken, second.RefreshToken != first.RefreshToken, second.Expiry)
	}
	if raw := stateFiles(t, home); bytes.Contains(raw, []byte(second.RefreshToken)) {
		t.Errorf("the rotated refresh token is in state.db in clear")
	}
	// The rotated-out refresh token is dead at Glewlwyd (and replaying it revokes its successor).
	if code := tokenRequest(t, env.TokenURL, client, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {first.RefreshToken}}); code == http.StatusOK {
		t.Fatalf("the rotated-out refresh token still works")
	}

	// The grant is revoked: the access token too. The next run is one auth error naming the fix.
	for _, tk := range []struct{ tok, hint string }{{second.AccessToken, "access_token"}, {second.RefreshToken, "refresh_token"}} {
		if code := tokenRequest(t, env.RevokeURL, client, url.Values{"token": {tk.tok}, "token_type_hint": {tk.hint}}); code != http.StatusOK {
			t.Fatalf("revoke %s: HTTP %d", tk.hint, code)
		}
	}
	r = datasync(t, home, nil, "sync", "run", "s")
	hint := "`datasync connection reauth app`"
	if r.code == 0 || strings.Count(r.stderr+r.stdout, hint) != 1 {
		t.Fatalf("run with a revoked grant: exit %d, want one error naming %s\nstdout: %s\nstderr: %s", r.code, hint, r.stdout, r.stderr)
	}
	t.Logf("run with a revoked grant:\n%s%s", r.stdout, r.stderr)
	if c, _ := storedSecrets(t, home, "app"); c.Status != "auth" {
		t.Fatalf("connection status after the revoked grant: %q, want auth (its syncs held)", c.Status)
	}
	r = datasync(t, home, nil, "connection", "test", "app")
	if r.code == 0 || !strings.Contains(r.stderr, hint) {
		t.Errorf("connection test with a revoked grant: exit %d\n%s", r.code, r.stderr)
	}

	// A reauth reaching another account than the connection was added for is refused and changes nothing.
	setFingerprint := func(fp string) string {
		t.Helper()
		ctx := context.Background()
		st, err := store.Open(ctx, filepath.Join(home, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c, err := st.Connection(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		was := c.AccountFingerprint
		c.AccountFingerprint = fp
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		return was
	}
	realFP := setFingerprint("sub:someone-else|mallory")
	r = authorizeThroughCLI(t, home, env, false, "connection", "reauth", "app", "--redirect-port", strconv.Itoa(port))
	if r.code == 0 || !strings.Contains(r.stderr, "connection app not re-authorized: the authorization reached account \""+env.User+"\"") {
		t.Fatalf("reauth as another account: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if c, sec := storedSecrets(t, home, "app"); c.Status != "auth" || sec[oauth.SecretRefreshToken] != second.RefreshToken {
		t.Fatalf("a refused reauth changed the connection: status %q", c.Status)
	}
	setFingerprint(realFP)

	// reauth, pasting the redirect (--no-browser): the same account, status ok, runs work again.
	r = authorizeThroughCLI(t, home, env, true, "connection", "reauth", "app", "--no-browser", "--redirect-port", strconv.Itoa(port))
	if r.code != 0 || !strings.Contains(r.stdout, "Connection app re-authorized (account "+env.User+"); its status is ok again (was auth).") ||
		!strings.Contains(r.stdout, "Syncs using it resume: s") {
		t.Fatalf("connection reauth: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	c, sec := storedSecrets(t, home, "app")
	third, err := oauth.FromSecrets(sec)
	if err != nil || c.Status != "ok" || third.RefreshToken == second.RefreshToken || sec["client_secret"] != client.Secret {
		t.Fatalf("after reauth: status %q, new token %v, err %v", c.Status, third != nil && third.RefreshToken != second.RefreshToken, err)
	}
	crm.exec(`INSERT INTO contacts (id, email, first_name, last_name, updated_at) VALUES (3, 'cy@example.com', 'Cy', 'Cole', ?)`,
		"2026-01-02 00:00:00.000000")
	var run runOut
	okJSON(t, home, &run, "sync", "run", "s")
	if run.Right.Created != 1 {
		t.Errorf("run after reauth created %d on the app, want 1 (the new contact)", run.Right.Created)
	}
	okJSON(t, home, &run, "sync", "run", "s")
	if run.Writes != 0 || run.Right.Created+run.Right.Updated != 0 {
		t.Errorf("a second run wrote %+v", run)
	}
}

// TestOAuthDeviceGrant adds a connection with --device against Glewlwyd's
// device authorization endpoint: the CLI prints where to go and the code,
// the test approves it as the user on another device, and the CLI polls
// until the token arrives.
func TestOAuthDeviceGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Glewlwyd")
	}
	t.Setenv(testsvc.SharedDirEnv, "")
	env := testsvc.Glewlwyd(t)
	client := testsvc.CreateClient(t, env)
	home := t.TempDir()
	ok(t, home, "plugin", "install", buildOAuthMem(t))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.datasync, "--home", home, "connection", "add", "dev", "--plugin", "oauthmem", "--device",
		"--set", "client_id="+client.ID, "--secret", "client_secret="+client.Secret,
		"--set", "auth_url="+env.AuthURL, "--set", "token_url="+env.TokenURL, "--set", "device_auth_url="+env.DeviceURL,
		"--set", "introspect_url="+env.Issuer+"/introspect")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATASYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	pr, pw := io.Pipe()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, pw), &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type prompt struct{ uri, code string }
	got := make(chan prompt, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		var p prompt
		want := ""
		for sc.Scan() {
			s := strings.TrimSpace(sc.Text())
			switch {
			case s == "":
			case strings.HasPrefix(s, "On any device, open"):
				want = "uri"
			case strings.HasPrefix(s, "and enter the code"):
				want = "code"
			case want == "uri":
				p.uri, want = s, ""
			case want == "code":
				p.code, want = s, ""
				got <- p
			}
		}
		close(got)
	}()
	p, ok2 := <-got
	if !ok2 || p.uri == "" || p.code == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("connection add --device printed no verification URI and code:\n%s\n%s", out.String(), errOut.String())
	}
	approveDevice(t, ctx, env, client.ID, p.uri, p.code)
	err := cmd.Wait()
	pw.Close()
	if err != nil || !strings.Contains(out.String(), "Added connection dev (plugin oauthmem 1.0.0), account: "+env.User) {
		t.Fatalf("connection add --device: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
	}
	_, sec := storedSecrets(t, home, "dev")
	if tok, err := oauth.FromSecrets(sec); err != nil || tok.RefreshToken == "" {
		t.Fatalf("stored token after the device grant: %v", err)
	}
	// --device where the provider offers no device endpoint is refused before anything happens.
	fails(t, home, "--device: the provider declares no device authorization endpoint", "connection", "add", "dev2",
		"--plugin", "oauthmem", "--device", "--set", "client_id="+client.ID, "--secret", "client_secret="+client.Secret,
		"--set", "auth_url="+env.AuthURL, "--set", "token_url="+env.TokenURL, "--set", "introspect_url="+env.Issuer+"/introspect")
}

// approveDevice is the user on their phone: log in to Glewlwyd, consent to
// the client's scope, and open the verification URI with the user code.
func approveDevice(t *testing.T, ctx context.Context, env testsvc.GlewlwydEnv, clientID, verifyURI, userCode string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, u, body string) int {
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
		return resp.StatusCode
	}
	if code := call(http.MethodPost, env.APIURL+"/auth/",
		fmt.Sprintf(`{"username":%q,"password":%q}`, env.User, env.Password)); code != http.StatusOK {
		t.Fatalf("user login: HTTP %d", code)
	}
	if code := call(http.MethodPut, env.APIURL+"/auth/grant/"+url.PathEscape(clientID),
		fmt.Sprintf(`{"scope":%q}`, env.Scope)); code != http.StatusOK {
		t.Fatalf("consent: HTTP %d", code)
	}
	// g_continue: logged in and consented, so the code is validated at once.
	if code := call(http.MethodGet, verifyURI+"?"+url.Values{"code": {userCode}, "g_continue": {""}}.Encode(), ""); code != http.StatusFound {
		t.Fatalf("device verification: HTTP %d", code)
	}
}
