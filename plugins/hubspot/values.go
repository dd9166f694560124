package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// hsTime is how HubSpot writes datetimes: UTC, milliseconds.
const hsTime = "2006-01-02T15:04:05.000Z"

// toHS renders a value as the text HubSpot takes for a property of field f's
// type. Null becomes "", which clears the property.
func toHS(v sdk.Value, f sdk.Field) (string, error) {
	switch v.Kind {
	case sdk.KindNull:
		return "", nil
	case sdk.KindDateTime:
		if f.Type == sdk.TypeDate {
			return v.Time.UTC().Format(time.DateOnly), nil
		}
		return v.Time.UTC().Format(hsTime), nil
	case sdk.KindStringList:
		for _, item := range v.List {
			if strings.Contains(item, ";") {
				return "", fmt.Errorf("%q contains \";\", HubSpot's separator of multiple values", item)
			}
		}
		return strings.Join(v.List, ";"), nil
	case sdk.KindBoolean:
		return strconv.FormatBool(v.Bool), nil
	}
	return v.Text(), nil
}

// fromHS reads a property value as HubSpot returns it (text, or null) into
// a value of field f's type. HubSpot does not keep empty strings (setting ""
// clears a property), so "" and null both read as null.
func fromHS(s *string, f sdk.Field) sdk.Value {
	if s == nil || *s == "" {
		return sdk.Null
	}
	t := *s
	switch f.Type {
	case sdk.TypeInteger:
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return sdk.Int(n)
		}
	case sdk.TypeDecimal:
		if v, err := sdk.Decimal(t); err == nil {
			return v
		}
		if x, err := strconv.ParseFloat(t, 64); err == nil { // "1e3": HubSpot is lenient on input
			if v, err := sdk.Decimal(strconv.FormatFloat(x, 'f', -1, 64)); err == nil {
				return v
			}
		}
	case sdk.TypeBoolean:
		if b, err := strconv.ParseBool(t); err == nil {
			return sdk.Bool(b)
		}
	case sdk.TypeDate:
		if tm, ok := parseHSTime(t); ok {
			return sdk.Date(tm.UTC())
		}
	case sdk.TypeDateTime:
		if tm, ok := parseHSTime(t); ok {
			return sdk.DateTime(tm)
		}
	case sdk.TypeStringList:
		return sdk.StringList(strings.Split(t, ";")...)
	default:
		return sdk.String(t)
	}
	// A value that does not parse as its type is passed on as text rather
	// than dropped: the host reports it against the schema.
	return sdk.String(t)
}

// parseHSTime reads HubSpot's date and datetime forms: ISO 8601, a bare
// date, or milliseconds since the epoch.
func parseHSTime(s string) (time.Time, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// millis reads a timestamp property as milliseconds since the epoch.
func millis(s *string) (int64, bool) {
	if s == nil {
		return 0, false
	}
	t, ok := parseHSTime(*s)
	if !ok {
		return 0, false
	}
	return t.UnixMilli(), true
}
