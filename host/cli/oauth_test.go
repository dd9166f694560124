package cli

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/oauth2"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

func TestUsesOAuth(t *testing.T) {
	spec := &sdk.OAuth2Spec{TokenURL: "https://p.example/token", TokenSecret: "access_token"}
	withToken := oauth.WithToken(map[string]string{"client_secret": "s"}, &oauth2.Token{AccessToken: "a", RefreshToken: "r"})
	cases := []struct {
		name    string
		spec    *sdk.OAuth2Spec
		secrets map[string]string
		want    bool
	}{
		{"no OAuth2 declared", nil, withToken, false},
		{"private-app token", spec, map[string]string{"access_token": "pat-1"}, false},
		{"token from the flow", spec, withToken, true},
		{"nothing stored", spec, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			desc := sdk.Description{Auth: sdk.AuthSpec{OAuth2: c.spec}}
			if got := usesOAuth(desc, sdk.Config{Secrets: c.secrets}); got != c.want {
				t.Errorf("usesOAuth = %v, want %v", got, c.want)
			}
		})
	}
	if got := tokenSecretName(&sdk.OAuth2Spec{}); got != oauth.DefaultTokenSecret {
		t.Errorf("default token secret %q", got)
	}
	if got := tokenSecretName(spec); got != "access_token" {
		t.Errorf("declared token secret %q", got)
	}
}

// A refreshed token is sealed into the connection's secrets, beside the
// others, and read back by load; settings, account and status stay.
func TestTokenStoreSaveLoad(t *testing.T) {
	ctx := context.Background()
	e := &env{home: t.TempDir(), log: hclog.NewNullLogger(), stdout: io.Discard, stderr: io.Discard}
	box, err := e.secretBox()
	if err != nil {
		t.Fatal(err)
	}
	first := &oauth2.Token{AccessToken: "a1", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour).UTC()}
	sec := oauth.WithToken(map[string]string{"client_secret": "cs"}, first)
	sealed, err := box.Seal(sec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(e.home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutConnection(ctx, store.Connection{Name: "app", Plugin: "p", Settings: map[string]string{"client_id": "id"},
		Secrets: sealed, AccountFingerprint: "fp", Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	ts := &tokenStore{e: e, name: "app", secrets: sec}
	if tok, err := ts.load(ctx); err != nil || tok.AccessToken != "a1" || tok.RefreshToken != "r1" {
		t.Fatalf("load before a refresh: %v %v", tok, err)
	}
	next := &oauth2.Token{AccessToken: "a2", RefreshToken: "r2", Expiry: time.Now().Add(2 * time.Hour).UTC()}
	if err := ts.save(ctx, next); err != nil {
		t.Fatal(err)
	}
	tok, err := ts.load(ctx)
	if err != nil || tok.AccessToken != "a2" || tok.RefreshToken != "r2" || !tok.Expiry.Equal(next.Expiry) {
		t.Fatalf("load after save: %v", err)
	}
	c, err := st.Connection(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	got, err := box.Open(c.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if got["client_secret"] != "cs" || c.Settings["client_id"] != "id" || c.AccountFingerprint != "fp" || c.Status != "ok" {
		t.Errorf("save touched more than the token: secrets %d, settings %v, fingerprint %q, status %q",
			len(got), c.Settings, c.AccountFingerprint, c.Status)
	}
	if err := (&tokenStore{e: e, name: "gone", secrets: sec}).save(ctx, next); err == nil {
		t.Error("saving the token of a missing connection succeeded")
	}
}
