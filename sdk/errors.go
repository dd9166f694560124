package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Category says what kind of failure an Error is, so the host can decide:
// retry, pause the connection, or report the record.
type Category uint8

// The error categories of the protocol.
const (
	CategoryUnspecified Category = iota
	CategoryValidation           // the record is refused: Field says which
	CategoryDuplicate            // a unique field already holds the value
	CategoryNotFound
	CategoryConflict    // the record changed since IfVersion
	CategoryRateLimited // try again after RetryAfter
	CategoryAuth        // credentials refused: pauses the connection
	CategoryTransient   // try again later
	CategoryPermanent   // will not work however often retried
	CategoryUnreachable // the app could not be reached
	CategoryForbidden   // authenticated, but not allowed
)

var categoryNames = [...]string{"unspecified", "validation", "duplicate", "not_found", "conflict",
	"rate_limited", "auth", "transient", "permanent", "unreachable", "forbidden"}

func (c Category) String() string {
	if int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return fmt.Sprintf("category(%d)", c)
}

// ParseCategory is the inverse of Category.String.
func ParseCategory(s string) (Category, bool) {
	for i, n := range categoryNames {
		if n == s {
			return Category(i), true
		}
	}
	return CategoryUnspecified, false
}

// Retryable reports whether an op failing with c may succeed unchanged later.
func (c Category) Retryable() bool {
	return c == CategoryRateLimited || c == CategoryTransient || c == CategoryUnreachable
}

// Error is a categorized failure; connectors return it (or wrap it) so the
// host knows what to do.
type Error struct {
	Category   Category
	Message    string
	Field      string        // validation, duplicate: the field at fault
	RetryAfter time.Duration // rate_limited
}

func (e *Error) Error() string {
	s := e.Category.String()
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Errorf returns an *Error of the given category.
func Errorf(c Category, format string, args ...any) *Error {
	return &Error{Category: c, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a validation error about one field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Category: CategoryValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// RateLimited returns a rate_limited error asking to wait d.
func RateLimited(d time.Duration, format string, args ...any) *Error {
	return &Error{Category: CategoryRateLimited, RetryAfter: d, Message: fmt.Sprintf(format, args...)}
}

// AsError finds the *Error in err's chain; a plain error becomes permanent
// (or transient for context cancellation), so every failure has a category.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Category: CategoryTransient, Message: err.Error()}
	}
	return &Error{Category: CategoryPermanent, Message: err.Error()}
}

// CategoryOf returns the category of err, CategoryUnspecified when err is nil.
func CategoryOf(err error) Category {
	if e := AsError(err); e != nil {
		return e.Category
	}
	return CategoryUnspecified
}
