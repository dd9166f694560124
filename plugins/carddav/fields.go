package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/emersion/go-vcard"
)

const objectContacts = "contacts"

// Field names of the contacts object.
const (
	fUID        = "uid"
	fFullName   = "full_name"
	fGivenName  = "given_name"
	fFamilyName = "family_name"
	fEmail      = "email"
	fEmails     = "emails"
	fPhone      = "phone"
	fPhones     = "phones"
	fOrg        = "organization"
	fTitle      = "title"
	fStreet     = "street"
	fCity       = "city"
	fRegion     = "region"
	fPostalCode = "postal_code"
	fCountry    = "country"
	fNote       = "note"
	fCategories = "categories"
	fBirthday   = "birthday"
)

// contactsObject is the one object type of an address book. emails and
// phones list every EMAIL and TEL; they are read-only because email and
// phone (the first of each) are views of the same properties, and a patch
// must change nothing but its own fields. The UID is the
// external-id field: the host's correlation id becomes the card's UID (and
// its file name), so a create interrupted by a crash is found again by UID.
func contactsObject() sdk.ObjectType {
	return sdk.ObjectType{
		Name:  objectContacts,
		Label: "Contacts",
		Fields: []sdk.Field{
			{Name: fUID, Label: "UID", Type: sdk.TypeString, Unique: true},
			{Name: fFullName, Label: "Full name (FN)", Type: sdk.TypeString},
			{Name: fGivenName, Label: "Given name", Type: sdk.TypeString},
			{Name: fFamilyName, Label: "Family name", Type: sdk.TypeString},
			{Name: fEmail, Label: "Email (first EMAIL)", Type: sdk.TypeEmail},
			{Name: fEmails, Label: "All emails", Type: sdk.TypeStringList, ReadOnly: true},
			{Name: fPhone, Label: "Phone (first TEL)", Type: sdk.TypePhone},
			{Name: fPhones, Label: "All phones", Type: sdk.TypeStringList, ReadOnly: true},
			{Name: fOrg, Label: "Organization", Type: sdk.TypeString},
			{Name: fTitle, Label: "Title", Type: sdk.TypeString},
			{Name: fStreet, Label: "Street", Type: sdk.TypeString},
			{Name: fCity, Label: "City", Type: sdk.TypeString},
			{Name: fRegion, Label: "Region", Type: sdk.TypeString},
			{Name: fPostalCode, Label: "Postal code", Type: sdk.TypeString},
			{Name: fCountry, Label: "Country", Type: sdk.TypeString},
			{Name: fNote, Label: "Note", Type: sdk.TypeString},
			{Name: fCategories, Label: "Categories", Type: sdk.TypeStringList},
			{Name: fBirthday, Label: "Birthday", Type: sdk.TypeDate},
		},
		Incremental:     true,
		Tombstones:      true,
		ExternalIDField: fUID,
	}
}

// Positions of the N and ADR components (RFC 6350 6.2.2, 6.3.1).
const (
	nFamily, nGiven                                      = 0, 1
	adrStreet, adrCity, adrRegion, adrPostal, adrCountry = 2, 3, 4, 5, 6
)

// cardValue reads one field from a card. An absent property is null; a
// present but empty one is "".
func cardValue(card vcard.Card, field string) (sdk.Value, error) {
	switch field {
	case fUID:
		return text(card.Get(vcard.FieldUID)), nil
	case fFullName:
		return text(card.Get(vcard.FieldFormattedName)), nil
	case fGivenName:
		return component(card.Get(vcard.FieldName), nGiven), nil
	case fFamilyName:
		return component(card.Get(vcard.FieldName), nFamily), nil
	case fEmail:
		return text(card.Get(vcard.FieldEmail)), nil
	case fEmails:
		return list(card[vcard.FieldEmail]), nil
	case fPhone:
		return text(card.Get(vcard.FieldTelephone)), nil
	case fPhones:
		return list(card[vcard.FieldTelephone]), nil
	case fOrg:
		return component(card.Get(vcard.FieldOrganization), 0), nil
	case fTitle:
		return text(card.Get(vcard.FieldTitle)), nil
	case fStreet:
		return component(card.Get(vcard.FieldAddress), adrStreet), nil
	case fCity:
		return component(card.Get(vcard.FieldAddress), adrCity), nil
	case fRegion:
		return component(card.Get(vcard.FieldAddress), adrRegion), nil
	case fPostalCode:
		return component(card.Get(vcard.FieldAddress), adrPostal), nil
	case fCountry:
		return component(card.Get(vcard.FieldAddress), adrCountry), nil
	case fNote:
		return text(card.Get(vcard.FieldNote)), nil
	case fCategories:
		return categories(card), nil
	case fBirthday:
		return birthday(card.Get(vcard.FieldBirthday)), nil
	}
	return sdk.Null, fmt.Errorf("contacts have no field %q", field)
}

func text(f *vcard.Field) sdk.Value {
	if f == nil {
		return sdk.Null
	}
	return sdk.String(unescapeText(f.Value))
}

func component(f *vcard.Field, i int) sdk.Value {
	if f == nil {
		return sdk.Null
	}
	parts := splitEscaped(f.Value, ';')
	if i >= len(parts) {
		return sdk.String("")
	}
	return sdk.String(parts[i])
}

func list(fs []*vcard.Field) sdk.Value {
	if len(fs) == 0 {
		return sdk.Null
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = unescapeText(f.Value)
	}
	return sdk.StringList(out...)
}

// categories joins every CATEGORIES property; items are comma-separated.
func categories(card vcard.Card) sdk.Value {
	fs := card[vcard.FieldCategories]
	if len(fs) == 0 {
		return sdk.Null
	}
	out := []string{}
	for _, f := range fs {
		if f.Value == "" {
			continue
		}
		out = append(out, splitEscaped(f.Value, ',')...)
	}
	return sdk.StringList(out...)
}

// birthday reads BDAY as a date: "1990-05-17", "19900517" or a date-time
// whose date part is one of those. A partial date (no year, "--0517") is not
// a calendar date and reads as null; it stays in the card untouched.
func birthday(f *vcard.Field) sdk.Value {
	if f == nil {
		return sdk.Null
	}
	v := unescapeText(strings.TrimSpace(f.Value))
	if d, _, ok := strings.Cut(v, "T"); ok {
		v = d
	}
	for _, layout := range []string{"2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			return sdk.Date(t)
		}
	}
	return sdk.Null
}

// applyField sets one field in card: the patch of an update or a create.
// Only the properties (and the components of N, ADR, ORG) the field maps
// are touched; parameters and other properties stay as they were.
func applyField(card vcard.Card, field string, v sdk.Value) error {
	switch field {
	case fUID:
		return setText(card, vcard.FieldUID, v, field)
	case fFullName:
		return setText(card, vcard.FieldFormattedName, v, field)
	case fGivenName:
		return setComponent(card, vcard.FieldName, nGiven, 5, v, field)
	case fFamilyName:
		return setComponent(card, vcard.FieldName, nFamily, 5, v, field)
	case fEmail:
		return setFirst(card, vcard.FieldEmail, v, field)
	case fEmails, fPhones:
		return sdk.FieldError(field, "%s is read-only: write email or phone (the first one)", field)
	case fPhone:
		return setFirst(card, vcard.FieldTelephone, v, field)
	case fOrg:
		return setComponent(card, vcard.FieldOrganization, 0, 1, v, field)
	case fTitle:
		return setText(card, vcard.FieldTitle, v, field)
	case fStreet:
		return setComponent(card, vcard.FieldAddress, adrStreet, 7, v, field)
	case fCity:
		return setComponent(card, vcard.FieldAddress, adrCity, 7, v, field)
	case fRegion:
		return setComponent(card, vcard.FieldAddress, adrRegion, 7, v, field)
	case fPostalCode:
		return setComponent(card, vcard.FieldAddress, adrPostal, 7, v, field)
	case fCountry:
		return setComponent(card, vcard.FieldAddress, adrCountry, 7, v, field)
	case fNote:
		return setText(card, vcard.FieldNote, v, field)
	case fCategories:
		return setCategories(card, v, field)
	case fBirthday:
		return setBirthday(card, v, field)
	}
	return sdk.FieldError(field, "contacts have no field %q", field)
}

// scalar returns v's text for a single-valued field; null is "absent".
func scalar(v sdk.Value, field string) (string, bool, error) {
	switch v.Kind {
	case sdk.KindNull:
		return "", false, nil
	case sdk.KindStringList:
		return "", false, sdk.FieldError(field, "%s takes one value, got a list", field)
	}
	return v.Text(), true, nil
}

func setText(card vcard.Card, prop string, v sdk.Value, field string) error {
	s, ok, err := scalar(v, field)
	if err != nil {
		return err
	}
	if !ok {
		delete(card, prop)
		return nil
	}
	if f := card.Get(prop); f != nil {
		f.Value = escapeText(s) // later ones (other languages, ALTID) stay
		return nil
	}
	card.Set(prop, &vcard.Field{Value: escapeText(s)})
	return nil
}

// setComponent sets component i of a structured property with n components;
// the property goes away when every component ends up empty.
func setComponent(card vcard.Card, prop string, i, n int, v sdk.Value, field string) error {
	s, _, err := scalar(v, field)
	if err != nil {
		return err
	}
	f := card.Get(prop)
	if f == nil {
		if s == "" {
			return nil
		}
		f = &vcard.Field{}
		card.Set(prop, f)
	}
	parts := splitEscaped(f.Value, ';')
	for len(parts) < n {
		parts = append(parts, "")
	}
	parts[i] = s
	if prop != vcard.FieldName && strings.Join(parts, "") == "" {
		// N stays (vCard 3 requires it); an empty ADR or ORG goes.
		card[prop] = card[prop][1:]
		if len(card[prop]) == 0 {
			delete(card, prop)
		}
		return nil
	}
	f.Value = joinEscaped(parts, ";")
	return nil
}

// setFirst replaces the value of the first EMAIL/TEL, keeping its
// parameters; null or "" removes it.
func setFirst(card vcard.Card, prop string, v sdk.Value, field string) error {
	s, _, err := scalar(v, field)
	if err != nil {
		return err
	}
	fs := card[prop]
	switch {
	case s == "" && len(fs) > 0:
		card[prop] = fs[1:]
	case s == "":
	case len(fs) > 0:
		fs[0].Value = escapeText(s)
	default:
		card.Set(prop, &vcard.Field{Value: escapeText(s)})
	}
	if len(card[prop]) == 0 {
		delete(card, prop)
	}
	return nil
}

func listItems(v sdk.Value, field string) ([]string, error) {
	switch v.Kind {
	case sdk.KindNull:
		return nil, nil
	case sdk.KindStringList:
		return v.List, nil
	case sdk.KindString:
		if v.Str == "" {
			return nil, nil
		}
		return []string{v.Str}, nil
	}
	return nil, sdk.FieldError(field, "%s takes a list of text, got %s", field, v.Kind)
}

func setCategories(card vcard.Card, v sdk.Value, field string) error {
	items, err := listItems(v, field)
	if err != nil {
		return err
	}
	items = slices.DeleteFunc(slices.Clone(items), func(s string) bool { return s == "" })
	if len(items) == 0 {
		delete(card, vcard.FieldCategories)
		return nil
	}
	var params vcard.Params
	if f := card.Get(vcard.FieldCategories); f != nil {
		params = f.Params
	}
	card.Set(vcard.FieldCategories, &vcard.Field{Value: joinEscaped(items, ","), Params: params})
	return nil
}

// setBirthday writes BDAY in the card's version's date form: vCard 4 wants
// ISO 8601 basic ("19900517"), vCard 3 the extended form ("1990-05-17").
func setBirthday(card vcard.Card, v sdk.Value, field string) error {
	var t time.Time
	switch v.Kind {
	case sdk.KindNull:
		delete(card, vcard.FieldBirthday)
		return nil
	case sdk.KindDate, sdk.KindString:
		if v.Str == "" {
			delete(card, vcard.FieldBirthday)
			return nil
		}
		var err error
		if t, err = time.Parse(time.DateOnly, v.Str); err != nil {
			return sdk.FieldError(field, "birthday %q is not a date (YYYY-MM-DD)", v.Str)
		}
	case sdk.KindDateTime:
		t = v.Time
	default:
		return sdk.FieldError(field, "birthday takes a date, got %s", v.Kind)
	}
	layout := "2006-01-02"
	if strings.HasPrefix(card.Value(vcard.FieldVersion), "4") {
		layout = "20060102"
	}
	f := card.Get(vcard.FieldBirthday)
	if f == nil {
		f = &vcard.Field{}
	}
	// A VALUE=text birthday ("circa 1800") becomes a date: drop the parameter.
	if f.Params != nil {
		delete(f.Params, "VALUE")
	}
	f.Value = t.Format(layout)
	card.Set(vcard.FieldBirthday, f)
	return nil
}

// cardValues reads fields from card, in order.
func cardValues(card vcard.Card, fields []string) ([]sdk.Value, error) {
	out := make([]sdk.Value, len(fields))
	for i, f := range fields {
		v, err := cardValue(card, f)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// fillRequired gives a card what vCard requires (VERSION, FN, N) when the
// host did not: FN is derived from the name, organization or email.
func fillRequired(card vcard.Card) {
	if card.Get(vcard.FieldVersion) == nil {
		card.Set(vcard.FieldVersion, &vcard.Field{Value: "3.0"})
	}
	if card.Get(vcard.FieldName) == nil {
		card.Set(vcard.FieldName, &vcard.Field{Value: ";;;;"})
	}
	if card.Get(vcard.FieldFormattedName) != nil {
		return
	}
	name := strings.TrimSpace(component(card.Get(vcard.FieldName), nGiven).Str + " " +
		component(card.Get(vcard.FieldName), nFamily).Str)
	for _, alt := range []sdk.Value{component(card.Get(vcard.FieldOrganization), 0),
		text(card.Get(vcard.FieldEmail)), text(card.Get(vcard.FieldUID))} {
		if name != "" {
			break
		}
		name = alt.Str
	}
	card.Set(vcard.FieldFormattedName, &vcard.Field{Value: escapeText(name)})
}
