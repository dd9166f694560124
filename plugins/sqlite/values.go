package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

// How typed values are stored, chosen so that every value the connector
// writes reads back identical:
//   - integer: INTEGER; boolean: INTEGER 0/1
//   - decimal: DECIMAL/NUMERIC columns keep integers as INTEGER and other
//     numbers as REAL; a value a double cannot hold exactly (more than about
//     15 significant digits) is refused rather than rounded silently
//   - date: TEXT YYYY-MM-DD; datetime: TEXT RFC 3339, microseconds, UTC,
//     fixed width ("2006-01-02T15:04:05.000000Z")
//   - string list: TEXT, a JSON array of strings
//   - strings: TEXT as given
const (
	dateLayout     = "2006-01-02"
	datetimeLayout = "2006-01-02T15:04:05.000000Z"
	// stampLayout is how the connector writes a text updated-at column: the
	// form of SQLite's own datetime() and CURRENT_TIMESTAMP, with
	// microseconds, so stamps written by other programs sort in time order
	// next to ours.
	stampLayout = "2006-01-02 15:04:05.000000"
	// maxFloatDigits is how many significant digits a REAL always keeps.
	maxFloatDigits = 15
)

// readLayouts are the datetime forms accepted when reading; SQLite's own
// functions produce the space-separated ones.
var readLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
}

// affinity is SQLite's column affinity, derived from the declared type.
type affinity uint8

const (
	affBlob affinity = iota
	affText
	affNumeric
	affInteger
	affReal
)

// affinityOf applies SQLite's affinity rules (datatype3.html, 3.1) in order.
func affinityOf(decl string) affinity {
	u := strings.ToUpper(decl)
	switch {
	case strings.Contains(u, "INT"):
		return affInteger
	case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"):
		return affText
	case u == "", strings.Contains(u, "BLOB"):
		return affBlob
	case strings.Contains(u, "REAL"), strings.Contains(u, "FLOA"), strings.Contains(u, "DOUB"):
		return affReal
	}
	return affNumeric
}

// encode converts v into the value bound for column c, checking that it fits
// the column's field type. A failure is a validation error naming the field.
func encode(c *column, v sdk.Value) (any, *sdk.Error) {
	if v.Kind == sdk.KindNull {
		return nil, nil
	}
	switch c.typ {
	case sdk.TypeInteger:
		return encodeInteger(c, v)
	case sdk.TypeDecimal:
		return encodeDecimal(c, v)
	case sdk.TypeBoolean:
		return encodeBoolean(c, v)
	case sdk.TypeDate:
		return encodeDate(c, v)
	case sdk.TypeDateTime:
		return encodeDateTime(c, v)
	case sdk.TypeStringList:
		if v.Kind != sdk.KindStringList {
			return nil, mismatch(c, v)
		}
		list := v.List
		if list == nil {
			list = []string{}
		}
		b, err := json.Marshal(list)
		if err != nil {
			return nil, sdk.FieldError(c.name, "encode list: %v", err)
		}
		return string(b), nil
	}
	var s string
	switch v.Kind {
	case sdk.KindString:
		s = v.Str
	case sdk.KindStringList:
		return nil, mismatch(c, v)
	default:
		s = v.Text()
	}
	if c.maxLen > 0 && utf8.RuneCountInString(s) > c.maxLen {
		return nil, sdk.FieldError(c.name, "%d characters, longer than the column's %d", utf8.RuneCountInString(s), c.maxLen)
	}
	return s, nil
}

func mismatch(c *column, v sdk.Value) *sdk.Error {
	return sdk.FieldError(c.name, "a %s value does not fit a %s field", v.Kind, c.typ)
}

func encodeInteger(c *column, v sdk.Value) (any, *sdk.Error) {
	switch v.Kind {
	case sdk.KindInteger:
		return v.Int, nil
	case sdk.KindString, sdk.KindDecimal:
		i, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64)
		if err != nil {
			return nil, sdk.FieldError(c.name, "%q is not an integer", v.Str)
		}
		return i, nil
	}
	return nil, mismatch(c, v)
}

func encodeDecimal(c *column, v sdk.Value) (any, *sdk.Error) {
	var s string
	switch v.Kind {
	case sdk.KindInteger:
		s = strconv.FormatInt(v.Int, 10)
	case sdk.KindDecimal, sdk.KindString:
		d, err := sdk.CanonicalDecimal(v.Str)
		if err != nil {
			return nil, sdk.FieldError(c.name, "%q is not a decimal number", v.Str)
		}
		s = d
	default:
		return nil, mismatch(c, v)
	}
	if c.aff == affText || c.aff == affBlob {
		return s, nil // kept as text, exactly
	}
	if c.aff != affReal && !strings.Contains(s, ".") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil // NUMERIC keeps integers exactly
		}
	}
	// Anything else SQLite stores as a REAL: refuse what a double cannot
	// hold exactly rather than round it silently.
	f, err := strconv.ParseFloat(s, 64)
	if err == nil {
		if back, cerr := sdk.CanonicalDecimal(strconv.FormatFloat(f, 'f', -1, 64)); cerr == nil && back == s {
			return f, nil
		}
	}
	return nil, sdk.FieldError(c.name, "%s cannot be stored exactly in a %s column (a binary floating-point number, about %d significant digits)",
		s, c.decl, maxFloatDigits)
}

func encodeBoolean(c *column, v sdk.Value) (any, *sdk.Error) {
	switch v.Kind {
	case sdk.KindBoolean:
		if v.Bool {
			return int64(1), nil
		}
		return int64(0), nil
	case sdk.KindInteger:
		if v.Int == 0 || v.Int == 1 {
			return v.Int, nil
		}
	case sdk.KindString:
		if b, ok := parseBool(v.Str); ok {
			return encodeBoolean(c, sdk.Bool(b))
		}
		return nil, sdk.FieldError(c.name, "%q is not a boolean", v.Str)
	}
	return nil, mismatch(c, v)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes":
		return true, true
	case "0", "false", "f", "no":
		return false, true
	}
	return false, false
}

func encodeDate(c *column, v sdk.Value) (any, *sdk.Error) {
	switch v.Kind {
	case sdk.KindDate, sdk.KindString:
		if d := strings.TrimSpace(v.Str); isDate(d) {
			return d, nil
		}
		return nil, sdk.FieldError(c.name, "%q is not a date (YYYY-MM-DD)", v.Str)
	case sdk.KindDateTime:
		t := v.Time.UTC()
		if !t.Equal(t.Truncate(24 * time.Hour)) {
			return nil, sdk.FieldError(c.name, "%s has a time of day; the field holds a date", v.Text())
		}
		return t.Format(dateLayout), nil
	}
	return nil, mismatch(c, v)
}

func encodeDateTime(c *column, v sdk.Value) (any, *sdk.Error) {
	var t time.Time
	switch v.Kind {
	case sdk.KindDateTime:
		t = v.Time
	case sdk.KindDate:
		d, err := time.Parse(dateLayout, v.Str)
		if err != nil {
			return nil, sdk.FieldError(c.name, "%q is not a date (YYYY-MM-DD)", v.Str)
		}
		t = d
	case sdk.KindString:
		p, ok := parseDateTime(v.Str)
		if !ok {
			return nil, sdk.FieldError(c.name, "%q is not a date and time (RFC 3339)", v.Str)
		}
		t = p
	default:
		return nil, mismatch(c, v)
	}
	t = t.UTC().Truncate(time.Microsecond)
	if t.Year() < 0 || t.Year() > 9999 {
		return nil, sdk.FieldError(c.name, "year %d is outside 0000-9999", t.Year())
	}
	return t.Format(datetimeLayout), nil
}

// isDate reports whether s is a valid calendar date written YYYY-MM-DD.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	return ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// fastDateTime parses the forms the connector and SQLite write,
// "YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z]" in UTC, without time.Parse's
// trial and error.
func fastDateTime(s string) (time.Time, bool) {
	if len(s) < 19 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || !isDate(s[:10]) {
		return time.Time{}, false
	}
	h, ok1 := digits(s[11:13])
	mi, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := strings.TrimSuffix(s[19:], "Z")
	nsec := 0
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		f, ok := digits(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(rest) - 1; i < 9; i++ {
			f *= 10
		}
		nsec = f
	}
	y, _ := digits(s[0:4])
	m, _ := digits(s[5:7])
	d, _ := digits(s[8:10])
	return time.Date(y, time.Month(m), d, h, mi, sec, nsec, time.UTC), true
}

func parseDateTime(s string) (time.Time, bool) {
	if t, ok := fastDateTime(s); ok {
		return t, true
	}
	s = strings.TrimSpace(s)
	for _, l := range readLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	if t, err := time.Parse(dateLayout, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// decode converts a value read from column c (nil, int64, float64, string or
// []byte, as the driver returns them) into a value of the field's kind. A
// stored value that does not fit the type (written by another program) is
// handed over as its text rather than lost.
func decode(c *column, src any) sdk.Value {
	switch s := src.(type) {
	case nil:
		return sdk.Null
	case []byte:
		return decode(c, string(s))
	case int64:
		return decodeInt(c, s)
	case float64:
		return decodeFloat(c, s)
	case string:
		return decodeText(c, s)
	case time.Time: // only when the driver parsed a typed column itself
		return decodeText(c, s.UTC().Format(time.RFC3339Nano))
	}
	return sdk.Null
}

func decodeInt(c *column, i int64) sdk.Value {
	switch c.typ {
	case sdk.TypeInteger:
		return sdk.Int(i)
	case sdk.TypeDecimal:
		return sdk.Value{Kind: sdk.KindDecimal, Str: strconv.FormatInt(i, 10)}
	case sdk.TypeBoolean:
		if i == 0 || i == 1 {
			return sdk.Bool(i == 1)
		}
	case sdk.TypeDateTime:
		return sdk.DateTime(unixAuto(i))
	case sdk.TypeDate:
		return sdk.Date(unixAuto(i).UTC())
	}
	return sdk.String(strconv.FormatInt(i, 10))
}

// unixAuto reads an epoch number in seconds, milliseconds, microseconds or
// nanoseconds, guessing the unit from its magnitude.
func unixAuto(i int64) time.Time {
	a := i
	if a < 0 {
		a = -a
	}
	switch {
	case a < 1e11:
		return time.Unix(i, 0)
	case a < 1e14:
		return time.UnixMilli(i)
	case a < 1e17:
		return time.UnixMicro(i)
	}
	return time.Unix(0, i)
}

func decodeFloat(c *column, f float64) sdk.Value {
	text := strconv.FormatFloat(f, 'f', -1, 64)
	switch c.typ {
	case sdk.TypeDecimal:
		if d, err := sdk.CanonicalDecimal(text); err == nil && !math.IsInf(f, 0) {
			return sdk.Value{Kind: sdk.KindDecimal, Str: d}
		}
	case sdk.TypeInteger:
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return sdk.Int(int64(f))
		}
	case sdk.TypeBoolean:
		if f == 0 || f == 1 {
			return sdk.Bool(f == 1)
		}
	}
	return sdk.String(text)
}

func decodeText(c *column, s string) sdk.Value {
	switch c.typ {
	case sdk.TypeInteger:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return sdk.Int(i)
		}
	case sdk.TypeDecimal:
		if d, err := sdk.CanonicalDecimal(s); err == nil {
			return sdk.Value{Kind: sdk.KindDecimal, Str: d}
		}
	case sdk.TypeBoolean:
		if b, ok := parseBool(s); ok {
			return sdk.Bool(b)
		}
	case sdk.TypeDate:
		// The date as written, also when a time of day follows it.
		if len(s) >= 10 && isDate(s[:10]) {
			if len(s) == 10 {
				return sdk.Value{Kind: sdk.KindDate, Str: s}
			}
			if _, ok := parseDateTime(s); ok {
				return sdk.Value{Kind: sdk.KindDate, Str: s[:10]}
			}
		}
	case sdk.TypeDateTime:
		if t, ok := parseDateTime(s); ok {
			return sdk.DateTime(t)
		}
	case sdk.TypeStringList:
		var list []string
		if err := json.Unmarshal([]byte(s), &list); err == nil && list != nil {
			return sdk.Value{Kind: sdk.KindStringList, List: list}
		}
	}
	return sdk.String(s)
}

// rowHash is the version of a row in a table without an updated-at column:
// a hash of every column's stored value, type included.
func rowHash(row []any) string {
	h := fnv.New64a()
	var buf [9]byte
	for _, v := range row {
		switch x := v.(type) {
		case nil:
			h.Write([]byte{0})
		case int64:
			buf[0] = 1
			binary.BigEndian.PutUint64(buf[1:], uint64(x))
			h.Write(buf[:])
		case float64:
			buf[0] = 2
			binary.BigEndian.PutUint64(buf[1:], math.Float64bits(x))
			h.Write(buf[:])
		case string:
			buf[0] = 3
			binary.BigEndian.PutUint64(buf[1:], uint64(len(x)))
			h.Write(buf[:])
			h.Write([]byte(x))
		case []byte:
			buf[0] = 4
			binary.BigEndian.PutUint64(buf[1:], uint64(len(x)))
			h.Write(buf[:])
			h.Write(x)
		default:
			buf[0] = 5
			h.Write(buf[:1])
		}
	}
	return "h" + hex.EncodeToString(h.Sum(nil))
}

// valueText is the id or version text of a stored value.
func valueText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return ""
}
