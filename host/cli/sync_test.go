package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "2026-11-28T10:30:00Z", want: time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC)},
		{in: "2026-11-27", want: time.Date(2026, 11, 27, 0, 0, 0, 0, time.Local)},
		{in: "2026-11-27 08:00:00", want: time.Date(2026, 11, 27, 8, 0, 0, 0, time.Local)},
		{in: "2h", want: now.Add(-2 * time.Hour)},
		{in: "0s", want: now},
		{in: "-2h", bad: true},
		{in: "yesterday", bad: true},
		{in: "2026-13-01", bad: true},
	} {
		got, err := parseSince(tc.in, now)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "is not a date") {
				t.Errorf("parseSince(%q) = %v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestEmailField(t *testing.T) {
	f := func(name string, typ sdk.FieldType) sdk.Field { return sdk.Field{Name: name, Type: typ} }
	for _, tc := range []struct {
		name   string
		fields []sdk.Field
		want   string
	}{
		{"typed email named email first", []sdk.Field{f("work_email", sdk.TypeEmail), f("email", sdk.TypeEmail)}, "email"},
		{"the only typed one", []sdk.Field{f("name", sdk.TypeString), f("mail", sdk.TypeEmail)}, "mail"},
		{"text field named Email", []sdk.Field{f("Email", sdk.TypeString)}, "Email"},
		{"none", []sdk.Field{f("name", sdk.TypeString), f("email_count", sdk.TypeInteger)}, ""},
	} {
		got, ok := emailField(sdk.ObjectType{Name: "o", Fields: tc.fields})
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: emailField = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestValueJSON(t *testing.T) {
	dec, _ := sdk.Decimal("12.50")
	for _, tc := range []struct {
		in   sdk.Value
		want string
	}{
		{sdk.Null, `null`},
		{sdk.String("a\"b"), `"a\"b"`},
		{sdk.Int(42), `42`},
		{sdk.Bool(true), `true`},
		{dec, `12.5`},
		{sdk.StringList(), `[]`},
		{sdk.StringList("x", "y"), `["x","y"]`},
		{sdk.DateTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), `"2026-01-02T03:04:05Z"`},
	} {
		b, err := json.Marshal(valueJSON(tc.in))
		if err != nil || string(b) != tc.want {
			t.Errorf("valueJSON(%#v) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
	}
}

func TestCheckAgainst(t *testing.T) {
	left := sdk.ObjectType{Name: "contacts", Fields: []sdk.Field{
		{Name: "email", Type: sdk.TypeEmail}, {Name: "stage", Type: sdk.TypeString}}}
	right := sdk.ObjectType{Name: "subscribers", Fields: []sdk.Field{
		{Name: "email", Type: sdk.TypeEmail}, {Name: "status", Type: sdk.TypeEnum, EnumOptions: []string{"Lead", "Customer"}}}}
	def := func(mod func(*syncdef.Definition)) syncdef.Definition {
		d := syncdef.Definition{Name: "s", Left: syncdef.Side{Connection: "a", Object: "contacts"},
			Right:    syncdef.Side{Connection: "b", Object: "subscribers"},
			Match:    []syncdef.MatchKey{{Left: "email", Right: "email"}},
			Mappings: []mapping.FieldMap{{Left: "email", Right: "email"}, {Left: "stage", Right: "status"}}}
		if mod != nil {
			mod(&d)
		}
		return d.WithDefaults()
	}
	for _, tc := range []struct {
		name string
		def  syncdef.Definition
		want []string // parts of the error; none: valid
	}{
		{"valid", def(nil), nil},
		{"value map onto enum options", def(func(d *syncdef.Definition) {
			d.Mappings[1].ValueMap = map[string]string{"lead": "Lead", "customer": "Customer"}
		}), nil},
		{"value map to a missing option", def(func(d *syncdef.Definition) {
			d.Mappings[1].ValueMap = map[string]string{"lead": "Prospect"}
		}), []string{`"Prospect" is not an option of right field status`, "use one of Lead, Customer"}},
		{"missing field", def(func(d *syncdef.Definition) { d.Mappings[1].Right = "state" }),
			[]string{`right object "subscribers" has no field "state"`}},
		{"filter on an unknown field", def(func(d *syncdef.Definition) { d.FilterLeft = `status == "x"` }),
			[]string{"--filter-left", "status"}},
		{"filter that compiles", def(func(d *syncdef.Definition) { d.FilterRight = `status == "Lead"` }), nil},
	} {
		err := checkAgainst(tc.def, left, right)
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestMappingText(t *testing.T) {
	d := syncdef.Definition{Direction: mapping.DirTwoWay, Conflict: mapping.RuleMostRecent}
	for _, tc := range []struct {
		m    mapping.FieldMap
		want string
	}{
		{mapping.FieldMap{Left: "a", Right: "b"}, "a ⇄ b  (most-recent)"},
		{mapping.FieldMap{Left: "a", Right: "b", Direction: mapping.DirLeftToRight, Rule: mapping.RuleManual}, "a → b  (manual)"},
		{mapping.FieldMap{Left: "s", Right: "t", Direction: mapping.DirRightToLeft,
			ValueMap: map[string]string{"lead": "Lead", "customer": "Customer"}, Transforms: []mapping.Transform{mapping.TransformTrim}},
			"s ← t  (most-recent, values customer:Customer,lead:Lead, trim)"},
	} {
		if got := mappingText(d, tc.m); got != tc.want {
			t.Errorf("mappingText(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}
