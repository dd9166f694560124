package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/go-ldap/ldap/v3"
)

// version is the connector's release, reported by Describe.
const version = "0.1.0"

// Defaults of the settings.
const (
	defaultObjectClass = "inetOrgPerson"
	defaultRDN         = "cn"
)

// Connector is the LDAP connector.
type Connector struct{}

// New returns the LDAP connector.
func New() *Connector { return &Connector{} }

// Describe declares the settings.
func (*Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "ldap",
		Version: version,
		Description: "Entries of one object class under a base DN of an LDAP directory (OpenLDAP, 389, AD…), " +
			"with fields from the server's schema; incremental reads by modifyTimestamp.",
		Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{
			{Name: "bind_dn", Label: "Bind DN", Required: true, Example: "cn=admin,dc=example,dc=com"},
			{Name: "password", Label: "Bind password", Secret: true, Required: true},
		}},
		Settings: []sdk.ConfigField{
			{Name: "url", Label: "Server URL", Required: true, Example: "ldaps://ldap.example.com",
				Description: "ldap:// or ldaps://, with an optional port."},
			{Name: "starttls", Label: "StartTLS", Default: "false",
				Description: "true: upgrade an ldap:// connection with StartTLS before binding."},
			{Name: "base_dn", Label: "Base DN", Required: true, Example: "ou=people,dc=example,dc=com",
				Description: "Entries are read from the subtree below it and created directly under it."},
			{Name: "object_class", Label: "Object class", Default: defaultObjectClass,
				Description: "The structural object class of the entries; also the name of the object type."},
			{Name: "rdn_attribute", Label: "RDN attribute", Default: defaultRDN,
				Description: "The attribute naming new entries (DN = <attr>=<value>,<base_dn>); changing its value renames the entry."},
			{Name: "filter", Label: "Extra filter", Example: "(employeeType=staff)",
				Description: "An LDAP filter ANDed with (objectClass=<object_class>)."},
			sdk.WatchPollField("30s"),
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID, sdk.CapabilityWatch},
		Requirements: []string{"A bind DN that may read (and to write: add, modify, delete) entries below the base DN, " +
			"and read the subschema and the operational attributes modifyTimestamp and entryCSN."},
	}, nil
}

// settings are a connection's parsed settings.
type settings struct {
	url         string
	host        string
	startTLS    bool
	bindDN      string
	password    string
	baseDN      string
	objectClass string
	rdnAttr     string
	filter      string // "" or a valid filter
}

// Open checks the settings' form; Check reaches the server.
func (*Connector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	s := settings{
		url:         strings.TrimSpace(cfg.Get("url")),
		bindDN:      strings.TrimSpace(cfg.Get("bind_dn")),
		password:    cfg.Get("password"),
		baseDN:      strings.TrimSpace(cfg.Get("base_dn")),
		objectClass: strings.TrimSpace(cfg.Get("object_class")),
		rdnAttr:     strings.TrimSpace(cfg.Get("rdn_attribute")),
		filter:      strings.TrimSpace(cfg.Get("filter")),
	}
	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, sdk.FieldError("url", "url %q is not an ldap:// or ldaps:// URL", s.url)
	}
	s.host = u.Hostname()
	if v := cfg.Get("starttls"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, sdk.FieldError("starttls", "starttls %q is not true or false", v)
		}
		s.startTLS = b
	}
	if s.startTLS && u.Scheme == "ldaps" {
		return nil, sdk.FieldError("starttls", "starttls is for ldap:// URLs; ldaps:// is TLS already")
	}
	if _, err := ldap.ParseDN(s.baseDN); err != nil || s.baseDN == "" {
		return nil, sdk.FieldError("base_dn", "base_dn %q is not a DN: %v", s.baseDN, err)
	}
	if _, err := ldap.ParseDN(s.bindDN); err != nil {
		return nil, sdk.FieldError("bind_dn", "bind_dn %q is not a DN: %v", s.bindDN, err)
	}
	if s.objectClass == "" {
		s.objectClass = defaultObjectClass
	}
	if s.rdnAttr == "" {
		s.rdnAttr = defaultRDN
	}
	if s.filter != "" {
		if !strings.HasPrefix(s.filter, "(") {
			s.filter = "(" + s.filter + ")"
		}
		if _, err := ldap.CompileFilter(s.filter); err != nil {
			return nil, sdk.FieldError("filter", "filter %q: %v", s.filter, err)
		}
	}
	poll, err := cfg.Duration("watch_poll", 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{s: s, pageSize: defaultPageSize, watchPoll: poll}, nil
}
