package memory

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

// Every object type of the memory connector has this contacts-like schema.
// The record id is implicit (Record.ID, "rec-<n>"); no field is required, so
// tests can store records without an email (the engine's missing_identifier).
//
//	email            email        unique (case-insensitive), max 254
//	first_name       string       max 100
//	last_name        string       max 100
//	phone            phone        max 40, digits and + ( ) . - / space
//	company          string       max 200
//	lifecycle_stage  enum         lead | customer | other
//	tags             string_list
//	external_id      string       unique, max 100; the object's ExternalIDField
//	updated_at       datetime     read-only, set on every write
const (
	FieldEmail          = "email"
	FieldFirstName      = "first_name"
	FieldLastName       = "last_name"
	FieldPhone          = "phone"
	FieldCompany        = "company"
	FieldLifecycleStage = "lifecycle_stage"
	FieldTags           = "tags"
	FieldExternalID     = "external_id"
	FieldUpdatedAt      = "updated_at"
)

const phonePattern = `^[0-9+().\-/ ]*$`

func objectFields() []sdk.Field {
	return []sdk.Field{
		{Name: FieldEmail, Label: "Email", Type: sdk.TypeEmail, Unique: true, MaxLength: 254},
		{Name: FieldFirstName, Label: "First name", Type: sdk.TypeString, MaxLength: 100},
		{Name: FieldLastName, Label: "Last name", Type: sdk.TypeString, MaxLength: 100},
		{Name: FieldPhone, Label: "Phone", Type: sdk.TypePhone, MaxLength: 40, Pattern: phonePattern},
		{Name: FieldCompany, Label: "Company", Type: sdk.TypeString, MaxLength: 200},
		{Name: FieldLifecycleStage, Label: "Lifecycle stage", Type: sdk.TypeEnum,
			EnumOptions: []string{"lead", "customer", "other"}},
		{Name: FieldTags, Label: "Tags", Type: sdk.TypeStringList},
		{Name: FieldExternalID, Label: "External id", Type: sdk.TypeString, Unique: true, MaxLength: 100},
		{Name: FieldUpdatedAt, Label: "Updated at", Type: sdk.TypeDateTime, ReadOnly: true},
	}
}

func objectType(name string) sdk.ObjectType {
	return sdk.ObjectType{
		Name:            name,
		Label:           name,
		Fields:          objectFields(),
		Incremental:     true,
		Tombstones:      true,
		ExternalIDField: FieldExternalID,
	}
}

// schema is the compiled form of objectFields, used to validate writes.
type schema struct {
	fields  []sdk.Field
	byName  map[string]sdk.Field
	pattern map[string]*regexp.Regexp
}

func newSchema() *schema {
	s := &schema{fields: objectFields(), byName: map[string]sdk.Field{}, pattern: map[string]*regexp.Regexp{}}
	for _, f := range s.fields {
		s.byName[f.Name] = f
		if f.Pattern != "" {
			s.pattern[f.Name] = regexp.MustCompile(f.Pattern)
		}
	}
	return s
}

func (s *schema) names() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.Name
	}
	return out
}

// checkFields refuses a field list naming unknown fields.
func (s *schema) checkFields(names []string) error {
	for _, n := range names {
		if _, ok := s.byName[n]; !ok {
			return sdk.FieldError(n, "no field %q", n)
		}
	}
	return nil
}

// validate checks one value a write sets, as the app would.
func (s *schema) validate(name string, v sdk.Value) *sdk.Error {
	f, ok := s.byName[name]
	if !ok {
		return sdk.FieldError(name, "no field %q", name)
	}
	if f.ReadOnly {
		return sdk.FieldError(name, "%s is read-only", name)
	}
	if v.IsNull() {
		return nil
	}
	if v.Kind != f.Type.ValueKind() {
		return sdk.FieldError(name, "%s is a %s field; got a %s value", name, f.Type, v.Kind)
	}
	switch v.Kind {
	case sdk.KindString:
		if !utf8.ValidString(v.Str) {
			return sdk.FieldError(name, "%s is not valid UTF-8", name)
		}
		if f.MaxLength > 0 && utf8.RuneCountInString(v.Str) > f.MaxLength {
			return sdk.FieldError(name, "%s is longer than %d characters", name, f.MaxLength)
		}
	case sdk.KindStringList:
		for _, item := range v.List {
			if !utf8.ValidString(item) {
				return sdk.FieldError(name, "%s holds an item that is not valid UTF-8", name)
			}
		}
	}
	if re := s.pattern[name]; re != nil && !re.MatchString(v.Str) {
		return sdk.FieldError(name, "%s %q does not match %s", name, v.Str, f.Pattern)
	}
	switch f.Type {
	case sdk.TypeEmail:
		if err := checkEmail(v.Str); err != nil {
			return sdk.FieldError(name, "%s: %v", name, err)
		}
	case sdk.TypeEnum:
		for _, o := range f.EnumOptions {
			if v.Str == o {
				return nil
			}
		}
		return sdk.FieldError(name, "%s %q is not one of %s", name, v.Str, strings.Join(f.EnumOptions, ", "))
	}
	return nil
}

// checkEmail accepts "" (no email) or local@domain without spaces.
func checkEmail(s string) error {
	if s == "" {
		return nil
	}
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case !ok || local == "" || domain == "":
		return fmt.Errorf("%q is not an email address", s)
	case strings.ContainsAny(s, " \t\r\n<>,;"), strings.Contains(domain, "@"):
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

// uniqueKey is the form a unique field's value is compared in; "" means the
// value takes part in no uniqueness check (null, empty).
func uniqueKey(field string, v sdk.Value) string {
	if v.Kind != sdk.KindString || v.Str == "" {
		return ""
	}
	if field == FieldEmail {
		return strings.ToLower(v.Str)
	}
	return v.Str
}
