package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// schemaDef is one parsed objectClasses or attributeTypes value (RFC 4512
// 4.1): only the parts the connector uses.
type schemaDef struct {
	OID         string
	Names       []string
	Sup         []string
	Must, May   []string
	Syntax      string // OID without the {length} suffix
	MaxLen      int
	Equality    string
	SingleValue bool
	NoUserMod   bool
	Obsolete    bool
}

// parseSchemaDef parses "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name … )".
func parseSchemaDef(s string) (schemaDef, error) {
	toks, err := tokenize(s)
	if err != nil {
		return schemaDef{}, err
	}
	if len(toks) < 3 || toks[0] != "(" || toks[len(toks)-1] != ")" {
		return schemaDef{}, fmt.Errorf("schema definition %q: not in parentheses", s)
	}
	d := schemaDef{OID: toks[1]}
	toks = toks[2 : len(toks)-1]
	// value reads one value or a parenthesized list ("$"-separated).
	value := func() ([]string, error) {
		if len(toks) == 0 {
			return nil, fmt.Errorf("schema definition %q: keyword without a value", s)
		}
		if toks[0] != "(" {
			v := toks[0]
			toks = toks[1:]
			return []string{v}, nil
		}
		end := slices.Index(toks, ")")
		if end < 0 {
			return nil, fmt.Errorf("schema definition %q: unclosed list", s)
		}
		var out []string
		for _, t := range toks[1:end] {
			if t != "$" {
				out = append(out, t)
			}
		}
		toks = toks[end+1:]
		return out, nil
	}
	for len(toks) > 0 {
		kw := strings.ToUpper(toks[0])
		toks = toks[1:]
		switch kw {
		case "SINGLE-VALUE":
			d.SingleValue = true
		case "NO-USER-MODIFICATION":
			d.NoUserMod = true
		case "OBSOLETE":
			d.Obsolete = true
		case "COLLECTIVE", "STRUCTURAL", "AUXILIARY", "ABSTRACT":
		default:
			v, err := value()
			if err != nil {
				return schemaDef{}, err
			}
			switch kw {
			case "NAME":
				d.Names = v
			case "SUP":
				d.Sup = v
			case "MUST":
				d.Must = v
			case "MAY":
				d.May = v
			case "EQUALITY":
				d.Equality = v[0]
			case "SYNTAX":
				syn := v[0]
				if i := strings.IndexByte(syn, '{'); i >= 0 {
					d.MaxLen, _ = strconv.Atoi(strings.TrimSuffix(syn[i+1:], "}"))
					syn = syn[:i]
				}
				d.Syntax = syn
			}
		}
	}
	return d, nil
}

// tokenize splits a definition into "(", ")", "$", quoted strings (without
// quotes) and bare words.
func tokenize(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '$':
			out = append(out, string(c))
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("schema definition %q: unclosed quote", s)
			}
			out = append(out, s[i+1:i+1+end])
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()$'", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out, nil
}

// subschema is the object classes and attribute types of a server, by
// lower-cased name (every alias) and OID.
type subschema struct {
	classes map[string]*schemaDef
	attrs   map[string]*schemaDef
}

func parseSubschema(classes, attrs []string) (*subschema, error) {
	ss := &subschema{classes: map[string]*schemaDef{}, attrs: map[string]*schemaDef{}}
	for _, group := range []struct {
		defs []string
		into map[string]*schemaDef
	}{{classes, ss.classes}, {attrs, ss.attrs}} {
		for _, s := range group.defs {
			d, err := parseSchemaDef(s)
			if err != nil {
				return nil, err
			}
			group.into[strings.ToLower(d.OID)] = &d
			for _, n := range d.Names {
				group.into[strings.ToLower(n)] = &d
			}
		}
	}
	return ss, nil
}

func (ss *subschema) attr(name string) *schemaDef { return ss.attrs[strings.ToLower(name)] }

// resolved follows an attribute's SUP chain for what it inherits: syntax,
// length and equality rule.
func (ss *subschema) resolved(a *schemaDef) schemaDef {
	r := *a
	seen := map[*schemaDef]bool{a: true}
	for cur := a; (r.Syntax == "" || r.Equality == "") && len(cur.Sup) > 0; {
		sup := ss.attr(cur.Sup[0])
		if sup == nil || seen[sup] {
			break
		}
		seen[sup] = true
		if r.Syntax == "" {
			r.Syntax, r.MaxLen = sup.Syntax, sup.MaxLen
		}
		if r.Equality == "" {
			r.Equality = sup.Equality
		}
		cur = sup
	}
	return r
}

// classChain returns the class and its superclasses, most specific first,
// without "top".
func (ss *subschema) classChain(name string) ([]*schemaDef, error) {
	var out []*schemaDef
	seen := map[*schemaDef]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		c := ss.classes[strings.ToLower(n)]
		if c == nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("the server's schema has no object class %q", name)
			}
			continue
		}
		if seen[c] || strings.EqualFold(c.Names[0], "top") {
			continue
		}
		seen[c] = true
		out = append(out, c)
		queue = append(queue, c.Sup...)
	}
	return out, nil
}

// Syntaxes (RFC 4517) with a field type other than string, and those the
// connector leaves out: binary data and passwords do not sync as text.
const (
	synBoolean     = "1.3.6.1.4.1.1466.115.121.1.7"
	synGenTime     = "1.3.6.1.4.1.1466.115.121.1.24"
	synInteger     = "1.3.6.1.4.1.1466.115.121.1.27"
	synTelephone   = "1.3.6.1.4.1.1466.115.121.1.50"
	synOctetString = "1.3.6.1.4.1.1466.115.121.1.40"
)

var binarySyntaxes = map[string]bool{
	"1.3.6.1.4.1.1466.115.121.1.4":  true, // audio
	"1.3.6.1.4.1.1466.115.121.1.5":  true, // binary
	"1.3.6.1.4.1.1466.115.121.1.8":  true, // certificate
	"1.3.6.1.4.1.1466.115.121.1.9":  true, // certificate list
	"1.3.6.1.4.1.1466.115.121.1.10": true, // certificate pair
	"1.3.6.1.4.1.1466.115.121.1.23": true, // fax
	"1.3.6.1.4.1.1466.115.121.1.28": true, // JPEG
	synOctetString:                  true, // userPassword, and opaque bytes
}

// listSuffix names the read-only list variant of a multi-valued attribute
// the connector exposes as a scalar (its first value).
const listSuffix = "_values"

// listVariants are the multi-valued attributes that also get a list field:
// the ones contacts commonly hold several of.
var listVariants = map[string]bool{"mail": true, "telephonenumber": true, "mobile": true, "homephone": true}

// attrField is how one field maps onto the directory.
type attrField struct {
	sdk.Field
	Attr   string // attribute name as the schema spells it
	Multi  bool   // the attribute is multi-valued
	IsList bool   // the field is the list variant (read-only)
}

// objectFields derives the fields of an object class: every MUST and MAY
// attribute of the class and its superclasses (but objectClass, binary and
// password attributes), MUST ones required; SINGLE-VALUE and multi-valued
// attributes alike are scalar fields (the first value), a few common
// multi-valued ones also get a read-only "<attr>_values" list.
func (ss *subschema) objectFields(class, rdnAttr string) ([]attrField, error) {
	chain, err := ss.classChain(class)
	if err != nil {
		return nil, err
	}
	must := map[string]bool{}
	var names []string
	seen := map[string]bool{}
	add := func(n string, required bool) {
		a := ss.attr(n)
		if a == nil {
			return
		}
		key := strings.ToLower(a.Names[0])
		if required {
			must[key] = true
		}
		if !seen[key] {
			seen[key] = true
			names = append(names, a.Names[0])
		}
	}
	// Superclasses first: person's attributes before inetOrgPerson's.
	for i := len(chain) - 1; i >= 0; i-- {
		for _, n := range chain[i].Must {
			add(n, true)
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, n := range chain[i].May {
			add(n, false)
		}
	}
	if ss.attr(rdnAttr) == nil {
		return nil, sdk.FieldError("rdn_attribute", "the server's schema has no attribute %q", rdnAttr)
	}
	if !seen[strings.ToLower(ss.attr(rdnAttr).Names[0])] {
		return nil, sdk.FieldError("rdn_attribute", "attribute %q is not allowed in object class %q", rdnAttr, class)
	}
	var out []attrField
	for _, n := range names {
		a := ss.resolved(ss.attr(n))
		key := strings.ToLower(n)
		if key == "objectclass" || binarySyntaxes[a.Syntax] || a.Obsolete {
			continue
		}
		f := attrField{Attr: n, Multi: !a.SingleValue}
		f.Field = sdk.Field{Name: n, Type: fieldType(key, a.Syntax), Required: must[key], ReadOnly: a.NoUserMod}
		if desc := a.Names; len(desc) > 0 {
			f.Label = desc[0]
		}
		if a.MaxLen > 0 && f.Type.ValueKind() == sdk.KindString {
			f.MaxLength = a.MaxLen
		}
		// The RDN is unique among the entries created under the base DN.
		f.Unique = strings.EqualFold(n, rdnAttr)
		out = append(out, f)
		if f.Multi && listVariants[key] {
			out = append(out, attrField{Attr: n, Multi: true, IsList: true, Field: sdk.Field{
				Name: n + listSuffix, Label: n + " (all values)", Type: sdk.TypeStringList, ReadOnly: true}})
		}
	}
	return out, nil
}

func fieldType(name, syntax string) sdk.FieldType {
	switch {
	case name == "mail":
		return sdk.TypeEmail
	case name == "labeleduri":
		return sdk.TypeString // "URL label": not a bare URL
	case syntax == synTelephone:
		return sdk.TypePhone
	case syntax == synInteger:
		return sdk.TypeInteger
	case syntax == synBoolean:
		return sdk.TypeBoolean
	case syntax == synGenTime:
		return sdk.TypeDateTime
	}
	return sdk.TypeString
}
