package mapping

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func obj(name string, fields ...sdk.Field) sdk.ObjectType {
	return sdk.ObjectType{Name: name, Fields: fields}
}

func f(name string, t sdk.FieldType) sdk.Field { return sdk.Field{Name: name, Type: t} }

func ro(fl sdk.Field) sdk.Field { fl.ReadOnly = true; return fl }

func pairs(ms []FieldMap) []string {
	var out []string
	for _, m := range ms {
		s := m.Left + "=" + m.Right
		if m.Direction != "" {
			s += " " + string(m.Direction)
		}
		out = append(out, s)
	}
	return out
}

func TestDefaultMappings(t *testing.T) {
	tests := []struct {
		name        string
		left, right sdk.ObjectType
		want        []string
	}{
		{"crm to newsletter",
			obj("contacts", ro(f("id", sdk.TypeInteger)), f("first_name", sdk.TypeString), f("last_name", sdk.TypeString),
				f("email", sdk.TypeEmail), f("phone", sdk.TypePhone), f("lifecycle_stage", sdk.TypeEnum), f("company", sdk.TypeString),
				ro(f("updated_at", sdk.TypeDateTime))),
			obj("subscribers", ro(f("id", sdk.TypeInteger)), f("EmailAddress", sdk.TypeEmail), f("givenName", sdk.TypeString),
				f("surname", sdk.TypeString), f("telephoneNumber", sdk.TypeString), f("organization", sdk.TypeString),
				f("stage", sdk.TypeEnum), ro(f("modified", sdk.TypeDateTime))),
			[]string{"first_name=givenName", "last_name=surname", "email=EmailAddress", "phone=telephoneNumber",
				"lifecycle_stage=stage", "company=organization"}},
		{"case and separator variants",
			obj("l", f("FirstName", sdk.TypeString), f("e-mail", sdk.TypeString), f("Postal Code", sdk.TypeString)),
			obj("r", f("postal_code", sdk.TypeString), f("first_name", sdk.TypeString), f("EMAIL", sdk.TypeEmail)),
			[]string{"FirstName=first_name", "e-mail=EMAIL", "Postal Code=postal_code"}},
		{"exact name wins over an earlier synonym",
			obj("l", f("email", sdk.TypeEmail), f("mail", sdk.TypeEmail)),
			obj("r", f("mail", sdk.TypeEmail)),
			[]string{"mail=mail"}},
		{"each right field at most once",
			obj("l", f("phone", sdk.TypePhone), f("telephone", sdk.TypePhone)),
			obj("r", f("tel", sdk.TypePhone)),
			[]string{"phone=tel"}},
		{"incompatible types skipped",
			obj("l", f("age", sdk.TypeInteger), f("birthday", sdk.TypeDate), f("vip", sdk.TypeBoolean), f("score", sdk.TypeInteger)),
			obj("r", f("age", sdk.TypeDate), f("dob", sdk.TypeDateTime), f("vip", sdk.TypeInteger), f("score", sdk.TypeDecimal)),
			[]string{"birthday=dob", "score=score"}},
		{"text goes with anything",
			obj("l", f("age", sdk.TypeString), f("tags", sdk.TypeString)),
			obj("r", f("age", sdk.TypeInteger), f("labels", sdk.TypeStringList)),
			[]string{"age=age", "tags=labels"}},
		{"read-only on one side flows away from it; both sides read-only skipped",
			obj("l", ro(f("created_at", sdk.TypeDateTime)), ro(f("notes", sdk.TypeString)), f("title", sdk.TypeString)),
			obj("r", ro(f("created", sdk.TypeDateTime)), f("description", sdk.TypeString), ro(f("job_title", sdk.TypeString))),
			[]string{"notes=description left-to-right", "title=job_title right-to-left"}},
		{"ids and external id fields never mapped",
			obj("l", f("id", sdk.TypeString), f("_id", sdk.TypeString), f("uuid", sdk.TypeString), f("email", sdk.TypeEmail)),
			sdk.ObjectType{Name: "r", ExternalIDField: "sync_ref", Fields: []sdk.Field{
				f("ID", sdk.TypeString), f("uuid", sdk.TypeString), f("sync_ref", sdk.TypeString), f("mail", sdk.TypeEmail)}},
			[]string{"email=mail"}},
		{"nothing in common", obj("l", f("a", sdk.TypeString)), obj("r", f("b", sdk.TypeString)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pairs(DefaultMappings(tt.left, tt.right))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDefaultMappingsReadOnlyObject(t *testing.T) {
	left := obj("l", f("email", sdk.TypeEmail))
	right := sdk.ObjectType{Name: "r", ReadOnly: true, Fields: []sdk.Field{f("email", sdk.TypeEmail)}}
	got := pairs(DefaultMappings(left, right))
	if fmt.Sprint(got) != "[email=email right-to-left]" {
		t.Fatalf("got %q", got)
	}
}

func TestCompatible(t *testing.T) {
	tests := []struct {
		a, b sdk.FieldType
		want bool
	}{
		{sdk.TypeString, sdk.TypeDate, true},
		{sdk.TypeInteger, sdk.TypeDecimal, true},
		{sdk.TypeDate, sdk.TypeDateTime, true},
		{sdk.TypeEnum, sdk.TypeEnum, true},
		{sdk.TypeEmail, sdk.TypePhone, false},
		{sdk.TypeBoolean, sdk.TypeInteger, false},
		{sdk.TypeStringList, sdk.TypeEnum, false},
	}
	for _, tt := range tests {
		if got := Compatible(tt.a, tt.b); got != tt.want {
			t.Errorf("Compatible(%s, %s) = %v", tt.a, tt.b, got)
		}
		if got := Compatible(tt.b, tt.a); got != tt.want {
			t.Errorf("Compatible(%s, %s) = %v", tt.b, tt.a, got)
		}
	}
}
