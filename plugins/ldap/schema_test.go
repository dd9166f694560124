package main

import (
	"slices"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

func TestParseSchemaDef(t *testing.T) {
	tests := []struct {
		in   string
		want schemaDef
	}{
		{"( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
			schemaDef{OID: "2.5.4.3", Names: []string{"cn", "commonName"}, Sup: []string{"name"}}},
		{"( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
			schemaDef{OID: "0.9.2342.19200300.100.1.3", Names: []string{"mail", "rfc822Mailbox"}, Equality: "caseIgnoreIA5Match",
				Syntax: "1.3.6.1.4.1.1466.115.121.1.26", MaxLen: 256}},
		{"( 2.16.840.1.113730.3.1.241 NAME 'displayName' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
			schemaDef{OID: "2.16.840.1.113730.3.1.241", Names: []string{"displayName"}, Syntax: "1.3.6.1.4.1.1466.115.121.1.15", SingleValue: true}},
		{"( 2.5.18.2 NAME 'modifyTimestamp' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
			schemaDef{OID: "2.5.18.2", Names: []string{"modifyTimestamp"}, Syntax: "1.3.6.1.4.1.1466.115.121.1.24", SingleValue: true, NoUserMod: true}},
		{"( 2.5.6.6 NAME 'person' DESC 'RFC2256: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber ) )",
			schemaDef{OID: "2.5.6.6", Names: []string{"person"}, Sup: []string{"top"}, Must: []string{"sn", "cn"}, May: []string{"userPassword", "telephoneNumber"}}},
		{"( 1.2.3 NAME 'x' OBSOLETE MAY y )", schemaDef{OID: "1.2.3", Names: []string{"x"}, May: []string{"y"}, Obsolete: true}},
	}
	for _, tc := range tests {
		got, err := parseSchemaDef(tc.in)
		if err != nil {
			t.Errorf("parse %q: %v", tc.in, err)
			continue
		}
		if got.OID != tc.want.OID || !slices.Equal(got.Names, tc.want.Names) || !slices.Equal(got.Sup, tc.want.Sup) ||
			!slices.Equal(got.Must, tc.want.Must) || !slices.Equal(got.May, tc.want.May) || got.Syntax != tc.want.Syntax ||
			got.MaxLen != tc.want.MaxLen || got.Equality != tc.want.Equality || got.SingleValue != tc.want.SingleValue ||
			got.NoUserMod != tc.want.NoUserMod || got.Obsolete != tc.want.Obsolete {
			t.Errorf("parse %q\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "2.5.4.3 NAME 'cn'", "( 1.2 NAME 'unclosed )", "( 1.2 MUST ( a $ b )", "( 1.2 NAME )"} {
		if _, err := parseSchemaDef(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

// A small schema: fields follow the class chain, MUST → required, binary
// and password attributes left out, syntax and length inherited.
func TestObjectFields(t *testing.T) {
	ss, err := parseSubschema([]string{
		"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
		"( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber ) )",
		"( 9.9 NAME 'employee' SUP person STRUCTURAL MAY ( mail $ employeeNumber $ active $ hired $ jpegPhoto $ uid ) )",
	}, []string{
		"( 2.5.4.0 NAME 'objectClass' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
		"( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
		"( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
		"( 2.5.4.35 NAME 'userPassword' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{128} )",
		"( 2.5.4.20 NAME 'telephoneNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.50{32} )",
		"( 0.9.2342.19200300.100.1.3 NAME 'mail' SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
		"( 9.1 NAME 'employeeNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
		"( 9.2 NAME 'active' SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )",
		"( 9.3 NAME 'hired' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )",
		"( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )",
		"( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
	})
	if err != nil {
		t.Fatal(err)
	}
	fields, err := ss.objectFields("Employee", "uid")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	byName := map[string]attrField{}
	for _, f := range fields {
		got = append(got, f.Name)
		byName[f.Name] = f
	}
	want := []string{"sn", "cn", "telephoneNumber", "telephoneNumber_values", "mail", "mail_values", "employeeNumber", "active", "hired", "uid"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	checks := []struct {
		name     string
		typ      sdk.FieldType
		required bool
		unique   bool
		readOnly bool
		maxLen   int
	}{
		{"sn", sdk.TypeString, true, false, false, 32768},
		{"cn", sdk.TypeString, true, false, false, 32768},
		{"telephoneNumber", sdk.TypePhone, false, false, false, 32},
		{"telephoneNumber_values", sdk.TypeStringList, false, false, true, 0},
		{"mail", sdk.TypeEmail, false, false, false, 256},
		{"employeeNumber", sdk.TypeInteger, false, false, false, 0},
		{"active", sdk.TypeBoolean, false, false, false, 0},
		{"hired", sdk.TypeDateTime, false, false, false, 0},
		{"uid", sdk.TypeString, false, true, false, 256},
	}
	for _, c := range checks {
		f := byName[c.name]
		if f.Type != c.typ || f.Required != c.required || f.Unique != c.unique || f.ReadOnly != c.readOnly || f.MaxLength != c.maxLen {
			t.Errorf("field %s = %+v", c.name, f.Field)
		}
	}
	if byName["employeeNumber"].Multi || !byName["cn"].Multi {
		t.Errorf("multiplicity: employeeNumber multi %v, cn multi %v", byName["employeeNumber"].Multi, byName["cn"].Multi)
	}
	if _, err := ss.objectFields("nope", "cn"); err == nil {
		t.Error("an unknown class gave fields")
	}
	if _, err := ss.objectFields("person", "mail"); sdk.AsError(err) == nil || sdk.AsError(err).Field != "rdn_attribute" {
		t.Errorf("RDN attribute outside the class: %v, want a validation error on rdn_attribute", err)
	}
}

func TestAttrValue(t *testing.T) {
	tests := []struct {
		f    attrField
		vals []string
		want sdk.Value
	}{
		{attrField{Field: sdk.Field{Type: sdk.TypeString}}, nil, sdk.Null},
		{attrField{Field: sdk.Field{Type: sdk.TypeString}}, []string{"a", "b"}, sdk.String("a")},
		{attrField{Field: sdk.Field{Type: sdk.TypeStringList}, IsList: true}, []string{"a", "b"}, sdk.StringList("a", "b")},
		{attrField{Field: sdk.Field{Type: sdk.TypeInteger}}, []string{"42"}, sdk.Int(42)},
		{attrField{Field: sdk.Field{Type: sdk.TypeInteger}}, []string{"x"}, sdk.Null},
		{attrField{Field: sdk.Field{Type: sdk.TypeBoolean}}, []string{"TRUE"}, sdk.Bool(true)},
		{attrField{Field: sdk.Field{Type: sdk.TypeDateTime}}, []string{"20240102030405Z"}, sdk.DateTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))},
		{attrField{Field: sdk.Field{Type: sdk.TypeDateTime}}, []string{"20240102030405.25Z"}, sdk.DateTime(time.Date(2024, 1, 2, 3, 4, 5, 250e6, time.UTC))},
	}
	for _, tc := range tests {
		if got := tc.f.value(tc.vals); !got.Equal(tc.want) {
			t.Errorf("%s %q = %#v, want %#v", tc.f.Type, tc.vals, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    sdk.Value
		want []string
	}{
		{sdk.Null, nil}, {sdk.String(""), nil}, {sdk.String("x"), []string{"x"}}, {sdk.Int(7), []string{"7"}},
		{sdk.Bool(false), []string{"FALSE"}}, {sdk.DateTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), []string{"20240102030405Z"}},
	} {
		got, err := attrValues(attrField{Field: sdk.Field{Name: "f"}}, tc.v)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("attrValues(%#v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	if _, err := attrValues(attrField{Field: sdk.Field{Name: "f", ReadOnly: true}}, sdk.String("x")); sdk.AsError(err).Field != "f" {
		t.Errorf("writing a read-only field: %v", err)
	}
}

func TestCursor(t *testing.T) {
	c := cursor{TS: "20240102030405Z", Seen: []string{"id#csn"}}
	back, err := parseCursor(c.String())
	if err != nil || back.TS != c.TS || !slices.Equal(back.Seen, c.Seen) {
		t.Fatalf("cursor round trip: %+v, %v", back, err)
	}
	for _, bad := range []string{"nope", `{"ts":"yesterday"}`} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("cursor %q parsed", bad)
		}
	}
	if c, err := parseCursor(""); err != nil || c.TS != "" {
		t.Errorf("empty cursor: %+v, %v", c, err)
	}
}

// The window keeps what falls within cursorLag of the newest timestamp,
// whatever order entries come in.
func TestWindow(t *testing.T) {
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	w := window{keys: map[string]time.Time{}}
	for _, e := range []struct {
		key string
		sec int
	}{{"a", 0}, {"b", 10}, {"c", 9}, {"d", 3}, {"e", 10}, {"f", 11}} {
		w.add(e.key, base.Add(time.Duration(e.sec)*time.Second))
	}
	c := w.cursor()
	if c.TS != "20240102030415Z" || !slices.Equal(c.Seen, []string{"b", "e", "f"}) {
		t.Errorf("cursor %+v, want ts 20240102030415Z (newest minus 1s) and b, e, f", c)
	}
}

func TestParentOfAndRDN(t *testing.T) {
	if got := parentOf(`cn=Doe\, John,ou=people,dc=x`); got != ",ou=people,dc=x" {
		t.Errorf("parentOf = %q", got)
	}
	if got := rdnValue(`cn=Doe\, John,ou=people,dc=x`, "CN"); got != "Doe, John" {
		t.Errorf("rdnValue = %q", got)
	}
}
