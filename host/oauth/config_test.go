package oauth

import (
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

func TestResolve(t *testing.T) {
	vendor := sdk.OAuth2Spec{AuthURL: "https://app.example/oauth/authorize", TokenURL: "https://api.example/oauth/token",
		Scopes: []string{"crm.read", "crm.write"}, PKCE: true, DefaultClientID: "vendor-app", TokenSecret: "app_token"}
	byo := sdk.OAuth2Spec{AuthURL: "https://login.example/auth", TokenURL: "https://login.example/token",
		DeviceAuthURL: "https://login.example/device", Scopes: []string{"mail"}, ClientFromSettings: true}
	tests := []struct {
		name     string
		spec     sdk.OAuth2Spec
		settings map[string]string
		secrets  map[string]string
		want     Config
		wantErr  string // the field named by the error
	}{
		{name: "vendor default client", spec: vendor, want: Config{ClientID: "vendor-app",
			AuthURL: vendor.AuthURL, TokenURL: vendor.TokenURL, Scopes: vendor.Scopes, TokenSecret: "app_token",
			AuthStyle: oauth2.AuthStyleInParams}},
		{name: "client from settings, secret from secrets", spec: byo,
			settings: map[string]string{"client_id": "mine"}, secrets: map[string]string{"client_secret": "s3"},
			want: Config{ClientID: "mine", ClientSecret: "s3", AuthURL: byo.AuthURL, TokenURL: byo.TokenURL,
				DeviceAuthURL: byo.DeviceAuthURL, Scopes: []string{"mail"}, TokenSecret: DefaultTokenSecret,
				AuthStyle: oauth2.AuthStyleInHeader}},
		{name: "client from settings missing", spec: byo, wantErr: "client_id"},
		{name: "settings override the vendor's client and endpoints", spec: vendor,
			settings: map[string]string{"client_id": "self-hosted", "auth_url": "http://127.0.0.1:8080/auth",
				"token_url": "http://127.0.0.1:8080/token", "device_auth_url": "https://idp.example/device",
				"scopes": "a, b c", "redirect_uri": "http://127.0.0.1:7777/cb", "token_auth_method": "client_secret_post"},
			secrets: map[string]string{"client_secret": "x"},
			want: Config{ClientID: "self-hosted", ClientSecret: "x", AuthURL: "http://127.0.0.1:8080/auth",
				TokenURL: "http://127.0.0.1:8080/token", DeviceAuthURL: "https://idp.example/device", Scopes: []string{"a", "b", "c"},
				RedirectURI: "http://127.0.0.1:7777/cb", TokenSecret: "app_token", AuthStyle: oauth2.AuthStyleInParams}},
		{name: "no client id at all", spec: sdk.OAuth2Spec{AuthURL: vendor.AuthURL, TokenURL: vendor.TokenURL}, wantErr: "client_id"},
		{name: "no token URL", spec: sdk.OAuth2Spec{AuthURL: vendor.AuthURL, DefaultClientID: "a"}, wantErr: "token_url"},
		{name: "no authorization or device URL", spec: sdk.OAuth2Spec{TokenURL: vendor.TokenURL, DefaultClientID: "a"}, wantErr: "auth_url"},
		{name: "device only", spec: sdk.OAuth2Spec{TokenURL: vendor.TokenURL, DeviceAuthURL: "https://d.example/device", DefaultClientID: "a"},
			want: Config{ClientID: "a", TokenURL: vendor.TokenURL, DeviceAuthURL: "https://d.example/device",
				TokenSecret: DefaultTokenSecret, AuthStyle: oauth2.AuthStyleInParams}},
		{name: "plain http off loopback refused", spec: vendor, settings: map[string]string{"token_url": "http://idp.example/token"},
			wantErr: "token_url"},
		{name: "bad auth method", spec: vendor, settings: map[string]string{"token_auth_method": "private_key_jwt"},
			secrets: map[string]string{"client_secret": "x"}, wantErr: "token_auth_method"},
		{name: "relative redirect URI", spec: vendor, settings: map[string]string{"redirect_uri": "/cb"}, wantErr: "redirect_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.spec, sdk.Config{Settings: tc.settings, Secrets: tc.secrets})
			if tc.wantErr != "" {
				e := sdk.AsError(err)
				if err == nil || e.Category != sdk.CategoryValidation || e.Field != tc.wantErr {
					t.Fatalf("Resolve: %v, want a validation error on %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got.ClientID != tc.want.ClientID || got.ClientSecret != tc.want.ClientSecret || got.AuthURL != tc.want.AuthURL ||
				got.TokenURL != tc.want.TokenURL || got.DeviceAuthURL != tc.want.DeviceAuthURL ||
				strings.Join(got.Scopes, "|") != strings.Join(tc.want.Scopes, "|") || got.RedirectURI != tc.want.RedirectURI ||
				got.TokenSecret != tc.want.TokenSecret || got.AuthStyle != tc.want.AuthStyle {
				t.Errorf("Resolve =\n %#v %q %d\nwant\n %#v %q %d", got, got.ClientSecret, got.AuthStyle, tc.want, tc.want.ClientSecret, tc.want.AuthStyle)
			}
		})
	}
	// The declared scopes are copied, not shared: a connection overriding them changes nothing else.
	c, err := Resolve(vendor, sdk.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.Scopes[0] = "changed"
	if vendor.Scopes[0] != "crm.read" {
		t.Errorf("Resolve shares the spec's scopes slice")
	}
}
