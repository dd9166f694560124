package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// inValues is how many values one IN filter may hold.
const inValues = 100

// Lookup implements sdk.Conn through the search API: the field IN the
// values (100 per search), paged by record id.
func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	m, err := c.meta(ctx, req.Object, false)
	if err != nil {
		return nil, err
	}
	if err := m.checkFields(append([]string{req.Field}, req.Fields...)); err != nil {
		return nil, err
	}
	f := m.fields[req.Field]
	var values []string
	seen := map[string]bool{}
	for _, v := range req.Values {
		s, err := toHS(v, f)
		if err != nil || s == "" {
			continue
		}
		if f.Type == sdk.TypeEmail {
			s = strings.ToLower(s) // HubSpot stores emails lower-cased
		}
		if !seen[s] {
			seen[s] = true
			values = append(values, s)
		}
	}
	var out []sdk.Record
	found := map[string]bool{}
	for start := 0; start < len(values); start += inValues {
		chunk := values[start:min(start+inValues, len(values))]
		last := "0"
		for {
			p, err := c.search(ctx, m, searchBody{
				FilterGroups: []filterGroup{{Filters: []filter{
					{PropertyName: req.Field, Operator: "IN", Values: chunk},
					{PropertyName: "hs_object_id", Operator: "GT", Value: last}}}},
				Sorts:      []sortSpec{{PropertyName: "hs_object_id", Direction: "ASCENDING"}},
				Properties: m.propertyNames(req.Fields), Limit: searchPage})
			if err != nil {
				return nil, fmt.Errorf("lookup %s by %s: %w", m.name, req.Field, err)
			}
			for _, r := range p.Results {
				last = r.ID
				if !found[r.ID] {
					found[r.ID] = true
					out = append(out, m.record(r, req.Fields))
				}
			}
			if !p.more() || len(p.Results) == 0 {
				break
			}
		}
	}
	return out, nil
}
