package hubspottest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type searchRequest struct {
	FilterGroups []struct {
		Filters []searchFilter `json:"filters"`
	} `json:"filterGroups"`
	Sorts      []json.RawMessage `json:"sorts"`
	Properties []string          `json:"properties"`
	Limit      int               `json:"limit"`
	After      json.RawMessage   `json:"after"`
	Query      string            `json:"query"`
}

type searchFilter struct {
	PropertyName string            `json:"propertyName"`
	Operator     string            `json:"operator"`
	Value        json.RawMessage   `json:"value"`
	HighValue    json.RawMessage   `json:"highValue"`
	Values       []json.RawMessage `json:"values"`
}

// text reads a JSON string or number as text (HubSpot takes either).
func text(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// Search limits HubSpot documents.
const (
	maxSearchPage     = 200
	maxFilterGroups   = 5
	maxGroupFilters   = 6
	maxFiltersTotal   = 18
	maxFilterInValues = 100
)

// search is POST /crm/v3/objects/{object}/search: filters (groups OR'ed,
// filters within a group AND'ed), one sort, offset paging up to the window.
// Archived records are never found.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.object(w, r)
	if o == nil {
		return
	}
	var req searchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "Invalid input JSON on line 1: "+err.Error())
		return
	}
	if req.Limit == 0 {
		req.Limit = 10
	}
	if req.Limit < 0 || req.Limit > maxSearchPage {
		badRequest(w, fmt.Sprintf("limit must be between 1 and %d", maxSearchPage))
		return
	}
	offset := 0
	if a := text(req.After); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			badRequest(w, fmt.Sprintf("Invalid after: %q", a))
			return
		}
		offset = n
	}
	s.stats.MaxSearchAfter = max(s.stats.MaxSearchAfter, offset)
	if offset >= s.opts.SearchWindow {
		s.stats.WindowErrors++
		badRequest(w, fmt.Sprintf("There was a problem with the request. The search window is limited to %d results (after=%d).",
			s.opts.SearchWindow, offset))
		return
	}
	total := 0
	if len(req.FilterGroups) > maxFilterGroups {
		badRequest(w, fmt.Sprintf("Too many filter groups: %d (max %d)", len(req.FilterGroups), maxFilterGroups))
		return
	}
	for _, g := range req.FilterGroups {
		total += len(g.Filters)
		if len(g.Filters) > maxGroupFilters {
			badRequest(w, fmt.Sprintf("Too many filters in a group: %d (max %d)", len(g.Filters), maxGroupFilters))
			return
		}
		for _, f := range g.Filters {
			if _, ok := o.byName[f.PropertyName]; !ok {
				badRequest(w, fmt.Sprintf("There was a problem with the request. Property %q does not exist", f.PropertyName))
				return
			}
			if len(f.Values) > maxFilterInValues {
				badRequest(w, fmt.Sprintf("Too many values for %s: %d (max %d)", f.Operator, len(f.Values), maxFilterInValues))
				return
			}
		}
	}
	if total > maxFiltersTotal {
		badRequest(w, fmt.Sprintf("Too many filters: %d (max %d)", total, maxFiltersTotal))
		return
	}
	if len(req.Sorts) > 1 {
		badRequest(w, "Only one sort is supported")
		return
	}
	sortProp, desc := "hs_object_id", false
	if len(req.Sorts) == 1 {
		var so struct {
			PropertyName string `json:"propertyName"`
			Direction    string `json:"direction"`
		}
		if json.Unmarshal(req.Sorts[0], &so) != nil {
			name := text(req.Sorts[0])
			so.PropertyName, so.Direction = strings.TrimPrefix(name, "-"), "ASCENDING"
			if strings.HasPrefix(name, "-") {
				so.Direction = "DESCENDING"
			}
		}
		if _, ok := o.byName[so.PropertyName]; !ok {
			badRequest(w, fmt.Sprintf("Cannot sort by unknown property %q", so.PropertyName))
			return
		}
		sortProp, desc = so.PropertyName, so.Direction == "DESCENDING"
	}
	var hits []*record
	for _, id := range o.ids {
		rec := o.recs[id]
		if rec.archived {
			continue
		}
		if len(req.FilterGroups) == 0 || slices.ContainsFunc(req.FilterGroups, func(g struct {
			Filters []searchFilter `json:"filters"`
		}) bool {
			for _, f := range g.Filters {
				if !o.match(rec, f) {
					return false
				}
			}
			return true
		}) {
			hits = append(hits, rec)
		}
	}
	slices.SortStableFunc(hits, func(a, b *record) int {
		c := o.compare(sortProp, a.props[sortProp], b.props[sortProp])
		if desc {
			c = -c
		}
		if c == 0 {
			return cmp.Compare(a.id, b.id)
		}
		return c
	})
	results := []recordJSON{}
	for i := offset; i < len(hits) && i < offset+req.Limit; i++ {
		results = append(results, o.render(hits[i], req.Properties))
	}
	body := map[string]any{"total": len(hits), "results": results}
	if offset+req.Limit < len(hits) {
		body["paging"] = map[string]any{"next": map[string]string{"after": strconv.Itoa(offset + req.Limit)}}
	}
	writeJSON(w, http.StatusOK, body)
}

// key turns a stored or filter value into something comparable for the
// property's type: numbers and times as float64 (ms), text case-folded.
func (o *object) key(name, v string) (float64, string, bool) {
	p := o.byName[name]
	switch p.Type {
	case "number":
		f, err := strconv.ParseFloat(v, 64)
		return f, "", err == nil
	case "datetime", "date":
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			return float64(ms), "", true
		}
		for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
			if t, err := time.Parse(layout, v); err == nil {
				return float64(t.UnixMilli()), "", true
			}
		}
		return 0, "", false
	}
	return 0, strings.ToLower(v), true
}

func (o *object) numeric(name string) bool {
	switch o.byName[name].Type {
	case "number", "datetime", "date":
		return true
	}
	return false
}

func (o *object) compare(name, a, b string) int {
	if a == "" || b == "" {
		return strings.Compare(b, a) // unset sorts last
	}
	fa, sa, _ := o.key(name, a)
	fb, sb, _ := o.key(name, b)
	if o.numeric(name) {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	return strings.Compare(sa, sb)
}

func (o *object) match(r *record, f searchFilter) bool {
	v, has := r.props[f.PropertyName]
	switch f.Operator {
	case "HAS_PROPERTY":
		return has
	case "NOT_HAS_PROPERTY":
		return !has
	case "IN", "NOT_IN":
		in := false
		for _, raw := range f.Values {
			if has && o.compare(f.PropertyName, v, text(raw)) == 0 {
				in = true
				break
			}
		}
		return in == (f.Operator == "IN")
	case "NEQ":
		return !has || o.compare(f.PropertyName, v, text(f.Value)) != 0
	}
	if !has {
		return false
	}
	c := o.compare(f.PropertyName, v, text(f.Value))
	switch f.Operator {
	case "EQ":
		return c == 0
	case "LT":
		return c < 0
	case "LTE":
		return c <= 0
	case "GT":
		return c > 0
	case "GTE":
		return c >= 0
	case "BETWEEN":
		return c >= 0 && o.compare(f.PropertyName, v, text(f.HighValue)) <= 0
	case "CONTAINS_TOKEN":
		return strings.Contains(strings.ToLower(v), strings.Trim(strings.ToLower(text(f.Value)), "*"))
	}
	return false
}
