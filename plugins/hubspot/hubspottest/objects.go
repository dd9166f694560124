package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

type object struct {
	typeID, name, fqn string
	singular          string
	upper             string // CONTACT, COMPANY: in error messages
	modProp, created  string
	custom            *CustomObject
	props             []Property
	byName            map[string]*Property
	recs              map[int64]*record
	ids               []int64 // ascending; includes archived
}

type record struct {
	id         int64
	props      map[string]string
	createdAt  time.Time
	updated    time.Time
	archived   bool
	archivedAt time.Time
}

func newObject(typeID, name, singular, upper, modProp string, props []Property) *object {
	o := &object{typeID: typeID, name: name, singular: singular, upper: upper, modProp: modProp, created: "createdate",
		props: props, byName: map[string]*Property{}, recs: map[int64]*record{}}
	for i := range o.props {
		o.byName[o.props[i].Name] = &o.props[i]
	}
	return o
}

func (o *object) sortedIDs() []int64 { return o.ids }

func (o *object) insert(id int64, props map[string]string, at time.Time) *record {
	r := &record{id: id, props: map[string]string{}, createdAt: at}
	for k, v := range props {
		if v != "" {
			r.props[k] = v
		}
	}
	r.props["hs_object_id"] = strconv.FormatInt(id, 10)
	r.props[o.created] = formatTime(at)
	o.stamp(r, at)
	o.recs[id] = r
	o.ids = append(o.ids, id) // ids only grow, so the slice stays sorted
	return r
}

// stamp sets r's modification time and the properties derived from others.
func (o *object) stamp(r *record, at time.Time) {
	r.updated = at
	r.props[o.modProp] = formatTime(at)
	if _, ok := o.byName["hs_full_name_or_email"]; ok {
		full := strings.TrimSpace(r.props["firstname"] + " " + r.props["lastname"])
		if full == "" {
			full = r.props["email"]
		}
		setOrClear(r.props, "hs_full_name_or_email", full)
	}
}

func setOrClear(m map[string]string, k, v string) {
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type recordJSON struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	CreatedAt          string             `json:"createdAt"`
	UpdatedAt          string             `json:"updatedAt"`
	Archived           bool               `json:"archived"`
	ArchivedAt         string             `json:"archivedAt,omitempty"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId,omitempty"`
	New                *bool              `json:"new,omitempty"` // upsert results
}

// defaults are the properties returned when a request names none.
func (o *object) defaults() []string {
	switch o.name {
	case "contacts":
		return []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}
	case "companies":
		return []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"}
	}
	return []string{o.created, "hs_lastmodifieddate", "hs_object_id"}
}

// render shows r with the named properties (unknown names are ignored, as
// HubSpot does; unset ones are null) plus the defaults.
func (o *object) render(r *record, names []string) recordJSON {
	out := recordJSON{ID: strconv.FormatInt(r.id, 10), Properties: map[string]*string{},
		CreatedAt: formatTime(r.createdAt), UpdatedAt: formatTime(r.updated), Archived: r.archived}
	if r.archived {
		out.ArchivedAt = formatTime(r.archivedAt)
	}
	if len(names) == 0 {
		names = o.defaults()
	}
	for _, n := range append(slices.Clone(names), "createdate", "hs_object_id", o.modProp) {
		if _, ok := o.byName[n]; !ok {
			continue
		}
		if v, ok := r.props[n]; ok {
			out.Properties[n] = &v
		} else {
			out.Properties[n] = nil
		}
	}
	return out
}

// propertyError is one entry of HubSpot's "Property values were not valid" list.
type propertyError struct {
	IsValid               bool   `json:"isValid"`
	Message               string `json:"message"`
	Error                 string `json:"error"`
	Name                  string `json:"name"`
	LocalizedErrorMessage string `json:"localizedErrorMessage"`
}

// normalize checks one property value as HubSpot would and returns the form
// stored ("" clears it).
func (o *object) normalize(name, v string) (string, *propertyError) {
	p, ok := o.byName[name]
	bad := func(code, msg string) (string, *propertyError) {
		return "", &propertyError{Message: msg, Error: code, Name: name, LocalizedErrorMessage: msg}
	}
	if !ok {
		return bad("PROPERTY_DOESNT_EXIST", fmt.Sprintf("Property \"%s\" does not exist", name))
	}
	if p.ModificationMetadata.ReadOnlyValue {
		return bad("READ_ONLY_VALUE", fmt.Sprintf("%s is a read only property; its value cannot be set.", name))
	}
	if v == "" {
		return "", nil
	}
	switch {
	case name == "email":
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != strings.TrimSpace(v) || !strings.Contains(a.Address[strings.LastIndex(a.Address, "@"):], ".") {
			return bad("INVALID_EMAIL", fmt.Sprintf("Email address %s is invalid", v))
		}
		return strings.ToLower(a.Address), nil
	case p.Type == "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return bad("INVALID_LONG", fmt.Sprintf("%s was not a valid number.", v))
		}
	case p.Type == "bool":
		if v != "true" && v != "false" {
			return bad("INVALID_BOOLEAN", fmt.Sprintf("%s was not a valid boolean.", v))
		}
	case p.Type == "date":
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			t := time.UnixMilli(ms).UTC()
			if t.Truncate(24*time.Hour) != t {
				return bad("INVALID_DATE", fmt.Sprintf("%s is not a midnight UTC timestamp.", v))
			}
			return t.Format(time.DateOnly), nil
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return bad("INVALID_DATE", fmt.Sprintf("%s was not a valid date.", v))
		}
	case p.Type == "datetime":
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return formatTime(time.UnixMilli(ms)), nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad("INVALID_DATETIME", fmt.Sprintf("%s was not a valid datetime.", v))
		}
		return formatTime(t.Truncate(time.Millisecond)), nil
	case p.Type == "enumeration":
		parts := []string{v}
		if p.FieldType == "checkbox" {
			parts = strings.Split(v, ";")
		}
		for _, part := range parts {
			if !slices.ContainsFunc(p.Options, func(op Option) bool { return op.Value == part }) {
				return bad("INVALID_OPTION", fmt.Sprintf("%s was not one of the allowed options: %s", part, optionList(p.Options)))
			}
		}
	}
	return v, nil
}

func optionList(opts []Option) string {
	var vals []string
	for _, op := range opts {
		vals = append(vals, fmt.Sprintf("[label: %q value: %q]", op.Label, op.Value))
	}
	return strings.Join(vals, ", ")
}

// validate normalizes a property map; on failure it returns HubSpot's
// VALIDATION_ERROR body.
func (o *object) validate(props map[string]*string) (map[string]string, *errorBody) {
	out := map[string]string{}
	var errs []propertyError
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := ""
		if props[n] != nil {
			v = *props[n]
		}
		nv, perr := o.normalize(n, v)
		if perr != nil {
			errs = append(errs, *perr)
			continue
		}
		out[n] = nv
	}
	if len(errs) == 0 {
		return out, nil
	}
	list, _ := json.Marshal(errs)
	body := &errorBody{Status: "error", CorrelationID: correlationID(), Category: "VALIDATION_ERROR",
		Message: "Property values were not valid: " + string(list)}
	for _, e := range errs {
		body.Errors = append(body.Errors, errorDetail{Message: e.Message, Code: e.Error,
			Context: map[string][]string{"propertyName": {e.Name}}})
	}
	return out, body
}

// uniqueNames are the properties no two live records may share: email for
// contacts, and those declared hasUniqueValue.
func (o *object) uniqueNames() []string {
	var out []string
	for _, p := range o.props {
		if p.HasUniqueValue || (o.name == "contacts" && p.Name == "email") {
			out = append(out, p.Name)
		}
	}
	return out
}

// conflict returns HubSpot's CONFLICT body when props would give record
// self (0 for a new one) a unique value another live record holds; pending
// are values claimed earlier in the same batch.
func (o *object) conflict(self int64, props map[string]string, pending map[string]map[string]int64) *errorBody {
	for _, n := range o.uniqueNames() {
		v, ok := props[n]
		if !ok || v == "" {
			continue
		}
		key := strings.ToLower(v)
		owner := pending[n][key]
		if owner == 0 {
			for _, r := range o.recs {
				if !r.archived && r.id != self && strings.ToLower(r.props[n]) == key {
					owner = r.id
					break
				}
			}
		}
		if owner != 0 && owner != self {
			msg := fmt.Sprintf("A %s with the value '%s' for the unique property '%s' already exists. Existing ID: %d", o.singular, v, n, owner)
			if o.name == "contacts" && n == "email" {
				msg = fmt.Sprintf("Contact already exists. Existing ID: %d", owner)
			}
			return &errorBody{Status: "error", Message: msg, CorrelationID: correlationID(), Category: "CONFLICT"}
		}
	}
	return nil
}

func claim(pending map[string]map[string]int64, o *object, props map[string]string, id int64) {
	for _, n := range o.uniqueNames() {
		if v := props[n]; v != "" {
			if pending[n] == nil {
				pending[n] = map[string]int64{}
			}
			pending[n][strings.ToLower(v)] = id
		}
	}
}
