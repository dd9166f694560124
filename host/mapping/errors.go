package mapping

import (
	"strconv"
	"unicode/utf8"

	"github.com/datasync-io/datasync/sdk"
)

// The checks a ValidationError names in its Rule.
const (
	CheckRequired   = "required"   // a required field is missing or empty
	CheckFormat     = "format"     // email, phone, url or the schema's pattern
	CheckEnum       = "enum"       // not one of the field's options
	CheckLength     = "length"     // longer than the field's max length
	CheckType       = "type"       // the value's kind is not the field's type
	CheckConversion = "conversion" // the value could not be converted to the field's type
	CheckReadOnly   = "read_only"  // a read-only field is written
	CheckUnknown    = "unknown_field"
)

// maxShownValue bounds the value an error carries: errors are stored and shown
// per record, and a 1 MB note must not become a 1 MB error.
const maxShownValue = 200

// ValidationError says why a value cannot be written to a field, and how to fix it.
type ValidationError struct {
	Field   string
	Value   string // the offending value as text (cut to 200 characters)
	Rule    string // one of the Check* constants
	Message string
	Hint    string
}

func (e *ValidationError) Error() string {
	s := e.Field + ": " + e.Message
	if e.Value != "" && e.Rule != CheckRequired && e.Rule != CheckReadOnly && e.Rule != CheckUnknown {
		s += " (value " + strconv.Quote(e.Value) + ")"
	}
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func newError(field string, v sdk.Value, rule, msg, hint string) *ValidationError {
	return &ValidationError{Field: field, Value: shown(v.Text()), Rule: rule, Message: msg, Hint: hint}
}

func shown(s string) string {
	if utf8.RuneCountInString(s) <= maxShownValue {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShownValue {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
