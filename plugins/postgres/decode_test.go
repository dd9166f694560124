package main

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/datasync-io/datasync/sdk"
)

// decimalText renders i × 10^exp as plain decimal text.
func decimalText(i *big.Int, exp int32) string {
	s := new(big.Int).Abs(i).String()
	if exp >= 0 {
		s += strings.Repeat("0", int(exp))
	} else {
		n := int(-exp)
		if len(s) <= n {
			s = strings.Repeat("0", n-len(s)+1) + s
		}
		s = s[:len(s)-n] + "." + s[len(s)-n:]
	}
	if i.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// FuzzNumeric: the hand-written binary numeric decoder agrees with pgx's
// encoder for any value, and its output is canonical.
func FuzzNumeric(f *testing.F) {
	for _, s := range []struct {
		digits string
		exp    int32
	}{{"0", 0}, {"1", 0}, {"-1", 0}, {"12345", -2}, {"5", -8}, {"10000", 0}, {"-99999999999999999999", -3}, {"7", 12}} {
		f.Add(s.digits, s.exp)
	}
	m := pgtype.NewMap()
	f.Fuzz(func(t *testing.T, digits string, exp int32) {
		i, ok := new(big.Int).SetString(digits, 10)
		if !ok || exp > 200 || exp < -200 || len(digits) > 200 {
			return
		}
		raw, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{Int: i, Exp: exp, Valid: true}, nil)
		if err != nil {
			t.Skip(err)
		}
		v, err := decodeValue(pgtype.NumericOID, 1, raw)
		if err != nil {
			t.Fatalf("%s e%d: %v", digits, exp, err)
		}
		want, _ := sdk.CanonicalDecimal(decimalText(i, exp))
		if v.Kind != sdk.KindDecimal || v.Str != want {
			t.Fatalf("%s e%d: decoded %#v, want decimal %s", digits, exp, v, want)
		}
	})
}

// FuzzDecodeBinary: no input makes a decoder panic, and what it returns is a
// well-formed value of its kind.
func FuzzDecodeBinary(f *testing.F) {
	oids := []uint32{pgtype.BoolOID, pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Float4OID, pgtype.Float8OID,
		pgtype.NumericOID, pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.UUIDOID, pgtype.TextArrayOID, pgtype.TextOID}
	f.Add(uint8(6), []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(11), []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'a'})
	f.Add(uint8(7), []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		oid := oids[int(which)%len(oids)]
		v, err := decodeValue(oid, 1, raw)
		if err != nil {
			return
		}
		switch v.Kind {
		case sdk.KindDecimal:
			if c, err := sdk.CanonicalDecimal(v.Str); err != nil || c != v.Str {
				t.Fatalf("oid %d %x: decimal %q not canonical", oid, raw, v.Str)
			}
		case sdk.KindDate:
			if _, err := time.Parse(time.DateOnly, v.Str); err != nil && !strings.HasPrefix(v.Str, "-") && len(v.Str) == 10 {
				t.Fatalf("oid %d %x: date %q", oid, raw, v.Str)
			}
		case sdk.KindDateTime:
			if v.Time.Location() != time.UTC {
				t.Fatalf("oid %d %x: time not UTC", oid, raw)
			}
		}
	})
}

// FuzzArrayLiteral: string lists survive the text array literal both ways.
func FuzzArrayLiteral(f *testing.F) {
	f.Add("a", `b "c"`, `\`)
	f.Add("", "NULL", "{x,y}")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		out, err := parseArrayLiteral(arrayLiteral(in))
		if err != nil || !slices.Equal(in, out) {
			t.Fatalf("%q → %q → %q, %v", in, arrayLiteral(in), out, err)
		}
	})
}

func TestDecodeKnownValues(t *testing.T) {
	m := pgtype.NewMap()
	enc := func(oid uint32, v any) []byte {
		b, err := m.Encode(oid, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tests := []struct {
		name string
		oid  uint32
		raw  []byte
		want sdk.Value
	}{
		{"bool", pgtype.BoolOID, enc(pgtype.BoolOID, true), sdk.Bool(true)},
		{"int2", pgtype.Int2OID, enc(pgtype.Int2OID, int16(-7)), sdk.Int(-7)},
		{"int4", pgtype.Int4OID, enc(pgtype.Int4OID, int32(1<<30)), sdk.Int(1 << 30)},
		{"int8", pgtype.Int8OID, enc(pgtype.Int8OID, int64(-1<<62)), sdk.Int(-1 << 62)},
		{"float8", pgtype.Float8OID, enc(pgtype.Float8OID, 2.5), sdk.Value{Kind: sdk.KindDecimal, Str: "2.5"}},
		{"float4", pgtype.Float4OID, enc(pgtype.Float4OID, float32(0.1)), sdk.Value{Kind: sdk.KindDecimal, Str: "0.1"}},
		{"date", pgtype.DateOID, enc(pgtype.DateOID, time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC)), sdk.Value{Kind: sdk.KindDate, Str: "1969-07-20"}},
		{"timestamptz", pgtype.TimestamptzOID, enc(pgtype.TimestamptzOID, ts), sdk.DateTime(ts)},
		{"timestamp", pgtype.TimestampOID, enc(pgtype.TimestampOID, ts), sdk.DateTime(ts)},
		{"old timestamp", pgtype.TimestamptzOID, enc(pgtype.TimestamptzOID, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)), sdk.DateTime(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))},
		{"uuid", pgtype.UUIDOID, enc(pgtype.UUIDOID, [16]byte{0xf4, 0x7a, 0xc1, 0x0b, 0x58, 0xcc, 0x43, 0x72, 0xa5, 0x67, 0x0e, 0x02, 0xb2, 0xc3, 0xd4, 0x79}), sdk.String("f47ac10b-58cc-4372-a567-0e02b2c3d479")},
		{"text[]", pgtype.TextArrayOID, enc(pgtype.TextArrayOID, []string{"a", "", "ü"}), sdk.StringList("a", "", "ü")},
		{"empty text[]", pgtype.TextArrayOID, enc(pgtype.TextArrayOID, []string{}), sdk.StringList()},
		{"text", pgtype.TextOID, []byte("héllo"), sdk.String("héllo")},
		{"null", pgtype.TextOID, nil, sdk.Null},
	}
	for _, tc := range tests {
		got, err := decodeValue(tc.oid, 1, tc.raw)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%s: %#v, %v; want %#v", tc.name, got, err, tc.want)
		}
	}
	// Text format (enums, or a server choosing text) gives the same values.
	for _, tc := range []struct {
		oid  uint32
		in   string
		want sdk.Value
	}{
		{pgtype.Int4OID, "42", sdk.Int(42)}, {pgtype.BoolOID, "t", sdk.Bool(true)},
		{pgtype.NumericOID, "012.500", sdk.Value{Kind: sdk.KindDecimal, Str: "12.5"}},
		{pgtype.TimestamptzOID, "2024-02-29 13:14:15.123456+00", sdk.DateTime(ts)},
		{pgtype.TextArrayOID, `{a,"b c",NULL,"d\"e"}`, sdk.StringList("a", "b c", `d"e`)},
		{12345, "customer", sdk.String("customer")},
	} {
		if got, err := decodeValue(tc.oid, 0, []byte(tc.in)); err != nil || !got.Equal(tc.want) {
			t.Errorf("text %d %q: %#v, %v; want %#v", tc.oid, tc.in, got, err, tc.want)
		}
	}
}
