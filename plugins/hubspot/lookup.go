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
// values (100 per search), paged by record id. With no field, the values
// are record ids, read with the batch read API (lookupIDs).
func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	m, err := c.meta(ctx, req.Object, false)
	if err != nil {
		return nil, err
	}
	if req.Field == "" {
		return c.lookupIDs(ctx, m, req)
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

// lookupIDs reads the records with the ids in req.Values, 100 a call to
// the batch read API (not the search API, which is rate-limited apart and
// lags behind writes); ids HubSpot does not know, and archived records,
// are left out.
func (c *conn) lookupIDs(ctx context.Context, m *objMeta, req sdk.LookupRequest) ([]sdk.Record, error) {
	if err := m.checkFields(req.Fields); err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, v := range req.Values {
		if id := strings.TrimSpace(v.Text()); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	recs, err := c.batchRead(ctx, m, ids, m.propertyNames(req.Fields))
	if err != nil {
		return nil, fmt.Errorf("lookup %s by id: %w", m.name, err)
	}
	var out []sdk.Record
	for _, r := range recs {
		if !r.Archived {
			out = append(out, m.record(r, req.Fields))
		}
	}
	return out, nil
}

// batchRead reads the records with ids (distinct), batchLimit a call to the
// batch read API, with properties; ids HubSpot does not know are left out.
func (c *conn) batchRead(ctx context.Context, m *objMeta, ids, properties []string) ([]hsRecord, error) {
	var out []hsRecord
	for start := 0; start < len(ids); start += batchLimit {
		in := struct {
			Properties []string     `json:"properties"`
			Inputs     []batchInput `json:"inputs"`
		}{Properties: properties}
		for _, id := range ids[start:min(start+batchLimit, len(ids))] {
			in.Inputs = append(in.Inputs, batchInput{ID: id})
		}
		var res batchResult
		if _, err := c.postJSON(ctx, "/crm/v3/objects/"+m.path+"/batch/read", in, &res, true, nil); err != nil {
			return nil, err
		}
		out = append(out, res.Results...)
	}
	return out, nil
}
