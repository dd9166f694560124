package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
	"github.com/go-ldap/ldap/v3"
)

// writeWorkers is how many ops of a batch are in flight on the connection.
const writeWorkers = 4

func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	o, err := c.objectFor(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	if _, err := o.attrsFor(req.Fields); err != nil {
		return nil, err
	}
	return sdk.WriteEach(ctx, req.Ops, writeWorkers, func(ctx context.Context, op sdk.Op) sdk.WriteResult {
		return c.writeOp(ctx, o, req.Fields, op)
	})
}

func (c *conn) writeOp(ctx context.Context, o *object, fields []string, op sdk.Op) sdk.WriteResult {
	var res sdk.WriteResult
	var err error
	switch op.Kind {
	case sdk.OpCreate:
		res, err = c.create(o, fields, op)
	case sdk.OpUpdate:
		res, err = c.update(ctx, o, fields, op)
	case sdk.OpDelete:
		res, err = c.delete(ctx, o, op)
	default:
		err = sdk.Errorf(sdk.CategoryPermanent, "unknown op kind %d", op.Kind)
	}
	res.CorrelationID = op.CorrelationID
	if err != nil {
		res.Err = sdk.AsError(err)
	}
	return res
}

// attrValues converts a value for the attribute; nil means "no value"
// (null, "" and the empty list: LDAP has no empty values).
func attrValues(af attrField, v sdk.Value) ([]string, error) {
	if af.ReadOnly || af.IsList {
		return nil, sdk.FieldError(af.Name, "%s is read-only", af.Name)
	}
	switch v.Kind {
	case sdk.KindNull:
		return nil, nil
	case sdk.KindStringList:
		return nil, sdk.FieldError(af.Name, "%s takes one value, got a list", af.Name)
	case sdk.KindBoolean:
		return []string{strings.ToUpper(strconv.FormatBool(v.Bool))}, nil
	case sdk.KindDateTime:
		return []string{v.Time.UTC().Format("20060102150405Z")}, nil
	}
	if s := v.Text(); s != "" {
		return []string{s}, nil
	}
	return nil, nil
}

func (c *conn) create(o *object, fields []string, op sdk.Op) (sdk.WriteResult, error) {
	rdn, _ := op.Value(o.rdnField)
	if rdn.Text() == "" {
		return sdk.WriteResult{}, sdk.FieldError(o.rdnField, "%s is required: it names the new entry", o.rdnField)
	}
	dn := c.s.rdnAttr + "=" + ldap.EscapeDN(rdn.Text()) + "," + c.s.baseDN
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", o.classes)
	for i, f := range op.Fields {
		af, ok := o.fields[f]
		if !ok {
			return sdk.WriteResult{}, sdk.FieldError(f, "%s has no field %q", o.typ.Name, f)
		}
		vals, err := attrValues(af, op.Values[i])
		if err != nil {
			return sdk.WriteResult{}, err
		}
		if len(vals) > 0 {
			add.Attribute(af.Attr, vals)
		}
	}
	if err := c.write(func(lc *ldap.Conn) error { return lc.Add(add) }); err != nil {
		return sdk.WriteResult{}, c.mapErr(err, "add "+dn)
	}
	return c.result(o, dn, fields)
}

// uuidShape is an entryUUID (RFC 4530); anything else is no id of ours.
var uuidShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// fetch reads the entry of a record id with the attributes of fields and
// the version: by entryUUID below the base DN, or by DN.
func (c *conn) fetch(ctx context.Context, o *object, id string, fields []string) (*ldap.Entry, error) {
	if o.idAttr == "" {
		return c.fetchDN(o, id, fields)
	}
	if !uuidShape.MatchString(id) {
		return nil, sdk.Errorf(sdk.CategoryNotFound, "no entry %q: not an %s", id, o.idAttr)
	}
	attrs, err := o.attrsFor(fields)
	if err != nil {
		return nil, err
	}
	var entry *ldap.Entry
	_, err = c.search(ctx, c.baseFilter(o, "("+o.idAttr+"="+id+")"), attrs, func(es []*ldap.Entry) error {
		if len(es) > 0 && entry == nil {
			entry = es[0]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if entry == nil {
		return nil, sdk.Errorf(sdk.CategoryNotFound, "no entry with %s %s below %s", o.idAttr, id, c.s.baseDN)
	}
	return entry, nil
}

// fetchDN reads one entry by DN.
func (c *conn) fetchDN(o *object, dn string, fields []string) (*ldap.Entry, error) {
	attrs, err := o.attrsFor(fields)
	if err != nil {
		return nil, err
	}
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return nil, sdk.Errorf(sdk.CategoryNotFound, "no entry %q: not a DN", dn)
	}
	var entry *ldap.Entry
	err = c.read(func(lc *ldap.Conn) error {
		res, err := lc.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", attrs, nil))
		if err == nil && len(res.Entries) > 0 {
			entry = res.Entries[0]
		}
		return err
	})
	if err == nil && entry == nil {
		err = ldap.NewError(ldap.LDAPResultNoSuchObject, nil)
	}
	if err != nil {
		return nil, c.mapErr(err, "read "+dn)
	}
	return entry, nil
}

// result reads back what was stored.
func (c *conn) result(o *object, dn string, fields []string) (sdk.WriteResult, error) {
	e, err := c.fetchDN(o, dn, fields)
	if err != nil {
		return sdk.WriteResult{}, err
	}
	r := o.record(e, fields)
	return sdk.WriteResult{ID: r.ID, Version: r.Version, ModifiedAt: r.ModifiedAt, Values: r.Values}, nil
}

// assertCSN is the assertion control (RFC 4528) making a write fail with
// assertionFailed when the entry changed since it was read.
func (o *object) assertCSN(e *ldap.Entry) []ldap.Control {
	csn := e.GetEqualFoldAttributeValue(attrCSN)
	if !o.assertion || csn == "" {
		return nil
	}
	f, err := ldap.CompileFilter("(" + attrCSN + "=" + ldap.EscapeFilter(csn) + ")")
	if err != nil {
		return nil
	}
	return []ldap.Control{ldap.NewControlString(oidAssertion, true, string(f.Bytes()))}
}

func (c *conn) update(ctx context.Context, o *object, fields []string, op sdk.Op) (sdk.WriteResult, error) {
	all := make([]string, 0, len(op.Fields)+1)
	all = append(all, op.Fields...)
	all = append(all, o.rdnField)
	cur, err := c.fetch(ctx, o, op.ID, all)
	if err != nil {
		return sdk.WriteResult{}, err
	}
	if op.IfVersion != "" && op.IfVersion != entryVersion(cur) {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryConflict, "%s changed since version %s (now %s)", op.ID, op.IfVersion, entryVersion(cur))
	}
	dn := cur.DN
	mod := ldap.NewModifyRequest(dn, o.assertCSN(cur))
	var newRDN string
	for i, f := range op.Fields {
		af, ok := o.fields[f]
		if !ok {
			return sdk.WriteResult{}, sdk.FieldError(f, "%s has no field %q", o.typ.Name, f)
		}
		vals, err := attrValues(af, op.Values[i])
		if err != nil {
			return sdk.WriteResult{}, err
		}
		old := cur.GetEqualFoldAttributeValues(af.Attr)
		if af.Multi && len(old) > 1 {
			// The field is the first value: replace it, keep the others.
			vals = append(vals, old[1:]...)
		}
		if f == o.rdnField {
			if len(vals) == 0 {
				return sdk.WriteResult{}, sdk.FieldError(f, "%s names the entry: it cannot be emptied", f)
			}
			if rdnValue(dn, c.s.rdnAttr) != vals[0] {
				newRDN = vals[0]
			}
		}
		// A replace with no values deletes the attribute (RFC 4511 4.6).
		mod.Replace(af.Attr, vals)
	}
	if newRDN != "" {
		// The RDN value must stay in the entry: rename first (dropping the
		// old RDN value), then the modify sets the rest.
		rename := ldap.NewModifyDNWithControlsRequest(dn, c.s.rdnAttr+"="+ldap.EscapeDN(newRDN), true, "", o.assertCSN(cur))
		if err := c.write(func(lc *ldap.Conn) error { return lc.ModifyDN(rename) }); err != nil {
			return sdk.WriteResult{}, c.mapErr(err, "rename "+dn)
		}
		dn = c.s.rdnAttr + "=" + ldap.EscapeDN(newRDN) + parentOf(dn)
		mod.DN, mod.Controls = dn, nil
	}
	if len(mod.Changes) > 0 {
		if err := c.write(func(lc *ldap.Conn) error { return lc.Modify(mod) }); err != nil {
			return sdk.WriteResult{}, c.mapErr(err, "modify "+dn)
		}
	}
	return c.result(o, dn, fields)
}

// parentOf returns ",<parent DN>" of dn: from its first unescaped comma.
func parentOf(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[i:]
		}
	}
	return ""
}

// rdnValue returns the value of attr in dn's first RDN.
func rdnValue(dn, attr string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return ""
	}
	for _, a := range d.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, attr) {
			return a.Value
		}
	}
	return ""
}

func (c *conn) delete(ctx context.Context, o *object, op sdk.Op) (sdk.WriteResult, error) {
	cur, err := c.fetch(ctx, o, op.ID, nil)
	if err != nil {
		return sdk.WriteResult{}, err
	}
	if v := entryVersion(cur); op.IfVersion != "" && op.IfVersion != v {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryConflict, "%s changed since version %s (now %s)", op.ID, op.IfVersion, v)
	}
	var controls []ldap.Control
	if op.IfVersion != "" {
		controls = o.assertCSN(cur)
	}
	if err := c.write(func(lc *ldap.Conn) error { return lc.Del(ldap.NewDelRequest(cur.DN, controls)) }); err != nil {
		return sdk.WriteResult{}, c.mapErr(err, "delete "+cur.DN)
	}
	return sdk.WriteResult{ID: op.ID}, nil
}
