package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/emersion/go-vcard"
)

func mustDecode(t *testing.T, text string) vcard.Card {
	t.Helper()
	c, err := decodeCard(text)
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	return c
}

func date(s string) sdk.Value { return sdk.Value{Kind: sdk.KindDate, Str: s} }

// vCard → fields.
func TestCardValue(t *testing.T) {
	const head = "BEGIN:VCARD\r\nVERSION:3.0\r\n"
	const tail = "END:VCARD\r\n"
	tests := []struct {
		name  string
		card  string
		field string
		want  sdk.Value
	}{
		{"fn", "FN:Ada Lovelace\r\n", fFullName, sdk.String("Ada Lovelace")},
		{"fn escaped", `FN:Lovelace\, Ada\; Countess\nof Lovelace` + "\r\n", fFullName, sdk.String("Lovelace, Ada; Countess\nof Lovelace")},
		{"fn absent is null", "N:;;;;\r\n", fFullName, sdk.Null},
		{"fn empty", "FN:\r\n", fFullName, sdk.String("")},
		{"given", "N:Lovelace;Ada;King;Countess;\r\n", fGivenName, sdk.String("Ada")},
		{"family with escaped semicolon", `N:Love\;lace;Ada;;;` + "\r\n", fFamilyName, sdk.String("Love;lace")},
		{"short N", "N:Lovelace\r\n", fGivenName, sdk.String("")},
		{"first email", "EMAIL;TYPE=WORK:a@x.example\r\nEMAIL:b@y.example\r\n", fEmail, sdk.String("a@x.example")},
		{"all emails", "EMAIL;TYPE=WORK:a@x.example\r\nEMAIL:b@y.example\r\n", fEmails, sdk.StringList("a@x.example", "b@y.example")},
		{"no phones", "FN:x\r\n", fPhones, sdk.Null},
		{"phones", "TEL;TYPE=CELL:+1 555\r\nTEL:+2 666\r\n", fPhones, sdk.StringList("+1 555", "+2 666")},
		{"phone", "TEL;TYPE=CELL:+1 555\r\nTEL:+2 666\r\n", fPhone, sdk.String("+1 555")},
		{"org first component", "ORG:Acme\\, Inc.;Research\r\n", fOrg, sdk.String("Acme, Inc.")},
		{"title", "TITLE:Engineer\r\n", fTitle, sdk.String("Engineer")},
		{"street", "ADR;TYPE=HOME:;;1 Main St;Springfield;IL;62701;USA\r\n", fStreet, sdk.String("1 Main St")},
		{"city", "ADR:;;1 Main St;Springfield;IL;62701;USA\r\n", fCity, sdk.String("Springfield")},
		{"region", "ADR:;;1 Main St;Springfield;IL;62701;USA\r\n", fRegion, sdk.String("IL")},
		{"postal", "ADR:;;1 Main St;Springfield;IL;62701;USA\r\n", fPostalCode, sdk.String("62701")},
		{"country", "ADR:;;1 Main St;Springfield;IL;62701;USA\r\n", fCountry, sdk.String("USA")},
		{"first adr only", "ADR:;;A;B;;;\r\nADR:;;C;D;;;\r\n", fCity, sdk.String("B")},
		{"note multi-line", `NOTE:line 1\nline 2\\n` + "\r\n", fNote, sdk.String("line 1\nline 2\\n")},
		{"categories", `CATEGORIES:a,b\,c` + "\r\nCATEGORIES:d\r\n", fCategories, sdk.StringList("a", "b,c", "d")},
		{"bday v3", "BDAY:1990-05-17\r\n", fBirthday, date("1990-05-17")},
		{"bday basic", "BDAY:19900517\r\n", fBirthday, date("1990-05-17")},
		{"bday date-time", "BDAY:1990-05-17T00:00:00Z\r\n", fBirthday, date("1990-05-17")},
		{"bday without year", "BDAY:--0517\r\n", fBirthday, sdk.Null},
		{"bday text", "BDAY;VALUE=text:circa 1800\r\n", fBirthday, sdk.Null},
		{"uid", "UID:urn:uuid:1234\r\n", fUID, sdk.String("urn:uuid:1234")},
		{"folded line", "NOTE:abc\r\n def\r\n\tghi\r\n", fNote, sdk.String("abcdefghi")},
		{"lower-case name, group", "item1.email;type=INTERNET:g@x.example\r\n", fEmail, sdk.String("g@x.example")},
		{"quoted param with colon", "EMAIL;X-LABEL=\"a:b;c\":q@x.example\r\n", fEmail, sdk.String("q@x.example")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cardValue(mustDecode(t, head+tc.card+tail), tc.field)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("%s of %q = %#v, want %#v", tc.field, tc.card, got, tc.want)
			}
		})
	}
}

// fields → vCard: a patch changes only what it maps.
func TestApplyField(t *testing.T) {
	const base = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Grace Hopper\r\nN:Hopper;Grace;Brewster;;\r\n" +
		"EMAIL;TYPE=WORK:g@navy.example\r\nEMAIL;TYPE=HOME:g@home.example\r\nTEL;TYPE=CELL:+1 555\r\n" +
		"ADR;TYPE=WORK:PO 1;Bldg 2;Pentagon;Arlington;VA;22202;USA\r\nORG:Navy;Research\r\n" +
		"X-CUSTOM;X-P=\"a,b\":keep\\; me\r\nitem2.X-ABLABEL:label\r\nEND:VCARD\r\n"
	tests := []struct {
		name   string
		field  string
		value  sdk.Value
		has    []string // lines the encoded card must contain
		hasNot []string
	}{
		{"given keeps other N parts", fGivenName, sdk.String("Amazing; Grace"), []string{`N:Hopper;Amazing\; Grace;Brewster;;`}, nil},
		{"email keeps TYPE and the second", fEmail, sdk.String("new@x.example"),
			[]string{"EMAIL;TYPE=WORK:new@x.example", "EMAIL;TYPE=HOME:g@home.example"}, []string{"g@navy.example"}},
		{"null email removes the first only", fEmail, sdk.Null, []string{"EMAIL;TYPE=HOME:g@home.example"}, []string{"g@navy.example"}},
		{"city keeps other ADR parts", fCity, sdk.String("Washington, DC"),
			[]string{`ADR;TYPE=WORK:PO 1;Bldg 2;Pentagon;Washington\, DC;VA;22202;USA`}, nil},
		{"org keeps the unit", fOrg, sdk.String("USN"), []string{"ORG:USN;Research"}, nil},
		{"note escapes", fNote, sdk.String("a,b;c\\d\r\ne"), []string{`NOTE:a\,b\;c\\d\ne`}, nil},
		{"categories", fCategories, sdk.StringList("x", "y,z"), []string{`CATEGORIES:x,y\,z`}, nil},
		{"bday v3 form", fBirthday, date("1906-12-09"), []string{"BDAY:1906-12-09"}, nil},
		{"phone", fPhone, sdk.String("+1 666"), []string{"TEL;TYPE=CELL:+1 666"}, nil},
		{"null phone", fPhone, sdk.Null, nil, []string{"TEL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := mustDecode(t, base)
			if err := applyField(card, tc.field, tc.value); err != nil {
				t.Fatal(err)
			}
			out := encodeCard(card)
			for _, h := range append(tc.has, "X-CUSTOM;X-P=\"a,b\":keep\\; me", "item2.X-ABLABEL:label", "UID:u1", "FN:Grace Hopper") {
				if !strings.Contains(out, h+"\r\n") {
					t.Errorf("card lacks %q:\n%s", h, out)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(out, h) {
					t.Errorf("card still has %q:\n%s", h, out)
				}
			}
			// What was written reads back as written.
			got, err := cardValue(mustDecode(t, out), tc.field)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.value
			if tc.field == fNote {
				want = sdk.String("a,b;c\\d\ne")
			}
			if tc.field == fEmail && tc.value.IsNull() {
				want = sdk.String("g@home.example") // the second became the first
			}
			if !got.Equal(want) {
				t.Errorf("%s reads back %#v, want %#v", tc.field, got, want)
			}
		})
	}
}

func TestApplyFieldErrors(t *testing.T) {
	tests := []struct {
		field string
		value sdk.Value
	}{
		{fBirthday, date("1990-02-30")},
		{fBirthday, sdk.String("yesterday")},
		{fBirthday, sdk.Int(3)},
		{fEmails, sdk.StringList("a@x.example")}, // read-only
		{fPhones, sdk.StringList("+1")},
		{fFullName, sdk.StringList("a", "b")},
		{"nickname", sdk.String("x")},
	}
	for _, tc := range tests {
		err := applyField(vcard.Card{}, tc.field, tc.value)
		e := sdk.AsError(err)
		if e == nil || e.Category != sdk.CategoryValidation || e.Field != tc.field {
			t.Errorf("apply %s = %#v: %v, want a validation error on %s", tc.field, tc.value, err, tc.field)
		}
	}
}

// vCard 4 birthdays are written in ISO 8601 basic form.
func TestBirthdayV4(t *testing.T) {
	card := mustDecode(t, "BEGIN:VCARD\r\nVERSION:4.0\r\nBDAY;VALUE=text:circa 1800\r\nEND:VCARD\r\n")
	if err := applyField(card, fBirthday, date("1815-12-10")); err != nil {
		t.Fatal(err)
	}
	if out := encodeCard(card); !strings.Contains(out, "\r\nBDAY:18151210\r\n") {
		t.Errorf("vCard 4 birthday: %s", out)
	}
}

func TestFillRequired(t *testing.T) {
	tests := []struct {
		card   string
		wantFN string
	}{
		{"N:Lovelace;Ada;;;\r\n", "Ada Lovelace"},
		{"ORG:Acme\r\n", "Acme"},
		{"EMAIL:a@x.example\r\n", "a@x.example"},
		{"FN:Kept\r\nN:Other;Name;;;\r\n", "Kept"},
		{"FN:\r\nORG:Acme\r\n", ""},
	}
	for _, tc := range tests {
		card := mustDecode(t, "BEGIN:VCARD\r\n"+tc.card+"END:VCARD\r\n")
		fillRequired(card)
		if got := card.Value(vcard.FieldFormattedName); got != tc.wantFN {
			t.Errorf("FN of %q = %q, want %q", tc.card, got, tc.wantFN)
		}
		if card.Get(vcard.FieldName) == nil || card.Value(vcard.FieldVersion) != "3.0" {
			t.Errorf("card %q lacks N or VERSION after fillRequired", tc.card)
		}
	}
}

func TestDecodeCardErrors(t *testing.T) {
	for _, text := range []string{"", "FN:x\r\n", "BEGIN:VCARD\r\nFN:x\r\n", "BEGIN:VEVENT\r\nEND:VEVENT\r\n",
		"BEGIN:VCARD\r\nBEGIN:VCARD\r\nEND:VCARD\r\n"} {
		if _, err := decodeCard(text); err == nil {
			t.Errorf("decode %q: no error", text)
		}
	}
}

// Long lines are folded at 75 octets without splitting a character, and
// unfold back.
func TestFolding(t *testing.T) {
	note := strings.Repeat("Zoë 北京 👍🏽 ", 20)
	card := vcard.Card{}
	if err := applyField(card, fNote, sdk.String(note)); err != nil {
		t.Fatal(err)
	}
	fillRequired(card)
	out := encodeCard(card)
	for _, l := range strings.Split(out, "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
	}
	got, _ := cardValue(mustDecode(t, out), fNote)
	if got.Str != note {
		t.Errorf("folded note reads back %q", got.Str)
	}
}

func TestCursorETags(t *testing.T) {
	m := map[string]string{"a.vcf": "e1", "b c.vcf": `"x"`}
	s, err := encodeETags(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeETags(s)
	if err != nil || len(back) != 2 || back["b c.vcf"] != `"x"` {
		t.Fatalf("ETag cursor round trip: %v, %v", back, err)
	}
	if _, err := decodeETags("not-base64!"); err == nil {
		t.Error("a garbage ETag cursor decoded")
	}
}

func TestSplitEscaped(t *testing.T) {
	got := splitEscaped(`a\;b;c\\;d\,e;`, ';')
	want := []string{"a;b", `c\`, "d,e", ""}
	if !slices.Equal(got, want) {
		t.Errorf("splitEscaped = %q, want %q", got, want)
	}
}
