package oauth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// The secrets a connection's token is stored in, beside its other secrets (sealed by the host).
const (
	SecretAccessToken  = "oauth2_access_token"
	SecretRefreshToken = "oauth2_refresh_token"
	SecretTokenType    = "oauth2_token_type"
	SecretExpiry       = "oauth2_expiry" // RFC 3339, UTC; absent when the token does not expire
	SecretScope        = "oauth2_scope"  // the granted scopes, space-separated
)

const redacted = "[REDACTED]"

// Token is the stored shape of a connection's OAuth2 token. Printing or logging it never shows
// the access or refresh token: String, GoString, Format, LogValue and MarshalJSON redact them.
// Log NewToken(tok), never an *oauth2.Token (which prints its fields), and keep Token out of
// unexported struct fields that get printed (fmt reads those without calling methods).
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	Expiry       time.Time // zero: does not expire
	Scopes       []string  // granted, as the provider answered (empty if it did not say)
}

// NewToken is the stored shape of t; granted scopes come from the token response's scope.
func NewToken(t *oauth2.Token) Token {
	if t == nil {
		return Token{}
	}
	out := Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scopes = strings.Fields(s)
	}
	return out
}

// OAuth2 is t as x/oauth2 uses it, the granted scopes kept as the "scope" extra.
func (t Token) OAuth2() *oauth2.Token {
	tok := &oauth2.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
	if len(t.Scopes) > 0 {
		tok = tok.WithExtra(map[string]any{"scope": strings.Join(t.Scopes, " ")})
	}
	return tok
}

// ToSecrets returns the secrets that store tok; the host merges them into the connection's
// secrets and seals them.
func ToSecrets(tok *oauth2.Token) map[string]string {
	t := NewToken(tok)
	m := map[string]string{SecretAccessToken: t.AccessToken}
	if t.RefreshToken != "" {
		m[SecretRefreshToken] = t.RefreshToken
	}
	if t.TokenType != "" {
		m[SecretTokenType] = t.TokenType
	}
	if !t.Expiry.IsZero() {
		m[SecretExpiry] = t.Expiry.UTC().Format(time.RFC3339Nano)
	}
	if len(t.Scopes) > 0 {
		m[SecretScope] = strings.Join(t.Scopes, " ")
	}
	return m
}

// FromSecrets reads the token back out of a connection's secrets; ErrNoToken when there is none.
func FromSecrets(secrets map[string]string) (*oauth2.Token, error) {
	if secrets[SecretAccessToken] == "" {
		return nil, ErrNoToken
	}
	t := Token{AccessToken: secrets[SecretAccessToken], RefreshToken: secrets[SecretRefreshToken],
		TokenType: secrets[SecretTokenType], Scopes: strings.Fields(secrets[SecretScope])}
	if s := secrets[SecretExpiry]; s != "" {
		exp, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("read stored OAuth2 token: %s %q is not an RFC 3339 time", SecretExpiry, s)
		}
		t.Expiry = exp
	}
	return t.OAuth2(), nil
}

// WithToken returns a copy of a connection's secrets holding tok (replacing any stored token).
func WithToken(secrets map[string]string, tok *oauth2.Token) map[string]string {
	out := maps.Clone(secrets)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range []string{SecretAccessToken, SecretRefreshToken, SecretTokenType, SecretExpiry, SecretScope} {
		delete(out, k)
	}
	maps.Copy(out, ToSecrets(tok))
	return out
}

// PluginSecrets is what the plugin receives: the connection's secrets without the stored token,
// plus the access token under c.TokenSecret. The refresh token never reaches a plugin.
func (c *Config) PluginSecrets(secrets map[string]string, tok *oauth2.Token) map[string]string {
	out := maps.Clone(secrets)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range []string{SecretAccessToken, SecretRefreshToken, SecretTokenType, SecretExpiry, SecretScope} {
		delete(out, k)
	}
	if tok != nil {
		out[orElse(c.TokenSecret, DefaultTokenSecret)] = tok.AccessToken
	}
	return out
}

// String describes t without its tokens.
func (t Token) String() string {
	exp := "never"
	if !t.Expiry.IsZero() {
		exp = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("oauth.Token{type=%s access=%s refresh=%s expiry=%s scopes=%q}",
		orElse(t.TokenType, "?"), mask(t.AccessToken), mask(t.RefreshToken), exp, t.Scopes)
}

// GoString is String: %#v must not show the tokens either.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb, so no fmt verb (%x, %q, %+v…) reaches the fields.
func (t Token) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, t.String())
}

// LogValue logs t without its tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", t.TokenType), slog.String("access", mask(t.AccessToken)),
		slog.String("refresh", mask(t.RefreshToken)), slog.Time("expiry", t.Expiry),
		slog.String("scopes", strings.Join(t.Scopes, " ")))
}

// MarshalJSON writes t without its tokens: the stored form is ToSecrets, never JSON of Token.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"type": t.TokenType, "access": mask(t.AccessToken),
		"refresh": mask(t.RefreshToken), "expiry": t.Expiry, "scopes": t.Scopes})
}

func mask(s string) string {
	if s == "" {
		return "none"
	}
	return redacted
}
