package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// fuzzTypes are the destination types FuzzConvert pushes text into.
var fuzzTypes = []sdk.Field{
	{Name: "s", Type: sdk.TypeString},
	{Name: "i", Type: sdk.TypeInteger},
	{Name: "d", Type: sdk.TypeDecimal},
	{Name: "b", Type: sdk.TypeBoolean},
	{Name: "date", Type: sdk.TypeDate},
	{Name: "dt", Type: sdk.TypeDateTime},
	{Name: "e", Type: sdk.TypeEnum, EnumOptions: []string{"Lead", "customer", "OTHER", "Yes", "No", "lead"}},
	{Name: "e0", Type: sdk.TypeEnum},
	{Name: "email", Type: sdk.TypeEmail},
	{Name: "phone", Type: sdk.TypePhone},
	{Name: "url", Type: sdk.TypeURL},
	{Name: "list", Type: sdk.TypeStringList},
}

// FuzzConvert pushes any text into every field type. Conversion never panics;
// a failure is a ValidationError with a hint; a success converts to text and
// back to the same value; Normalize is idempotent and agrees on the text and
// the converted value; Validate never panics.
func FuzzConvert(f *testing.F) {
	for _, s := range []string{"", " ", "42", "-0012.50", "12.0", "1e3", "1,000", "yes", "NO", "0",
		"2024-03-05", "2024-03-05T00:00:00Z", "2024-03-05T14:30:00.123456789+01:00", "03/05/2024",
		"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "March 5, 2024", "lead", " customer ",
		"a, b,,c", "a,b", "bob@example.com", "+1 (555) 123-4567 x12", "https://example.com/x",
		"99999999999999999999", "-9223372036854775808", "\xff", "İ", "ǅ", "ß"} {
		f.Add(s)
	}
	text := sdk.Field{Name: "text", Type: sdk.TypeString}
	f.Fuzz(func(t *testing.T, s string) {
		in := sdk.String(s)
		for _, dst := range fuzzTypes {
			n := Normalize(in, dst.Type)
			if again := Normalize(sdk.String(n), dst.Type); again != n {
				t.Fatalf("Normalize(%q, %s) = %q, but Normalize of that = %q", s, dst.Type, n, again)
			}
			v, err := Convert(in, dst)
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Hint == "" || ve.Field != dst.Name {
					t.Fatalf("Convert(%q, %s) error %v is not a ValidationError with a hint", s, dst.Type, err)
				}
				continue
			}
			if !v.IsNull() && v.Kind != dst.Type.ValueKind() {
				t.Fatalf("Convert(%q, %s) = %#v: wrong kind", s, dst.Type, v)
			}
			_ = Validate(dst, v)
			if nv := Normalize(v, dst.Type); nv != n {
				t.Fatalf("%s: Normalize(%q) = %q but Normalize(%#v) = %q", dst.Type, s, n, v, nv)
			}
			back, err := Convert(v, text)
			if err != nil {
				t.Fatalf("Convert(%#v, text): %v", v, err)
			}
			again, err := Convert(back, dst)
			if err != nil {
				t.Fatalf("round trip %q → %#v → %#v: %v", s, v, back, err)
			}
			if !again.Equal(v) {
				t.Fatalf("round trip %q → %#v → %#v → %#v", s, v, back, again)
			}
		}
	})
}

// FuzzValueMapRoundTrip maps a value right and back left through a
// one-to-one value map: every value comes back as it was (exactly when it
// is a key, spelled as the key when it matches one ignoring case), and values
// the map does not know pass through untouched.
func FuzzValueMapRoundTrip(f *testing.F) {
	f.Add("lead", "Lead", "customer", "Customer", "lead")
	f.Add("lead", "Lead", "customer", "Customer", "CUSTOMER")
	f.Add("lead", "Lead", "customer", "Customer", "partner")
	f.Add("true", "Subscribed", "false", "Unsubscribed", "true")
	f.Add("a", "x", "A", "y", "a")
	f.Add(" a", "x", "b", "y", "a")
	f.Add("a", "b", "b", "a", "b")
	text := sdk.Field{Name: "t", Type: sdk.TypeString}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, s string) {
		if k1 == k2 || v1 == v2 {
			return // not one-to-one
		}
		m := FieldMap{ValueMap: map[string]string{k1: v1, k2: v2}}
		right, err := m.ToRight(sdk.String(s), text)
		if err != nil {
			t.Fatalf("ToRight(%q): %v", s, err)
		}
		// The key s selects: itself, else one equal ignoring case and
		// surrounding space (the smaller of two, for a stable choice).
		key, mapped := "", false
		switch {
		case s == k1 || s == k2:
			key, mapped = s, true
		default:
			for _, k := range []string{k1, k2} {
				if strings.EqualFold(strings.TrimSpace(k), strings.TrimSpace(s)) && (!mapped || k < key) {
					key, mapped = k, true
				}
			}
		}
		if !mapped {
			if !right.Equal(sdk.String(s)) {
				t.Fatalf("unmapped %q became %#v", s, right)
			}
			return
		}
		if want := m.ValueMap[key]; right.Str != want {
			t.Fatalf("%q mapped to %#v, want %q", s, right, want)
		}
		left, err := m.ToLeft(right, text)
		if err != nil {
			t.Fatalf("ToLeft(%#v): %v", right, err)
		}
		// The map is one-to-one, so the exact inverse finds the key again.
		if left.Str != key {
			t.Fatalf("%q → %q → %q, want %q back (map %v)", s, right.Str, left.Str, key, m.ValueMap)
		}
	})
}
