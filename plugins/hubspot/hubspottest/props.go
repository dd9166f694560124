package hubspottest

// Property is a property definition as the properties API returns it.
type Property struct {
	Name                 string               `json:"name"`
	Label                string               `json:"label"`
	Type                 string               `json:"type"`      // string, number, date, datetime, enumeration, bool, phone_number
	FieldType            string               `json:"fieldType"` // text, textarea, number, date, select, radio, checkbox, booleancheckbox, phonenumber, calculation_equation…
	Description          string               `json:"description"`
	GroupName            string               `json:"groupName"`
	Options              []Option             `json:"options"`
	DisplayOrder         int                  `json:"displayOrder"`
	Calculated           bool                 `json:"calculated"`
	ExternalOptions      bool                 `json:"externalOptions"`
	HasUniqueValue       bool                 `json:"hasUniqueValue"`
	Hidden               bool                 `json:"hidden"`
	HubspotDefined       bool                 `json:"hubspotDefined,omitempty"`
	ModificationMetadata ModificationMetadata `json:"modificationMetadata"`
	FormField            bool                 `json:"formField"`
	Archived             bool                 `json:"archived"`
	CreatedAt            string               `json:"createdAt,omitempty"`
	UpdatedAt            string               `json:"updatedAt,omitempty"`
}

// Option is one option of an enumeration property.
type Option struct {
	Label        string `json:"label"`
	Value        string `json:"value"`
	DisplayOrder int    `json:"displayOrder"`
	Hidden       bool   `json:"hidden"`
}

// ModificationMetadata says whether a property's value may be written.
type ModificationMetadata struct {
	Archivable         bool `json:"archivable"`
	ReadOnlyDefinition bool `json:"readOnlyDefinition"`
	ReadOnlyValue      bool `json:"readOnlyValue"`
}

func prop(name, label, typ, fieldType string) Property {
	return Property{Name: name, Label: label, Type: typ, FieldType: fieldType, GroupName: "contactinformation",
		Options: []Option{}, FormField: true, HubspotDefined: true,
		ModificationMetadata: ModificationMetadata{Archivable: true, ReadOnlyDefinition: true}}
}

func readOnly(p Property) Property {
	p.ModificationMetadata.ReadOnlyValue = true
	p.FormField = false
	return p
}

func calculated(p Property) Property {
	p.Calculated = true
	p.FieldType = "calculation_equation"
	return readOnly(p)
}

func custom(p Property) Property {
	p.HubspotDefined = false
	p.ModificationMetadata.ReadOnlyDefinition = false
	return p
}

func unique(p Property) Property {
	p.HasUniqueValue = true
	return p
}

func enum(p Property, values ...string) Property {
	for i, v := range values {
		p.Options = append(p.Options, Option{Label: v, Value: v, DisplayOrder: i})
	}
	return p
}

// ContactProperties is the contacts property set the server starts with: a
// subset of HubSpot's defaults plus a few custom properties covering every
// type and field type the connector maps.
func ContactProperties() []Property {
	return []Property{
		prop("email", "Email", "string", "text"),
		prop("firstname", "First Name", "string", "text"),
		prop("lastname", "Last Name", "string", "text"),
		prop("phone", "Phone Number", "string", "phonenumber"),
		prop("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
		prop("company", "Company Name", "string", "text"),
		prop("website", "Website URL", "string", "text"),
		prop("jobtitle", "Job Title", "string", "text"),
		prop("message", "Message", "string", "textarea"),
		enum(prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
			"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"),
		readOnly(prop("createdate", "Create Date", "datetime", "date")),
		readOnly(prop("lastmodifieddate", "Last Modified Date", "datetime", "date")),
		readOnly(prop("hs_object_id", "Record ID", "number", "number")),
		calculated(prop("hs_full_name_or_email", "Full name or email", "string", "text")),
		custom(prop("newsletter_opt_in", "Newsletter opt-in", "bool", "booleancheckbox")),
		custom(enum(prop("favorite_colors", "Favorite colors", "enumeration", "checkbox"), "red", "green", "blue")),
		custom(prop("birthday", "Birthday", "date", "date")),
		custom(prop("last_meeting", "Last meeting", "datetime", "date")),
		custom(prop("score", "Score", "number", "number")),
		unique(custom(prop("customer_number", "Customer number", "string", "text"))),
	}
}

// CompanyProperties is the companies property set the server starts with.
func CompanyProperties() []Property {
	return []Property{
		prop("name", "Company name", "string", "text"),
		prop("domain", "Company Domain Name", "string", "text"),
		prop("phone", "Phone Number", "string", "phonenumber"),
		prop("city", "City", "string", "text"),
		enum(prop("industry", "Industry", "enumeration", "select"), "ACCOUNTING", "COMPUTER_SOFTWARE", "RETAIL"),
		prop("numberofemployees", "Number of Employees", "number", "number"),
		prop("annualrevenue", "Annual Revenue", "number", "number"),
		readOnly(prop("createdate", "Create Date", "datetime", "date")),
		readOnly(prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date")),
		readOnly(prop("hs_object_id", "Record ID", "number", "number")),
	}
}
