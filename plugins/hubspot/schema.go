package main

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/datasync-io/datasync/sdk"
)

// hsProperty is a property definition from the properties API.
type hsProperty struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	Type           string `json:"type"`
	FieldType      string `json:"fieldType"`
	Calculated     bool   `json:"calculated"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	Hidden         bool   `json:"hidden"`
	Archived       bool   `json:"archived"`
	Options        []struct {
		Value  string `json:"value"`
		Hidden bool   `json:"hidden"`
	} `json:"options"`
	ModificationMetadata struct {
		ReadOnlyValue bool `json:"readOnlyValue"`
	} `json:"modificationMetadata"`
}

// objMeta is what reads and writes need to know about one object type.
type objMeta struct {
	name    string // as the host knows it: contacts, companies, a custom object's name
	path    string // in API paths: contacts, companies, 2-1234
	modProp string // the last-modified property search filters on
	obj     sdk.ObjectType
	fields  map[string]sdk.Field
}

// maxStringLength is HubSpot's limit on a string property value.
const maxStringLength = 65536

// externalIDProperty is the property the host may store its correlation id
// in, when the account has created it.
const externalIDProperty = "datasync_id"

// fieldOf maps a HubSpot property onto a schema field.
func fieldOf(object string, p hsProperty) sdk.Field {
	f := sdk.Field{Name: p.Name, Label: p.Label, Type: sdk.TypeString,
		ReadOnly: p.ModificationMetadata.ReadOnlyValue || p.Calculated,
		Unique:   p.HasUniqueValue || (object == "contacts" && p.Name == "email")}
	options := func() []string {
		var out []string
		for _, o := range p.Options {
			if !o.Hidden {
				out = append(out, o.Value)
			}
		}
		return out
	}
	switch {
	case p.Type == "bool" || p.FieldType == "booleancheckbox":
		f.Type = sdk.TypeBoolean
	case p.Type == "enumeration" && p.FieldType == "checkbox":
		f.Type, f.EnumOptions = sdk.TypeStringList, options()
	case p.Type == "enumeration":
		f.Type, f.EnumOptions = sdk.TypeEnum, options()
		if len(f.EnumOptions) == 0 { // options from an external source: any text
			f.Type = sdk.TypeString
		}
	case p.Type == "number":
		f.Type = sdk.TypeDecimal
	case p.Type == "date":
		f.Type = sdk.TypeDate
	case p.Type == "datetime":
		f.Type = sdk.TypeDateTime
	case p.Type == "phone_number" || p.FieldType == "phonenumber":
		f.Type = sdk.TypePhone
	case p.Name == "email" || p.FieldType == "email":
		f.Type = sdk.TypeEmail
	}
	if f.Type == sdk.TypeString || f.Type == sdk.TypeEmail || f.Type == sdk.TypePhone {
		f.MaxLength = maxStringLength
	}
	return f
}

// buildMeta turns a property list into an object type. hs_object_id is the
// record id, not a field; hidden and archived properties are left out.
func buildMeta(name, path, label, modProp string, props []hsProperty) *objMeta {
	m := &objMeta{name: name, path: path, modProp: modProp, fields: map[string]sdk.Field{}}
	m.obj = sdk.ObjectType{Name: name, Label: label, Incremental: true, Tombstones: true}
	sort.SliceStable(props, func(i, j int) bool { return props[i].Name < props[j].Name })
	for _, p := range props {
		if p.Hidden || p.Archived || p.Name == "hs_object_id" {
			continue
		}
		f := fieldOf(name, p)
		m.obj.Fields = append(m.obj.Fields, f)
		m.fields[f.Name] = f
		if f.Unique && !f.ReadOnly {
			m.obj.UpsertFields = append(m.obj.UpsertFields, f.Name)
		}
		if f.Name == externalIDProperty && !f.ReadOnly {
			m.obj.ExternalIDField = f.Name
		}
	}
	return m
}

type standardObject struct{ name, label, modProp string }

var standardObjects = []standardObject{
	{"contacts", "Contacts", "lastmodifieddate"},
	{"companies", "Companies", "hs_lastmodifieddate"},
}

// loadMetas reads the property definitions of every object type: the
// standard ones, and custom objects when the token may see their schemas.
func (c *conn) loadMetas(ctx context.Context) (map[string]*objMeta, error) {
	out := map[string]*objMeta{}
	for _, so := range standardObjects {
		var resp struct {
			Results []hsProperty `json:"results"`
		}
		if _, err := c.getJSON(ctx, "/crm/v3/properties/"+so.name, nil, &resp); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", so.name, err)
		}
		out[so.name] = buildMeta(so.name, so.name, so.label, so.modProp, resp.Results)
	}
	var schemas struct {
		Results []struct {
			ObjectTypeID string `json:"objectTypeId"`
			Name         string `json:"name"`
			Labels       struct {
				Plural string `json:"plural"`
			} `json:"labels"`
			Properties []hsProperty `json:"properties"`
		} `json:"results"`
	}
	if _, err := c.getJSON(ctx, "/crm/v3/schemas", nil, &schemas); err != nil {
		// Without the custom-object scopes there are none to sync: not a failure.
		if cat := sdk.CategoryOf(err); cat != sdk.CategoryForbidden && cat != sdk.CategoryNotFound {
			return nil, fmt.Errorf("custom object schemas: %w", err)
		}
		sdk.Logger(ctx).Info("custom object schemas not readable; syncing standard objects only", "error", err)
	}
	for _, s := range schemas.Results {
		if _, taken := out[s.Name]; taken || s.Name == "" {
			continue
		}
		out[s.Name] = buildMeta(s.Name, s.ObjectTypeID, s.Labels.Plural, "hs_lastmodifieddate", s.Properties)
	}
	return out, nil
}

// Schema implements sdk.Conn; it also refreshes the cached definitions.
func (c *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	metas, err := c.loadMetas(ctx)
	if err != nil {
		return sdk.Schema{}, err
	}
	c.mu.Lock()
	c.metas = metas
	c.mu.Unlock()
	var sch sdk.Schema
	for _, m := range metas {
		sch.Objects = append(sch.Objects, m.obj)
	}
	slices.SortFunc(sch.Objects, func(a, b sdk.ObjectType) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return sch, nil
}

// meta returns the cached definitions of object, loading them when absent
// or when refresh asks for it.
func (c *conn) meta(ctx context.Context, object string, refresh bool) (*objMeta, error) {
	c.mu.Lock()
	m, ok := c.metas[object]
	c.mu.Unlock()
	if ok && !refresh {
		return m, nil
	}
	metas, err := c.loadMetas(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.metas = metas
	c.mu.Unlock()
	if m, ok = metas[object]; ok {
		return m, nil
	}
	return nil, sdk.Errorf(sdk.CategoryNotFound, "no object type %q in this HubSpot account", object)
}

// checkFields refuses a field list naming properties the object lacks.
func (m *objMeta) checkFields(fields []string) error {
	for _, f := range fields {
		if _, ok := m.fields[f]; !ok {
			return sdk.FieldError(f, "%s has no property %q", m.name, f)
		}
	}
	return nil
}

// propertyNames is the properties to request for fields: the fields and the
// last-modified property the cursor needs.
func (m *objMeta) propertyNames(fields []string) []string {
	out := slices.Clone(fields)
	if !slices.Contains(out, m.modProp) {
		out = append(out, m.modProp)
	}
	return out
}
