package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestFieldMapDirections(t *testing.T) {
	stageR := sdk.Field{Name: "stage", Type: sdk.TypeEnum, EnumOptions: []string{"Lead", "Customer", "Other"}}
	stageL := sdk.Field{Name: "lifecycle_stage", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer", "other", "prospect"}}
	lifecycle := FieldMap{Left: "lifecycle_stage", Right: "stage",
		ValueMap: map[string]string{"lead": "Lead", "customer": "Customer", "prospect": "Lead"}}
	text := sdk.Field{Name: "t", Type: sdk.TypeString}
	tests := []struct {
		name    string
		m       FieldMap
		toLeft  bool
		in      sdk.Value
		dst     sdk.Field
		want    sdk.Value
		errRule string
	}{
		{"value map exact", lifecycle, false, sdk.String("customer"), stageR, sdk.String("Customer"), ""},
		{"value map case-insensitive", lifecycle, false, sdk.String("CUSTOMER"), stageR, sdk.String("Customer"), ""},
		{"value not in map passes and converts", lifecycle, false, sdk.String("other"), stageR, sdk.String("Other"), ""},
		{"value not in map and no option", lifecycle, false, sdk.String("partner"), stageR, sdk.Null, CheckEnum},
		{"inverse map", lifecycle, true, sdk.String("Customer"), stageL, sdk.String("customer"), ""},
		// lead and prospect both map to Lead: the inverse prefers the key spelled like the value.
		{"inverse of many-to-one prefers same spelling", lifecycle, true, sdk.String("Lead"), stageL, sdk.String("lead"), ""},
		{"inverse case-insensitive", lifecycle, true, sdk.String("customer"), stageL, sdk.String("customer"), ""},
		{"inverse not in map passes", lifecycle, true, sdk.String("Other"), stageL, sdk.String("other"), ""},
		{"null is not mapped", lifecycle, false, sdk.Null, stageR, sdk.Null, ""},
		{"boolean through value map", FieldMap{ValueMap: map[string]string{"true": "Subscribed", "false": "Unsubscribed"}},
			false, sdk.Bool(true), text, sdk.String("Subscribed"), ""},
		{"inverse value map to boolean", FieldMap{ValueMap: map[string]string{"true": "Subscribed", "false": "Unsubscribed"}},
			true, sdk.String("Unsubscribed"), sdk.Field{Name: "b", Type: sdk.TypeBoolean}, sdk.Bool(false), ""},
		{"list items mapped", FieldMap{ValueMap: map[string]string{"vip": "VIP"}}, false,
			sdk.StringList("vip", "beta"), sdk.Field{Name: "tags", Type: sdk.TypeStringList}, sdk.StringList("VIP", "beta"), ""},
		{"transforms trim then lower", FieldMap{Transforms: []Transform{TransformTrim, TransformLower}}, false,
			sdk.String("  Bob@Example.COM "), sdk.Field{Name: "email", Type: sdk.TypeEmail}, sdk.String("bob@example.com"), ""},
		{"transforms apply right to left too", FieldMap{Transforms: []Transform{TransformUpper}}, true,
			sdk.String("de"), text, sdk.String("DE"), ""},
		{"trim before converting", FieldMap{Transforms: []Transform{TransformTrim}}, false,
			sdk.String(" 42 "), sdk.Field{Name: "n", Type: sdk.TypeInteger}, sdk.Int(42), ""},
		{"transform leaves numbers", FieldMap{Transforms: []Transform{TransformUpper}}, false,
			sdk.Int(3), text, sdk.String("3"), ""},
		{"conversion error", FieldMap{}, false, sdk.String("abc"), sdk.Field{Name: "n", Type: sdk.TypeInteger}, sdk.Null, CheckConversion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sdk.Value
			var err error
			if tt.toLeft {
				got, err = tt.m.ToLeft(tt.in, tt.dst)
			} else {
				got, err = tt.m.ToRight(tt.in, tt.dst)
			}
			if tt.errRule != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Rule != tt.errRule {
					t.Fatalf("got %#v, %v; want a %s error", got, err, tt.errRule)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestValueMapDoesNotChangeCallerList(t *testing.T) {
	list := []string{"vip", "beta"}
	m := FieldMap{ValueMap: map[string]string{"vip": "VIP"}, Transforms: []Transform{TransformUpper}}
	got, err := m.ToRight(sdk.Value{Kind: sdk.KindStringList, List: list}, sdk.Field{Name: "tags", Type: sdk.TypeStringList})
	if err != nil || !got.Equal(sdk.StringList("VIP", "BETA")) {
		t.Fatalf("got %#v, %v", got, err)
	}
	if !reflect.DeepEqual(list, []string{"vip", "beta"}) {
		t.Fatalf("caller's list changed to %v", list)
	}
}

func TestValueMapTieIsDeterministic(t *testing.T) {
	// Neither key is spelled like the value: the smallest key wins, every time.
	m := FieldMap{ValueMap: map[string]string{"b": "X", "a": "X", "c": "X"}}
	for range 50 {
		got, err := m.ToLeft(sdk.String("X"), sdk.Field{Name: "l", Type: sdk.TypeString})
		if err != nil || got.Str != "a" {
			t.Fatalf("got %#v, %v; want \"a\"", got, err)
		}
	}
}

func TestParseValueMap(t *testing.T) {
	got, err := ParseValueMap("lead:Lead, customer : Customer,")
	if err != nil || !reflect.DeepEqual(got, map[string]string{"lead": "Lead", "customer": "Customer"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"lead=Lead", "a:b,a:c"} {
		if _, err := ParseValueMap(bad); err == nil {
			t.Errorf("ParseValueMap(%q) succeeded", bad)
		}
	}
}

func TestParseNames(t *testing.T) {
	if d, err := ParseDirection("left-to-right"); err != nil || d != DirLeftToRight {
		t.Errorf("ParseDirection = %q, %v", d, err)
	}
	if _, err := ParseDirection("both"); err == nil || !strings.Contains(err.Error(), "two-way") {
		t.Errorf("ParseDirection(both) = %v", err)
	}
	if r, err := ParseRule("fill-only"); err != nil || r != RuleFillOnly {
		t.Errorf("ParseRule = %q, %v", r, err)
	}
	if _, err := ParseRule("newest"); err == nil {
		t.Error("ParseRule(newest) succeeded")
	}
	if tr, err := ParseTransform("lower"); err != nil || tr != TransformLower {
		t.Errorf("ParseTransform = %q, %v", tr, err)
	}
	if _, err := ParseTransform("title"); err == nil {
		t.Error("ParseTransform(title) succeeded")
	}
}
