package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

var codecValues = []sdk.Value{
	sdk.Null, sdk.String(""), sdk.String("a@x.io"), sdk.String("3:odd;text\"\\\n\t\x01é"), sdk.String("\xff\xfe"),
	sdk.Int(0), sdk.Int(-42), sdk.Int(1 << 62), {Kind: sdk.KindDecimal, Str: "-7.50"}, sdk.Bool(true), sdk.Bool(false),
	{Kind: sdk.KindDate, Str: "2000-01-31"}, sdk.DateTime(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)),
	{Kind: sdk.KindDateTime, Time: time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC)}, sdk.StringList(),
	sdk.StringList("x", "", "1:y"), sdk.StringList("caf\xe9", "ok"), {Kind: sdk.KindDecimal, Str: "1\x80"},
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
	old := `{"e=m":{"l":{"k":"string","s":"a"},"r":{"k":"integer","i":3}}}`
	got, err = DecodeBase(old)
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

// A mapping key between two fields of one name is written with the name
// once; others (and keys that only look alike) whole. Bases written before
// hold every key whole, and still read.
func TestIdentityKeys(t *testing.T) {
	keys := []string{"email=email", "name=full_name", "=", "a=b=a=b", "x=x=x", "a=ab", "phone=phone"}
	var b Base
	for _, k := range keys {
		b.Set(k, BasePair{Left: sdk.String("v"), Right: sdk.String("v")})
	}
	enc := EncodeBase(b)
	// (cSame is '=' too, but comes after a value, where no key starts.)
	for _, want := range []string{"~1=5:emails", "14:name=full_names", "=0:s", "=3:a=bs", "5:x=x=xs", "4:a=abs", "=5:phones"} {
		if !strings.Contains(enc, want) {
			t.Errorf("%q lacks %q", enc, want)
		}
	}
	got, err := DecodeBase(enc)
	if err != nil || !got.Equal(b) {
		t.Fatalf("round trip: %v\n got %#v\nwant %#v", err, got, b)
	}
	if !BaseCovers(enc, keys) || BaseCovers(enc, []string{"email=emai"}) || BaseCovers(enc, []string{"mail=mail"}) {
		t.Error("BaseCovers does not compare identity keys exactly")
	}
	if baseKeysOf(enc) != BaseKeys(keys) {
		t.Errorf("baseKeysOf %q, BaseKeys %q", baseKeysOf(enc), BaseKeys(keys))
	}
	whole := "~111:email=emails1:v="
	if got, err := DecodeBase(whole); err != nil || !got.Equal(Base{{"email=email", BasePair{Left: sdk.String("v"), Right: sdk.String("v")}}}) {
		t.Fatalf("a key written whole: %v %#v", err, got)
	}
	if !BaseCovers(whole, keys[:1]) {
		t.Error("BaseCovers of a key written whole")
	}
}

// The hand-written JSON must read back through encoding/json as it was,
// text that is not UTF-8 too (JSON text would hold U+FFFD instead).
func TestJSONValueMatchesEncodingJSON(t *testing.T) {
	for _, v := range codecValues {
		var back Value
		if err := json.Unmarshal(appendJSONValue(nil, v), &back); err != nil {
			t.Fatalf("%#v: %s: %v", v, appendJSONValue(nil, v), err)
		}
		if enc := appendJSONValue(nil, v); !utf8.Valid(enc) {
			t.Errorf("%#v encodes as %q, not UTF-8", v, enc)
		}
		if !back.Equal(v) {
			t.Errorf("%#v came back as %#v", v, back.Value)
		}
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

// Journal entries and history of a batch are stored a row per group and
// come back as the entries they were, next to rows of the older per-entry
// tables, newest history first.
func TestBatchRowsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &Batch{Sync: "a",
		AddJournal: []JournalEntry{
			{ID: "c1", Batch: "B1", Side: "right", SourceID: "l1", Payload: []byte("p1")},
			{ID: "c2", Batch: "B1", Side: "left", SourceID: "r2", Payload: []byte("")},
			{ID: "c3", Batch: "B1", Side: "right", SourceID: "l3", Payload: []byte(`{"x":"3:y"}`)},
			{ID: "c0", Side: "right", SourceID: "l0", Payload: []byte(`{}`)},
		},
		History: []HistoryEntry{
			{RunID: "r", Side: "right", RecordID: "x1", Op: OpCreate, Direction: "left-to-right", At: t0,
				Changes: []FieldChange{{Field: "email", New: Value{sdk.String("a@x.io")}}, {Field: "n", Old: Value{sdk.Int(1)}, New: Value{sdk.Null}}}},
			{RunID: "r", Side: "left", RecordID: "y1", Op: OpLink, At: t0},
			{RunID: "r", Side: "right", RecordID: "x2", Op: OpCreate, Direction: "left-to-right", At: t0,
				RawChanges: string(AppendChange(AppendChangeCount(nil, 1), "email", sdk.Null, sdk.String("b@x.io")))},
			{RunID: "r", Side: "right", RecordID: "x3", Op: OpUpdate, Direction: "left-to-right", At: t0.Add(time.Hour)},
		},
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	js, err := s.Journal(ctx, "a")
	if err != nil || len(js) != 4 {
		t.Fatalf("journal: %v %+v", err, js)
	}
	got := map[string]JournalEntry{}
	for _, j := range js {
		got[j.ID] = j
	}
	if j := got["c3"]; j.Batch != "B1" || j.Side != "right" || j.SourceID != "l3" || string(j.Payload) != `{"x":"3:y"}` {
		t.Errorf("c3: %+v", j)
	}
	if j := got["c2"]; j.Batch != "B1" || j.Side != "left" || j.SourceID != "r2" || len(j.Payload) != 0 {
		t.Errorf("c2: %+v", j)
	}
	if j := got["c0"]; j.Batch != "" || j.SourceID != "l0" {
		t.Errorf("c0: %+v", j)
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM history_batches`).Scan(&rows); err != nil || rows != 3 {
		t.Fatalf("history rows: %d %v, want 3 (create, link, update)", rows, err)
	}
	hs, err := s.History(ctx, HistoryQuery{Sync: "a"})
	if err != nil || len(hs) != 4 || hs[0].RecordID != "x3" {
		t.Fatalf("history: %v %+v", err, hs)
	}
	cr, err := s.History(ctx, HistoryQuery{Sync: "a", Op: OpCreate, Limit: 1})
	if err != nil || len(cr) != 1 || cr[0].RecordID != "x1" || len(cr[0].Changes) != 2 ||
		cr[0].Changes[0].New.Str != "a@x.io" || cr[0].Changes[1].Old.Int != 1 || !cr[0].Changes[1].New.IsNull() || !cr[0].At.Equal(t0) {
		t.Fatalf("created: %v %+v", err, cr)
	}
	// Changes stored already encoded (RawChanges) read back as Changes.
	for _, h := range hs {
		if h.RecordID == "x2" && (len(h.Changes) != 1 || h.Changes[0].Field != "email" || !h.Changes[0].Old.IsNull() || h.Changes[0].New.Str != "b@x.io") {
			t.Fatalf("x2's raw changes: %+v", h.Changes)
		}
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", SettleBatch: []string{"B1"}, SettleJourn: []string{"c0"}}); err != nil {
		t.Fatal(err)
	}
	if js, err := s.Journal(ctx, "a"); err != nil || len(js) != 0 {
		t.Fatalf("settled journal: %v %+v", err, js)
	}
}

func TestJournalPayloadRoundTrip(t *testing.T) {
	p := JournalPayload{SourceVersion: "v;7", Keys: []JournalKey{{Field: "email", Value: sdk.String("a@x.io")}, {Field: "n", Value: sdk.Int(3)}},
		Base: Base{{"email=email", BasePair{Left: sdk.String("a@x.io"), Right: sdk.String("a@x.io")}}}}
	got, err := DecodeJournalPayload(p.Encode())
	if err != nil || got.SourceVersion != p.SourceVersion || len(got.Keys) != 2 || got.Keys[1].Value.Int != 3 ||
		got.Keys[0].Field != "email" || !got.Base.Equal(p.Base) {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	// Without a base, the mappings' digest instead, as the engine journals now.
	p.Base, p.Mappings = nil, "0123456789abcdef"
	if got, err = DecodeJournalPayload(p.Encode()); err != nil || got.Base != nil || len(got.Keys) != 2 ||
		got.Mappings != p.Mappings || got.Keys[1].Value.Int != 3 {
		t.Fatalf("round trip without a base: %v %+v", err, got)
	}
	if _, err := DecodeJournalPayload(append(p.Encode(), 'x')); err == nil {
		t.Fatal("a payload with bytes past its mappings' digest decoded")
	}
	// A create journaled by the JSON-writing version, before an upgrade.
	old := `{"source_version":"4","keys":[{"field":"email","value":{"k":"string","s":"b@x.io"}}],"base":{"e=e":{"l":{"k":"string","s":"b"},"r":{}}}}`
	got, err = DecodeJournalPayload([]byte(old))
	if err != nil || got.SourceVersion != "4" || len(got.Keys) != 1 || got.Keys[0].Value.Str != "b@x.io" ||
		!got.Base.Equal(Base{{"e=e", BasePair{Left: sdk.String("b"), Right: sdk.Null}}}) {
		t.Fatalf("old payload: %v %+v", err, got)
	}
	if _, err := DecodeJournalPayload([]byte("~11:v9;")); err == nil {
		t.Fatal("truncated payload decoded")
	}
}

func FuzzDecodeJournalPayload(f *testing.F) {
	f.Add(JournalPayload{SourceVersion: "1", Keys: []JournalKey{{Field: "e", Value: sdk.String("x")}}}.Encode())
	f.Add(JournalPayload{SourceVersion: "1", Mappings: "d1"}.Encode())
	f.Add([]byte(`{"source_version":"4","keys":[],"base":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeJournalPayload(b)
		if err != nil {
			return
		}
		again, err := DecodeJournalPayload(p.Encode())
		if err != nil || again.SourceVersion != p.SourceVersion || len(again.Keys) != len(p.Keys) || again.Mappings != p.Mappings {
			t.Fatalf("%q: re-decode %v: %+v vs %+v", b, err, again, p)
		}
	})
}

func TestLinksFor(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	withSync(t, s, "b")
	b := &Batch{Sync: "a"}
	var ids []string
	for i := 0; i < 1200; i++ {
		id := fmt.Sprintf("l%04d", i)
		ids = append(ids, id)
		b.AddLinks = append(b.AddLinks, Link{LeftID: id, RightID: fmt.Sprintf("r%04d", i)})
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Sync: "b", AddLinks: []Link{{LeftID: "l0001", RightID: "r0001"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LinksFor(ctx, "a", "left", append(ids[3:1103:1103], "nope"))
	if err != nil || len(got) != 1100 {
		t.Fatalf("by left id: %d links, %v", len(got), err)
	}
	got, err = s.LinksFor(ctx, "a", "right", []string{"r0007", "l0008", "r1199"})
	if err != nil || len(got) != 2 || got[0].Sync != "a" {
		t.Fatalf("by right id: %+v, %v", got, err)
	}
	if got, err := s.LinksFor(ctx, "a", "left", nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %+v, %v", got, err)
	}
}

func TestBaseCovers(t *testing.T) {
	var b Base
	var keys []string
	for i, v := range codecValues {
		keys = append(keys, fmt.Sprintf("k%d", i))
		b.Set(keys[i], BasePair{Left: v, Right: v})
	}
	enc := EncodeBase(b)
	rev := append([]string(nil), keys...)
	slices.Reverse(rev)
	for _, c := range []struct {
		encoded string
		keys    []string
		want    bool
	}{
		{enc, keys, true},
		{enc, rev, true},
		{enc, keys[3:5], true},
		{enc, append(keys[:2:2], "k99"), false},
		{"~1x", keys[:1], false},
		{"", keys[:1], false},
		{"~1", nil, true},
		{`{"e=m":{"l":{},"r":{}}}`, []string{"e=m"}, true},
		{`{"e=m":{"l":{},"r":{}}}`, []string{"e=m", "x=y"}, false},
	} {
		if got := BaseCovers(c.encoded, c.keys); got != c.want {
			t.Errorf("BaseCovers(%.20q, %v) = %v", c.encoded, c.keys, got)
		}
	}
}

// RunLinks and RunLinksFor leave out the bases that hold exactly the
// run's mapping keys, whatever their order.
func TestRunLinksOmitBasesOfExactlyTheKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	var full, part Base
	full.Set("email=email", BasePair{Left: sdk.String("a@x.io"), Right: sdk.String("a@x.io")})
	full.Set("phone=phone", BasePair{Left: sdk.String("1"), Right: sdk.String("2")})
	part.Set("phone=phone", BasePair{Left: sdk.String("3"), Right: sdk.String("3")})
	if err := s.Commit(ctx, &Batch{Sync: "a", AddLinks: []Link{
		{LeftID: "full", RightID: "r1", Base: full},
		{LeftID: "part", RightID: "r2", Base: part},
		{LeftID: "old", RightID: "r3", Base: full},
	}}); err != nil {
		t.Fatal(err)
	}
	// A row written before base_keys: its base is always loaded.
	if _, err := s.db.ExecContext(ctx, `UPDATE links SET base_keys = '' WHERE left_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	// The keys in another order: the same set.
	links, err := s.RunLinks(ctx, "a", []string{"phone=phone", "email=email"})
	if err != nil || len(links) != 3 {
		t.Fatalf("%d links, %v", len(links), err)
	}
	by := map[string]*Link{}
	for i := range links {
		by[links[i].LeftID] = &links[i]
	}
	if l := by["full"]; !l.BaseOmitted || l.RawBase != "" {
		t.Fatalf("full: %+v", l)
	}
	for _, id := range []string{"part", "old"} {
		if l := by[id]; l.BaseOmitted || l.RawBase == "" {
			t.Fatalf("%s: %+v", id, l)
		}
	}
	// By id, the same: the right ids of two of them, and one unknown.
	some, err := s.RunLinksFor(ctx, "a", "right", []string{"r1", "r2", "nope"}, []string{"phone=phone", "email=email"})
	if err != nil || len(some) != 2 {
		t.Fatalf("by id: %d links, %v", len(some), err)
	}
	for _, l := range some {
		if l.BaseOmitted != (l.LeftID == "full") || l.BaseOmitted == (l.RawBase != "") {
			t.Fatalf("by id, %s: %+v", l.LeftID, l)
		}
	}
	if err := by["full"].DecodeBase(); err == nil {
		t.Fatal("an omitted base decoded")
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{*by["full"]}}); err == nil {
		t.Fatal("a link stored without its base loaded")
	}
	if err := s.FillBases(ctx, "a", []*Link{by["full"]}); err != nil {
		t.Fatal(err)
	}
	if err := by["full"].DecodeBase(); err != nil || !by["full"].Base.Equal(full) {
		t.Fatalf("filled base %+v, %v", by["full"].Base, err)
	}
	// Stored again (from the loaded encoded form): its digest is written.
	old := *by["old"]
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{old}}); err != nil {
		t.Fatal(err)
	}
	links, err = s.RunLinks(ctx, "a", []string{"email=email", "phone=phone"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.BaseOmitted != (l.LeftID != "part") {
			t.Fatalf("after rewrite: %+v", l)
		}
	}
	if err := s.FillBases(ctx, "a", []*Link{{LeftID: "gone", BaseOmitted: true}}); err == nil {
		t.Fatal("a missing link's base filled")
	}
}

// Any text, UTF-8 or not, comes back from the JSON form as it was, in a
// string or a list, and the JSON itself is UTF-8.
func FuzzJSONValueRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a@x.io", "caf\xe9", "\xff\xfe", "\"\\\n\x00", "€"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, v := range []sdk.Value{sdk.String(a), sdk.StringList(a, b), {Kind: sdk.KindDecimal, Str: b}} {
			if v.Kind == sdk.KindString && a == "" || v.Kind == sdk.KindDecimal && b == "" {
				continue // no text: nothing to keep
			}
			enc := appendJSONValue(nil, v)
			if !utf8.Valid(enc) {
				t.Fatalf("%#v encodes as %q, not UTF-8", v, enc)
			}
			var back Value
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("%#v: %s: %v", v, enc, err)
			}
			if !back.Equal(v) {
				t.Fatalf("%#v came back as %#v (%s)", v, back.Value, enc)
			}
		}
	})
}
