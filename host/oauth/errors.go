package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/datasync-io/datasync/sdk"
	"golang.org/x/oauth2"
)

// ErrStateMismatch means a redirect carried another state than the authorization request sent:
// it did not come from this request (a stale browser tab, or a forged redirect).
var ErrStateMismatch = errors.New("the redirect's state does not match this authorization request " +
	"(a stale browser tab or a forged redirect): start again")

// ErrDeviceCodeExpired means the device code expired before the user approved it.
var ErrDeviceCodeExpired = errors.New("the device code expired before it was approved: start again")

// ErrNoToken means a connection's secrets hold no OAuth2 token.
var ErrNoToken = errors.New("no OAuth2 token stored")

// AuthorizationError is an error the provider answered to the authorization request (RFC 6749
// §4.1.2.1, RFC 8628 §3.5), e.g. access_denied.
type AuthorizationError struct {
	Code        string // error, e.g. access_denied, invalid_scope
	Description string // error_description, if any
	URI         string // error_uri, if any
}

func (e *AuthorizationError) Error() string {
	s := "the provider refused the authorization: " + e.Code
	if e.Description != "" {
		s += " (" + e.Description + ")"
	}
	if e.URI != "" {
		s += " see " + e.URI
	}
	return s
}

// ReauthRequiredError means a connection's refresh token no longer works (revoked, expired,
// reused after rotation, or absent): only an admin running the flow again can fix it. The host
// pauses the connection's syncs and reports one auth error. errors.As finds an *sdk.Error of
// category auth in it.
type ReauthRequiredError struct {
	Connection string
	Reason     string // what the provider said, for the admin
	Err        error  // the provider's answer, if any
}

func (e *ReauthRequiredError) Error() string {
	return fmt.Sprintf("connection %s must be re-authorized (%s): run `datasync connection reauth %s`",
		e.Connection, e.Reason, e.Connection)
}

// Unwrap gives the provider's error and an auth *sdk.Error, so code that sorts errors by
// sdk category (the engine) treats this one as the connection's auth failure.
func (e *ReauthRequiredError) Unwrap() []error {
	errs := []error{sdk.Errorf(sdk.CategoryAuth, "%s", e.Error())}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// RefreshError is a refresh that failed for another reason than a dead refresh token: transient
// (network, 5xx, 429: retried with backoff, then reported) or permanent (the provider refuses
// the client, e.g. invalid_client: fix the connection's client id/secret).
type RefreshError struct {
	Connection string
	Transient  bool
	Err        error
}

func (e *RefreshError) Error() string {
	if e.Transient {
		return fmt.Sprintf("refresh OAuth2 token of connection %s (transient, will retry): %v", e.Connection, e.Err)
	}
	return fmt.Sprintf("refresh OAuth2 token of connection %s: the provider refuses the client; "+
		"check its client id and secret: %v", e.Connection, e.Err)
}

// Unwrap gives the cause and an *sdk.Error: transient, or auth when permanent.
func (e *RefreshError) Unwrap() []error {
	cat := sdk.CategoryAuth
	if e.Transient {
		cat = sdk.CategoryTransient
	}
	return []error{sdk.Errorf(cat, "%s", e.Error()), e.Err}
}

// IsTransient reports whether err is a refresh failure worth retrying later.
func IsTransient(err error) bool {
	var re *RefreshError
	return errors.As(err, &re) && re.Transient
}

// refreshOutcome sorts a token endpoint failure for a refresh_token grant.
type refreshOutcome int

const (
	outcomeTransient refreshOutcome = iota
	outcomeDead                     // the refresh token is dead: re-authorize
	outcomePermanent                // the client is refused: fix its settings
)

func classify(err error) refreshOutcome {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return outcomeTransient
		}
		return outcomeTransient // network failure, unreadable answer
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch {
	case re.ErrorCode == "invalid_grant":
		return outcomeDead
	case re.ErrorCode == "temporarily_unavailable" || re.ErrorCode == "server_error",
		status >= 500, status == http.StatusTooManyRequests:
		return outcomeTransient
	case re.ErrorCode == "" && status == http.StatusBadRequest:
		// RFC 6749 §5.2 puts every grant error under 400; a bare 400 to a refresh (Glewlwyd's
		// answer to a revoked or replayed token) is the grant refused.
		return outcomeDead
	}
	return outcomePermanent
}

func reason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch {
		case re.ErrorCode != "" && re.ErrorDescription != "":
			return fmt.Sprintf("the provider answered %s: %s", re.ErrorCode, re.ErrorDescription)
		case re.ErrorCode != "":
			return "the provider answered " + re.ErrorCode
		case re.Response != nil:
			return "the provider refused the refresh token: HTTP " + re.Response.Status
		}
	}
	return "the refresh token was refused"
}
