package mapping

import (
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestFormatProblems(t *testing.T) {
	tests := []struct {
		check func(string) string
		in    string
		why   string // "" when valid; otherwise a part of the reason
	}{
		{EmailProblem, "a@b.c", ""},
		{EmailProblem, "bob.smith+news@mail.example.co.uk", ""},
		{EmailProblem, "jörg@bücher.de", ""},
		{EmailProblem, "bob.example.com", "no @"},
		{EmailProblem, "bob @example.com", "space"},
		{EmailProblem, "Bob <bob@example.com>", "without a name"},
		{EmailProblem, "a@b@c.d", "more than one @"},
		{EmailProblem, "@example.com", "nothing before"},
		{EmailProblem, "bob@", "nothing after"},
		{EmailProblem, "bob@localhost", "no dot"},
		{EmailProblem, "bob@example..com", "misplaced dot"},
		{EmailProblem, ".bob@example.com", "misplaced dot"},
		{EmailProblem, "bob@-x.com", "starts or ends with -"},
		{EmailProblem, "bob@1.2.3.4", "ends in a number"},
		{EmailProblem, "bo,b@x.com", "not allowed"},
		{EmailProblem, "", "empty"},
		{PhoneProblem, "+1 (555) 123-4567", ""},
		{PhoneProblem, "555.123.4567 x89", ""},
		{PhoneProblem, "030 1234567 ext. 12", ""},
		{PhoneProblem, "12345", ""},
		{PhoneProblem, "1234", "fewer than 5 digits"},
		{PhoneProblem, "call me", "letters"},
		{PhoneProblem, "555 1234 x", "letters"},
		{PhoneProblem, "555+1234", "+ may only come first"},
		{PhoneProblem, "555/1234", "not allowed"},
		{PhoneProblem, strings.Repeat("1", 21), "more than 20"},
		{URLProblem, "https://example.com/path?q=1", ""},
		{URLProblem, "HTTP://example.com", ""},
		{URLProblem, "example.com", "no http"},
		{URLProblem, "ftp://example.com", "not http or https"},
		{URLProblem, "https://", "no host"},
		{URLProblem, "https://exa mple.com", "space"},
	}
	for _, tt := range tests {
		got := tt.check(tt.in)
		if tt.why == "" && got != "" || tt.why != "" && !strings.Contains(got, tt.why) {
			t.Errorf("problem of %q = %q, want %q", tt.in, got, tt.why)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		f    sdk.Field
		v    sdk.Value
		rule string // "" when valid
		hint string // part of the hint
	}{
		{"ok string", sdk.Field{Name: "n", Type: sdk.TypeString}, sdk.String("x"), "", ""},
		{"null optional", sdk.Field{Name: "n", Type: sdk.TypeString}, sdk.Null, "", ""},
		{"required null", sdk.Field{Name: "last_name", Type: sdk.TypeString, Required: true}, sdk.Null, CheckRequired,
			"add a value for last_name in the source, or map a field into it"},
		{"required empty", sdk.Field{Name: "last_name", Type: sdk.TypeString, Required: true}, sdk.String(""), CheckRequired, "last_name"},
		{"required false is a value", sdk.Field{Name: "b", Type: sdk.TypeBoolean, Required: true}, sdk.Bool(false), "", ""},
		{"type mismatch", sdk.Field{Name: "age", Type: sdk.TypeInteger}, sdk.String("12"), CheckType, "integer"},
		{"bad email", sdk.Field{Name: "email", Type: sdk.TypeEmail}, sdk.String("bob.example.com"), CheckFormat,
			"fix the email in the source record (it has no @)"},
		{"good email", sdk.Field{Name: "email", Type: sdk.TypeEmail}, sdk.String("bob@example.com"), "", ""},
		{"bad phone", sdk.Field{Name: "phone", Type: sdk.TypePhone}, sdk.String("12"), CheckFormat, "fewer than 5 digits"},
		{"bad url", sdk.Field{Name: "web", Type: sdk.TypeURL}, sdk.String("www.x.com"), CheckFormat, "https://"},
		{"enum exact", sdk.Field{Name: "s", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer"}}, sdk.String("lead"), "", ""},
		{"enum wrong case", sdk.Field{Name: "s", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer", "other"}},
			sdk.String("Lead"), CheckEnum, "use one of: lead, customer, other or add a --value-map"},
		{"max length in runes ok", sdk.Field{Name: "n", Type: sdk.TypeString, MaxLength: 3}, sdk.String("äöü"), "", ""},
		{"max length exceeded", sdk.Field{Name: "n", Type: sdk.TypeString, MaxLength: 3}, sdk.String("abcd"), CheckLength, "at most 3"},
		{"pattern whole value", sdk.Field{Name: "cc", Type: sdk.TypeString, Pattern: "[A-Z]{2}"}, sdk.String("DE"), "", ""},
		{"pattern anchored", sdk.Field{Name: "cc", Type: sdk.TypeString, Pattern: "[A-Z]{2}"}, sdk.String("DEU"), CheckFormat, "[A-Z]{2}"},
		{"pattern per list item", sdk.Field{Name: "tags", Type: sdk.TypeStringList, Pattern: "[a-z]+"}, sdk.StringList("ok", "Bad"), CheckFormat, "[a-z]+"},
		{"uncompilable pattern not enforced", sdk.Field{Name: "x", Type: sdk.TypeString, Pattern: "(?=x)"}, sdk.String("y"), "", ""},
		{"date value must be YYYY-MM-DD", sdk.Field{Name: "d", Type: sdk.TypeDate}, date("5.3.2024"), CheckFormat, "connector"},
		{"date value ok", sdk.Field{Name: "d", Type: sdk.TypeDate}, date("2024-03-05"), "", ""},
		{"unspecified type takes any kind", sdk.Field{Name: "x"}, sdk.Int(3), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Validate(tt.f, tt.v)
			if tt.rule == "" {
				if e != nil {
					t.Fatalf("Validate = %v, want ok", e)
				}
				return
			}
			if e == nil || e.Rule != tt.rule || e.Field != tt.f.Name || !strings.Contains(e.Hint, tt.hint) {
				t.Fatalf("Validate = %+v, want rule %s on %s with hint containing %q", e, tt.rule, tt.f.Name, tt.hint)
			}
		})
	}
}

func TestValidateRecord(t *testing.T) {
	obj := sdk.ObjectType{Name: "contacts", Fields: []sdk.Field{
		{Name: "id", Type: sdk.TypeInteger, ReadOnly: true, Required: true},
		{Name: "email", Type: sdk.TypeEmail, Required: true},
		{Name: "last_name", Type: sdk.TypeString, Required: true, MaxLength: 5},
		{Name: "stage", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer"}},
	}}
	type problem struct{ field, rule string }
	tests := []struct {
		name   string
		fields []string
		values []sdk.Value
		create bool
		want   []problem
	}{
		{"valid create", []string{"email", "last_name"}, []sdk.Value{sdk.String("a@b.c"), sdk.String("Smith")}, true, nil},
		{"create missing required", []string{"email"}, []sdk.Value{sdk.String("a@b.c")}, true,
			[]problem{{"last_name", CheckRequired}}},
		{"update may omit required", []string{"stage"}, []sdk.Value{sdk.String("lead")}, false, nil},
		{"update may not clear required", []string{"last_name"}, []sdk.Value{sdk.Null}, false,
			[]problem{{"last_name", CheckRequired}}},
		{"read-only written", []string{"id", "email", "last_name"}, []sdk.Value{sdk.Int(1), sdk.String("a@b.c"), sdk.String("S")}, true,
			[]problem{{"id", CheckReadOnly}}},
		{"unknown field", []string{"nickname"}, []sdk.Value{sdk.String("Bo")}, false, []problem{{"nickname", CheckUnknown}}},
		{"several problems in order", []string{"email", "last_name", "stage"},
			[]sdk.Value{sdk.String("nope"), sdk.String("Smithers"), sdk.String("partner")}, true,
			[]problem{{"email", CheckFormat}, {"last_name", CheckLength}, {"stage", CheckEnum}}},
		{"fewer values than fields reads as null", []string{"email", "last_name"}, []sdk.Value{sdk.String("a@b.c")}, true,
			[]problem{{"last_name", CheckRequired}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateRecord(obj, tt.fields, tt.values, tt.create)
			var got []problem
			for _, e := range errs {
				got = append(got, problem{e.Field, e.Rule})
				if e.Hint == "" || e.Error() == "" {
					t.Errorf("error without hint: %+v", e)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	e := Validate(sdk.Field{Name: "email", Type: sdk.TypeEmail}, sdk.String("bob.example.com"))
	want := `email: is not a valid email address (value "bob.example.com"); fix the email in the source record (it has no @)`
	if e == nil || e.Error() != want {
		t.Fatalf("Error() = %q, want %q", e, want)
	}
	if e.Value != "bob.example.com" {
		t.Fatalf("Value = %q", e.Value)
	}
}

func TestValidatorReusesPatterns(t *testing.T) {
	obj := sdk.ObjectType{Name: "o", Fields: []sdk.Field{{Name: "cc", Type: sdk.TypeString, Pattern: "[A-Z]{2}"}}}
	v := NewValidator(obj)
	if errs := v.Record([]string{"cc"}, []sdk.Value{sdk.String("DE")}, true); len(errs) != 0 {
		t.Fatalf("DE: %v", errs)
	}
	if errs := v.Record([]string{"cc"}, []sdk.Value{sdk.String("de")}, true); len(errs) != 1 || errs[0].Rule != CheckFormat {
		t.Fatalf("de: %v", errs)
	}
	allocs := testing.AllocsPerRun(100, func() {
		v.Record([]string{"cc"}, []sdk.Value{sdk.String("DE")}, false)
	})
	if allocs > 0 {
		t.Errorf("validating a valid record allocates %.0f times", allocs)
	}
}
