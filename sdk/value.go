package sdk

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of value that travel between host and connector.
const (
	KindNull Kind = iota
	KindString
	KindInteger
	KindDecimal  // canonical decimal text in Str
	KindBoolean  // Bool
	KindDate     // "YYYY-MM-DD" in Str
	KindDateTime // Time, UTC, microsecond precision
	KindStringList
)

var kindNames = [...]string{"null", "string", "integer", "decimal", "boolean", "date", "datetime", "string_list"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Value is one typed field value. The zero Value is null. It is a plain struct
// (no interface boxing) because values are the hot path of every sync. Kind
// and Bool sit together: 80 bytes, where apart they padded it to 88 (a run
// holds ten of them for every record it changes).
type Value struct {
	Kind Kind
	Bool bool      // boolean
	Str  string    // string, decimal, date
	Int  int64     // integer
	Time time.Time // datetime
	List []string  // string list
}

// Null is the null value.
var Null = Value{}

// String returns a string value.
func String(s string) Value { return Value{Kind: KindString, Str: s} }

// Int returns an integer value.
func Int(i int64) Value { return Value{Kind: KindInteger, Int: i} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{Kind: KindBoolean, Bool: b} }

// Decimal returns a decimal value from its text, which must parse as a number.
func Decimal(s string) (Value, error) {
	c, err := CanonicalDecimal(s)
	if err != nil {
		return Null, err
	}
	return Value{Kind: KindDecimal, Str: c}, nil
}

// Date returns a date value (the time's calendar date, as written in its zone).
func Date(t time.Time) Value { return Value{Kind: KindDate, Str: t.Format(time.DateOnly)} }

// DateTime returns a datetime value, truncated to microseconds in UTC.
func DateTime(t time.Time) Value {
	return Value{Kind: KindDateTime, Time: t.UTC().Truncate(time.Microsecond)}
}

// StringList returns a string list value.
func StringList(items ...string) Value { return Value{Kind: KindStringList, List: items} }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.Kind == KindNull }

// IsEmpty reports whether v is null, an empty string or an empty list: the
// values a first match never lets overwrite a filled one.
func (v Value) IsEmpty() bool {
	switch v.Kind {
	case KindNull:
		return true
	case KindString, KindDecimal, KindDate:
		return v.Str == ""
	case KindStringList:
		return len(v.List) == 0
	}
	return false
}

// Equal reports whether two values are identical (same kind, same content).
func (v Value) Equal(o Value) bool {
	if v.Kind != o.Kind {
		return false
	}
	switch v.Kind {
	case KindNull:
		return true
	case KindString, KindDecimal, KindDate:
		return v.Str == o.Str
	case KindInteger:
		return v.Int == o.Int
	case KindBoolean:
		return v.Bool == o.Bool
	case KindDateTime:
		return v.Time.Equal(o.Time)
	case KindStringList:
		return slices.Equal(v.List, o.List)
	}
	return false
}

// Text renders the value as text: what a string field would hold. Null is "".
func (v Value) Text() string {
	switch v.Kind {
	case KindString, KindDecimal, KindDate:
		return v.Str
	case KindInteger:
		return strconv.FormatInt(v.Int, 10)
	case KindBoolean:
		return strconv.FormatBool(v.Bool)
	case KindDateTime:
		return v.Time.UTC().Format(time.RFC3339Nano)
	case KindStringList:
		return strings.Join(v.List, ", ")
	}
	return ""
}

// GoString shows kind and content, for test failures and logs.
func (v Value) GoString() string {
	if v.Kind == KindNull {
		return "null"
	}
	if v.Kind == KindString {
		return strconv.Quote(v.Str)
	}
	return v.Kind.String() + "(" + v.Text() + ")"
}

func (v Value) String() string { return v.GoString() }

// CanonicalDecimal trims a decimal's text to one canonical form ("-0012.50" →
// "-12.5", "1e3" is refused): equal numbers compare equal as text.
func CanonicalDecimal(s string) (string, error) {
	t := strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" {
		return "", fmt.Errorf("decimal %q: no digits", s)
	}
	for _, part := range []string{intPart, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("decimal %q: %q is not a digit", s, r)
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, nil
}
