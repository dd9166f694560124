package oauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	testAccess  = "at-SECRET-4f9a1c"
	testRefresh = "rt-SECRET-77b2e0"
)

func TestSecretsRoundTrip(t *testing.T) {
	exp := time.Date(2026, 11, 28, 17, 30, 0, 123456789, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		tok  Token
		keys []string // secrets written
	}{
		{"full", Token{AccessToken: testAccess, RefreshToken: testRefresh, TokenType: "Bearer", Expiry: exp,
			Scopes: []string{"contacts.read", "contacts.write"}},
			[]string{SecretAccessToken, SecretRefreshToken, SecretTokenType, SecretExpiry, SecretScope}},
		{"no refresh token", Token{AccessToken: testAccess, TokenType: "bearer", Expiry: exp},
			[]string{SecretAccessToken, SecretTokenType, SecretExpiry}},
		{"never expires", Token{AccessToken: testAccess, RefreshToken: testRefresh},
			[]string{SecretAccessToken, SecretRefreshToken}},
		{"access token only", Token{AccessToken: testAccess}, []string{SecretAccessToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ToSecrets(tc.tok.OAuth2())
			if len(m) != len(tc.keys) {
				t.Errorf("secrets %v, want keys %v", keys(m), tc.keys)
			}
			for _, k := range tc.keys {
				if m[k] == "" {
					t.Errorf("secret %s missing", k)
				}
			}
			back, err := FromSecrets(m)
			if err != nil {
				t.Fatalf("FromSecrets: %v", err)
			}
			got := NewToken(back)
			if got.AccessToken != tc.tok.AccessToken || got.RefreshToken != tc.tok.RefreshToken ||
				got.TokenType != tc.tok.TokenType || !got.Expiry.Equal(tc.tok.Expiry) ||
				strings.Join(got.Scopes, " ") != strings.Join(tc.tok.Scopes, " ") {
				t.Errorf("round trip: got %+v want %+v (expiry %s / %s)", got.Scopes, tc.tok.Scopes, got.Expiry, tc.tok.Expiry)
			}
		})
	}
}

func TestFromSecretsErrors(t *testing.T) {
	tests := []struct {
		name    string
		secrets map[string]string
		want    string
	}{
		{"nil", nil, "no OAuth2 token"},
		{"other secrets only", map[string]string{"api_key": "k"}, "no OAuth2 token"},
		{"refresh token without access token", map[string]string{SecretRefreshToken: testRefresh}, "no OAuth2 token"},
		{"bad expiry", map[string]string{SecretAccessToken: testAccess, SecretExpiry: "tomorrow"}, "oauth2_expiry \"tomorrow\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromSecrets(tc.secrets)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromSecrets: %v, want an error containing %q", err, tc.want)
			}
			if tc.want == "no OAuth2 token" && !errors.Is(err, ErrNoToken) {
				t.Errorf("want ErrNoToken, got %v", err)
			}
		})
	}
}

func TestWithTokenAndPluginSecrets(t *testing.T) {
	old := Token{AccessToken: "old-access", RefreshToken: "old-refresh", Scopes: []string{"a"}}.OAuth2()
	stored := WithToken(map[string]string{"client_secret": "cs", "api_key": "k"}, old)
	tok := Token{AccessToken: testAccess, TokenType: "Bearer"}.OAuth2() // no refresh token, no scope
	stored2 := WithToken(stored, tok)
	if stored2[SecretAccessToken] != testAccess || stored2[SecretRefreshToken] != "" || stored2[SecretScope] != "" {
		t.Errorf("WithToken kept parts of the old token: %v", keys(stored2))
	}
	if stored2["client_secret"] != "cs" || stored2["api_key"] != "k" || stored[SecretAccessToken] != "old-access" {
		t.Errorf("WithToken lost other secrets or changed its input")
	}

	for _, tc := range []struct{ tokenSecret, want string }{{"", DefaultTokenSecret}, {"hubspot_token", "hubspot_token"}} {
		c := &Config{TokenSecret: tc.tokenSecret}
		full := WithToken(map[string]string{"client_secret": "cs"}, Token{AccessToken: testAccess, RefreshToken: testRefresh,
			Expiry: time.Now(), Scopes: []string{"s"}}.OAuth2())
		ps := c.PluginSecrets(full, mustFromSecrets(t, full))
		if len(ps) != 2 || ps[tc.want] != testAccess || ps["client_secret"] != "cs" {
			t.Errorf("PluginSecrets(%q) = keys %v", tc.tokenSecret, keys(ps))
		}
		for _, v := range ps {
			if v == testRefresh {
				t.Errorf("the refresh token reached the plugin")
			}
		}
	}
}

func mustFromSecrets(t *testing.T, m map[string]string) *oauth2.Token {
	t.Helper()
	tok, err := FromSecrets(m)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTokenNeverPrinted(t *testing.T) {
	tok := Token{AccessToken: testAccess, RefreshToken: testRefresh, TokenType: "Bearer",
		Expiry: time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC), Scopes: []string{"contacts"}}
	type holder struct {
		Name  string
		Token Token
		Ptr   *Token
	}
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("refreshed", "token", tok, "ptr", &tok)
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("refreshed", "token", tok)
	js, err := json.Marshal(holder{"x", tok, &tok})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", tok), "%#v": fmt.Sprintf("%#v", tok),
		"%s": fmt.Sprintf("%s", tok), "%q": fmt.Sprintf("%q", tok), "%x": fmt.Sprintf("%x", tok),
		"%d": fmt.Sprintf("%d", tok), "pointer %v": fmt.Sprintf("%v", &tok), "pointer %+v": fmt.Sprintf("%+v", &tok),
		"nested %+v": fmt.Sprintf("%+v", holder{"x", tok, &tok}), "nested %#v": fmt.Sprintf("%#v", holder{"x", tok, &tok}),
		"slice %v": fmt.Sprint([]Token{tok}), "Sprint": fmt.Sprint(tok), "Sprintln": fmt.Sprintln(tok),
		"error wrap": fmt.Errorf("refresh %v: failed", tok).Error(),
		"slog text":  logText.String(), "slog json": logJSON.String(), "json": string(js),
	}
	for name, out := range outputs {
		for _, secret := range []string{testAccess, testRefresh, "SECRET"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows a token: %s", name, out)
			}
		}
	}
	// What is printed is still useful: type, expiry, scopes, and which tokens exist.
	if s := tok.String(); !strings.Contains(s, "2026-11-28T18:00:00Z") || !strings.Contains(s, "contacts") ||
		!strings.Contains(s, "access=[REDACTED]") || !strings.Contains(s, "Bearer") {
		t.Errorf("String() = %s", s)
	}
	if s := (Token{AccessToken: testAccess}).String(); !strings.Contains(s, "refresh=none") || !strings.Contains(s, "expiry=never") {
		t.Errorf("String() of a token without refresh/expiry = %s", s)
	}
}

func TestConfigNeverPrintsClientSecret(t *testing.T) {
	c := &Config{ClientID: "app", ClientSecret: "cs-SECRET-991", TokenURL: "https://p.example/token"}
	var logText bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("resolved", "oauth", c, "value", *c)
	for name, out := range map[string]string{"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c),
		"%#v": fmt.Sprintf("%#v", c), "slog": logText.String()} {
		if strings.Contains(out, "cs-SECRET-991") {
			t.Errorf("%s shows the client secret: %s", name, out)
		}
		if !strings.Contains(out, "app") {
			t.Errorf("%s lost the client id: %s", name, out)
		}
	}
}
