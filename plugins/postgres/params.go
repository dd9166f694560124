package main

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

// paramText renders v as the text a parameter cast to col's type accepts,
// refusing what the column cannot hold with a validation error naming it.
// Every write parameter travels as text and is cast by the server, so one
// code path serves every column type, domains and enums included.
func paramText(col *column, v sdk.Value) (*string, *sdk.Error) {
	s, null, e := paramValue(col, v)
	if null || e != nil {
		return nil, e
	}
	return &s, nil
}

// paramValue is paramText without the pointer: null reports SQL NULL.
func paramValue(col *column, v sdk.Value) (s string, null bool, e *sdk.Error) {
	if v.Kind == sdk.KindNull {
		return "", true, nil
	}
	f := col.field
	bad := func(format string, args ...any) (string, bool, *sdk.Error) {
		return "", false, sdk.FieldError(f.Name, format, args...)
	}
	switch f.Type {
	case sdk.TypeInteger:
		switch v.Kind {
		case sdk.KindInteger:
			s = strconv.FormatInt(v.Int, 10)
		case sdk.KindString, sdk.KindDecimal:
			t := strings.TrimSpace(v.Str)
			if _, err := strconv.ParseInt(t, 10, 64); err != nil {
				return bad("%s must be a whole number, not %q", f.Name, v.Str)
			}
			s = t
		default:
			return bad("%s must be a whole number, not a %s", f.Name, v.Kind)
		}
		n, _ := strconv.ParseInt(s, 10, 64)
		if lim, ok := intLimits[col.castType]; ok && (n > lim || n < -lim-1) {
			return bad("%s must lie between %d and %d, not %d", f.Name, -lim-1, lim, n)
		}
	case sdk.TypeDecimal:
		switch v.Kind {
		case sdk.KindInteger:
			s = strconv.FormatInt(v.Int, 10)
		case sdk.KindDecimal, sdk.KindString:
			c, err := sdk.CanonicalDecimal(v.Str)
			if err != nil {
				return bad("%s must be a number, not %q", f.Name, v.Str)
			}
			s = c
		default:
			return bad("%s must be a number, not a %s", f.Name, v.Kind)
		}
	case sdk.TypeBoolean:
		switch v.Kind {
		case sdk.KindBoolean:
			s = strconv.FormatBool(v.Bool)
		case sdk.KindString:
			b, err := strconv.ParseBool(strings.TrimSpace(v.Str))
			if err != nil {
				return bad("%s must be true or false, not %q", f.Name, v.Str)
			}
			s = strconv.FormatBool(b)
		default:
			return bad("%s must be true or false, not a %s", f.Name, v.Kind)
		}
	case sdk.TypeDate:
		switch v.Kind {
		case sdk.KindDate, sdk.KindString:
			t, err := time.Parse(time.DateOnly, strings.TrimSpace(v.Str))
			if err != nil {
				return bad("%s must be a date (YYYY-MM-DD), not %q", f.Name, v.Str)
			}
			s = t.Format(time.DateOnly)
		case sdk.KindDateTime:
			s = v.Time.UTC().Format(time.DateOnly)
		default:
			return bad("%s must be a date, not a %s", f.Name, v.Kind)
		}
	case sdk.TypeDateTime:
		switch v.Kind {
		case sdk.KindDateTime:
			s = v.Time.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
		case sdk.KindDate, sdk.KindString:
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v.Str))
			if err != nil {
				if t, err = time.Parse(time.DateOnly, strings.TrimSpace(v.Str)); err != nil {
					return bad("%s must be a date and time (RFC 3339), not %q", f.Name, v.Str)
				}
			}
			s = t.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
		default:
			return bad("%s must be a date and time, not a %s", f.Name, v.Kind)
		}
	case sdk.TypeStringList:
		list := v.List
		if v.Kind != sdk.KindStringList {
			list = nil
			if t := v.Text(); t != "" {
				list = []string{t}
			}
		}
		for _, item := range list {
			if e := checkText(f, item); e != nil {
				return "", false, e
			}
		}
		return arrayLiteral(list), false, nil
	default:
		s = v.Text()
		if f.Type == sdk.TypeEnum && len(f.EnumOptions) > 0 && !contains(f.EnumOptions, s) {
			return bad("%s must be one of %s, not %q", f.Name, strings.Join(f.EnumOptions, ", "), s)
		}
	}
	if e := checkText(f, s); e != nil {
		return "", false, e
	}
	return s, false, nil
}

// intLimits are the largest values of the narrower integer types.
var intLimits = map[string]int64{"smallint": 1<<15 - 1, "integer": 1<<31 - 1}

// checkText refuses text PostgreSQL would refuse: invalid UTF-8, NUL
// characters, more characters than varchar(n) holds.
func checkText(f sdk.Field, s string) *sdk.Error {
	if !utf8.ValidString(s) {
		return sdk.FieldError(f.Name, "%s is not valid UTF-8", f.Name)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return sdk.FieldError(f.Name, "%s contains a NUL character, which PostgreSQL text cannot hold", f.Name)
	}
	if f.MaxLength > 0 && utf8.RuneCountInString(s) > f.MaxLength {
		return sdk.FieldError(f.Name, "%s is %d characters long; at most %d fit", f.Name, utf8.RuneCountInString(s), f.MaxLength)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
