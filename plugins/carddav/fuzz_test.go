package main

import (
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/emersion/go-vcard"
)

// writableText are the text fields a create sets; read back they must equal
// what was sent (line breaks as "\n").
var writableText = []string{fUID, fFullName, fGivenName, fFamilyName, fEmail, fPhone, fOrg, fTitle,
	fStreet, fCity, fRegion, fPostalCode, fCountry, fNote}

// Fields → vCard text → fields gives back the fields.
func FuzzFieldsRoundTrip(f *testing.F) {
	f.Add("Ada", "Lovelace; Countess", "a,b\\c\nd", "x", "1815-12-10")
	f.Add("", "", "", "", "")
	f.Add("Zoë 北京 👍🏽 e\u0301", "\\;", "\r\n", ",", "2000-02-29")
	f.Fuzz(func(t *testing.T, a, b, c, cat, bday string) {
		vals := map[string]sdk.Value{}
		card := vcard.Card{}
		for i, name := range writableText {
			v := sdk.String([]string{a, b, c}[i%3] + name)
			if err := applyField(card, name, v); err != nil {
				t.Fatalf("apply %s: %v", name, err)
			}
			vals[name] = v
		}
		cats := sdk.StringList(cat, a)
		if err := applyField(card, fCategories, cats); err != nil {
			t.Fatal(err)
		}
		if err := applyField(card, fBirthday, date(bday)); err != nil && sdk.AsError(err).Field != fBirthday {
			t.Fatalf("birthday %q: %v", bday, err)
		}
		fillRequired(card)
		text := encodeCard(card)
		back, err := decodeCard(text)
		if err != nil {
			t.Fatalf("decode what was encoded: %v\n%s", err, text)
		}
		for name, v := range vals {
			got, _ := cardValue(back, name)
			want := normalizeBreaks(v.Str)
			if got.Str != want {
				t.Errorf("%s: sent %q, read back %q\n%s", name, v.Str, got.Str, text)
			}
		}
		var wantCats []string
		for _, s := range cats.List {
			if s != "" {
				wantCats = append(wantCats, normalizeBreaks(s))
			}
		}
		got, _ := cardValue(back, fCategories)
		if len(wantCats) > 0 && strings.Join(got.List, "\x00") != strings.Join(wantCats, "\x00") {
			t.Errorf("categories: sent %q, read back %q", cats.List, got.List)
		}
	})
}

func normalizeBreaks(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// Any text: decoding never panics, nor does reading a field; what decodes
// encodes to text that decodes to the same fields.
func FuzzDecodeCard(f *testing.F) {
	f.Add("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nN:L;A;;;\r\nEMAIL;TYPE=\"a,b\":x@y\r\nEND:VCARD\r\n")
	f.Add("BEGIN:VCARD\nitem1.ADR;TYPE=HOME:;;a\\;b;c\n d;;;\nBDAY:--0517\nCATEGORIES:a,b\\,c\nEND:VCARD")
	f.Add("BEGIN:VCARD\r\nX;=;\"\r\n:\r\nEND:VCARD")
	f.Fuzz(func(t *testing.T, text string) {
		card, err := decodeCard(text)
		if err != nil {
			return
		}
		fields := contactsObject().FieldNames()
		first, err := cardValues(card, fields)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeCard(encodeCard(card))
		if err != nil {
			t.Fatalf("re-decode: %v\n%q", err, encodeCard(card))
		}
		second, err := cardValues(again, fields)
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range fields {
			if !first[i].Equal(second[i]) {
				t.Errorf("%s: %#v, after encode+decode %#v\n%q", name, first[i], second[i], encodeCard(card))
			}
		}
	})
}
