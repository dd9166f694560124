package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Convert returns v as a value of dst's type. Null stays null, and a value
// already of the field's kind passes through unchanged (values are written as
// read). Text converts to integer, decimal, boolean (true/false, yes/no, y/n,
// on/off, 1/0, any case), date (YYYY-MM-DD and a few unambiguous forms;
// 03/05/2024 is refused), datetime (RFC 3339 and close variants; no zone means
// UTC), enum (an option matched case-insensitively, written in the option's
// spelling) and string_list (comma-separated); blank text into a non-text type
// is null. A value that does not convert is a *ValidationError with Rule
// CheckConversion (CheckEnum for an unknown option).
func Convert(v sdk.Value, dst sdk.Field) (sdk.Value, error) {
	out, e := convert(v, dst)
	if e != nil {
		return sdk.Null, e
	}
	return out, nil
}

func convert(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if v.Kind == sdk.KindNull || dst.Type == sdk.TypeUnspecified {
		return v, nil
	}
	if v.Kind > sdk.KindStringList {
		return sdk.Null, newError(dst.Name, v, CheckType, fmt.Sprintf("unknown value kind %d", v.Kind),
			"this is a bug in the connector that produced the value")
	}
	if dst.Type == sdk.TypeEnum {
		return toEnum(v, dst)
	}
	want := dst.Type.ValueKind()
	if v.Kind == want {
		return v, nil
	}
	switch want {
	case sdk.KindString:
		return toText(v, dst)
	case sdk.KindInteger:
		return toInteger(v, dst)
	case sdk.KindDecimal:
		return toDecimal(v, dst)
	case sdk.KindBoolean:
		return toBoolean(v, dst)
	case sdk.KindDate:
		return toDate(v, dst)
	case sdk.KindDateTime:
		return toDateTime(v, dst)
	case sdk.KindStringList:
		return toList(v, dst)
	}
	return sdk.Null, cannot(v, dst)
}

// cannot is the error for a pair of kinds no conversion exists for.
func cannot(v sdk.Value, dst sdk.Field) *ValidationError {
	return newError(dst.Name, v, CheckConversion,
		fmt.Sprintf("a %s value cannot be written to a %s field", v.Kind, dst.Type),
		fmt.Sprintf("map a %s field into %s, or map this field to a text field", dst.Type, dst.Name))
}

// single unwraps a one-item list so it converts like its item.
func single(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError, bool) {
	if v.Kind != sdk.KindStringList {
		return v, nil, false
	}
	switch len(v.List) {
	case 0:
		return sdk.Null, nil, true
	case 1:
		out, e := convert(sdk.String(v.List[0]), dst)
		return out, e, true
	}
	return sdk.Null, newError(dst.Name, v, CheckConversion,
		fmt.Sprintf("a list of %d items cannot be written to a %s field", len(v.List), dst.Type),
		"map it to a list or text field"), true
}

func toText(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if v.Kind == sdk.KindStringList {
		for _, item := range v.List {
			if strings.Contains(item, ",") {
				return sdk.Null, newError(dst.Name, v, CheckConversion,
					fmt.Sprintf("list item %q contains a comma, so the list cannot be written as comma-separated text", item),
					"map it to a list field, or remove the comma from the item in the source")
			}
		}
	}
	return sdk.String(v.Text()), nil
}

func toInteger(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if out, e, ok := single(v, dst); ok {
		return out, e
	}
	switch v.Kind {
	case sdk.KindBoolean:
		if v.Bool {
			return sdk.Int(1), nil
		}
		return sdk.Int(0), nil
	case sdk.KindString, sdk.KindDecimal:
		s := strings.TrimSpace(v.Str)
		if s == "" {
			return sdk.Null, nil
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return sdk.Int(i), nil
		}
		c, err := sdk.CanonicalDecimal(s)
		switch {
		case err == nil && strings.Contains(c, "."):
			return sdk.Null, newError(dst.Name, v, CheckConversion, "is not a whole number",
				fmt.Sprintf("round it in the source, or map it to a decimal field instead of %s", dst.Name))
		case err == nil:
			if i, err := strconv.ParseInt(c, 10, 64); err == nil { // "12.0", "007"
				return sdk.Int(i), nil
			}
			return sdk.Null, newError(dst.Name, v, CheckConversion, "is too large for an integer field",
				"map it to a decimal or text field")
		case strings.Contains(s, ","):
			return sdk.Null, newError(dst.Name, v, CheckConversion, "is not a whole number",
				"write it as digits without thousands separators, e.g. 1234")
		}
		return sdk.Null, newError(dst.Name, v, CheckConversion, "is not a whole number",
			"write it as digits only, e.g. 1234, or map a numeric field into "+dst.Name)
	}
	return sdk.Null, cannot(v, dst)
}

func toDecimal(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if out, e, ok := single(v, dst); ok {
		return out, e
	}
	switch v.Kind {
	case sdk.KindInteger:
		return sdk.Value{Kind: sdk.KindDecimal, Str: strconv.FormatInt(v.Int, 10)}, nil
	case sdk.KindBoolean:
		if v.Bool {
			return sdk.Value{Kind: sdk.KindDecimal, Str: "1"}, nil
		}
		return sdk.Value{Kind: sdk.KindDecimal, Str: "0"}, nil
	case sdk.KindString:
		if strings.TrimSpace(v.Str) == "" {
			return sdk.Null, nil
		}
		d, err := sdk.Decimal(v.Str)
		if err != nil {
			return sdk.Null, newError(dst.Name, v, CheckConversion, "is not a number",
				"write it with digits and a dot as the decimal separator, without thousands separators or exponent, e.g. 1234.50")
		}
		return d, nil
	}
	return sdk.Null, cannot(v, dst)
}

// ParseBool reads the usual spellings of yes and no, in any case.
func ParseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "on", "1", "t":
		return true, true
	case "false", "no", "n", "off", "0", "f":
		return false, true
	}
	return false, false
}

func toBoolean(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if out, e, ok := single(v, dst); ok {
		return out, e
	}
	switch v.Kind {
	case sdk.KindString, sdk.KindDecimal, sdk.KindInteger:
		s := v.Text()
		if v.Kind == sdk.KindString && strings.TrimSpace(s) == "" {
			return sdk.Null, nil
		}
		if b, ok := ParseBool(s); ok {
			return sdk.Bool(b), nil
		}
		return sdk.Null, newError(dst.Name, v, CheckConversion, "is not a yes/no value",
			"use true/false, yes/no or 1/0 in the source, or add a --value-map to one of them")
	}
	return sdk.Null, cannot(v, dst)
}

func toDate(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if out, e, ok := single(v, dst); ok {
		return out, e
	}
	switch v.Kind {
	case sdk.KindDateTime:
		return sdk.Date(v.Time.UTC()), nil
	case sdk.KindString:
		if strings.TrimSpace(v.Str) == "" {
			return sdk.Null, nil
		}
		d, msg, hint := ParseDate(v.Str)
		if msg != "" {
			return sdk.Null, newError(dst.Name, v, CheckConversion, msg, hint)
		}
		return d, nil
	}
	return sdk.Null, cannot(v, dst)
}

func toDateTime(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if out, e, ok := single(v, dst); ok {
		return out, e
	}
	switch v.Kind {
	case sdk.KindDate, sdk.KindString:
		if strings.TrimSpace(v.Str) == "" {
			return sdk.Null, nil
		}
		t, msg, hint := ParseDateTime(v.Str)
		if msg != "" {
			return sdk.Null, newError(dst.Name, v, CheckConversion, msg, hint)
		}
		return t, nil
	}
	return sdk.Null, cannot(v, dst)
}

func toList(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if v.Kind == sdk.KindString {
		items := SplitList(v.Str)
		if items == nil {
			return sdk.Null, nil
		}
		return sdk.StringList(items...), nil
	}
	return sdk.StringList(v.Text()), nil
}

// SplitList splits comma-separated text into trimmed, non-empty items; nil
// when there are none.
func SplitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func toEnum(v sdk.Value, dst sdk.Field) (sdk.Value, *ValidationError) {
	if v.Kind == sdk.KindStringList {
		switch len(v.List) {
		case 0:
			return sdk.Null, nil
		case 1:
			return toEnum(sdk.String(v.List[0]), dst)
		}
		return sdk.Null, newError(dst.Name, v, CheckConversion,
			fmt.Sprintf("a list of %d items cannot be written to an enum field", len(v.List)),
			"map it to a list or text field")
	}
	text := v.Text()
	if len(dst.EnumOptions) == 0 || strings.TrimSpace(text) == "" {
		if v.Kind == sdk.KindString {
			return v, nil
		}
		return sdk.String(text), nil
	}
	if opt, ok := MatchOption(text, dst.EnumOptions); ok {
		if v.Kind == sdk.KindString && opt == v.Str {
			return v, nil
		}
		return sdk.String(opt), nil
	}
	if v.Kind == sdk.KindBoolean { // an enum of Yes/No, Y/N, On/Off
		for _, alt := range boolSpellings(v.Bool) {
			if opt, ok := MatchOption(alt, dst.EnumOptions); ok {
				return sdk.String(opt), nil
			}
		}
	}
	return sdk.Null, newError(dst.Name, v, CheckEnum, "is not one of the options of "+dst.Name,
		"use one of: "+optionList(dst.EnumOptions)+" or add a --value-map")
}

func boolSpellings(b bool) []string {
	if b {
		return []string{"yes", "y", "1", "on", "t"}
	}
	return []string{"no", "n", "0", "off", "f"}
}

// MatchOption finds s among options: the exact spelling first, then trimmed
// and case-insensitively. It returns the option as the schema spells it.
func MatchOption(s string, options []string) (string, bool) {
	for _, o := range options {
		if o == s {
			return o, true
		}
	}
	t := strings.TrimSpace(s)
	for _, o := range options {
		if strings.EqualFold(strings.TrimSpace(o), t) {
			return o, true
		}
	}
	return "", false
}

func optionList(options []string) string {
	const most = 20
	if len(options) > most {
		return strings.Join(options[:most], ", ") + fmt.Sprintf(", … (%d in all)", len(options))
	}
	return strings.Join(options, ", ")
}

// Date layouts accepted besides YYYY-MM-DD: each has the year first or the
// month spelled out, so it cannot be read two ways.
var dateLayouts = [...]string{
	time.DateOnly,
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006/01/02",
	"Jan 2, 2006",
	"January 2, 2006",
	"2 Jan 2006",
	"2 January 2006",
	"02-Jan-2006",
	"Mon, 02 Jan 2006",
}

// ParseDate reads a calendar date. For a datetime it takes the date as written
// in its own zone. On failure it returns an empty Value, a message and a hint.
func ParseDate(s string) (v sdk.Value, msg, hint string) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if !yearOK(t) {
				return sdk.Null, "is out of the range of dates", "use a year between 0001 and 9999"
			}
			return sdk.Date(t), "", ""
		}
	}
	if a, b, ok := twoReadings(s); ok {
		return sdk.Null, "is ambiguous: day and month could be either way round",
			fmt.Sprintf("write dates as YYYY-MM-DD in the source (%s could be %s or %s)", s, a, b)
	}
	return sdk.Null, "is not a date", "write it as YYYY-MM-DD, e.g. 2024-03-05"
}

// twoReadings reads 03/05/2024-style text month-first and day-first.
func twoReadings(s string) (string, string, bool) {
	sep := strings.IndexAny(s, "/.-")
	if sep < 0 {
		return "", "", false
	}
	parts := strings.Split(s, s[sep:sep+1])
	if len(parts) != 3 || len(parts[0]) > 2 || len(parts[1]) > 2 || (len(parts[2]) != 2 && len(parts[2]) != 4) {
		return "", "", false
	}
	n := [3]int{}
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return "", "", false
		}
		n[i] = x
	}
	year := n[2]
	if len(parts[2]) == 2 {
		year += 2000
	}
	reading := func(month, day int) string {
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if month < 1 || month > 12 || t.Day() != day {
			return "nothing valid"
		}
		return t.Format(time.DateOnly)
	}
	return reading(n[0], n[1]), reading(n[1], n[0]), true
}

var dateTimeLayouts = [...]string{
	time.RFC3339, // fractional seconds are accepted when parsing
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	time.RFC1123Z,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05", // no zone: UTC
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	time.DateOnly, // midnight UTC
}

// ParseDateTime reads an RFC 3339 timestamp or a close variant (space for T,
// +0100 offsets, no zone meaning UTC, a bare date meaning midnight UTC).
func ParseDateTime(s string) (v sdk.Value, msg, hint string) {
	s = strings.TrimSpace(s)
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if !yearOK(t.UTC()) {
				return sdk.Null, "is out of the range of datetimes", "use a year between 0001 and 9999"
			}
			return sdk.DateTime(t), "", ""
		}
	}
	return sdk.Null, "is not a date and time",
		"write it as RFC 3339, e.g. 2024-03-05T14:30:00Z or 2024-03-05T14:30:00+01:00"
}

// yearOK keeps dates within four-digit years, so their text parses back.
func yearOK(t time.Time) bool { return t.Year() >= 1 && t.Year() <= 9999 }
