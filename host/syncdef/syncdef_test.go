package syncdef

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/sdk"
)

func valid() Definition {
	return Definition{
		Name:     "crm-news",
		Left:     Side{Connection: "crm", Object: "contacts"},
		Right:    Side{Connection: "news", Object: "subscribers"},
		Match:    []MatchKey{{Left: "email", Right: "email"}},
		Mappings: []mapping.FieldMap{{Left: "email", Right: "email"}, {Left: "first_name", Right: "firstname"}},
	}.WithDefaults()
}

func TestDefaults(t *testing.T) {
	d := valid()
	if d.Direction != mapping.DirTwoWay || d.CreateIn != CreateBoth || d.Conflict != mapping.RuleMostRecent ||
		d.SourceOfTruth != Left || d.Deletes != DeletesIgnore || d.SkewWindow != DefaultSkewWindow {
		t.Fatalf("defaults not applied: %+v", d)
	}
	d2 := Definition{Direction: mapping.DirLeftToRight, Deletes: DeletesQueue}.WithDefaults()
	if d2.Direction != mapping.DirLeftToRight || d2.Deletes != DeletesQueue {
		t.Fatalf("defaults overwrote set options: %+v", d2)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	d := valid()
	d.Every = Duration(5 * time.Minute)
	d.FilterLeft = `lifecycle_stage == "customer"`
	d.Mappings[1].ValueMap = map[string]string{"lead": "Lead"}
	b, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"every": "5m0s"`) {
		t.Errorf("every not written as a duration: %s", b)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Every != d.Every || got.FilterLeft != d.FilterLeft || got.Mappings[1].ValueMap["lead"] != "Lead" ||
		got.Left != d.Left || got.Match[0] != d.Match[0] {
		t.Fatalf("round trip changed the definition:\n%+v\n%+v", d, got)
	}
	if _, err := Parse([]byte(`{"name":"x","bogus":1}`)); err == nil {
		t.Fatal("unknown option accepted")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Definition)
		field string // "" = valid
	}{
		{"valid", func(*Definition) {}, ""},
		{"bad name", func(d *Definition) { d.Name = "a b" }, "name"},
		{"no left", func(d *Definition) { d.Left = Side{} }, "left"},
		{"same sides", func(d *Definition) { d.Right = d.Left }, "right"},
		{"no match", func(d *Definition) { d.Match = nil }, "match"},
		{"half match", func(d *Definition) { d.Match[0].Right = "" }, "match[0]"},
		{"no mappings", func(d *Definition) { d.Mappings = nil }, "mappings"},
		{"mapped twice", func(d *Definition) { d.Mappings[1].Left = "email" }, "mappings[1]"},
		{"bad direction", func(d *Definition) { d.Direction = "sideways" }, "direction"},
		{"bad mapping rule", func(d *Definition) { d.Mappings[0].Rule = "coin" }, "mappings[0].rule"},
		{"bad transform", func(d *Definition) { d.Mappings[0].Transforms = []mapping.Transform{"rot13"} }, "mappings[0].transforms"},
		{"ambiguous value map", func(d *Definition) { d.Mappings[1].ValueMap = map[string]string{"a": "X", "b": "X"} }, "mappings[1].value_map"},
		{"bad create_in", func(d *Definition) { d.CreateIn = "middle" }, "create_in"},
		{"bad source", func(d *Definition) { d.SourceOfTruth = "up" }, "source_of_truth"},
		{"bad deletes", func(d *Definition) { d.Deletes = "shred" }, "deletes"},
		{"tiny schedule", func(d *Definition) { d.Every = Duration(time.Millisecond) }, "every"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := valid()
			d.Match = append([]MatchKey(nil), d.Match...)
			d.Mappings = append([]mapping.FieldMap(nil), d.Mappings...)
			c.edit(&d)
			err := d.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid definition refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a FieldError on %s, got %v", c.field, err)
			}
			if fe.Field != c.field || fe.Fix == "" {
				t.Fatalf("error %q names field %q (fix %q), want %q with a fix", err, fe.Field, fe.Fix, c.field)
			}
		})
	}
}

func TestCheckSchemas(t *testing.T) {
	left := sdk.ObjectType{Name: "contacts", Fields: []sdk.Field{{Name: "email", Type: sdk.TypeEmail}, {Name: "first_name"}}}
	right := sdk.ObjectType{Name: "subscribers", Fields: []sdk.Field{{Name: "email", Type: sdk.TypeEmail}, {Name: "firstname", ReadOnly: true}}}
	d := valid()
	if err := d.CheckSchemas(left, right); err != nil {
		t.Fatalf("two-way mapping into a read-only field still flows left: %v", err)
	}
	d.Direction = mapping.DirLeftToRight
	if err := d.CheckSchemas(left, right); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("left-to-right into a read-only field accepted: %v", err)
	}
	d = valid()
	d.Match = []MatchKey{{Left: "mail", Right: "email"}}
	if err := d.CheckSchemas(left, right); err == nil || !strings.Contains(err.Error(), `no field "mail"`) {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func TestParseSide(t *testing.T) {
	s, err := ParseSide("crm/contacts")
	if err != nil || s != (Side{"crm", "contacts"}) {
		t.Fatalf("ParseSide: %v %v", s, err)
	}
	for _, bad := range []string{"crm", "/contacts", "crm/"} {
		if _, err := ParseSide(bad); err == nil {
			t.Errorf("ParseSide(%q) accepted", bad)
		}
	}
}
