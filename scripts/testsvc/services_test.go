package testsvc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPostgres(t *testing.T) {
	t.Parallel()
	env := Postgres(t)
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, env.URL)
	if err != nil {
		t.Fatalf("connect %s: %v", env.URL, err)
	}
	defer conn.Close(ctx)
	var one int
	var db, user string
	if err := conn.QueryRow(ctx, "SELECT 1, current_database(), current_user").Scan(&one, &db, &user); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if one != 1 || db != env.DB || user != env.User {
		t.Fatalf("got %d %s %s, want 1 %s %s", one, db, user, env.DB, env.User)
	}

	bad := strings.Replace(env.URL, ":"+env.Password+"@", ":wrong"+env.Password+"@", 1)
	if bad == env.URL {
		t.Fatalf("URL %s does not carry the password", env.URL)
	}
	_, err = pgx.Connect(ctx, bad)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("connect with a wrong password: got %v, want SQLSTATE 28P01 (invalid_password)", err)
	}

	var fresh string
	t.Run("CreateDatabase", func(t *testing.T) {
		fresh = CreateDatabase(t, env)
		c, err := pgx.Connect(ctx, fresh)
		if err != nil {
			t.Fatalf("connect %s: %v", fresh, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "CREATE TABLE contacts (id serial PRIMARY KEY, email text UNIQUE)"); err != nil {
			t.Fatalf("create table in the fresh database: %v", err)
		}
		var n int
		if err := c.QueryRow(ctx, "INSERT INTO contacts (email) VALUES ('a@example.com') RETURNING id").Scan(&n); err != nil || n != 1 {
			t.Fatalf("insert: id %d, %v", n, err)
		}
	})
	name := strings.TrimPrefix(mustParse(t, fresh).Path, "/")
	if name == env.DB || name == "" {
		t.Fatalf("CreateDatabase gave %q, want a database other than %s", name, env.DB)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestRadicale(t *testing.T) {
	t.Parallel()
	env := Radicale(t)
	propfind := func(user, pass, path string) (int, string) {
		req, err := http.NewRequest("PROPFIND", env.URL+path, strings.NewReader(
			`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Depth", "0")
		req.Header.Set("Content-Type", "application/xml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PROPFIND %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, body := propfind(env.User, env.Password, env.AddressBook)
	if status != http.StatusMultiStatus || !strings.Contains(body, "addressbook") {
		t.Fatalf("PROPFIND %s with the right password: HTTP %d, want 207 naming an addressbook: %s", env.AddressBook, status, body)
	}
	if status, _ := propfind(env.User, "wrong"+env.Password, env.AddressBook); status != http.StatusUnauthorized {
		t.Errorf("PROPFIND with a wrong password: HTTP %d, want 401", status)
	}
	if status, _ := propfind(env.User, env.Password, env.AddressBook2); status != http.StatusForbidden {
		t.Errorf("PROPFIND of %s's address book as %s: HTTP %d, want 403", env.User2, env.User, status)
	}
	if status, _ := propfind(env.User2, env.Password2, env.AddressBook2); status != http.StatusMultiStatus {
		t.Errorf("PROPFIND %s as %s: HTTP %d, want 207", env.AddressBook2, env.User2, status)
	}

	var book string
	t.Run("CreateAddressBook", func(t *testing.T) {
		book = CreateAddressBook(t, env)
		if status, body := propfind(env.User, env.Password, book); status != http.StatusMultiStatus || !strings.Contains(body, "addressbook") {
			t.Fatalf("PROPFIND %s: HTTP %d, want 207 naming an addressbook: %s", book, status, body)
		}
	})
	if status, _ := propfind(env.User, env.Password, book); status != http.StatusNotFound {
		t.Errorf("PROPFIND %s after its test ended: HTTP %d, want 404", book, status)
	}
}

func TestSlapd(t *testing.T) {
	t.Parallel()
	env := Slapd(t)
	if want := fmt.Sprintf("ldap://%s:%d", env.Host, env.Port); env.URL != want {
		t.Errorf("URL %s, want %s", env.URL, want)
	}
	conn, err := ldap.DialURL(env.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", env.URL, err)
	}
	defer conn.Close()
	if err := conn.Bind(env.BindDN, "wrong"+env.BindPassword); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind with a wrong password: got %v, want invalid credentials", err)
	}
	if err := conn.Bind(env.BindDN, env.BindPassword); err != nil {
		t.Fatalf("bind %s: %v", env.BindDN, err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(env.PeopleDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=organizationalUnit)", []string{"ou"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("ou") != "people" {
		t.Fatalf("search %s: %v %v", env.PeopleDN, res, err)
	}

	var ou string
	t.Run("CreateOU", func(t *testing.T) {
		ou = CreateOU(t, env)
		dn := "cn=Ada Lovelace," + ou
		add := ldap.NewAddRequest(dn, nil)
		add.Attribute("objectClass", []string{"inetOrgPerson"})
		add.Attribute("cn", []string{"Ada Lovelace"})
		add.Attribute("sn", []string{"Lovelace"})
		add.Attribute("mail", []string{"ada@example.com"})
		if err := conn.Add(add); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
		res, err := conn.Search(ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, "(mail=ada@example.com)", []string{"cn", "sn", "modifyTimestamp", "entryCSN"}, nil))
		if err != nil {
			t.Fatalf("search %s: %v", ou, err)
		}
		if len(res.Entries) != 1 || res.Entries[0].DN != dn || res.Entries[0].GetAttributeValue("sn") != "Lovelace" {
			t.Fatalf("search found %d entries, want %s with sn Lovelace", len(res.Entries), dn)
		}
		if res.Entries[0].GetAttributeValue("entryCSN") == "" || res.Entries[0].GetAttributeValue("modifyTimestamp") == "" {
			t.Errorf("entry has no entryCSN / modifyTimestamp")
		}
	})
	_, err = conn.Search(ldap.NewSearchRequest(ou, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("search %s after its test ended: got %v, want no such object", ou, err)
	}
}

func TestGlewlwyd(t *testing.T) {
	t.Parallel()
	env := Glewlwyd(t)
	resp, err := http.Get(env.URL + "/config")
	if err != nil {
		t.Fatalf("GET /config: %v", err)
	}
	var cfg struct {
		APIPrefix string `json:"api_prefix"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || cfg.APIPrefix != "api" {
		t.Fatalf("GET /config: HTTP %d, api_prefix %q, %v", resp.StatusCode, cfg.APIPrefix, err)
	}

	// The registered client exists with its secret: client credentials work, a wrong secret not.
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {env.Scope}}
	if tok, status := token(t, env, env.ClientID, env.ClientSecret, form); status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client_credentials for %s: HTTP %d %+v", env.ClientID, status, tok)
	}
	if _, status := token(t, env, env.ClientID, "wrong"+env.ClientSecret, form); status/100 != 4 {
		t.Errorf("client_credentials with a wrong secret: HTTP %d, want 4xx", status)
	}

	t.Run("CodeFlowWithRotation", func(t *testing.T) {
		// A loopback redirect URI with a port, as a host would open (RFC 8252).
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		redirect := "http://" + ln.Addr().String() + "/callback"
		ln.Close()
		client := CreateClient(t, env, redirect)

		verifier := "datasync-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {redirect},
			"scope": {"openid " + env.Scope}, "state": {"st4te"}, "nonce": {"n0nce"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
		loc := Authorize(t, env, env.AuthURL+"?"+q.Encode())
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
			t.Fatalf("redirected to %s, want %s", loc, redirect)
		}
		code := loc.Query().Get("code")
		if code == "" || loc.Query().Get("state") != "st4te" {
			t.Fatalf("redirect %s: want a code and state st4te", loc)
		}

		tok, status := token(t, env, client.ID, client.Secret, url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
		if status != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" {
			t.Fatalf("code exchange: HTTP %d %+v", status, tok)
		}
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		tok2, status := token(t, env, client.ID, client.Secret, refresh)
		if status != http.StatusOK || tok2.AccessToken == "" || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh: HTTP %d %+v, want a new access token and a rotated refresh token", status, tok2)
		}
		if _, status := token(t, env, client.ID, client.Secret, refresh); status != http.StatusBadRequest {
			t.Errorf("reusing a rotated refresh token: HTTP %d, want 400", status)
		}
		// Replaying the old token revoked the whole chain, the newest one included.
		if _, status := token(t, env, client.ID, client.Secret, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tok2.RefreshToken}}); status != http.StatusBadRequest {
			t.Errorf("refresh after a replay: HTTP %d, want 400", status)
		}
	})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
}

func token(t *testing.T, env GlewlwydEnv, id, secret string, form url.Values) (tokenResponse, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", env.TokenURL, err)
	}
	defer resp.Body.Close()
	var tok tokenResponse
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &tok); err != nil {
			t.Fatalf("token response %q: %v", b, err)
		}
	}
	return tok, resp.StatusCode
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}
