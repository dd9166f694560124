// Command oauthmem is a test connector for the CLI's OAuth2 tests: the SDK's
// in-memory connector (data in a JSON file) behind a real OAuth2 provider.
// It declares OAuth2 with the client from settings, and every call first
// asks the provider's introspection endpoint (RFC 7662) whether the access
// token it received is active: a revoked or unknown token fails with
// CategoryAuth. The account is the token's subject.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

func main() { sdk.Serve(&connector{mem: memory.New()}) }

const (
	settingIntrospectURL = "introspect_url"
	secretAccessToken    = "access_token"
)

type connector struct{ mem *memory.Connector }

func (c *connector) Describe(ctx context.Context) (sdk.Description, error) {
	d, err := c.mem.Describe(ctx)
	if err != nil {
		return d, err
	}
	d.Name, d.Version = "oauthmem", "1.0.0"
	d.Description = "Test connector: in-memory records behind an OAuth2 provider's token introspection"
	d.Auth = sdk.AuthSpec{OAuth2: &sdk.OAuth2Spec{
		AuthURL: "https://provider.invalid/auth", TokenURL: "https://provider.invalid/token",
		Scopes: []string{"datasync"}, PKCE: true, ClientFromSettings: true, TokenSecret: secretAccessToken,
	}}
	var settings []sdk.ConfigField
	for _, f := range d.Settings {
		if f.Name != memory.SettingExpectedToken {
			settings = append(settings, f)
		}
	}
	d.Settings = append(settings, sdk.ConfigField{Name: settingIntrospectURL, Label: "Introspection URL", Required: true})
	return d, nil
}

func (c *connector) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	inner := sdk.Config{Settings: map[string]string{}, Secrets: map[string]string{memory.SecretToken: "ok"}}
	for k, v := range cfg.Settings {
		inner.Settings[k] = v
	}
	inner.Settings[memory.SettingExpectedToken] = "ok"
	mc, err := c.mem.Open(ctx, inner)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: mc, cfg: cfg, hc: &http.Client{Timeout: 20 * time.Second}}, nil
}

type conn struct {
	sdk.Conn
	cfg sdk.Config
	hc  *http.Client
}

// introspect asks the provider about the access token as the client.
func (c *conn) introspect(ctx context.Context) (string, error) {
	tok := c.cfg.Secrets[secretAccessToken]
	if tok == "" {
		return "", sdk.Errorf(sdk.CategoryAuth, "no access token")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Get(settingIntrospectURL),
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return "", sdk.Errorf(sdk.CategoryPermanent, "introspect: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.cfg.Get("client_id")), url.QueryEscape(c.cfg.Get("client_secret")))
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", sdk.Errorf(sdk.CategoryUnreachable, "introspect: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Active   bool   `json:"active"`
		Sub      string `json:"sub"`
		Username string `json:"username"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", sdk.Errorf(sdk.CategoryTransient, "introspect: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", sdk.Errorf(sdk.CategoryTransient, "introspect: %v", err)
	}
	if !out.Active {
		return "", sdk.Errorf(sdk.CategoryAuth, "the access token is not active (revoked or expired)")
	}
	return fmt.Sprintf("%s|%s", out.Sub, out.Username), nil
}

func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	who, err := c.introspect(ctx)
	if err != nil {
		return sdk.Account{}, err
	}
	if _, err := c.Conn.Check(ctx); err != nil {
		return sdk.Account{}, err
	}
	return sdk.Account{Fingerprint: "sub:" + who, Label: strings.SplitN(who, "|", 2)[1]}, nil
}

func (c *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	if _, err := c.introspect(ctx); err != nil {
		return sdk.Schema{}, err
	}
	return c.Conn.Schema(ctx)
}

func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if _, err := c.introspect(ctx); err != nil {
		return err
	}
	return c.Conn.Read(ctx, req, sink)
}

func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	if _, err := c.introspect(ctx); err != nil {
		return nil, err
	}
	return c.Conn.Write(ctx, req)
}

func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	if _, err := c.introspect(ctx); err != nil {
		return nil, err
	}
	return c.Conn.Lookup(ctx, req)
}
