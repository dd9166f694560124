package hubspottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

type client struct {
	t    *testing.T
	base string
	tok  string
}

func start(t *testing.T, opts Options) (*Server, *client) {
	s := New(opts)
	return s, &client{t: t, base: s.Start(t), tok: s.Token()}
}

// do sends a request and decodes the JSON answer (nil for none).
func (c *client) do(method, path string, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: HTTP %d, not JSON: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func inputs(props ...map[string]any) map[string]any {
	var in []map[string]any
	for _, p := range props {
		in = append(in, map[string]any{"properties": p})
	}
	return map[string]any{"inputs": in}
}

func TestAuth(t *testing.T) {
	_, c := start(t, Options{})
	c.tok = ""
	status, _, body := c.do("GET", "/crm/v3/objects/contacts", nil)
	if status != 401 || body["category"] != "INVALID_AUTHENTICATION" || body["status"] != "error" || body["correlationId"] == "" {
		t.Errorf("no token: %d %v", status, body)
	}
	c.tok = "wrong"
	if status, _, _ := c.do("GET", "/account-info/v3/details", nil); status != 401 {
		t.Errorf("wrong token: %d", status)
	}
}

func TestBatchCreateShapes(t *testing.T) {
	s, c := start(t, Options{})
	status, _, body := c.do("POST", "/crm/v3/objects/contacts/batch/create",
		inputs(map[string]any{"email": "A@Example.com", "firstname": "A"}, map[string]any{"email": "b@example.com"}))
	results, _ := body["results"].([]any)
	if status != 201 || body["status"] != "COMPLETE" || len(results) != 2 {
		t.Fatalf("create: %d %v", status, body)
	}
	first := results[0].(map[string]any)
	props := first["properties"].(map[string]any)
	if props["email"] != "a@example.com" || props["hs_object_id"] != first["id"] || props["lastmodifieddate"] != first["updatedAt"] {
		t.Errorf("created record: %v", first)
	}
	// One invalid input fails the whole batch: nothing is created.
	status, _, body = c.do("POST", "/crm/v3/objects/contacts/batch/create",
		inputs(map[string]any{"email": "c@example.com"}, map[string]any{"email": "not an email"}))
	if status != 400 || body["category"] != "VALIDATION_ERROR" || !strings.HasPrefix(body["message"].(string), "Property values were not valid: [") {
		t.Errorf("invalid email: %d %v", status, body)
	}
	status, _, body = c.do("POST", "/crm/v3/objects/contacts/batch/create", inputs(map[string]any{"email": "B@example.com"}))
	if status != 409 || body["category"] != "CONFLICT" || !strings.HasPrefix(body["message"].(string), "Contact already exists. Existing ID: ") {
		t.Errorf("duplicate email: %d %v", status, body)
	}
	if s.Count("contacts") != 2 {
		t.Errorf("%d contacts after refused batches", s.Count("contacts"))
	}
	// With objectWriteTraceId on every input: 207, per-input errors.
	status, _, body = c.do("POST", "/crm/v3/objects/contacts/batch/create", map[string]any{"inputs": []map[string]any{
		{"properties": map[string]any{"email": "d@example.com"}, "objectWriteTraceId": "t1"},
		{"properties": map[string]any{"email": "nope", "nosuch": "x"}, "objectWriteTraceId": "t2"},
	}})
	errs, _ := body["errors"].([]any)
	if status != 207 || body["numErrors"] != float64(1) || len(errs) != 1 {
		t.Fatalf("multi-status: %d %v", status, body)
	}
	e := errs[0].(map[string]any)
	if e["category"] != "VALIDATION_ERROR" || fmt.Sprint(e["context"].(map[string]any)["objectWriteTraceId"]) != "[t2]" ||
		!strings.Contains(e["message"].(string), "INVALID_EMAIL") || !strings.Contains(e["message"].(string), "PROPERTY_DOESNT_EXIST") {
		t.Errorf("multi-status error: %v", e)
	}
	if r := body["results"].([]any)[0].(map[string]any); r["objectWriteTraceId"] != "t1" {
		t.Errorf("result without its trace id: %v", r)
	}
	// Read-only and calculated properties cannot be set; too many inputs refused.
	for _, p := range []map[string]any{{"createdate": "2020-01-01"}, {"hs_full_name_or_email": "x"}, {"lifecyclestage": "boss"}} {
		if status, _, body := c.do("POST", "/crm/v3/objects/contacts/batch/create", inputs(p)); status != 400 {
			t.Errorf("create %v: %d %v", p, status, body)
		}
	}
	var many []map[string]any
	for i := range 101 {
		many = append(many, map[string]any{"email": fmt.Sprintf("m%d@example.com", i)})
	}
	if status, _, _ := c.do("POST", "/crm/v3/objects/contacts/batch/create", inputs(many...)); status != 400 {
		t.Errorf("101 inputs: %d", status)
	}
}

func TestBatchReadUpdateArchiveUpsert(t *testing.T) {
	s, c := start(t, Options{})
	id := s.Seed("contacts", map[string]string{"email": "x@example.com", "firstname": "X"}, time.Now().Add(-time.Hour))
	status, _, body := c.do("POST", "/crm/v3/objects/contacts/batch/read", map[string]any{"properties": []string{"firstname"},
		"inputs": []map[string]any{{"id": id}, {"id": "424242"}}})
	if status != 207 || len(body["results"].([]any)) != 1 || body["errors"].([]any)[0].(map[string]any)["category"] != "OBJECT_NOT_FOUND" {
		t.Errorf("batch read with a missing id: %d %v", status, body)
	}
	before := s.Values("contacts", "lastmodifieddate")[id]
	status, _, body = c.do("POST", "/crm/v3/objects/contacts/batch/update", map[string]any{"inputs": []map[string]any{
		{"id": id, "properties": map[string]any{"firstname": "Y"}}, {"id": "424242", "properties": map[string]any{"firstname": "Z"}}}})
	if status != 207 || s.Values("contacts", "firstname")[id] != "Y" {
		t.Errorf("update: %d %v", status, body)
	}
	if after := s.Values("contacts", "lastmodifieddate")[id]; after <= before {
		t.Errorf("lastmodifieddate %s after an update, was %s", after, before)
	}
	status, _, body = c.do("POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []map[string]any{
		{"idProperty": "email", "id": "X@example.com", "properties": map[string]any{"lastname": "L"}},
		{"idProperty": "email", "id": "new@example.com", "properties": map[string]any{"lastname": "N"}}}})
	res := body["results"].([]any)
	if status != 200 || len(res) != 2 || res[0].(map[string]any)["new"] != false || res[1].(map[string]any)["new"] != true {
		t.Errorf("upsert: %d %v", status, body)
	}
	if status, _, body := c.do("POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []map[string]any{
		{"idProperty": "firstname", "id": "Y", "properties": map[string]any{}}}}); status != 400 {
		t.Errorf("upsert by a non-unique property: %d %v", status, body)
	}
	status, _, _ = c.do("POST", "/crm/v3/objects/contacts/batch/archive", map[string]any{"inputs": []map[string]any{{"id": id}, {"id": "424242"}}})
	if status != 204 || s.Count("contacts") != 1 {
		t.Errorf("archive: %d, %d left", status, s.Count("contacts"))
	}
	_, _, body = c.do("GET", "/crm/v3/objects/contacts?archived=true", nil)
	arch := body["results"].([]any)
	if len(arch) != 1 || arch[0].(map[string]any)["archived"] != true || arch[0].(map[string]any)["archivedAt"] == nil {
		t.Errorf("archived list: %v", body)
	}
}

func TestListAndSearchPaging(t *testing.T) {
	s, c := start(t, Options{SearchWindow: 300})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 350 {
		s.Seed("contacts", map[string]string{"email": fmt.Sprintf("p%d@example.com", i)}, at.Add(time.Duration(i%7)*time.Minute))
	}
	seen := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		path := "/crm/v3/objects/contacts?limit=100&properties=email"
		if after != "" {
			path += "&after=" + after
		}
		status, _, body := c.do("GET", path, nil)
		if status != 200 || pages > 10 {
			t.Fatalf("list page: %d %v", status, body)
		}
		for _, r := range body["results"].([]any) {
			seen[r.(map[string]any)["id"].(string)] = true
		}
		p, ok := body["paging"].(map[string]any)
		if !ok {
			break
		}
		after = p["next"].(map[string]any)["after"].(string)
	}
	if len(seen) != 350 {
		t.Errorf("list paging saw %d records", len(seen))
	}
	if status, _, _ := c.do("GET", "/crm/v3/objects/contacts?limit=101", nil); status != 400 {
		t.Errorf("list limit 101: %d", status)
	}
	search := func(body map[string]any) (int, map[string]any) {
		status, _, out := c.do("POST", "/crm/v3/objects/contacts/search", body)
		return status, out
	}
	// Sorted ascending on lastmodifieddate, GTE filter in epoch ms.
	status, body := search(map[string]any{"limit": 200, "properties": []string{"email"},
		"sorts":        []map[string]any{{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}},
		"filterGroups": []map[string]any{{"filters": []map[string]any{{"propertyName": "lastmodifieddate", "operator": "GTE", "value": strconv.FormatInt(at.Add(5*time.Minute).UnixMilli(), 10)}}}}})
	if status != 200 || body["total"] != float64(100) {
		t.Fatalf("GTE search: %d total %v", status, body["total"])
	}
	prev := ""
	for _, r := range body["results"].([]any) {
		m := r.(map[string]any)["properties"].(map[string]any)["lastmodifieddate"].(string)
		if m < prev {
			t.Fatalf("not sorted: %s after %s", m, prev)
		}
		prev = m
	}
	// Paging past the window is refused with a 400.
	status, body = search(map[string]any{"limit": 200})
	if status != 200 || body["paging"].(map[string]any)["next"].(map[string]any)["after"] != "200" {
		t.Fatalf("first page: %d %v", status, body["paging"])
	}
	if status, body = search(map[string]any{"limit": 200, "after": "300"}); status != 400 || body["category"] != "VALIDATION_ERROR" {
		t.Errorf("after=300 with a window of 300: %d %v", status, body)
	}
	if st := s.Stats(); st.WindowErrors != 1 {
		t.Errorf("window errors %d", st.WindowErrors)
	}
	// IN (case-insensitive on text), limits on page size and filters.
	status, body = search(map[string]any{"filterGroups": []map[string]any{{"filters": []map[string]any{
		{"propertyName": "email", "operator": "IN", "values": []string{"P1@example.com", "p2@example.com", "zz@example.com"}}}}}})
	if status != 200 || body["total"] != float64(2) {
		t.Errorf("IN search: %d %v", status, body)
	}
	var groups []map[string]any
	for range 6 {
		groups = append(groups, map[string]any{"filters": []map[string]any{{"propertyName": "email", "operator": "HAS_PROPERTY"}}})
	}
	var values []string
	for i := range 101 {
		values = append(values, fmt.Sprint(i))
	}
	for what, body := range map[string]map[string]any{
		"limit 201":        {"limit": 201},
		"6 filter groups":  {"filterGroups": groups},
		"101 IN values":    {"filterGroups": []map[string]any{{"filters": []map[string]any{{"propertyName": "email", "operator": "IN", "values": values}}}}},
		"unknown property": {"filterGroups": []map[string]any{{"filters": []map[string]any{{"propertyName": "nosuch", "operator": "EQ", "value": "1"}}}}},
	} {
		if status, _ := search(body); status != 400 {
			t.Errorf("%s: %d, want 400", what, status)
		}
	}
}

func TestRateLimit(t *testing.T) {
	s, c := start(t, Options{PerSecond: 3})
	var limited int
	var last map[string]any
	var hdr http.Header
	for range 6 {
		status, h, body := c.do("GET", "/account-info/v3/details", nil)
		if status == 429 {
			limited++
			last, hdr = body, h
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 6 requests limited at 3 per second", limited)
	}
	if last["errorType"] != "RATE_LIMIT" || last["policyName"] != "SECONDLY" || last["status"] != "error" || hdr.Get("Retry-After") != "1" {
		t.Errorf("429: %v, Retry-After %q", last, hdr.Get("Retry-After"))
	}
	if st := s.Stats(); st.RateLimited != 3 || st.Requests != 6 {
		t.Errorf("stats %+v", st)
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, _ := c.do("GET", "/account-info/v3/details", nil); status != 200 {
		t.Errorf("after a second: %d", status)
	}
}

func TestStatsEndpoint(t *testing.T) {
	s, c := start(t, Options{})
	s.Seed("contacts", map[string]string{"email": "s@example.com"}, time.Now())
	status, _, body := c.do("GET", "/_contract/stats", nil)
	live, _ := body["live"].(map[string]any)
	if status != 200 || live["contacts"] != float64(1) || body["stats"].(map[string]any)["requests"] != float64(1) {
		t.Errorf("stats: %d %v", status, body)
	}
}
