package webapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// CategoryOf maps an HTTP status to the SDK's error category; 0 for success
// (1xx–3xx). Connectors refine it from the body where the app says more (a
// 409 that is a duplicate, a 400 that names a field).
func CategoryOf(status int) sdk.Category {
	switch {
	case status < 400:
		return sdk.CategoryUnspecified
	case status == http.StatusUnauthorized:
		return sdk.CategoryAuth
	case status == http.StatusForbidden:
		return sdk.CategoryForbidden
	case status == http.StatusNotFound, status == http.StatusGone:
		return sdk.CategoryNotFound
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return sdk.CategoryConflict
	case status == http.StatusTooManyRequests:
		return sdk.CategoryRateLimited
	case status == http.StatusBadRequest, status == http.StatusUnprocessableEntity:
		return sdk.CategoryValidation
	case status == http.StatusRequestTimeout, status == http.StatusLocked, status >= 500:
		return sdk.CategoryTransient
	}
	return sdk.CategoryPermanent
}

// StatusError returns the *sdk.Error for a failed response: its category from
// the status, the message given (or the status text), and for 429 (and 503)
// the Retry-After the server asked for.
func StatusError(status int, header http.Header, message string, now time.Time) *sdk.Error {
	if message == "" {
		message = http.StatusText(status)
	}
	e := &sdk.Error{Category: CategoryOf(status), Message: fmt.Sprintf("HTTP %d: %s", status, message)}
	if e.Category == sdk.CategoryRateLimited {
		if d, ok := ParseRetryAfter(header.Get("Retry-After"), now); ok {
			e.RetryAfter = d
		} else {
			e.RetryAfter = time.Second
		}
	}
	return e
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). A date in the past is a zero wait.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}
