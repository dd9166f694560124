package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

var schema = []sdk.Field{
	{Name: "email", Type: sdk.TypeEmail},
	{Name: "lifecycle_stage", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer"}},
	{Name: "age", Type: sdk.TypeInteger},
	{Name: "amount", Type: sdk.TypeDecimal},
	{Name: "vip", Type: sdk.TypeBoolean},
	{Name: "tags", Type: sdk.TypeStringList},
	{Name: "birthday", Type: sdk.TypeDate},
	{Name: "updated_at", Type: sdk.TypeDateTime},
	{Name: "First Name", Type: sdk.TypeString},
	{Name: "in", Type: sdk.TypeString},
}

var names = []string{"email", "lifecycle_stage", "age", "amount", "vip", "tags", "birthday", "updated_at", "First Name", "in"}

func record() []sdk.Value {
	return []sdk.Value{
		sdk.String("ann@acme.com"),
		sdk.String("customer"),
		sdk.Int(42),
		{Kind: sdk.KindDecimal, Str: "1250.75"},
		sdk.Bool(true),
		sdk.StringList("vip", "beta"),
		{Kind: sdk.KindDate, Str: "1984-06-01"},
		sdk.DateTime(time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)),
		sdk.String("Ann"),
		sdk.String("x"),
	}
}

func nulls() []sdk.Value { return make([]sdk.Value, len(names)) }

func TestMatch(t *testing.T) {
	tests := []struct {
		expr   string
		values []sdk.Value
		want   bool
	}{
		{`lifecycle_stage == "customer"`, record(), true},
		{`lifecycle_stage == "lead"`, record(), false},
		{`email.endsWith("@acme.com")`, record(), true},
		{`email.lowerAscii().endsWith("@ACME.COM".lowerAscii())`, record(), true},
		{`age > 30`, record(), true},
		{`age > 30.5`, record(), true},
		{`age >= 43`, record(), false},
		{`amount > 1000`, record(), true},
		{`amount < 1250.5`, record(), false},
		{`vip`, record(), true},
		{`"vip" in tags`, record(), true},
		{`"gold" in tags`, record(), false},
		{`tags.size() == 2`, record(), true},
		{`birthday < "1990-01-01"`, record(), true},
		{`updated_at > timestamp("2024-01-01T00:00:00Z")`, record(), true},
		{`updated_at.getFullYear() == 2024`, record(), true},
		{`First_Name == "Ann"`, record(), true},
		{`in_ == "x"`, record(), true},
		{`lifecycle_stage == "customer" && (age > 50 || "vip" in tags)`, record(), true},
		{`email.matches("^[a-z]+@acme[.]com$")`, record(), true},
		// Nulls read as zero values: nothing fails.
		{`lifecycle_stage == "customer"`, nulls(), false},
		{`email.endsWith("@acme.com")`, nulls(), false},
		{`email == ""`, nulls(), true},
		{`age > 30`, nulls(), false},
		{`age == 0`, nulls(), true},
		{`amount == 0.0`, nulls(), true},
		{`vip`, nulls(), false},
		{`"vip" in tags`, nulls(), false},
		{`tags.size() == 0`, nulls(), true},
		{`updated_at == timestamp("1970-01-01T00:00:00Z")`, nulls(), true},
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, schema)
		if err != nil {
			t.Errorf("Compile(%s): %v", tt.expr, err)
			continue
		}
		got, err := p.Match(names, tt.values)
		if err != nil {
			t.Errorf("Match(%s): %v", tt.expr, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Match(%s) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestMatchFollowsFieldOrder(t *testing.T) {
	p, err := Compile(`age > 30 && lifecycle_stage == "lead"`, schema)
	if err != nil {
		t.Fatal(err)
	}
	// Any order and subset of fields works, as long as the read ones are there.
	got, err := p.Match([]string{"lifecycle_stage", "age"}, []sdk.Value{sdk.String("lead"), sdk.Int(31)})
	if err != nil || !got {
		t.Fatalf("Match = %v, %v; want true", got, err)
	}
	got, err = p.Match([]string{"age", "lifecycle_stage"}, []sdk.Value{sdk.Int(29), sdk.String("lead")})
	if err != nil || got {
		t.Fatalf("Match = %v, %v; want false", got, err)
	}
	if _, err := p.Match([]string{"age"}, []sdk.Value{sdk.Int(31)}); err == nil || !strings.Contains(err.Error(), "lifecycle_stage was not read") {
		t.Fatalf("Match without a read field: %v", err)
	}
	if f := p.Fields(); strings.Join(f, ",") != "age,lifecycle_stage" {
		t.Fatalf("Fields() = %v", f)
	}
}

func TestMatchConvertsOtherKinds(t *testing.T) {
	// A connector may hand over text where the schema says number or date.
	tests := []struct {
		expr  string
		value sdk.Value
		want  bool
		err   string
	}{
		{`age > 30`, sdk.String("42"), true, ""},
		{`age > 30`, sdk.String(" "), false, ""},
		{`age > 30`, sdk.String("old"), false, "not a whole number"},
		{`amount > 1.5`, sdk.String("2.25"), true, ""},
		{`amount > 1.5`, sdk.Int(2), true, ""},
		{`vip`, sdk.String("yes"), true, ""},
		{`birthday == "2024-03-05"`, sdk.DateTime(time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)), true, ""},
		{`"a" in tags`, sdk.String("a, b"), true, ""},
		{`email == "42"`, sdk.Int(42), true, ""},
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, schema)
		if err != nil {
			t.Fatalf("Compile(%s): %v", tt.expr, err)
		}
		field := p.Fields()[0]
		got, err := p.Match([]string{field}, []sdk.Value{tt.value})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Match(%s) with %#v = %v, %v; want error %q", tt.expr, tt.value, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Match(%s) with %#v = %v, %v; want %v", tt.expr, tt.value, got, err, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{``, []string{"empty"}},
		{`lifecyle_stage == "customer"`, []string{"undeclared reference to 'lifecyle_stage'", "known fields: First_Name, age, amount, birthday, email, in_, lifecycle_stage, tags, updated_at, vip"}},
		{`age`, []string{"gives int", "not true or false", "age == ..."}},
		{`email + 1`, []string{"no matching overload"}},
		{`age > `, []string{"Syntax error"}},
		{`age == "30"`, []string{"no matching overload"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, schema)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want an error", tt.expr, p)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Compile(%q) error %q does not contain %q", tt.expr, err, w)
			}
		}
	}
}

func TestIdentifier(t *testing.T) {
	tests := map[string]string{
		"email": "email", "First Name": "First_Name", "e-mail": "e_mail", "2fa": "_2fa",
		"in": "in_", "null": "null_", "": "_", "straße": "stra_e",
	}
	for in, want := range tests {
		if got := Identifier(in); got != want {
			t.Errorf("Identifier(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAliasNeverShadowsRealField(t *testing.T) {
	fields := []sdk.Field{{Name: "first name", Type: sdk.TypeString}, {Name: "first_name", Type: sdk.TypeInteger}}
	p, err := Compile(`first_name == 3`, fields)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Match([]string{"first name", "first_name"}, []sdk.Value{sdk.String("x"), sdk.Int(3)})
	if err != nil || !got {
		t.Fatalf("Match = %v, %v", got, err)
	}
}

func TestString(t *testing.T) {
	p, err := Compile(`vip`, schema)
	if err != nil || p.String() != "vip" {
		t.Fatalf("String() = %v, %v", p, err)
	}
}

func BenchmarkMatch(b *testing.B) {
	p, err := Compile(`lifecycle_stage == "customer" && email.endsWith("@acme.com") && age > 30 && "vip" in tags`, schema)
	if err != nil {
		b.Fatal(err)
	}
	rec := record()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.Match(names, rec); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
