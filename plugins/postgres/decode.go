package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/datasync-io/datasync/sdk"
)

// The wire decoders below turn one raw column value straight into an
// sdk.Value: no reflection and no intermediate Go types on the read path.

// binaryOIDs are the result types asked for in binary format: the ones
// decodeBinary understands. Everything else comes as text.
func binaryOIDs() map[uint32]int16 {
	m := map[uint32]int16{}
	for _, oid := range []uint32{pgtype.BoolOID, pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID,
		pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID, pgtype.DateOID, pgtype.TimestampOID,
		pgtype.TimestamptzOID, pgtype.UUIDOID, pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID} {
		m[oid] = 1
	}
	return m
}

// decodeValue decodes one column value; raw nil is SQL NULL. Values that have
// no place in the sdk (infinite dates, NaN) come back as their text.
func decodeValue(oid uint32, format int16, raw []byte) (sdk.Value, error) {
	if raw == nil {
		return sdk.Null, nil
	}
	if format == 1 {
		return decodeBinary(oid, raw)
	}
	return decodeText(oid, string(raw))
}

// decodeValueText is decodeValue given raw's text as well (a string the
// caller already has): text-like values take it instead of a copy.
func decodeValueText(oid uint32, format int16, raw []byte, text string) (sdk.Value, error) {
	if raw == nil {
		return sdk.Null, nil
	}
	if format != 1 {
		return decodeText(oid, text)
	}
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID, pgtype.UnknownOID:
		return sdk.String(text), nil
	}
	return decodeBinary(oid, raw)
}

func decodeBinary(oid uint32, raw []byte) (sdk.Value, error) {
	switch oid {
	case pgtype.BoolOID:
		if len(raw) != 1 {
			return sdk.Null, fmt.Errorf("bool: %d bytes", len(raw))
		}
		return sdk.Bool(raw[0] != 0), nil
	case pgtype.Int2OID:
		if len(raw) != 2 {
			return sdk.Null, fmt.Errorf("int2: %d bytes", len(raw))
		}
		return sdk.Int(int64(int16(binary.BigEndian.Uint16(raw)))), nil
	case pgtype.Int4OID:
		if len(raw) != 4 {
			return sdk.Null, fmt.Errorf("int4: %d bytes", len(raw))
		}
		return sdk.Int(int64(int32(binary.BigEndian.Uint32(raw)))), nil
	case pgtype.OIDOID:
		if len(raw) != 4 {
			return sdk.Null, fmt.Errorf("oid: %d bytes", len(raw))
		}
		return sdk.Int(int64(binary.BigEndian.Uint32(raw))), nil
	case pgtype.Int8OID:
		if len(raw) != 8 {
			return sdk.Null, fmt.Errorf("int8: %d bytes", len(raw))
		}
		return sdk.Int(int64(binary.BigEndian.Uint64(raw))), nil
	case pgtype.Float4OID:
		if len(raw) != 4 {
			return sdk.Null, fmt.Errorf("float4: %d bytes", len(raw))
		}
		return floatValue(float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), 32), nil
	case pgtype.Float8OID:
		if len(raw) != 8 {
			return sdk.Null, fmt.Errorf("float8: %d bytes", len(raw))
		}
		return floatValue(math.Float64frombits(binary.BigEndian.Uint64(raw)), 64), nil
	case pgtype.NumericOID:
		return decodeNumeric(raw)
	case pgtype.DateOID:
		if len(raw) != 4 {
			return sdk.Null, fmt.Errorf("date: %d bytes", len(raw))
		}
		days := int32(binary.BigEndian.Uint32(raw))
		switch days {
		case math.MaxInt32:
			return sdk.String("infinity"), nil
		case math.MinInt32:
			return sdk.String("-infinity"), nil
		}
		return sdk.Value{Kind: sdk.KindDate, Str: time.Date(2000, 1, 1+int(days), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)}, nil
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		if len(raw) != 8 {
			return sdk.Null, fmt.Errorf("timestamp: %d bytes", len(raw))
		}
		us := int64(binary.BigEndian.Uint64(raw))
		switch us {
		case math.MaxInt64:
			return sdk.String("infinity"), nil
		case math.MinInt64:
			return sdk.String("-infinity"), nil
		}
		return sdk.Value{Kind: sdk.KindDateTime, Time: pgMicrosTime(us)}, nil
	case pgtype.UUIDOID:
		if len(raw) != 16 {
			return sdk.Null, fmt.Errorf("uuid: %d bytes", len(raw))
		}
		return sdk.String(formatUUID(raw)), nil
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID:
		return decodeTextArray(raw)
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID, pgtype.UnknownOID:
		return sdk.String(string(raw)), nil // the binary form of text is the text
	}
	return sdk.Null, fmt.Errorf("no binary decoder for type oid %d", oid)
}

// pgMicrosTime converts µs since the PostgreSQL epoch to a UTC time
// (seconds and the rest apart: a Duration overflows after 292 years).
func pgMicrosTime(us int64) time.Time {
	return time.Unix(946684800+us/1e6, (us%1e6)*1000).UTC()
}

func floatValue(f float64, bits int) sdk.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return sdk.String(strconv.FormatFloat(f, 'f', -1, bits))
	}
	c, err := sdk.CanonicalDecimal(strconv.FormatFloat(f, 'f', -1, bits))
	if err != nil { // unreachable: 'f' formatting is plain digits
		return sdk.String(strconv.FormatFloat(f, 'f', -1, bits))
	}
	return sdk.Value{Kind: sdk.KindDecimal, Str: c}
}

func formatUUID(b []byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:16])
	return string(buf[:])
}

// decodeNumeric decodes PostgreSQL's binary numeric: ndigits, weight, sign,
// dscale, then base-10000 digits; the result is canonical decimal text.
func decodeNumeric(raw []byte) (sdk.Value, error) {
	if len(raw) < 8 {
		return sdk.Null, fmt.Errorf("numeric: %d bytes", len(raw))
	}
	ndigits := int(binary.BigEndian.Uint16(raw[0:]))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	if len(raw) != 8+2*ndigits {
		return sdk.Null, fmt.Errorf("numeric: %d bytes for %d digits", len(raw), ndigits)
	}
	switch sign {
	case 0xC000:
		return sdk.String("NaN"), nil
	case 0xD000:
		return sdk.String("Infinity"), nil
	case 0xF000:
		return sdk.String("-Infinity"), nil
	case 0x0000, 0x4000:
	default:
		return sdk.Null, fmt.Errorf("numeric: bad sign %#x", sign)
	}
	if ndigits == 0 {
		return sdk.Value{Kind: sdk.KindDecimal, Str: "0"}, nil
	}
	if weight > 4096 || weight < -4096 {
		return sdk.Null, fmt.Errorf("numeric: weight %d out of range", weight)
	}
	var intPart, frac strings.Builder
	for i := 0; i <= weight; i++ { // digit groups before the point
		d := 0
		if i < ndigits {
			d = int(binary.BigEndian.Uint16(raw[8+2*i:]))
		}
		if d > 9999 {
			return sdk.Null, fmt.Errorf("numeric: digit %d out of range", d)
		}
		fmt.Fprintf(&intPart, "%04d", d)
	}
	for i := weight + 1; i < ndigits; i++ { // and after it
		if i < 0 {
			continue
		}
		d := int(binary.BigEndian.Uint16(raw[8+2*i:]))
		if d > 9999 {
			return sdk.Null, fmt.Errorf("numeric: digit %d out of range", d)
		}
		fmt.Fprintf(&frac, "%04d", d)
	}
	// Groups between the point and the first stored digit (weight < -1).
	lead := ""
	if weight < -1 {
		lead = strings.Repeat("0000", -1-weight)
	}
	s := intPart.String() + "." + lead + frac.String()
	if sign == 0x4000 {
		s = "-" + s
	}
	c, err := sdk.CanonicalDecimal(s)
	if err != nil {
		return sdk.Null, fmt.Errorf("numeric: %w", err)
	}
	return sdk.Value{Kind: sdk.KindDecimal, Str: c}, nil
}

// decodeTextArray decodes a binary array of text-like elements, flattened;
// NULL elements are left out (a string list has no nulls).
func decodeTextArray(raw []byte) (sdk.Value, error) {
	if len(raw) < 12 {
		return sdk.Null, fmt.Errorf("array: %d bytes", len(raw))
	}
	ndim := int(int32(binary.BigEndian.Uint32(raw[0:])))
	if ndim < 0 || ndim > 6 {
		return sdk.Null, fmt.Errorf("array: %d dimensions", ndim)
	}
	p := 12
	n := 1
	if ndim == 0 {
		n = 0
	}
	for d := 0; d < ndim; d++ {
		if len(raw) < p+8 {
			return sdk.Null, fmt.Errorf("array: truncated header")
		}
		dl := int(int32(binary.BigEndian.Uint32(raw[p:])))
		if dl < 0 || dl > len(raw) {
			return sdk.Null, fmt.Errorf("array: dimension of %d", dl)
		}
		n *= dl
		if n > len(raw) {
			return sdk.Null, fmt.Errorf("array: %d elements in %d bytes", n, len(raw))
		}
		p += 8
	}
	list := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if len(raw) < p+4 {
			return sdk.Null, fmt.Errorf("array: truncated at element %d", i)
		}
		l := int(int32(binary.BigEndian.Uint32(raw[p:])))
		p += 4
		if l == -1 {
			continue
		}
		if l < 0 || len(raw) < p+l {
			return sdk.Null, fmt.Errorf("array: element %d of %d bytes", i, l)
		}
		list = append(list, string(raw[p:p+l]))
		p += l
	}
	if p != len(raw) {
		return sdk.Null, fmt.Errorf("array: %d trailing bytes", len(raw)-p)
	}
	return sdk.Value{Kind: sdk.KindStringList, List: list}, nil
}

// decodeText decodes the text format: used for types without a binary
// decoder (enums, domains over text, citext, json, time…), which are strings.
func decodeText(oid uint32, s string) (sdk.Value, error) {
	switch oid {
	case pgtype.BoolOID:
		return sdk.Bool(s == "t" || s == "true"), nil
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return sdk.Null, fmt.Errorf("integer %q: %w", s, err)
		}
		return sdk.Int(i), nil
	case pgtype.NumericOID, pgtype.Float4OID, pgtype.Float8OID:
		c, err := sdk.CanonicalDecimal(s)
		if err != nil {
			return sdk.String(s), nil // NaN, Infinity, 1e+30
		}
		return sdk.Value{Kind: sdk.KindDecimal, Str: c}, nil
	case pgtype.DateOID:
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return sdk.String(s), nil
		}
		return sdk.Value{Kind: sdk.KindDate, Str: s}, nil
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		for _, layout := range []string{"2006-01-02 15:04:05.999999Z07", "2006-01-02 15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return sdk.DateTime(t), nil
			}
		}
		return sdk.String(s), nil
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID:
		list, err := parseArrayLiteral(s)
		if err != nil {
			return sdk.Null, err
		}
		return sdk.Value{Kind: sdk.KindStringList, List: list}, nil
	}
	return sdk.String(s), nil
}

// parseArrayLiteral parses a one-dimensional text array literal such as
// {a,"b c",NULL}; NULL elements are left out.
func parseArrayLiteral(s string) ([]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("array literal %q: not in braces", s)
	}
	body := s[1 : len(s)-1]
	var out []string
	for i := 0; i < len(body); {
		var b strings.Builder
		quoted := false
		if body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
				i++
			}
			if i >= len(body) {
				return nil, fmt.Errorf("array literal %q: unterminated quote", s)
			}
			i++
		} else {
			for i < len(body) && body[i] != ',' {
				b.WriteByte(body[i])
				i++
			}
		}
		if !quoted && b.String() == "NULL" {
			// a NULL element: dropped
		} else {
			out = append(out, b.String())
		}
		if i < len(body) {
			if body[i] != ',' {
				return nil, fmt.Errorf("array literal %q: expected a comma", s)
			}
			i++
			if i == len(body) {
				return nil, fmt.Errorf("array literal %q: trailing comma", s)
			}
		}
	}
	return out, nil
}

// textArrayParam renders a column of parameters (nil: NULL) as one text[]
// literal, for a text parameter cast to text[]: pgx would encode a []*string
// element by element through reflection.
func textArrayParam(ps []*string) string {
	n := 2
	for _, p := range ps {
		n += 3
		if p != nil {
			n += len(*p) + len(*p)/16
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		if p == nil {
			b = append(b, "NULL"...)
			continue
		}
		b = appendQuotedElem(b, *p)
	}
	b = append(b, '}')
	return string(b)
}

func appendQuotedElem(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for j := 0; j < len(s); j++ {
		if s[j] == '"' || s[j] == '\\' {
			b = append(append(b, s[start:j]...), '\\')
			start = j
		}
	}
	return append(append(b, s[start:]...), '"')
}

// arrayLiteral renders a string list as a text array literal, every element
// quoted, for a text parameter cast to text[].
func arrayLiteral(list []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
