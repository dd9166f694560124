package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/webapi"
)

// apiError is HubSpot's error body; every field is optional.
type apiError struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory"`
	CorrelationID string              `json:"correlationId"`
	ErrorType     string              `json:"errorType"`  // 429: RATE_LIMIT
	PolicyName    string              `json:"policyName"` // 429: SECONDLY, TEN_SECONDLY_ROLLING, DAILY
	Context       map[string][]string `json:"context"`
	Errors        []errorDetail       `json:"errors"`
}

// errorDetail is one entry of an error's errors[].
type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code"`
	In      string              `json:"in"`
	Context map[string][]string `json:"context"`
}

// send makes one call through the shared client. in is JSON-encoded when
// not nil. The response comes back whatever its status.
func (c *conn) send(ctx context.Context, method, path string, query url.Values, in any, idempotent bool, extra webapi.Limiter) (*webapi.Response, error) {
	return c.sendAttempts(ctx, method, path, query, in, idempotent, extra, 0)
}

// sendAttempts is send with a bound on attempts (0: the client's).
func (c *conn) sendAttempts(ctx context.Context, method, path string, query url.Values, in any, idempotent bool, extra webapi.Limiter, attempts int) (*webapi.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req := &webapi.Request{Method: method, URL: u, Idempotent: idempotent, Limiter: extra, Attempts: attempts,
		Header: http.Header{"Accept": {"application/json"}}}
	if in != nil {
		body, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		req.Body = body
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.api.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// getJSON GETs path into out; a non-2xx status is returned as an *sdk.Error.
func (c *conn) getJSON(ctx context.Context, path string, query url.Values, out any) (*webapi.Response, error) {
	resp, err := c.send(ctx, http.MethodGet, path, query, nil, true, nil)
	if err != nil {
		return nil, err
	}
	return resp, decode(resp, out)
}

// postJSON POSTs in and decodes a 2xx answer into out.
func (c *conn) postJSON(ctx context.Context, path string, in, out any, idempotent bool, extra webapi.Limiter) (*webapi.Response, error) {
	resp, err := c.send(ctx, http.MethodPost, path, nil, in, idempotent, extra)
	if err != nil {
		return nil, err
	}
	return resp, decode(resp, out)
}

func decode(resp *webapi.Response, out any) error {
	if resp.Status >= 300 {
		return responseError(resp)
	}
	if out == nil || len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return sdk.Errorf(sdk.CategoryPermanent, "decode HubSpot response (HTTP %d): %v", resp.Status, err)
	}
	return nil
}

// responseError maps a failed response onto an *sdk.Error: the status says
// the category, HubSpot's body refines it (a CONFLICT that is an existing
// record is a duplicate; a VALIDATION_ERROR names its property).
func responseError(resp *webapi.Response) *sdk.Error {
	var body apiError
	_ = json.Unmarshal(resp.Body, &body)
	msg := body.Message
	if msg == "" {
		msg = strings.TrimSpace(string(resp.Body))
	}
	if body.CorrelationID != "" {
		msg += " (correlation id " + body.CorrelationID + ")"
	}
	e := webapi.StatusError(resp.Status, resp.Header, msg, time.Now())
	refine(e, body.Category, body.Message, body)
	return e
}

// refine sets the category and field from HubSpot's error category and message.
func refine(e *sdk.Error, category, message string, body apiError) {
	switch category {
	case "VALIDATION_ERROR":
		e.Category = sdk.CategoryValidation
		e.Field = invalidProperty(message, body)
	case "CONFLICT", "OBJECT_ALREADY_EXISTS":
		if strings.Contains(message, "already exists") {
			e.Category = sdk.CategoryDuplicate
			e.Field = duplicateProperty(message)
		} else {
			e.Category = sdk.CategoryConflict
		}
	case "OBJECT_NOT_FOUND":
		e.Category = sdk.CategoryNotFound
	case "INVALID_AUTHENTICATION", "EXPIRED_AUTHENTICATION":
		e.Category = sdk.CategoryAuth
	case "MISSING_SCOPES", "INVALID_SCOPES":
		e.Category = sdk.CategoryForbidden
	case "RATE_LIMITS":
		e.Category = sdk.CategoryRateLimited
		if e.RetryAfter == 0 {
			e.RetryAfter = time.Second
		}
	}
	if body.ErrorType == "RATE_LIMIT" {
		e.Category = sdk.CategoryRateLimited
		if e.RetryAfter == 0 {
			e.RetryAfter = time.Second
		}
	}
}

// invalidProperty finds the property a VALIDATION_ERROR is about: in
// errors[].context.propertyName, else in the JSON list HubSpot embeds in the
// message ("Property values were not valid: [{…,"name":"email"}]").
func invalidProperty(message string, body apiError) string {
	for _, d := range body.Errors {
		if names := d.Context["propertyName"]; len(names) > 0 {
			return names[0]
		}
	}
	if i := strings.Index(message, "["); i >= 0 {
		var list []struct {
			Name  string `json:"name"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(message[i:]), &list) == nil && len(list) > 0 {
			return list[0].Name
		}
	}
	return ""
}

// duplicateProperty names the unique property a CONFLICT is about: email for
// "Contact already exists", else the quoted property of the message.
func duplicateProperty(message string) string {
	if strings.HasPrefix(message, "Contact already exists") {
		return "email"
	}
	const marker = "unique property '"
	if i := strings.Index(message, marker); i >= 0 {
		rest := message[i+len(marker):]
		if j := strings.Index(rest, "'"); j >= 0 {
			return rest[:j]
		}
	}
	return ""
}
