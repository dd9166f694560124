package mapping

import (
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Normalize returns the key a value is compared and matched by, read as a
// field of type t: trimmed text; emails and enum options case-folded; numbers,
// booleans, dates and datetimes in one canonical form (12.50 and 12.5 agree,
// "yes" and true agree, a datetime is RFC 3339 in UTC); list items trimmed and
// joined with ", "; "" for null. Text that does not read as t is compared
// trimmed. It is never written anywhere. Normalize(String(Normalize(v, t)), t)
// equals Normalize(v, t).
func Normalize(v sdk.Value, t sdk.FieldType) string {
	if v.Kind == sdk.KindNull {
		return ""
	}
	switch t {
	case sdk.TypeEmail, sdk.TypeEnum:
		return strings.TrimSpace(strings.ToLower(v.Text()))
	case sdk.TypeInteger, sdk.TypeDecimal:
		// Integers compare as decimals so that 12 and "12.0" agree and 12.5
		// still has a key.
		if d, e := convert(v, sdk.Field{Type: sdk.TypeDecimal}); e == nil && d.Kind == sdk.KindDecimal {
			if c, err := sdk.CanonicalDecimal(d.Str); err == nil {
				return c
			}
		}
	case sdk.TypeBoolean:
		if b, e := convert(v, sdk.Field{Type: t}); e == nil && b.Kind == sdk.KindBoolean {
			return b.Text()
		}
	case sdk.TypeDate:
		if d, e := convert(v, sdk.Field{Type: t}); e == nil && d.Kind == sdk.KindDate {
			if c, msg, _ := ParseDate(d.Str); msg == "" { // a date value read from an app may be loose
				return c.Str
			}
		}
	case sdk.TypeDateTime:
		if d, e := convert(v, sdk.Field{Type: t}); e == nil && d.Kind == sdk.KindDateTime {
			return d.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
	case sdk.TypeStringList:
		var items []string
		if v.Kind == sdk.KindStringList {
			for _, item := range v.List {
				items = append(items, SplitList(item)...)
			}
		} else {
			items = SplitList(v.Text())
		}
		return strings.Join(items, ", ")
	}
	return strings.TrimSpace(v.Text())
}
