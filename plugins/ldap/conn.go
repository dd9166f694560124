package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/go-ldap/ldap/v3"
)

const (
	defaultPageSize = 500
	dialTimeout     = 15 * time.Second
	opTimeout       = 2 * time.Minute
	oidAssertion    = "1.3.6.1.1.12" // RFC 4528
	attrEntryUUID   = "entryUUID"    // RFC 4530
	fieldDN         = "dn"
)

// conn is one bind identity on one server. It keeps one LDAP connection,
// redialled when it breaks; go-ldap runs concurrent operations on it.
type conn struct {
	s         settings
	pageSize  uint32
	watchPoll time.Duration // how often Watch asks for changed entries

	mu     sync.Mutex
	lc     *ldap.Conn
	object *object // the object type, from the subschema; nil until loaded
}

// object is the object type with how its fields map onto attributes.
type object struct {
	typ       sdk.ObjectType
	fields    map[string]attrField // by field name
	classes   []string             // objectClass values of a new entry
	rdnField  string               // field of the RDN attribute
	assertion bool                 // the server takes the assertion control
	// idAttr holds record ids: entryUUID, which survives renames, when
	// the server has it; "" means the DN.
	idAttr string
}

func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc != nil {
		err := c.lc.Close()
		c.lc = nil
		return err
	}
	return nil
}

// client returns a bound connection, dialling and binding when needed.
func (c *conn) client() (*ldap.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc != nil && !c.lc.IsClosing() {
		return c.lc, nil
	}
	tlsCfg := &tls.Config{ServerName: c.s.host, MinVersion: tls.VersionTLS12}
	lc, err := ldap.DialURL(c.s.url, ldap.DialWithDialer(&net.Dialer{Timeout: dialTimeout}), ldap.DialWithTLSConfig(tlsCfg))
	if err != nil {
		return nil, c.mapErr(err, "connect to "+c.s.url)
	}
	lc.SetTimeout(opTimeout)
	if c.s.startTLS {
		if err := lc.StartTLS(tlsCfg); err != nil {
			lc.Close()
			return nil, sdk.Errorf(sdk.CategoryUnreachable, "StartTLS with %s: %v", c.s.url, err)
		}
	}
	if err := lc.Bind(c.s.bindDN, c.s.password); err != nil {
		lc.Close()
		return nil, c.mapErr(err, "bind as "+c.s.bindDN)
	}
	c.lc = lc
	return lc, nil
}

// drop forgets a broken connection so the next call redials.
func (c *conn) drop(lc *ldap.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc == lc {
		c.lc.Close()
		c.lc = nil
	}
}

// read runs an idempotent operation, once more on a fresh connection when
// the first one turns out broken.
func (c *conn) read(fn func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		lc, err := c.client()
		if err != nil {
			return err
		}
		err = fn(lc)
		if attempt == 0 && ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
			c.drop(lc)
			continue
		}
		return err
	}
}

// write runs an operation once; a broken connection is dropped.
func (c *conn) write(fn func(*ldap.Conn) error) error {
	lc, err := c.client()
	if err != nil {
		return err
	}
	err = fn(lc)
	if ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
		c.drop(lc)
	}
	return err
}

// Check binds, checks the base DN and loads the object type.
func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	err := c.read(func(lc *ldap.Conn) error {
		_, err := lc.Search(ldap.NewSearchRequest(c.s.baseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return sdk.Account{}, sdk.FieldError("base_dn", "base DN %q does not exist on %s", c.s.baseDN, c.s.url)
	}
	if err != nil {
		return sdk.Account{}, c.mapErr(err, "read base DN "+c.s.baseDN)
	}
	if _, err := c.loadObject(ctx); err != nil {
		return sdk.Account{}, err
	}
	bind := c.s.bindDN
	if dn, err := ldap.ParseDN(bind); err == nil {
		bind = strings.ToLower(dn.String())
	}
	return sdk.Account{
		Fingerprint: strings.ToLower(c.s.url) + "/" + bind,
		Label:       fmt.Sprintf("%s on %s, %s entries below %s", c.s.bindDN, c.s.url, c.s.objectClass, c.s.baseDN),
	}, nil
}

func (c *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	o, err := c.loadObject(ctx)
	if err != nil {
		return sdk.Schema{}, err
	}
	return sdk.Schema{Objects: []sdk.ObjectType{o.typ}}, nil
}

// loadObject reads the subschema (once) and derives the object type.
func (c *conn) loadObject(context.Context) (*object, error) {
	c.mu.Lock()
	o := c.object
	c.mu.Unlock()
	if o != nil {
		return o, nil
	}
	var classes, attrs, controls []string
	err := c.read(func(lc *ldap.Conn) error {
		root, err := lc.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{"subschemaSubentry", "supportedControl"}, nil))
		if err != nil {
			return err
		}
		sub := "cn=Subschema"
		if len(root.Entries) > 0 {
			if v := root.Entries[0].GetAttributeValue("subschemaSubentry"); v != "" {
				sub = v
			}
			controls = root.Entries[0].GetAttributeValues("supportedControl")
		}
		res, err := lc.Search(ldap.NewSearchRequest(sub, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=subschema)", []string{"objectClasses", "attributeTypes"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) == 0 {
			return fmt.Errorf("no subschema entry %s", sub)
		}
		classes = res.Entries[0].GetEqualFoldAttributeValues("objectClasses")
		attrs = res.Entries[0].GetEqualFoldAttributeValues("attributeTypes")
		return nil
	})
	if err != nil {
		return nil, c.mapErr(err, "read the schema")
	}
	ss, err := parseSubschema(classes, attrs)
	if err != nil {
		return nil, fmt.Errorf("parse the schema: %w", err)
	}
	chain, err := ss.classChain(c.s.objectClass)
	if err != nil {
		return nil, sdk.FieldError("object_class", "%v", err)
	}
	fields, err := ss.objectFields(c.s.objectClass, c.s.rdnAttr)
	if err != nil {
		return nil, err
	}
	o = &object{
		typ: sdk.ObjectType{
			Name:        chain[0].Names[0],
			Label:       chain[0].Names[0] + " entries below " + c.s.baseDN,
			Incremental: true,
			// Deletes leave no trace to read: the host compares full reads.
			Tombstones: false,
		},
		fields: map[string]attrField{},
	}
	for i := len(chain) - 1; i >= 0; i-- {
		o.classes = append(o.classes, chain[i].Names[0])
	}
	if ss.attr(attrEntryUUID) != nil {
		o.idAttr = attrEntryUUID
	}
	// The DN itself, for admins and one-way copies; not the id (it changes
	// on a rename).
	fields = append([]attrField{{Field: sdk.Field{Name: fieldDN, Label: "DN", Type: sdk.TypeString, ReadOnly: true}}}, fields...)
	for _, f := range fields {
		o.typ.Fields = append(o.typ.Fields, f.Field)
		o.fields[f.Name] = f
		if !f.IsList && strings.EqualFold(f.Attr, c.s.rdnAttr) {
			o.rdnField = f.Name
		}
	}
	for _, ctl := range controls {
		o.assertion = o.assertion || ctl == oidAssertion
	}
	c.mu.Lock()
	c.object = o
	c.mu.Unlock()
	return o, nil
}

// objectFor checks the object name of a request.
func (c *conn) objectFor(ctx context.Context, name string) (*object, error) {
	o, err := c.loadObject(ctx)
	if err != nil {
		return nil, err
	}
	if name != o.typ.Name {
		return nil, sdk.Errorf(sdk.CategoryNotFound, "no object %q: this connection has %q", name, o.typ.Name)
	}
	return o, nil
}

// mapErr categorizes an LDAP failure (RFC 4511 result codes).
func (c *conn) mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("%s: %w", what, err)
	}
	msg := fmt.Sprintf("%s: %v", what, le.Err)
	switch le.ResultCode {
	case ldap.LDAPResultInvalidCredentials:
		return &sdk.Error{Category: sdk.CategoryAuth, Message: "authentication failed: check bind_dn and password"}
	case ldap.LDAPResultInappropriateAuthentication:
		return &sdk.Error{Category: sdk.CategoryAuth, Message: msg}
	case ldap.ErrorNetwork:
		return sdk.Errorf(sdk.CategoryUnreachable, "%s: %v", what, le.Err)
	case ldap.LDAPResultNoSuchObject:
		return sdk.Errorf(sdk.CategoryNotFound, "%s", msg)
	case ldap.LDAPResultEntryAlreadyExists:
		return &sdk.Error{Category: sdk.CategoryDuplicate, Field: c.rdnFieldName(), Message: msg}
	case ldap.LDAPResultObjectClassViolation, ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultUndefinedAttributeType, ldap.LDAPResultAttributeOrValueExists, ldap.LDAPResultNamingViolation,
		ldap.LDAPResultNotAllowedOnRDN, ldap.LDAPResultObjectClassModsProhibited, ldap.LDAPResultInvalidDNSyntax,
		ldap.LDAPResultInappropriateMatching, ldap.LDAPResultNoSuchAttribute:
		return &sdk.Error{Category: sdk.CategoryValidation, Field: c.fieldInMessage(le.Err.Error()), Message: msg}
	case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultStrongAuthRequired:
		return sdk.Errorf(sdk.CategoryForbidden, "%s", msg)
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded:
		return sdk.Errorf(sdk.CategoryTransient, "%s", msg)
	case ldap.LDAPResultAssertionFailed:
		return sdk.Errorf(sdk.CategoryConflict, "%s: the entry changed since it was read", what)
	}
	return sdk.Errorf(sdk.CategoryPermanent, "%s", msg)
}

func (c *conn) rdnFieldName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.object != nil && c.object.rdnField != "" {
		return c.object.rdnField
	}
	return c.s.rdnAttr
}

// quotedAttr finds 'attr' in slapd's diagnostics ("object class
// 'inetOrgPerson' requires attribute 'sn'"), leadingAttr "mail: value #0
// invalid per syntax".
var (
	quotedAttr  = regexp.MustCompile(`attribute (?:type )?'([^']+)'`)
	leadingAttr = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*):`)
)

// fieldInMessage names the field an LDAP diagnostic is about, "" when none
// is recognisable.
func (c *conn) fieldInMessage(msg string) string {
	c.mu.Lock()
	o := c.object
	c.mu.Unlock()
	var cand string
	if m := quotedAttr.FindStringSubmatch(msg); m != nil {
		cand = m[1]
	} else if m := leadingAttr.FindStringSubmatch(msg); m != nil {
		cand = m[1]
	}
	if cand == "" || o == nil {
		return cand
	}
	for _, f := range o.typ.Fields {
		if af := o.fields[f.Name]; !af.IsList && af.Attr != "" && strings.EqualFold(af.Attr, cand) {
			return f.Name
		}
	}
	return cand
}
