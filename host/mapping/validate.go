package mapping

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

// Validate checks a value about to be written to field f: required (a null or
// empty value in a required field), type (the value's kind is the field's),
// format (email, phone, url, and the schema's pattern, which must match the
// whole value), enum (one of the options, exactly as spelled) and max length
// (in characters). It returns nil when the value is fine. Read-only fields are
// checked by ValidateRecord. Validate compiles f's pattern on every call: for
// many records use a Validator.
func Validate(f sdk.Field, v sdk.Value) *ValidationError {
	return validate(&f, v, compilePattern(f.Pattern))
}

// ValidateRecord checks one write of values (aligned with fields) to obj:
// every value with Validate, no field unknown to obj or read-only, and on
// create every required writable field present. An update is a patch, so a
// required field it does not set is fine, but one it sets empty is not.
func ValidateRecord(obj sdk.ObjectType, fields []string, values []sdk.Value, create bool) []*ValidationError {
	return NewValidator(obj).Record(fields, values, create)
}

// Validator validates many records against one object type, compiling the
// schema's patterns once. It is safe for concurrent use.
type Validator struct {
	obj      sdk.ObjectType
	index    map[string]int   // obj.Fields' positions by name
	patterns []*regexp.Regexp // obj.Fields' compiled patterns; nil where a field has none
	required []int            // the positions of obj's required writable fields
}

// NewValidator prepares the checks of obj's fields. A pattern Go's regexp
// cannot compile (lookaheads and the like) is not enforced: the app still
// refuses values that break it.
func NewValidator(obj sdk.ObjectType) *Validator {
	v := &Validator{obj: obj, index: make(map[string]int, len(obj.Fields)), patterns: make([]*regexp.Regexp, len(obj.Fields))}
	for i := range obj.Fields {
		f := &obj.Fields[i]
		if _, dup := v.index[f.Name]; !dup {
			v.index[f.Name] = i // the first of a name, as ObjectType.Field
		}
		v.patterns[i] = compilePattern(f.Pattern)
		if f.Required && !f.ReadOnly {
			v.required = append(v.required, i)
		}
	}
	return v
}

// Value validates one value of the named field as Validate does.
func (x *Validator) Value(f sdk.Field, v sdk.Value) *ValidationError {
	if i, ok := x.index[f.Name]; ok && x.obj.Fields[i].Pattern == f.Pattern {
		return validate(&f, v, x.patterns[i])
	}
	return validate(&f, v, compilePattern(f.Pattern)) // a field not from obj
}

// Record validates one write as ValidateRecord does.
func (x *Validator) Record(fields []string, values []sdk.Value, create bool) []*ValidationError {
	var errs []*ValidationError
	for i, name := range fields {
		v := sdk.Null
		if i < len(values) {
			v = values[i]
		}
		fi, ok := x.index[name]
		if !ok {
			errs = append(errs, &ValidationError{Field: name, Value: shown(v.Text()), Rule: CheckUnknown,
				Message: fmt.Sprintf("%s has no field %s", x.obj.Name, name),
				Hint:    fmt.Sprintf("remove the mapping to %s, or map to a field listed by `datasync connection schema`", name)})
			continue
		}
		f := &x.obj.Fields[fi]
		if f.ReadOnly {
			errs = append(errs, &ValidationError{Field: name, Value: shown(v.Text()), Rule: CheckReadOnly,
				Message: name + " is read-only in " + x.obj.Name,
				Hint:    "set the mapping of " + name + " to flow only towards the other side (--direction), or remove it"})
			continue
		}
		if e := validate(f, v, x.patterns[fi]); e != nil {
			errs = append(errs, e)
		}
	}
	if create {
		for _, i := range x.required {
			if f := &x.obj.Fields[i]; !contains(fields, f.Name) {
				errs = append(errs, &ValidationError{Field: f.Name, Rule: CheckRequired,
					Message: f.Name + " is required",
					Hint:    "add a value for " + f.Name + " in the source, or map a field into it"})
			}
		}
	}
	return errs
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func compilePattern(p string) *regexp.Regexp {
	if p == "" {
		return nil
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	if err != nil {
		return nil
	}
	return re
}

func validate(f *sdk.Field, v sdk.Value, pattern *regexp.Regexp) *ValidationError {
	if v.IsEmpty() {
		if f.Required {
			return newError(f.Name, v, CheckRequired, f.Name+" is required",
				"add a value for "+f.Name+" in the source, or map a field into it")
		}
		return nil
	}
	if f.Type != sdk.TypeUnspecified && v.Kind != f.Type.ValueKind() {
		return newError(f.Name, v, CheckType,
			fmt.Sprintf("expected a %s value, got a %s", f.Type, v.Kind),
			fmt.Sprintf("map a %s field into %s, or one whose values convert to it", f.Type, f.Name))
	}
	text := v.Text()
	switch f.Type {
	case sdk.TypeDate:
		if _, err := time.Parse(time.DateOnly, v.Str); err != nil {
			return newError(f.Name, v, CheckFormat, "is not a date in the form YYYY-MM-DD",
				"this is a bug in the connector that produced the value; report it to its vendor")
		}
	case sdk.TypeEmail:
		if why := EmailProblem(text); why != "" {
			return newError(f.Name, v, CheckFormat, "is not a valid email address",
				"fix the email in the source record ("+why+")")
		}
	case sdk.TypePhone:
		if why := PhoneProblem(text); why != "" {
			return newError(f.Name, v, CheckFormat, "is not a valid phone number",
				"fix the phone number in the source record ("+why+"); use digits, spaces and + - ( ) . e.g. +1 555 123 4567")
		}
	case sdk.TypeURL:
		if why := URLProblem(text); why != "" {
			return newError(f.Name, v, CheckFormat, "is not a valid URL",
				"fix the URL in the source record ("+why+"), e.g. https://example.com")
		}
	case sdk.TypeEnum:
		if len(f.EnumOptions) > 0 && !containsExact(f.EnumOptions, v.Str) {
			return newError(f.Name, v, CheckEnum, "is not one of the options of "+f.Name,
				"use one of: "+optionList(f.EnumOptions)+" or add a --value-map")
		}
	}
	if pattern != nil {
		items := []string{text}
		if v.Kind == sdk.KindStringList {
			items = v.List
		}
		for _, s := range items {
			if !pattern.MatchString(s) {
				return newError(f.Name, v, CheckFormat, "does not match the pattern "+f.Pattern+" of "+f.Name,
					"change the value in the source so that it matches "+f.Pattern)
			}
		}
	}
	if f.MaxLength > 0 {
		if n := utf8.RuneCountInString(text); n > f.MaxLength {
			return newError(f.Name, v, CheckLength,
				fmt.Sprintf("is %d characters long; %s holds at most %d", n, f.Name, f.MaxLength),
				fmt.Sprintf("shorten it in the source to at most %d characters", f.MaxLength))
		}
	}
	return nil
}

func containsExact(options []string, s string) bool {
	for _, o := range options {
		if o == s {
			return true
		}
	}
	return false
}

// EmailProblem says what is wrong with an email address, "" when nothing: one
// bare address (no display name, no spaces), a dotted domain.
func EmailProblem(s string) string {
	switch {
	case s == "":
		return "it is empty"
	case strings.ContainsAny(s, "<>\""):
		return "keep only the address, without a name or <>"
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return "it has a space"
	case !strings.Contains(s, "@"):
		return "it has no @"
	case strings.Count(s, "@") > 1:
		return "it has more than one @"
	case len(s) > 254:
		return "it is longer than 254 characters"
	}
	local, domain, _ := strings.Cut(s, "@")
	switch {
	case local == "":
		return "nothing before the @"
	case len(local) > 64:
		return "the part before the @ is longer than 64 characters"
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return "misplaced dot before the @"
	case domain == "":
		return "nothing after the @"
	}
	for _, r := range local {
		if !emailLocalRune(r) {
			return fmt.Sprintf("%q is not allowed in an address", r)
		}
	}
	return domainProblem(domain)
}

func emailLocalRune(r rune) bool {
	if r >= utf8.RuneSelf {
		return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
	}
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		strings.ContainsRune("!#$%&'*+/=?^_`{|}~.-", r)
}

// domainProblem checks a host name with at least two labels.
func domainProblem(d string) string {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "the domain after the @ has no dot"
	}
	for _, l := range labels {
		switch {
		case l == "":
			return "misplaced dot in the domain"
		case len(l) > 63:
			return "a part of the domain is longer than 63 characters"
		case strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-"):
			return "a part of the domain starts or ends with -"
		}
		for _, r := range l {
			if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) || r == utf8.RuneError {
				return fmt.Sprintf("%q is not allowed in the domain", r)
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.IndexFunc(tld, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return "the domain ends in a number"
	}
	return ""
}

// PhoneProblem says what is wrong with a phone number, "" when nothing:
// digits, spaces, + (first), - ( ) . and an optional extension (x123, ext. 123),
// at least 5 and at most 20 digits before the extension.
func PhoneProblem(s string) string {
	number, ext := s, ""
	if i := strings.IndexFunc(s, unicode.IsLetter); i >= 0 {
		number, ext = s[:i], s[i:]
	}
	if ext != "" {
		rest := strings.ToLower(ext)
		for _, p := range []string{"extension", "ext.", "ext", "x"} {
			if strings.HasPrefix(rest, p) {
				rest = strings.TrimSpace(rest[len(p):])
				break
			}
		}
		if rest == "" || strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return "it has letters; only an extension like x123 may follow the number"
		}
	}
	digits := 0
	for i, r := range strings.TrimSpace(number) {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+':
			if i != 0 {
				return "+ may only come first"
			}
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return fmt.Sprintf("%q is not allowed in a phone number", r)
		}
	}
	if digits < 5 {
		return "it has fewer than 5 digits"
	}
	if digits > 20 {
		return "it has more than 20 digits"
	}
	return ""
}

// URLProblem says what is wrong with a web address, "" when nothing: http or
// https, a host, no spaces.
func URLProblem(s string) string {
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "it has a space"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "it does not parse as a URL"
	case u.Scheme == "":
		return "it has no http:// or https://"
	case !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		return "it is a " + u.Scheme + ": address, not http or https"
	case u.Host == "" || u.Hostname() == "":
		return "it has no host after the //"
	}
	return ""
}
