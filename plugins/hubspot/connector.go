package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/webapi"
)

// Settings and secrets.
const (
	secretToken            = "access_token"
	settingBaseURL         = "base_url"
	settingPerTenSeconds   = "requests_per_10s"
	settingPerSecond       = "requests_per_second"
	settingSearchPerSecond = "search_requests_per_second"

	defaultBaseURL = "https://api.hubapi.com"
)

// Version is the connector's version.
const Version = "0.1.0"

// Connector is the HubSpot connector.
type Connector struct{}

// New returns the connector.
func New() *Connector { return &Connector{} }

// Describe implements sdk.Connector.
func (*Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "hubspot",
		Version: Version,
		Description: "HubSpot CRM: contacts, companies and custom objects (CRM v3 API). Incremental reads " +
			"through the search API, archived records as tombstones, batch writes.",
		Auth: sdk.AuthSpec{
			Fields: []sdk.ConfigField{{Name: secretToken, Label: "Access token", Secret: true,
				Description: "A private app's access token (Settings → Integrations → Private apps), " +
					"or left to the host when the connection authorizes with OAuth2."}},
			OAuth2: &sdk.OAuth2Spec{
				AuthURL:  "https://app.hubspot.com/oauth/authorize",
				TokenURL: "https://api.hubapi.com/oauth/v1/token",
				Scopes: []string{"crm.objects.contacts.read", "crm.objects.contacts.write",
					"crm.objects.companies.read", "crm.objects.companies.write",
					"crm.schemas.contacts.read", "crm.schemas.companies.read",
					"crm.objects.custom.read", "crm.objects.custom.write", "crm.schemas.custom.read"},
				ClientFromSettings: true,
				TokenSecret:        secretToken,
			},
		},
		Settings: []sdk.ConfigField{
			{Name: settingBaseURL, Label: "API base URL", Default: defaultBaseURL,
				Description: "Where the HubSpot API is; changed only to reach a test server."},
			{Name: settingPerTenSeconds, Label: "Requests per 10 seconds", Default: "100",
				Description: "The account's burst limit: 100 (Free/Starter private apps), 190 (Professional, Enterprise), 110 (public OAuth apps)."},
			{Name: settingPerSecond, Label: "Requests per second", Default: "0",
				Description: "An extra per-second cap; 0 for none."},
			{Name: settingSearchPerSecond, Label: "Search requests per second", Default: "5",
				Description: "The CRM search API's own limit (5 per second per token)."},
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID},
		Requirements: []string{
			"A HubSpot private app token with the scopes crm.objects.contacts.read/write, crm.objects.companies.read/write " +
				"and crm.schemas.contacts.read (plus the custom-object scopes to sync custom objects), or an OAuth2 app with those scopes.",
		},
	}, nil
}

// Open implements sdk.Connector: it parses the settings; Check does the network work.
func (c *Connector) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	d, _ := c.Describe(ctx)
	cfg = d.WithDefaults(cfg)
	base := strings.TrimRight(cfg.Get(settingBaseURL), "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, sdk.FieldError(settingBaseURL, "%q is not an http(s) URL", base)
	}
	token := cfg.Secrets[secretToken]
	if token == "" {
		return nil, &sdk.Error{Category: sdk.CategoryAuth, Field: secretToken,
			Message: "no access token: set a private app token, or authorize the connection with OAuth2"}
	}
	num := func(name string) (int, error) {
		n, err := strconv.Atoi(cfg.Get(name))
		if err != nil || n < 0 {
			return 0, sdk.FieldError(name, "%q is not a whole number ≥ 0", cfg.Get(name))
		}
		return n, nil
	}
	per10, err := num(settingPerTenSeconds)
	if err != nil {
		return nil, err
	}
	perSec, err := num(settingPerSecond)
	if err != nil {
		return nil, err
	}
	searchSec, err := num(settingSearchPerSecond)
	if err != nil {
		return nil, err
	}
	var general, search webapi.Limiter
	if per10 > 0 {
		general = append(general, webapi.ForWindow(per10, 10*time.Second, nil))
	}
	if perSec > 0 {
		general = append(general, webapi.ForWindow(perSec, time.Second, nil))
	}
	if searchSec > 0 {
		search = append(search, webapi.ForWindow(searchSec, time.Second, nil))
	}
	logger := sdk.Logger(ctx)
	client := &webapi.Client{
		HTTP:    &http.Client{Timeout: 2 * time.Minute},
		Limiter: general,
		Authorize: func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+token)
		},
		// Operators see throttling and flaky answers in the host's log (the
		// URL carries no secret: the token travels in a header).
		OnRetry: func(req *webapi.Request, attempt, status int, err error, wait time.Duration) {
			logger.Info("retrying HubSpot request", "method", req.Method, "url", req.URL, "attempt", attempt,
				"status", status, "error", err, "wait", wait)
		},
	}
	return &conn{base: base, api: client, searchLimit: search, metas: map[string]*objMeta{}}, nil
}

// conn is an open connection to one HubSpot account.
type conn struct {
	base        string
	api         *webapi.Client
	searchLimit webapi.Limiter // on top of api.Limiter for search requests

	mu    sync.Mutex
	metas map[string]*objMeta // by object name; nil map entry: not loaded
}

// Close implements sdk.Conn.
func (*conn) Close() error { return nil }

// Check implements sdk.Conn: the account-info endpoint names the portal.
func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	var info struct {
		PortalID            int64  `json:"portalId"`
		UIDomain            string `json:"uiDomain"`
		DataHostingLocation string `json:"dataHostingLocation"`
	}
	// Two attempts: an admin is waiting, and a dead host should say so soon.
	resp, err := c.sendAttempts(ctx, http.MethodGet, "/account-info/v3/details", nil, nil, true, nil, 2)
	if err == nil {
		err = decode(resp, &info)
	}
	if err != nil {
		return sdk.Account{}, fmt.Errorf("check: %w", err)
	}
	if info.PortalID == 0 {
		return sdk.Account{}, sdk.Errorf(sdk.CategoryPermanent, "account info without a portalId")
	}
	label := "HubSpot portal " + strconv.FormatInt(info.PortalID, 10)
	if info.UIDomain != "" {
		label += " (" + info.UIDomain
		if info.DataHostingLocation != "" {
			label += ", " + info.DataHostingLocation
		}
		label += ")"
	}
	return sdk.Account{Fingerprint: "hubspot-portal-" + strconv.FormatInt(info.PortalID, 10), Label: label}, nil
}
