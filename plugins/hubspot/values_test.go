package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/webapi"
)

func TestValuesRoundTrip(t *testing.T) {
	dec, _ := sdk.Decimal("-12.5")
	when := time.Date(2026, 5, 17, 8, 30, 15, 123_000_000, time.UTC)
	for _, tc := range []struct {
		typ  sdk.FieldType
		v    sdk.Value
		text string
	}{
		{sdk.TypeString, sdk.String("Zoë 北京"), "Zoë 北京"},
		{sdk.TypeEmail, sdk.String("a@example.com"), "a@example.com"},
		{sdk.TypeDecimal, dec, "-12.5"},
		{sdk.TypeBoolean, sdk.Bool(true), "true"},
		{sdk.TypeBoolean, sdk.Bool(false), "false"},
		{sdk.TypeDate, sdk.Date(when), "2026-05-17"},
		{sdk.TypeDateTime, sdk.DateTime(when), "2026-05-17T08:30:15.123Z"},
		{sdk.TypeStringList, sdk.StringList("red", "blue"), "red;blue"},
		{sdk.TypeEnum, sdk.String("lead"), "lead"},
	} {
		f := sdk.Field{Name: "f", Type: tc.typ}
		got, err := toHS(tc.v, f)
		if err != nil || got != tc.text {
			t.Errorf("toHS(%#v as %s) = %q, %v; want %q", tc.v, tc.typ, got, err, tc.text)
		}
		if back := fromHS(&tc.text, f); !back.Equal(tc.v) {
			t.Errorf("fromHS(%q as %s) = %#v, want %#v", tc.text, tc.typ, back, tc.v)
		}
	}
	// Null clears; empty and null read as null.
	if s, _ := toHS(sdk.Null, sdk.Field{Type: sdk.TypeDecimal}); s != "" {
		t.Errorf("null renders %q", s)
	}
	empty := ""
	if v := fromHS(&empty, sdk.Field{Type: sdk.TypeString}); !v.IsNull() {
		t.Errorf("empty reads %#v", v)
	}
	if v := fromHS(nil, sdk.Field{Type: sdk.TypeString}); !v.IsNull() {
		t.Errorf("null reads %#v", v)
	}
	// HubSpot's other forms: dates and datetimes as epoch milliseconds.
	ms := "1779006615123"
	if v := fromHS(&ms, sdk.Field{Type: sdk.TypeDateTime}); !v.Equal(sdk.DateTime(when)) {
		t.Errorf("datetime from ms: %#v", v)
	}
	midnight := "1778976000000"
	if v := fromHS(&midnight, sdk.Field{Type: sdk.TypeDate}); v.Str != "2026-05-17" {
		t.Errorf("date from ms: %#v", v)
	}
	junk := "lots"
	if v := fromHS(&junk, sdk.Field{Type: sdk.TypeDecimal}); v.Kind != sdk.KindString || v.Str != "lots" {
		t.Errorf("unparseable number reads %#v, want the text", v)
	}
	if _, err := toHS(sdk.StringList("a;b"), sdk.Field{Type: sdk.TypeStringList}); err == nil {
		t.Error("a list item with ';' was accepted")
	}
}

func TestResponseErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		cat    sdk.Category
		field  string
	}{
		{400, `{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address x is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","category":"VALIDATION_ERROR"}`,
			sdk.CategoryValidation, "email"},
		{400, `{"status":"error","message":"One or more validation errors occurred","category":"VALIDATION_ERROR","errors":[{"message":"bad","context":{"propertyName":["score"]}}]}`,
			sdk.CategoryValidation, "score"},
		{409, `{"status":"error","message":"Contact already exists. Existing ID: 123","category":"CONFLICT"}`, sdk.CategoryDuplicate, "email"},
		{409, `{"status":"error","message":"A contact with the value 'C-1' for the unique property 'customer_number' already exists. Existing ID: 5","category":"CONFLICT"}`,
			sdk.CategoryDuplicate, "customer_number"},
		{409, `{"status":"error","message":"version mismatch","category":"CONFLICT"}`, sdk.CategoryConflict, ""},
		{401, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`, sdk.CategoryAuth, ""},
		{403, `{"status":"error","message":"missing scopes","category":"MISSING_SCOPES"}`, sdk.CategoryForbidden, ""},
		{404, `{"status":"error","message":"not found","category":"OBJECT_NOT_FOUND"}`, sdk.CategoryNotFound, ""},
		{429, `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","policyName":"SECONDLY"}`, sdk.CategoryRateLimited, ""},
		{502, `<html>bad gateway</html>`, sdk.CategoryTransient, ""},
	} {
		e := responseError(&webapi.Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)})
		if e.Category != tc.cat || e.Field != tc.field {
			t.Errorf("HTTP %d %s: %v (field %q), want %s on %q", tc.status, tc.body, e, e.Field, tc.cat, tc.field)
		}
		if tc.cat == sdk.CategoryRateLimited && e.RetryAfter <= 0 {
			t.Errorf("429 without Retry-After: RetryAfter %v", e.RetryAfter)
		}
	}
}

func TestCursorFormat(t *testing.T) {
	c := cursor{M: 1700000000123, MIDs: []string{"9", "10"}, A: 1700000000000, AIDs: []string{"3"}}
	s := c.String()
	if s != `{"v":1,"m":1700000000123,"mi":["10","9"],"a":1700000000000,"ai":["3"]}` {
		t.Errorf("cursor %s", s)
	}
	back, err := parseCursor(s)
	if err != nil || back.M != c.M || len(back.MIDs) != 2 || back.A != c.A {
		t.Errorf("parse %s: %+v, %v", s, back, err)
	}
	for _, bad := range []string{"12", `{"m":1}`, "not json"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}
