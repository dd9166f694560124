package mapping

import (
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// DefaultMappings pairs the fields of two object types that mean the same
// thing: the same name first, then names equal ignoring case, _ - . and
// spaces (FirstName, first_name), then common synonyms (givenName, fname;
// telephoneNumber, phone_number; organization, company …). A field is mapped
// at most once on each side; types must be compatible (text goes with
// anything, numbers with numbers, dates with datetimes); id fields and the
// objects' external-id fields are left out, as are pairs read-only on both
// sides. A pair read-only on one side flows only away from it. The result is
// in left schema order.
func DefaultMappings(left, right sdk.ObjectType) []FieldMap {
	match := make([]int, len(left.Fields)) // index into right.Fields, or -1
	for i := range match {
		match[i] = -1
	}
	usedR := make([]bool, len(right.Fields))
	lkeys, rkeys := keys(left), keys(right)
	passes := []func(l, r int) bool{
		func(l, r int) bool { return left.Fields[l].Name == right.Fields[r].Name },
		func(l, r int) bool { return lkeys[l] == rkeys[r] },
		func(l, r int) bool {
			g := synonymGroup(lkeys[l])
			return g != "" && g == synonymGroup(rkeys[r])
		},
	}
	// Pass by pass, so a later exact match is not taken by an earlier synonym.
	for _, same := range passes {
		for l := range left.Fields {
			if match[l] >= 0 {
				continue
			}
			for r := range right.Fields {
				if !usedR[r] && same(l, r) && eligible(left, right, l, r, lkeys[l], rkeys[r]) {
					match[l], usedR[r] = r, true
					break
				}
			}
		}
	}
	var out []FieldMap
	for l, r := range match {
		if r < 0 {
			continue
		}
		lf, rf := left.Fields[l], right.Fields[r]
		m := FieldMap{Left: lf.Name, Right: rf.Name}
		switch {
		case lf.ReadOnly || left.ReadOnly:
			m.Direction = DirLeftToRight
		case rf.ReadOnly || right.ReadOnly:
			m.Direction = DirRightToLeft
		}
		out = append(out, m)
	}
	return out
}

func keys(o sdk.ObjectType) []string {
	out := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		out[i] = NameKey(f.Name)
	}
	return out
}

// NameKey is a field name lowercased, without _ - . and spaces: the form in
// which FirstName, first_name and first-name are one name.
func NameKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

func eligible(left, right sdk.ObjectType, l, r int, lkey, rkey string) bool {
	lf, rf := left.Fields[l], right.Fields[r]
	if idLike(lkey) || idLike(rkey) || lf.Name == left.ExternalIDField || rf.Name == right.ExternalIDField {
		return false // record ids are the links' business, not a mapping's
	}
	if (lf.ReadOnly || left.ReadOnly) && (rf.ReadOnly || right.ReadOnly) {
		return false // neither side could ever be written
	}
	return Compatible(lf.Type, rf.Type)
}

func idLike(key string) bool {
	switch key {
	case "id", "uuid", "guid", "objectguid", "entryuuid", "recordid", "rowid", "oid":
		return true
	}
	return false
}

// Compatible reports whether values of one field type can sensibly be written
// to the other: equal types, text with anything, numbers with numbers, dates
// with datetimes.
func Compatible(a, b sdk.FieldType) bool {
	if a == b || a == sdk.TypeString || b == sdk.TypeString || a == sdk.TypeUnspecified || b == sdk.TypeUnspecified {
		return true
	}
	class := func(t sdk.FieldType) int {
		switch t {
		case sdk.TypeInteger, sdk.TypeDecimal:
			return 1
		case sdk.TypeDate, sdk.TypeDateTime:
			return 2
		}
		return 0
	}
	return class(a) != 0 && class(a) == class(b)
}

// synonymGroup names the group of a NameKey, "" for none. A switch rather
// than a map: a table nobody can change at run time.
func synonymGroup(key string) string {
	switch key {
	case "firstname", "givenname", "fname", "forename", "first":
		return "first_name"
	case "lastname", "surname", "sn", "familyname", "lname", "last":
		return "last_name"
	case "middlename", "additionalname", "middle":
		return "middle_name"
	case "fullname", "name", "displayname", "cn", "commonname", "contactname":
		return "full_name"
	case "nickname", "nick":
		return "nickname"
	case "email", "mail", "emailaddress", "primaryemail", "workemail":
		return "email"
	case "phone", "phonenumber", "telephone", "telephonenumber", "tel", "workphone", "businessphone", "officephone":
		return "phone"
	case "mobile", "mobilephone", "cellphone", "cell", "mobilenumber", "mobiletelephonenumber":
		return "mobile"
	case "company", "organization", "organisation", "o", "org", "companyname", "organizationname", "employer":
		return "company"
	case "title", "jobtitle", "position":
		return "title"
	case "department", "dept", "ou", "organizationalunit":
		return "department"
	case "street", "streetaddress", "address", "address1", "addressline1", "street1":
		return "street"
	case "city", "l", "locality", "town":
		return "city"
	case "state", "st", "region", "province", "stateorprovince":
		return "state"
	case "postalcode", "zip", "zipcode", "postcode":
		return "postal_code"
	case "country", "c", "co", "countryname":
		return "country"
	case "website", "url", "homepage", "web", "wwwhomepage":
		return "website"
	case "notes", "note", "description", "comments", "comment":
		return "notes"
	case "birthday", "birthdate", "dateofbirth", "dob", "bday":
		return "birthday"
	case "tags", "labels":
		return "tags"
	case "lifecyclestage", "lifecycle", "stage":
		return "lifecycle_stage"
	case "createdat", "created", "createdon", "creationdate", "createtimestamp":
		return "created_at"
	case "updatedat", "modifiedat", "lastmodified", "modified", "updated", "updatedon", "modifytimestamp":
		return "updated_at"
	case "username", "login", "uid", "samaccountname":
		return "username"
	}
	return ""
}
