package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// version is the connector's release, reported by Describe.
const version = "0.1.0"

// Connector is the CardDAV connector.
type Connector struct{}

// New returns the CardDAV connector.
func New() *Connector { return &Connector{} }

// Describe declares the settings: url, addressbook, username, password.
func (*Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:        "carddav",
		Version:     version,
		Description: "Contacts of one CardDAV address book (RFC 6352), read incrementally with sync-collection (RFC 6578).",
		Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{
			{Name: "username", Label: "Username", Required: true, Example: "alice"},
			{Name: "password", Label: "Password", Secret: true, Required: true},
		}},
		Settings: []sdk.ConfigField{
			{Name: "url", Label: "Server URL", Required: true, Example: "https://dav.example.com/",
				Description: "The CardDAV server (its root, or any URL on it)."},
			{Name: "addressbook", Label: "Address book path",
				Example: "/alice/contacts/",
				Description: "Path of the address book on the server. Empty: discovered through the " +
					"user's principal; the account must then have exactly one address book."},
			sdk.WatchPollField("30s"),
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID, sdk.CapabilityWatch},
		Requirements: []string{"An account on the CardDAV server that may read and write the address book."},
	}, nil
}

// Open checks the settings' form; Check reaches the server.
func (*Connector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	raw := strings.TrimSpace(cfg.Get("url"))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.FieldError("url", "url %q is not an http:// or https:// URL", raw)
	}
	book := strings.TrimSpace(cfg.Get("addressbook"))
	if book != "" {
		if b, err := url.Parse(book); err == nil && b.IsAbs() {
			if b.Host != u.Host {
				return nil, sdk.FieldError("addressbook", "address book %q is on another server than url %q", book, raw)
			}
			book = b.Path
		}
		book = "/" + strings.Trim(book, "/") + "/"
	}
	poll, err := cfg.Duration("watch_poll", 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{
		watchPoll: poll,
		dav: &davClient{
			http:     &http.Client{Timeout: 2 * time.Minute},
			base:     u,
			username: cfg.Get("username"),
			password: cfg.Get("password"),
		},
		bookSetting: book,
	}, nil
}
