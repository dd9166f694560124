package mapping

import (
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   sdk.Value
		t    sdk.FieldType
		want string
	}{
		{sdk.Null, sdk.TypeString, ""},
		{sdk.String("  Bob  "), sdk.TypeString, "Bob"},
		{sdk.String(" Bob@Example.COM "), sdk.TypeEmail, "bob@example.com"},
		{sdk.String("CUSTOMER"), sdk.TypeEnum, "customer"},
		{sdk.String("-0012.50"), sdk.TypeDecimal, "-12.5"},
		{dec("12"), sdk.TypeInteger, "12"},
		{sdk.Int(12), sdk.TypeDecimal, "12"},
		{sdk.String("12.0"), sdk.TypeInteger, "12"},
		{sdk.String("twelve"), sdk.TypeInteger, "twelve"},
		{sdk.String("Yes"), sdk.TypeBoolean, "true"},
		{sdk.Bool(false), sdk.TypeBoolean, "false"},
		{sdk.String("2024-03-05T00:00:00Z"), sdk.TypeDate, "2024-03-05"},
		{date("2024-03-05"), sdk.TypeDate, "2024-03-05"},
		{sdk.String("March 5, 2024"), sdk.TypeDate, "2024-03-05"},
		{sdk.String("2024-03-05T14:30:00+01:00"), sdk.TypeDateTime, "2024-03-05T13:30:00Z"},
		{dt("2024-03-05T13:30:00.000001Z"), sdk.TypeDateTime, "2024-03-05T13:30:00.000001Z"},
		{sdk.StringList(" vip", "beta,x"), sdk.TypeStringList, "vip, beta, x"},
		{sdk.String("vip,beta"), sdk.TypeStringList, "vip, beta"},
		{sdk.String(" +1 555 "), sdk.TypePhone, "+1 555"},
	}
	for _, tt := range tests {
		got := Normalize(tt.in, tt.t)
		if got != tt.want {
			t.Errorf("Normalize(%#v, %s) = %q, want %q", tt.in, tt.t, got, tt.want)
		}
		if again := Normalize(sdk.String(got), tt.t); again != got {
			t.Errorf("Normalize not idempotent for %#v as %s: %q then %q", tt.in, tt.t, got, again)
		}
	}
}

func TestNormalizeEqualAcrossKinds(t *testing.T) {
	// What the engine relies on: a value read on one side and the same value
	// converted for the other side compare equal.
	pairs := []struct {
		a, b sdk.Value
		t    sdk.FieldType
	}{
		{sdk.String("42"), sdk.Int(42), sdk.TypeInteger},
		{sdk.String("1.50"), dec("1.5"), sdk.TypeDecimal},
		{sdk.String("yes"), sdk.Bool(true), sdk.TypeBoolean},
		{sdk.String("2024-03-05"), dt("2024-03-05T00:00:00Z"), sdk.TypeDate},
		{sdk.String("a, b"), sdk.StringList("a", "b"), sdk.TypeStringList},
		{sdk.String("Bob@X.org"), sdk.String("bob@x.org "), sdk.TypeEmail},
	}
	for _, p := range pairs {
		if x, y := Normalize(p.a, p.t), Normalize(p.b, p.t); x != y {
			t.Errorf("%s: %#v → %q but %#v → %q", p.t, p.a, x, p.b, y)
		}
	}
	if Normalize(sdk.String("bob@x.org"), sdk.TypeEmail) == Normalize(sdk.String("bob@y.org"), sdk.TypeEmail) {
		t.Error("different emails normalize equal")
	}
}
