package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

var codecValues = []sdk.Value{
	sdk.Null, sdk.String(""), sdk.String("a@x.io"), sdk.String("3:odd;text\"\\\n\t\x01é"), sdk.String("\xff\xfe"),
	sdk.Int(0), sdk.Int(-42), sdk.Int(1 << 62), {Kind: sdk.KindDecimal, Str: "-7.50"}, sdk.Bool(true), sdk.Bool(false),
	{Kind: sdk.KindDate, Str: "2000-01-31"}, sdk.DateTime(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)),
	{Kind: sdk.KindDateTime, Time: time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC)}, sdk.StringList(),
	sdk.StringList("x", "", "1:y"),
}

func TestCompactBaseRoundTrip(t *testing.T) {
	var b Base
	for i, v := range codecValues {
		b.Set(string(rune('a'+i))+"=k", BasePair{Left: v, Right: codecValues[len(codecValues)-1-i]})
	}
	got, err := DecodeBase(EncodeBase(b))
	if err != nil || !got.Equal(b) {
		t.Fatalf("round trip: %v\n got %#v\nwant %#v", err, got, b)
	}
	// Rows written before the compact form hold JSON.
	old, _ := json.Marshal(map[string]BasePair{"e=m": {Left: sdk.String("a"), Right: sdk.Int(3)}})
	got, err = DecodeBase(string(old))
	if err != nil || !got.Equal(Base{{"e=m", BasePair{Left: sdk.String("a"), Right: sdk.Int(3)}}}) {
		t.Fatalf("JSON base: %v %#v", err, got)
	}
	if got, err := DecodeBase(EncodeBase(nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty base: %v %#v", err, got)
	}
	for _, bad := range []string{"~1x", "~15:abc", "~13:abcs9:x", "~11:as2:xyq", "~11:at5;", "~11:ai;", "~11:al99;", "~11:at1;1000000000;n"} {
		if _, err := DecodeBase(bad); err == nil {
			t.Errorf("DecodeBase(%q): no error", bad)
		}
	}
}

// The hand-written JSON must read back through encoding/json as the
// reflective encoder's did.
func TestJSONValueMatchesEncodingJSON(t *testing.T) {
	for _, v := range codecValues {
		var back Value
		if err := json.Unmarshal(appendJSONValue(nil, v), &back); err != nil {
			t.Fatalf("%#v: %s: %v", v, appendJSONValue(nil, v), err)
		}
		want := v
		if v.Kind == sdk.KindString && v.Str == "\xff\xfe" {
			want = sdk.String("\ufffd\ufffd")
		}
		if !back.Equal(want) {
			t.Errorf("%#v came back as %#v", v, back.Value)
		}
	}
	var cs []FieldChange
	if err := json.Unmarshal([]byte(encodeChanges([]FieldChange{{Field: "f\"", Old: Value{sdk.Null}, New: Value{sdk.Int(2)}}})), &cs); err != nil ||
		len(cs) != 1 || cs[0].Field != "f\"" || cs[0].New.Int != 2 {
		t.Fatalf("changes: %v %#v", err, cs)
	}
}

func FuzzDecodeBase(f *testing.F) {
	f.Add(EncodeBase(Base{{"e=m", BasePair{Left: sdk.String("a"), Right: sdk.StringList("b", "c")}}}))
	f.Add(`{"e=m":{"l":{"k":"string","s":"x"},"r":{}}}`)
	f.Add("~11:at5;0;n")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase(s)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a form that decodes the same.
		again, err := DecodeBase(EncodeBase(b))
		if err != nil || !again.Equal(b) && !hasDupKeys(b) {
			t.Fatalf("%q: re-decode %v: %#v vs %#v", s, err, again, b)
		}
	})
}

func hasDupKeys(b Base) bool {
	seen := map[string]bool{}
	for _, f := range b {
		if seen[f.Key] {
			return true
		}
		seen[f.Key] = true
	}
	return false
}
