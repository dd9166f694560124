package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

// Settings (or secrets, for client_secret) a connection may hold to supply the OAuth2 client, or
// to point a connector at a self-hosted provider.
const (
	SettingClientID      = "client_id"
	SettingClientSecret  = "client_secret"
	SettingAuthURL       = "auth_url"
	SettingTokenURL      = "token_url"
	SettingDeviceAuthURL = "device_auth_url"
	SettingScopes        = "scopes"       // space- or comma-separated; replaces the declared scopes
	SettingRedirectURI   = "redirect_uri" // a fixed redirect URI, for providers that need one registered
	// SettingTokenAuthMethod is how a confidential client authenticates at the token endpoint:
	// client_secret_basic (the default every provider must accept, RFC 6749 §2.3.1) or
	// client_secret_post.
	SettingTokenAuthMethod = "token_auth_method"
)

// DefaultTokenSecret is the secret the access token reaches the plugin in when the connector
// declares none.
const DefaultTokenSecret = "access_token"

// Config is a connection's resolved OAuth2 client: who it is, where the provider is, what it asks.
type Config struct {
	ClientID      string
	ClientSecret  string // empty for a public client (PKCE alone)
	AuthURL       string
	TokenURL      string
	DeviceAuthURL string // empty: the provider has no device grant
	Scopes        []string
	RedirectURI   string // empty: a loopback URI on a random port
	TokenSecret   string // the secret name the plugin reads the access token from
	// AuthStyle is fixed rather than probed: x/oauth2's probing sends every failed token request
	// twice, which doubles polls and refresh attempts.
	AuthStyle oauth2.AuthStyle
}

// Resolve builds the OAuth2 client config of a connection from what the connector declares and
// what the admin set: the client from settings when the connector asks for it (else its default,
// which settings may override), endpoints and scopes from the spec unless settings override them.
func Resolve(spec sdk.OAuth2Spec, cfg sdk.Config) (*Config, error) {
	c := &Config{
		ClientID:      spec.DefaultClientID,
		ClientSecret:  cfg.Get(SettingClientSecret),
		AuthURL:       orElse(cfg.Get(SettingAuthURL), spec.AuthURL),
		TokenURL:      orElse(cfg.Get(SettingTokenURL), spec.TokenURL),
		DeviceAuthURL: orElse(cfg.Get(SettingDeviceAuthURL), spec.DeviceAuthURL),
		Scopes:        append([]string(nil), spec.Scopes...),
		RedirectURI:   cfg.Get(SettingRedirectURI),
		TokenSecret:   orElse(spec.TokenSecret, DefaultTokenSecret),
	}
	if id := cfg.Get(SettingClientID); id != "" {
		c.ClientID = id
	}
	if s := cfg.Get(SettingScopes); s != "" {
		c.Scopes = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	switch m := cfg.Get(SettingTokenAuthMethod); {
	case c.ClientSecret == "":
		c.AuthStyle = oauth2.AuthStyleInParams // a public client sends its client_id in the form
	case m == "" || m == "client_secret_basic":
		c.AuthStyle = oauth2.AuthStyleInHeader
	case m == "client_secret_post":
		c.AuthStyle = oauth2.AuthStyleInParams
	default:
		return nil, sdk.FieldError(SettingTokenAuthMethod, "%s %q: want client_secret_basic or client_secret_post",
			SettingTokenAuthMethod, m)
	}
	if c.ClientID == "" {
		if spec.ClientFromSettings {
			return nil, sdk.FieldError(SettingClientID, "the connector needs the OAuth2 client id of your app "+
				"registration: set %s (and %s if the app is confidential)", SettingClientID, SettingClientSecret)
		}
		return nil, sdk.FieldError(SettingClientID, "the connector declares no default OAuth2 client id: set %s", SettingClientID)
	}
	if c.TokenURL == "" {
		return nil, sdk.FieldError(SettingTokenURL, "the connector declares no OAuth2 token URL: set %s", SettingTokenURL)
	}
	if c.AuthURL == "" && c.DeviceAuthURL == "" {
		return nil, sdk.FieldError(SettingAuthURL, "the connector declares neither an OAuth2 authorization URL nor "+
			"a device authorization URL: set %s", SettingAuthURL)
	}
	for _, u := range []struct{ name, val string }{{SettingAuthURL, c.AuthURL}, {SettingTokenURL, c.TokenURL},
		{SettingDeviceAuthURL, c.DeviceAuthURL}} {
		if err := checkEndpoint(u.val); err != nil {
			return nil, sdk.FieldError(u.name, "%s %q: %v", u.name, u.val, err)
		}
	}
	if c.RedirectURI != "" {
		if u, err := url.Parse(c.RedirectURI); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, sdk.FieldError(SettingRedirectURI, "%s %q is not an absolute URL", SettingRedirectURI, c.RedirectURI)
		}
	}
	return c, nil
}

// checkEndpoint accepts https URLs, and http ones on loopback only (a local test provider):
// tokens and client secrets must not cross a network in the clear.
func checkEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("want an https URL (http only on loopback)")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// oauth2Config is the x/oauth2 view of c for one redirect URI.
func (c *Config) oauth2Config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, DeviceAuthURL: c.DeviceAuthURL,
			AuthStyle: c.AuthStyle},
		RedirectURL: redirectURI,
		Scopes:      c.Scopes,
	}
}

// String describes c without its client secret.
func (c Config) String() string {
	secret := "none"
	if c.ClientSecret != "" {
		secret = redacted
	}
	return fmt.Sprintf("oauth.Config{client_id=%s client_secret=%s auth_url=%s token_url=%s device_auth_url=%s scopes=%q}",
		c.ClientID, secret, c.AuthURL, c.TokenURL, c.DeviceAuthURL, c.Scopes)
}

// GoString is String, so %#v does not print the client secret either.
func (c Config) GoString() string { return c.String() }

// LogValue logs c without its client secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.Bool("confidential", c.ClientSecret != ""),
		slog.String("token_url", c.TokenURL))
}

// withClient makes x/oauth2 send its requests through hc (nil: http.DefaultClient).
func withClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
