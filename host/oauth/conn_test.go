package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
)

// introspectConnector is a connector whose every call authenticates with the access token it
// was given, by asking Glewlwyd's introspection endpoint (RFC 7662) whether it is active: what a
// real app's API does with a bearer token.
type introspectConnector struct {
	env          testsvc.GlewlwydEnv
	client       testsvc.GlewlwydClient
	mu           sync.Mutex
	tokens       []string // distinct access tokens the plugin was opened with
	leaked       bool     // a refresh token or the stored token reached the plugin
	authAfterRec bool     // Read delivers a record before it checks the token
}

func (ic *introspectConnector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "introspect", Auth: sdk.AuthSpec{OAuth2: &sdk.OAuth2Spec{AuthURL: ic.env.AuthURL,
		TokenURL: ic.env.TokenURL, Scopes: []string{ic.env.Scope}, ClientFromSettings: true}}}, nil
}

func (ic *introspectConnector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	for k := range cfg.Secrets {
		if strings.HasPrefix(k, "oauth2_") {
			ic.leaked = true
		}
	}
	tok := cfg.Secrets[DefaultTokenSecret]
	if len(ic.tokens) == 0 || ic.tokens[len(ic.tokens)-1] != tok {
		ic.tokens = append(ic.tokens, tok)
	}
	return &introspectConn{ic: ic, token: tok}, nil
}

func (ic *introspectConnector) opened() []string {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return append([]string(nil), ic.tokens...)
}

type introspectConn struct {
	ic    *introspectConnector
	token string
}

// auth returns the token's user, or an auth *sdk.Error when Glewlwyd says it is not active.
func (c *introspectConn) auth(ctx context.Context) (string, error) {
	form := url.Values{"token": {c.token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ic.env.Issuer+"/introspect", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ic.client.ID, c.ic.client.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", sdk.Errorf(sdk.CategoryUnreachable, "introspect: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Active   bool   `json:"active"`
		Username string `json:"username"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return "", sdk.Errorf(sdk.CategoryTransient, "introspect: HTTP %d %v", resp.StatusCode, err)
	}
	if !out.Active {
		return "", sdk.Errorf(sdk.CategoryAuth, "the access token is not active")
	}
	return out.Username, nil
}

func (c *introspectConn) Check(ctx context.Context) (sdk.Account, error) {
	user, err := c.auth(ctx)
	return sdk.Account{Fingerprint: user, Label: user}, err
}

func (c *introspectConn) Schema(ctx context.Context) (sdk.Schema, error) {
	if _, err := c.auth(ctx); err != nil {
		return sdk.Schema{}, err
	}
	return sdk.Schema{Objects: []sdk.ObjectType{{Name: "contacts", Fields: []sdk.Field{{Name: "email", Type: sdk.TypeEmail}}}}}, nil
}

func (c *introspectConn) Read(ctx context.Context, _ sdk.ReadRequest, sink sdk.RecordSink) error {
	rec := []sdk.Record{{ID: "1", Version: "v1", Values: []sdk.Value{sdk.String("a@example.com")}}}
	if c.ic.authAfterRec {
		if err := sink.Records(rec); err != nil {
			return err
		}
	}
	if _, err := c.auth(ctx); err != nil {
		return err
	}
	if !c.ic.authAfterRec {
		if err := sink.Records(rec); err != nil {
			return err
		}
	}
	return sink.Checkpoint("c1")
}

func (c *introspectConn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	_, aerr := c.auth(ctx)
	out := make([]sdk.WriteResult, len(req.Ops))
	for i, op := range req.Ops {
		if aerr != nil {
			out[i].Err = sdk.AsError(aerr) // refused op by op, as HTTP batch APIs do
			continue
		}
		out[i].ID, out[i].Version = fmt.Sprint("id-", op.CorrelationID), "v1"
	}
	return out, nil
}

func (c *introspectConn) Lookup(ctx context.Context, _ sdk.LookupRequest) ([]sdk.Record, error) {
	if _, err := c.auth(ctx); err != nil {
		return nil, err
	}
	return []sdk.Record{{ID: "1"}}, nil
}

func (c *introspectConn) Close() error { return nil }

type recordingSink struct {
	recs    []sdk.Record
	cursors []string
}

func (s *recordingSink) Records(recs []sdk.Record) error {
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *recordingSink) Checkpoint(c string) error {
	s.cursors = append(s.cursors, c)
	return nil
}

// testConn runs within TestGlewlwyd: the engine's "auth error → refresh once → retry" through
// Conn, with a plugin that checks its token at Glewlwyd.
func testConn(t *testing.T, env testsvc.GlewlwydEnv) {
	ln, client := loopbackClient(t, env)
	cfg := glewlwydConfig(t, env, client, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := (&Flow{Config: cfg, Listener: ln}).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := waitAsync(ctx, a)
	loc := testsvc.Authorize(t, env, a.URL)
	browserGet(t, loc.String())
	tok, err := recv(t, ch)
	if err != nil {
		t.Fatal(err)
	}

	ic := &introspectConnector{env: env, client: client}
	ct := &countingTransport{}
	sv := &saves{}
	stored := WithToken(map[string]string{SettingClientSecret: client.Secret}, tok)
	r := NewRefresher("crm", cfg, tok, sv.save, RefresherOptions{HTTPClient: &http.Client{Transport: ct}})
	conn := NewConn(ic, sdk.Config{Settings: map[string]string{SettingClientID: client.ID}, Secrets: stored}, cfg, r)
	defer conn.Close()

	acct, err := conn.Check(ctx)
	if err != nil || acct.Fingerprint != env.User {
		t.Fatalf("Check: %+v, %v", acct, err)
	}

	// The app revokes the access token: the read is refused, refreshed once, and retried.
	revokeAs(t, ctx, env, client, tok.AccessToken, "access_token")
	sink := &recordingSink{}
	if err := conn.Read(ctx, sdk.ReadRequest{Object: "contacts"}, sink); err != nil {
		t.Fatalf("Read after the access token was revoked: %v", err)
	}
	if len(sink.recs) != 1 || len(sink.cursors) != 1 || ct.n.Load() != 1 || len(sv.list()) != 1 {
		t.Fatalf("Read: %d records, %d checkpoints, %d refreshes, %d saves; want 1 each",
			len(sink.recs), len(sink.cursors), ct.n.Load(), len(sv.list()))
	}
	if got := ic.opened(); len(got) != 2 || got[0] != tok.AccessToken || got[1] != sv.list()[0].AccessToken {
		t.Errorf("the plugin was opened with %d tokens, want the first then the refreshed one", len(got))
	}

	// Many calls refused at once: one refresh between them.
	revokeAs(t, ctx, env, client, sv.list()[0].AccessToken, "access_token")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := conn.Lookup(ctx, sdk.LookupRequest{Object: "contacts", Field: "email", Values: []sdk.Value{sdk.String("a@example.com")}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Lookup: %v", err)
		}
	}
	if n := ct.n.Load(); n != 2 {
		t.Errorf("8 concurrent refused calls made %d refreshes, want 1", n-1)
	}

	// A batch whose every op is refused for auth is retried whole.
	revokeAs(t, ctx, env, client, sv.list()[1].AccessToken, "access_token")
	res, err := conn.Write(ctx, sdk.WriteRequest{Object: "contacts", Ops: []sdk.Op{{Kind: sdk.OpCreate, CorrelationID: "a"},
		{Kind: sdk.OpCreate, CorrelationID: "b"}}})
	if err != nil || len(res) != 2 || res[0].Err != nil || res[1].Err != nil || res[1].ID != "id-b" {
		t.Fatalf("Write after revocation: %+v, %v", res, err)
	}

	// A read that already delivered records is not retried: the engine sees the auth error.
	ic.authAfterRec = true
	revokeAs(t, ctx, env, client, sv.list()[2].AccessToken, "access_token")
	before := ct.n.Load()
	sink = &recordingSink{}
	if err := conn.Read(ctx, sdk.ReadRequest{Object: "contacts"}, sink); sdk.CategoryOf(err) != sdk.CategoryAuth || len(sink.recs) != 1 {
		t.Errorf("Read failing after a record: %v, %d records; want the auth error, the record once", err, len(sink.recs))
	}
	if ct.n.Load() != before {
		t.Errorf("a read that delivered records caused a refresh")
	}
	ic.authAfterRec = false

	// The grant is revoked (refresh token and its access token): the connection needs the admin.
	cur := sv.list()[len(sv.list())-1]
	revokeAs(t, ctx, env, client, cur.RefreshToken, "refresh_token")
	revokeAs(t, ctx, env, client, cur.AccessToken, "access_token")
	_, err = conn.Schema(ctx)
	var re *ReauthRequiredError
	if !errors.As(err, &re) || sdk.CategoryOf(err) != sdk.CategoryAuth {
		t.Fatalf("Schema after the grant was revoked: %v, want *ReauthRequiredError (auth)", err)
	}
	if ic.leaked {
		t.Errorf("the stored token secrets reached the plugin")
	}
}

// revokeAs revokes a token at Glewlwyd's RFC 7009 endpoint as client.
func revokeAs(t *testing.T, ctx context.Context, env testsvc.GlewlwydEnv, client testsvc.GlewlwydClient, token, hint string) {
	t.Helper()
	revoke(t, ctx, env, &Config{ClientID: client.ID, ClientSecret: client.Secret}, token, hint)
}

// refusingConnector refuses every call for auth, whatever the token: the plugin's credentials
// are fine by the provider but not by the app (e.g. the app's access was withdrawn).
type refusingConnector struct {
	mu     sync.Mutex
	opened int
}

func (rc *refusingConnector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{}, nil
}

func (rc *refusingConnector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.opened++
	return &refusingConn{}, nil
}

type refusingConn struct{}

var errRefused = sdk.Errorf(sdk.CategoryAuth, "401 from the app")

func (refusingConn) Check(context.Context) (sdk.Account, error) { return sdk.Account{}, errRefused }
func (refusingConn) Schema(context.Context) (sdk.Schema, error) { return sdk.Schema{}, errRefused }
func (refusingConn) Read(context.Context, sdk.ReadRequest, sdk.RecordSink) error {
	return errRefused
}
func (refusingConn) Write(_ context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	out := make([]sdk.WriteResult, len(req.Ops))
	for i := range out {
		out[i].Err = errRefused
	}
	return out, nil
}
func (refusingConn) Lookup(context.Context, sdk.LookupRequest) ([]sdk.Record, error) {
	return nil, errRefused
}
func (refusingConn) Close() error { return nil }

func TestConnRetriesOnce(t *testing.T) {
	ts := newTokenServer(t, issue(""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rc := &refusingConnector{}
	r := NewRefresher("crm", ts.config(), startToken(time.Hour), (&saves{}).save, fast)
	conn := NewConn(rc, sdk.Config{}, ts.config(), r)

	_, err := conn.Check(ctx)
	if sdk.CategoryOf(err) != sdk.CategoryAuth || !errors.Is(err, errRefused) ||
		!strings.Contains(err.Error(), "`datasync connection reauth crm`") {
		t.Errorf("Check refused twice: %v", err)
	}
	if n := len(ts.requests()); n != 1 || rc.opened != 2 {
		t.Errorf("%d refreshes, %d opens; want 1 refresh and a reopen with the new token", n, rc.opened)
	}
	// Per-op refusals that survive the refresh come back as per-op results.
	res, err := conn.Write(ctx, sdk.WriteRequest{Ops: []sdk.Op{{Kind: sdk.OpCreate}, {Kind: sdk.OpCreate}}})
	if err != nil || len(res) != 2 || res[0].Err == nil || res[0].Err.Category != sdk.CategoryAuth {
		t.Errorf("Write refused op by op twice: %+v, %v", res, err)
	}
	if n := len(ts.requests()); n != 2 {
		t.Errorf("%d refreshes after the write, want 2", n)
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Lookup(ctx, sdk.LookupRequest{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Lookup after Close: %v", err)
	}
}
