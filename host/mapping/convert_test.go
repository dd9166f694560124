package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

func dec(s string) sdk.Value  { return sdk.Value{Kind: sdk.KindDecimal, Str: s} }
func date(s string) sdk.Value { return sdk.Value{Kind: sdk.KindDate, Str: s} }
func dt(s string) sdk.Value {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return sdk.DateTime(t)
}

func field(t sdk.FieldType, opts ...string) sdk.Field {
	return sdk.Field{Name: "f", Type: t, EnumOptions: opts}
}

func TestConvert(t *testing.T) {
	stages := field(sdk.TypeEnum, "Lead", "Customer", "Other")
	yesNo := field(sdk.TypeEnum, "Yes", "No")
	tests := []struct {
		name string
		in   sdk.Value
		dst  sdk.Field
		want sdk.Value
		rule string // expected ValidationError.Rule; "" for success
	}{
		// Same kind and null pass through untouched.
		{"null to integer", sdk.Null, field(sdk.TypeInteger), sdk.Null, ""},
		{"string stays as read", sdk.String("  Bob "), field(sdk.TypeString), sdk.String("  Bob "), ""},
		{"email stays as read", sdk.String("Bob@X.com"), field(sdk.TypeEmail), sdk.String("Bob@X.com"), ""},
		{"integer same kind", sdk.Int(7), field(sdk.TypeInteger), sdk.Int(7), ""},
		{"unspecified type passes", sdk.Int(7), field(sdk.TypeUnspecified), sdk.Int(7), ""},
		// text → integer
		{"text to integer", sdk.String(" 42 "), field(sdk.TypeInteger), sdk.Int(42), ""},
		{"text to negative integer", sdk.String("-17"), field(sdk.TypeInteger), sdk.Int(-17), ""},
		{"text 12.0 to integer", sdk.String("12.0"), field(sdk.TypeInteger), sdk.Int(12), ""},
		{"blank text to integer is null", sdk.String("  "), field(sdk.TypeInteger), sdk.Null, ""},
		{"fraction to integer", sdk.String("12.5"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		{"thousands to integer", sdk.String("1,000"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		{"word to integer", sdk.String("ten"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		{"huge to integer", sdk.String("99999999999999999999"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		{"decimal to integer", dec("12"), field(sdk.TypeInteger), sdk.Int(12), ""},
		{"fractional decimal to integer", dec("12.25"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		{"bool to integer", sdk.Bool(true), field(sdk.TypeInteger), sdk.Int(1), ""},
		{"date to integer", date("2024-03-05"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
		// text → decimal
		{"text to decimal", sdk.String("-0012.50"), field(sdk.TypeDecimal), dec("-12.5"), ""},
		{"integer to decimal", sdk.Int(-3), field(sdk.TypeDecimal), dec("-3"), ""},
		{"exponent to decimal", sdk.String("1e3"), field(sdk.TypeDecimal), sdk.Null, CheckConversion},
		{"comma decimal", sdk.String("12,5"), field(sdk.TypeDecimal), sdk.Null, CheckConversion},
		// numbers → text
		{"integer to text", sdk.Int(-42), field(sdk.TypeString), sdk.String("-42"), ""},
		{"decimal to text", dec("3.14"), field(sdk.TypeString), sdk.String("3.14"), ""},
		// boolean
		{"yes", sdk.String("YES"), field(sdk.TypeBoolean), sdk.Bool(true), ""},
		{"no", sdk.String(" no"), field(sdk.TypeBoolean), sdk.Bool(false), ""},
		{"1", sdk.String("1"), field(sdk.TypeBoolean), sdk.Bool(true), ""},
		{"False", sdk.String("False"), field(sdk.TypeBoolean), sdk.Bool(false), ""},
		{"maybe", sdk.String("maybe"), field(sdk.TypeBoolean), sdk.Null, CheckConversion},
		{"integer 0 to bool", sdk.Int(0), field(sdk.TypeBoolean), sdk.Bool(false), ""},
		{"integer 2 to bool", sdk.Int(2), field(sdk.TypeBoolean), sdk.Null, CheckConversion},
		{"bool to text", sdk.Bool(true), field(sdk.TypeString), sdk.String("true"), ""},
		// date
		{"iso date", sdk.String("2024-03-05"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"midnight datetime text to date", sdk.String("2024-03-05T00:00:00Z"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"datetime text keeps its written date", sdk.String("2024-03-05T23:30:00-05:00"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"slashes year first", sdk.String("2024/03/05"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"month name", sdk.String("March 5, 2024"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"day month name", sdk.String("5 Mar 2024"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"ambiguous slashes", sdk.String("03/05/2024"), field(sdk.TypeDate), sdk.Null, CheckConversion},
		{"ambiguous dots", sdk.String("05.03.2024"), field(sdk.TypeDate), sdk.Null, CheckConversion},
		{"not a date", sdk.String("soon"), field(sdk.TypeDate), sdk.Null, CheckConversion},
		{"impossible date", sdk.String("2024-02-30"), field(sdk.TypeDate), sdk.Null, CheckConversion},
		{"datetime value to date", dt("2024-03-05T23:30:00Z"), field(sdk.TypeDate), date("2024-03-05"), ""},
		{"date to text", date("2024-03-05"), field(sdk.TypeString), sdk.String("2024-03-05"), ""},
		// datetime
		{"rfc3339", sdk.String("2024-03-05T14:30:00+01:00"), field(sdk.TypeDateTime), dt("2024-03-05T13:30:00Z"), ""},
		{"rfc3339 nano", sdk.String("2024-03-05T14:30:00.123456789Z"), field(sdk.TypeDateTime), dt("2024-03-05T14:30:00.123456Z"), ""},
		{"space instead of T, no zone is UTC", sdk.String("2024-03-05 14:30:00"), field(sdk.TypeDateTime), dt("2024-03-05T14:30:00Z"), ""},
		{"no seconds", sdk.String("2024-03-05T14:30+02:00"), field(sdk.TypeDateTime), dt("2024-03-05T12:30:00Z"), ""},
		{"bare date is midnight UTC", sdk.String("2024-03-05"), field(sdk.TypeDateTime), dt("2024-03-05T00:00:00Z"), ""},
		{"date value to datetime", date("2024-03-05"), field(sdk.TypeDateTime), dt("2024-03-05T00:00:00Z"), ""},
		{"not a datetime", sdk.String("yesterday"), field(sdk.TypeDateTime), sdk.Null, CheckConversion},
		{"datetime to text", dt("2024-03-05T14:30:00.5Z"), field(sdk.TypeString), sdk.String("2024-03-05T14:30:00.5Z"), ""},
		{"integer to datetime", sdk.Int(1700000000), field(sdk.TypeDateTime), sdk.Null, CheckConversion},
		// enum
		{"enum exact", sdk.String("Lead"), stages, sdk.String("Lead"), ""},
		{"enum case-insensitive gets option spelling", sdk.String(" customer "), stages, sdk.String("Customer"), ""},
		{"enum unknown", sdk.String("prospect"), stages, sdk.Null, CheckEnum},
		{"enum without options passes", sdk.String("anything"), field(sdk.TypeEnum), sdk.String("anything"), ""},
		{"enum empty text stays", sdk.String(""), stages, sdk.String(""), ""},
		{"bool to yes/no enum", sdk.Bool(true), yesNo, sdk.String("Yes"), ""},
		{"bool false to yes/no enum", sdk.Bool(false), yesNo, sdk.String("No"), ""},
		{"one-item list to enum", sdk.StringList("other"), stages, sdk.String("Other"), ""},
		{"two-item list to enum", sdk.StringList("Lead", "Other"), stages, sdk.Null, CheckConversion},
		// lists
		{"text to list", sdk.String("vip, beta,, alpha "), field(sdk.TypeStringList), sdk.StringList("vip", "beta", "alpha"), ""},
		{"blank text to list is null", sdk.String(" , "), field(sdk.TypeStringList), sdk.Null, ""},
		{"list to text", sdk.StringList("vip", "beta"), field(sdk.TypeString), sdk.String("vip, beta"), ""},
		{"list item with comma to text", sdk.StringList("a,b"), field(sdk.TypeString), sdk.Null, CheckConversion},
		{"integer to list", sdk.Int(5), field(sdk.TypeStringList), sdk.StringList("5"), ""},
		{"one-item list to integer", sdk.StringList("5"), field(sdk.TypeInteger), sdk.Int(5), ""},
		{"empty list to integer", sdk.StringList(), field(sdk.TypeInteger), sdk.Null, ""},
		{"two-item list to integer", sdk.StringList("5", "6"), field(sdk.TypeInteger), sdk.Null, CheckConversion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Convert(tt.in, tt.dst)
			if tt.rule != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Convert(%#v, %s) = %#v, %v; want a %s ValidationError", tt.in, tt.dst.Type, got, err, tt.rule)
				}
				if ve.Rule != tt.rule || ve.Field != "f" || ve.Hint == "" || ve.Message == "" {
					t.Fatalf("error %+v: want rule %s, field f, a message and a hint", ve, tt.rule)
				}
				if !got.IsNull() {
					t.Fatalf("failed conversion returned %#v, want null", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert(%#v, %s): %v", tt.in, tt.dst.Type, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("Convert(%#v, %s) = %#v, want %#v", tt.in, tt.dst.Type, got, tt.want)
			}
		})
	}
}

func TestConvertErrorsExplain(t *testing.T) {
	tests := []struct {
		in       string
		dst      sdk.Field
		contains []string
	}{
		{"03/05/2024", sdk.Field{Name: "birthday", Type: sdk.TypeDate}, []string{"birthday", "ambiguous", "YYYY-MM-DD", "2024-03-05", "2024-05-03"}},
		{"13/05/2024", sdk.Field{Name: "birthday", Type: sdk.TypeDate}, []string{"2024-05-13", "nothing valid"}},
		{"prospect", sdk.Field{Name: "stage", Type: sdk.TypeEnum, EnumOptions: []string{"lead", "customer", "other"}},
			[]string{"stage", `"prospect"`, "use one of: lead, customer, other or add a --value-map"}},
		{"12.5", sdk.Field{Name: "age", Type: sdk.TypeInteger}, []string{"age", "not a whole number", "decimal field"}},
		{"1e3", sdk.Field{Name: "amount", Type: sdk.TypeDecimal}, []string{"amount", "not a number", "1234.50"}},
	}
	for _, tt := range tests {
		_, err := Convert(sdk.String(tt.in), tt.dst)
		if err == nil {
			t.Fatalf("Convert(%q, %s) succeeded", tt.in, tt.dst.Type)
		}
		for _, want := range tt.contains {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Convert(%q) error %q does not mention %q", tt.in, err, want)
			}
		}
	}
}

func TestShownValueIsCut(t *testing.T) {
	long := strings.Repeat("é", 500)
	_, err := Convert(sdk.String(long), field(sdk.TypeInteger))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	if n := len([]rune(ve.Value)); n != maxShownValue+1 || !strings.HasSuffix(ve.Value, "…") {
		t.Fatalf("value kept %d runes (%q…), want %d and an ellipsis", n, ve.Value[:10], maxShownValue+1)
	}
}
