package main

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

const typesDDL = `CREATE TABLE v (
	id INTEGER PRIMARY KEY,
	s TEXT, n, short VARCHAR(5), i INTEGER, d DECIMAL, r REAL, b BOOLEAN,
	dt DATE, ts DATETIME, l TEXT_LIST, email TEXT,
	updated_at TEXT
)`

var typeFields = []string{"s", "n", "short", "i", "d", "r", "b", "dt", "ts", "l", "email"}

func dec(s string) sdk.Value {
	v, err := sdk.Decimal(s)
	if err != nil {
		panic(err)
	}
	return v
}

func date(s string) sdk.Value { return sdk.Value{Kind: sdk.KindDate, Str: s} }

// TestEncode: what each field type accepts, how it is stored, and the
// field a refusal names.
func TestEncode(t *testing.T) {
	c := openConn(t, newDB(t, typesDDL))
	tb, err := c.table(context.Background(), "v")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		field string
		in    sdk.Value
		want  any // stored form; nil with ok=false means refused
		ok    bool
	}{
		{"s", sdk.String("héllo"), "héllo", true},
		{"s", sdk.String(""), "", true},
		{"s", sdk.Int(12), "12", true},
		{"s", sdk.StringList("a"), nil, false},
		{"short", sdk.String("ñandú"), "ñandú", true}, // 5 runes, 7 bytes
		{"short", sdk.String("123456"), nil, false},
		{"i", sdk.Int(-7), int64(-7), true},
		{"i", sdk.String(" 42 "), int64(42), true},
		{"i", sdk.String("abc"), nil, false},
		{"i", sdk.String("4.5"), nil, false},
		{"i", sdk.Bool(true), nil, false},
		{"d", dec("12.50"), 12.5, true},
		{"d", dec("-3"), int64(-3), true},
		{"d", sdk.Int(9007199254740993), int64(9007199254740993), true}, // NUMERIC keeps integers
		{"d", sdk.String("0.1"), 0.1, true},
		{"d", sdk.String("12345678901234567.5"), nil, false},
		{"d", sdk.String("1e3"), nil, false},
		{"r", sdk.Int(9007199254740993), nil, false}, // REAL would round it
		{"r", sdk.Int(3), 3.0, true},
		{"b", sdk.Bool(true), int64(1), true},
		{"b", sdk.String("false"), int64(0), true},
		{"b", sdk.Int(1), int64(1), true},
		{"b", sdk.Int(2), nil, false},
		{"b", sdk.String("maybe"), nil, false},
		{"dt", date("2024-02-29"), "2024-02-29", true},
		{"dt", sdk.String("2024-02-30"), nil, false},
		{"dt", sdk.DateTime(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)), "2024-01-02", true},
		{"dt", sdk.DateTime(time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)), nil, false},
		{"ts", sdk.DateTime(ts), "2024-02-29T12:14:15.123456Z", true},
		{"ts", sdk.String("2024-02-29T13:14:15+01:00"), "2024-02-29T12:14:15.000000Z", true},
		{"ts", sdk.String("2024-02-29 12:14:15"), "2024-02-29T12:14:15.000000Z", true},
		{"ts", date("2024-02-29"), "2024-02-29T00:00:00.000000Z", true},
		{"ts", sdk.String("yesterday"), nil, false},
		{"ts", sdk.DateTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)), nil, false},
		{"l", sdk.StringList("a", "b,c", `"q"`), `["a","b,c","\"q\""]`, true},
		{"l", sdk.StringList(), "[]", true},
		{"l", sdk.String("a"), nil, false},
		{"email", sdk.String("x@example.com"), "x@example.com", true},
		{"s", sdk.Null, nil, true},
	}
	for _, tc := range tests {
		ci, _ := tb.field(tc.field)
		got, e := encode(&tb.cols[ci], tc.in)
		switch {
		case tc.ok && e != nil:
			t.Errorf("%s ← %#v: refused: %v", tc.field, tc.in, e)
		case !tc.ok && e == nil:
			t.Errorf("%s ← %#v: stored %#v, want a refusal", tc.field, tc.in, got)
		case !tc.ok && (e.Category != sdk.CategoryValidation || e.Field != tc.field):
			t.Errorf("%s ← %#v: %v, want a validation error on %s", tc.field, tc.in, e, tc.field)
		case tc.ok && got != tc.want:
			t.Errorf("%s ← %#v: stored %#v, want %#v", tc.field, tc.in, got, tc.want)
		}
	}
}

// TestDecodeForeignValues: values another program stored read as the
// field's type where they can, and as text where they cannot.
func TestDecodeForeignValues(t *testing.T) {
	c := openConn(t, newDB(t, typesDDL))
	tb, _ := c.table(context.Background(), "v")
	col := func(f string) *column { ci, _ := tb.field(f); return &tb.cols[ci] }
	tests := []struct {
		field string
		in    any
		want  sdk.Value
	}{
		{"b", "true", sdk.Bool(true)},
		{"b", "no", sdk.Bool(false)},
		{"b", int64(7), sdk.String("7")},
		{"i", "12", sdk.Int(12)},
		{"i", 3.0, sdk.Int(3)},
		{"i", "twelve", sdk.String("twelve")},
		{"d", "007.50", dec("7.5")},
		{"d", math.Inf(1), sdk.String("+Inf")},
		{"dt", "2024-05-06 07:08:09", date("2024-05-06")},
		{"dt", int64(86400), date("1970-01-02")},
		{"ts", "2024-05-06 07:08:09.5", sdk.DateTime(time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC))},
		{"ts", int64(1_700_000_000), sdk.DateTime(time.Unix(1_700_000_000, 0))},
		{"ts", int64(1_700_000_000_123), sdk.DateTime(time.UnixMilli(1_700_000_000_123))},
		{"l", "not json", sdk.String("not json")},
		{"s", []byte("raw"), sdk.String("raw")},
		{"s", 2.5, sdk.String("2.5")},
	}
	for _, tc := range tests {
		if got := decode(col(tc.field), tc.in); !got.Equal(tc.want) {
			t.Errorf("%s: decode(%#v) = %#v, want %#v", tc.field, tc.in, got, tc.want)
		}
	}
}

// TestTypedRoundTrip writes one value of every type through the connector
// and reads back exactly what was sent.
func TestTypedRoundTrip(t *testing.T) {
	path := newDB(t, typesDDL)
	c := openConn(t, path)
	sent := []sdk.Value{
		sdk.String("Zoë 北京 👍🏽"), sdk.String("00123"), sdk.String("abc"), sdk.Int(math.MinInt64), dec("-1234.5678"),
		dec("0.1"), sdk.Bool(false), date("0001-01-01"),
		sdk.DateTime(time.Date(2024, 12, 31, 23, 59, 59, 999999000, time.UTC)), sdk.StringList("x", "", "y z"),
		sdk.String("A@Example.com"),
	}
	op := sdk.Op{Kind: sdk.OpCreate, Fields: typeFields, Values: sent}
	res := writeOK(t, c, "v", op)
	if !slices.EqualFunc(res[0].Values, sent, sdk.Value.Equal) {
		t.Errorf("write result values\n got %v\nwant %v", res[0].Values, sent)
	}
	rec := readAll(t, c, "v", "", typeFields...).All[0]
	if got := rec.Values; !slices.EqualFunc(got, sent, sdk.Value.Equal) {
		t.Errorf("read back\n got %v\nwant %v", got, sent)
	}
	if rec.ID != res[0].ID || rec.Version != res[0].Version || !rec.ModifiedAt.Equal(res[0].ModifiedAt) {
		t.Errorf("read id/version/modified %s %s %v; the write reported %s %s %v",
			rec.ID, rec.Version, rec.ModifiedAt, res[0].ID, res[0].Version, res[0].ModifiedAt)
	}
	var raw [4]sql.NullString
	if err := rawDB(t, path).QueryRow(`SELECT +dt, +ts, +b, +l FROM v`).Scan(&raw[0], &raw[1], &raw[2], &raw[3]); err != nil {
		t.Fatal(err)
	}
	want := []string{"0001-01-01", "2024-12-31T23:59:59.999999Z", "0", `["x","","y z"]`}
	for i, w := range want {
		if raw[i].String != w {
			t.Errorf("stored form %d = %q, want %q", i, raw[i].String, w)
		}
	}
	// Nulls everywhere, then a patch back to values.
	nulls := make([]sdk.Value, len(typeFields))
	r := writeOK(t, c, "v", sdk.Op{Kind: sdk.OpUpdate, ID: res[0].ID, Fields: typeFields, Values: nulls})[0]
	if !slices.EqualFunc(r.Values, nulls, sdk.Value.Equal) {
		t.Errorf("after clearing: %v", r.Values)
	}
	if _, err := conformance.WriteOps(context.Background(), c, "v", sdk.Op{Kind: sdk.OpUpdate, ID: res[0].ID, Fields: typeFields, Values: sent}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, "v", "", typeFields...).All[0].Values; !slices.EqualFunc(got, sent, sdk.Value.Equal) {
		t.Errorf("after restoring: %v", got)
	}
}

// FuzzValueRoundTrip: every value a field accepts is stored by SQLite and
// read back equal to the value sent; a refusal is a validation error naming
// the field.
func FuzzValueRoundTrip(f *testing.F) {
	f.Add("hello", int64(0), false)
	f.Add("12.50", int64(-1), true)
	f.Add("-0.000000000000000000001", int64(1<<62), false)
	f.Add("99999999999999999999", int64(-1<<62), true)
	f.Add("a,b,,c", int64(1_700_000_000_123_456_789), false)
	f.Add("\x00\xff", int64(42), true)
	f.Add("0000123", int64(253402300799), false)

	path := newDB(f, typesDDL, `INSERT INTO v (id) VALUES (1)`)
	c := openConn(f, path)
	tb, err := c.table(context.Background(), "v")
	if err != nil {
		f.Fatal(err)
	}
	db := rawDB(f, path)
	f.Fuzz(func(t *testing.T, s string, i int64, b bool) {
		values := map[string]sdk.Value{
			"s": sdk.String(s), "n": sdk.String(s), "short": sdk.String(s),
			"i": sdk.Int(i), "r": {Kind: sdk.KindDecimal, Str: s}, "b": sdk.Bool(b),
			"dt": sdk.Date(time.Unix(i%(400*365*86400), 0).UTC()),
			"ts": sdk.DateTime(time.Unix(0, i)),
			"l":  sdk.StringList(strings.Split(s, ",")...),
		}
		if d, err := sdk.Decimal(s); err == nil {
			values["d"] = d
			values["r"] = d
		} else {
			values["d"] = dec(strconv.FormatInt(i, 10))
		}
		for field, v := range values {
			ci, _ := tb.field(field)
			col := &tb.cols[ci]
			if field == "s" || field == "n" || field == "l" {
				if !utf8.ValidString(s) {
					continue // JSON (and the wire) carry text, not bytes
				}
			}
			stored, e := encode(col, v)
			if e != nil {
				if e.Category != sdk.CategoryValidation || e.Field != field {
					t.Fatalf("%s ← %#v: %v, want a validation error on %s", field, v, e, field)
				}
				continue
			}
			var back any
			if err := db.QueryRow(`UPDATE v SET `+col.q+` = ? WHERE id = 1 RETURNING +`+col.q, stored).Scan(&back); err != nil {
				t.Fatalf("%s ← %#v (stored as %#v): %v", field, v, stored, err)
			}
			if got := decode(col, back); !got.Equal(v) {
				t.Fatalf("%s: sent %#v, stored %#v, read back %#v", field, v, back, got)
			}
		}
	})
}

// TestFastDateTime: the hand-written parser agrees with time.Parse on the
// forms it takes, and leaves the rest to it.
func TestFastDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-02-29T12:14:15.123456Z", time.Date(2024, 2, 29, 12, 14, 15, 123456000, time.UTC), true},
		{"2024-02-29 12:14:15", time.Date(2024, 2, 29, 12, 14, 15, 0, time.UTC), true},
		{"2024-02-29 12:14:15.5", time.Date(2024, 2, 29, 12, 14, 15, 5e8, time.UTC), true},
		{"0001-01-01T00:00:00.000000001Z", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), true},
		{"2023-02-29 12:14:15", time.Time{}, false},       // no such day
		{"2024-02-29 24:00:00", time.Time{}, false},       // no such hour
		{"2024-02-29 12:14:15.", time.Time{}, false},      // empty fraction
		{"2024-02-29T12:14:15+01:00", time.Time{}, false}, // offsets go to time.Parse
		{"2024-02-29 12:14:15.1234567890", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := fastDateTime(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("fastDateTime(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got, ok := parseDateTime("2024-02-29T13:14:15+01:00"); !ok || !got.Equal(time.Date(2024, 2, 29, 12, 14, 15, 0, time.UTC)) {
		t.Errorf("parseDateTime with an offset = %v, %v", got, ok)
	}
}

// FuzzFastDateTime: whatever the fast parser accepts, time.Parse reads as
// the same instant.
func FuzzFastDateTime(f *testing.F) {
	f.Add("2024-02-29T12:14:15.123456Z")
	f.Add("1999-12-31 23:59:59")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastDateTime(s)
		if !ok {
			return
		}
		layout := "2006-01-02T15:04:05.999999999Z"
		norm := strings.Replace(s, " ", "T", 1)
		if !strings.HasSuffix(norm, "Z") {
			norm += "Z"
		}
		want, err := time.Parse(layout, norm)
		if err != nil || !want.Equal(got) {
			t.Fatalf("fastDateTime(%q) = %v; time.Parse: %v, %v", s, got, want, err)
		}
	})
}

// TestNumericAffinityText: SQLite turns numeric-looking text into a number
// in a column of numeric affinity (a declared type like UUID); the write
// result reports what was stored, not what was sent.
func TestNumericAffinityText(t *testing.T) {
	c := openConn(t, newDB(t, `CREATE TABLE t (id INTEGER PRIMARY KEY, code UUID, updated_at TEXT)`))
	r := writeOK(t, c, "t", conformance.CreateOp(map[string]sdk.Value{"code": sdk.String("00123")}))[0]
	if len(r.Values) != 1 || !r.Values[0].Equal(sdk.String("123")) {
		t.Errorf("result values %v, want the stored \"123\"", r.Values)
	}
	if got := readAll(t, c, "t", "", "code").All[0].Values[0]; !got.Equal(r.Values[0]) {
		t.Errorf("read %#v, the write reported %#v", got, r.Values[0])
	}
}
