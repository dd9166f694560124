package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// hsRecord is a CRM object as the list, search and batch endpoints return it.
type hsRecord struct {
	ID                 string             `json:"id"`
	Properties         map[string]*string `json:"properties"`
	CreatedAt          string             `json:"createdAt"`
	UpdatedAt          string             `json:"updatedAt"`
	Archived           bool               `json:"archived"`
	ArchivedAt         string             `json:"archivedAt"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId"`
}

type paging struct {
	Next *struct {
		After string `json:"after"`
	} `json:"next"`
}

type page struct {
	Total   int        `json:"total"`
	Results []hsRecord `json:"results"`
	Paging  *paging    `json:"paging"`
}

func (p *page) more() bool {
	return p.Paging != nil && p.Paging.Next != nil && p.Paging.Next.After != ""
}

// cursor is where an incremental read resumes, as JSON: modifications up to
// M (ms since the epoch) are covered — all of them at M when MAll, else only
// the records MIDs at M — and archivings up to A, those at A being AIDs.
// Keeping the ids at the boundary instead of moving strictly past it means
// a record modified in the same millisecond as the last one read is not lost.
type cursor struct {
	V    int      `json:"v"`
	M    int64    `json:"m"`
	MIDs []string `json:"mi,omitempty"`
	MAll bool     `json:"ma,omitempty"`
	A    int64    `json:"a"`
	AIDs []string `json:"ai,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.V != 1 {
		return c, sdk.Errorf(sdk.CategoryPermanent, "cursor %q is not a HubSpot connector cursor", s)
	}
	return c, nil
}

func (c cursor) String() string {
	c.V = 1
	slices.Sort(c.MIDs)
	slices.Sort(c.AIDs)
	b, _ := json.Marshal(c)
	return string(b)
}

// searchPage is the search API's largest page.
const searchPage = 200

// listPage is the list API's largest page.
const listPage = 100

// Read implements sdk.Conn: a full read lists every record through the list
// API; an incremental one searches for records modified since the cursor
// and lists archived records for tombstones.
func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	m, err := c.meta(ctx, req.Object, false)
	if err != nil {
		return err
	}
	if err := m.checkFields(req.Fields); err != nil {
		return err
	}
	if req.Cursor == "" {
		return c.readFull(ctx, m, req.Fields, sink)
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	if err := c.readModified(ctx, m, req.Fields, &cur, sink); err != nil {
		return fmt.Errorf("read %s since %s: %w", m.name, req.Cursor, err)
	}
	if err := c.readArchived(ctx, m, &cur, sink); err != nil {
		return fmt.Errorf("read archived %s: %w", m.name, err)
	}
	return sink.Checkpoint(cur.String())
}

// record converts an API record to an sdk.Record with values for fields.
func (m *objMeta) record(r hsRecord, fields []string) sdk.Record {
	rec := sdk.Record{ID: r.ID, Version: r.UpdatedAt, Values: make([]sdk.Value, len(fields))}
	if t, ok := parseHSTime(r.UpdatedAt); ok {
		rec.ModifiedAt = t
	}
	for i, f := range fields {
		rec.Values[i] = fromHS(r.Properties[f], m.fields[f])
	}
	return rec
}

// modified is when r was last modified, in ms: its last-modified property
// (what search filters on), else updatedAt.
func (m *objMeta) modified(r hsRecord) int64 {
	if ms, ok := millis(r.Properties[m.modProp]); ok {
		return ms
	}
	ms, _ := millis(&r.UpdatedAt)
	return ms
}

// readFull lists every live record. The cursor it ends with is taken before
// listing: the newest modification time then (and the records at it), and
// the newest archiving; changes made while listing come again next time.
func (c *conn) readFull(ctx context.Context, m *objMeta, fields []string, sink sdk.RecordSink) error {
	var cur cursor
	newest, err := c.search(ctx, m, searchBody{
		Sorts: []sortSpec{{PropertyName: m.modProp, Direction: "DESCENDING"}}, Properties: []string{m.modProp}, Limit: 1})
	if err != nil {
		return fmt.Errorf("read %s: newest modification: %w", m.name, err)
	}
	if len(newest.Results) > 0 {
		cur.M = m.modified(newest.Results[0])
	}
	if err := c.readArchived(ctx, m, &cur, nil); err != nil {
		return fmt.Errorf("read %s: archived records: %w", m.name, err)
	}
	q := url.Values{"limit": {strconv.Itoa(listPage)}, "properties": {strings.Join(m.propertyNames(fields), ",")},
		"archived": {"false"}}
	batch := make([]sdk.Record, 0, listPage)
	for {
		var p page
		if _, err := c.getJSON(ctx, "/crm/v3/objects/"+m.path, q, &p); err != nil {
			return fmt.Errorf("list %s: %w", m.name, err)
		}
		batch = batch[:0]
		for _, r := range p.Results {
			if m.modified(r) == cur.M {
				cur.MIDs = append(cur.MIDs, r.ID)
			}
			batch = append(batch, m.record(r, fields))
		}
		if err := sink.Records(batch); err != nil {
			return err
		}
		if !p.more() {
			break
		}
		q.Set("after", p.Paging.Next.After)
	}
	return sink.Checkpoint(cur.String())
}

type filter struct {
	PropertyName string   `json:"propertyName"`
	Operator     string   `json:"operator"`
	Value        string   `json:"value,omitempty"`
	Values       []string `json:"values,omitempty"`
}

type filterGroup struct {
	Filters []filter `json:"filters"`
}

type sortSpec struct {
	PropertyName string `json:"propertyName"`
	Direction    string `json:"direction"`
}

type searchBody struct {
	FilterGroups []filterGroup `json:"filterGroups,omitempty"`
	Sorts        []sortSpec    `json:"sorts,omitempty"`
	Properties   []string      `json:"properties"`
	Limit        int           `json:"limit"`
	After        string        `json:"after,omitempty"`
}

func (c *conn) search(ctx context.Context, m *objMeta, body searchBody) (*page, error) {
	var p page
	if _, err := c.postJSON(ctx, "/crm/v3/objects/"+m.path+"/search", body, &p, true, c.searchLimit); err != nil {
		return nil, err
	}
	return &p, nil
}

// readModified hands over the records modified since cur through the search
// API, sorted by modification time, and moves cur along.
//
// Paging is by key, not by offset: every page is a new search from the
// newest modification time seen so far, skipping the records already handed
// over at that instant. So the search API's 10,000-result window is never
// reached however many records changed, and a record modified during the
// read cannot shift an unread one into pages already read (as `after`
// offsets would). When a whole page holds records already seen — more than
// a page share one millisecond — that millisecond is drained by record id,
// and the read goes on strictly after it.
func (c *conn) readModified(ctx context.Context, m *objMeta, fields []string, cur *cursor, sink sdk.RecordSink) error {
	seen := map[string]bool{}
	for _, id := range cur.MIDs {
		seen[id] = true
	}
	props := m.propertyNames(fields)
	for {
		op := "GTE"
		if cur.MAll {
			op = "GT"
		}
		p, err := c.search(ctx, m, searchBody{
			FilterGroups: []filterGroup{{Filters: []filter{{PropertyName: m.modProp, Operator: op, Value: strconv.FormatInt(cur.M, 10)}}}},
			Sorts:        []sortSpec{{PropertyName: m.modProp, Direction: "ASCENDING"}},
			Properties:   props, Limit: searchPage})
		if err != nil {
			return err
		}
		var out []sdk.Record
		for _, r := range p.Results {
			ts := m.modified(r)
			if ts == cur.M && (cur.MAll || seen[r.ID]) {
				continue
			}
			if ts > cur.M {
				cur.M, cur.MAll = ts, false
				clear(seen)
			}
			if ts == cur.M {
				seen[r.ID] = true
			}
			out = append(out, m.record(r, fields))
		}
		if len(out) > 0 {
			if err := sink.Records(out); err != nil {
				return err
			}
		}
		if !p.more() {
			break
		}
		if len(out) == 0 {
			if err := c.drain(ctx, m, fields, cur.M, seen, sink); err != nil {
				return err
			}
			cur.MAll = true
			clear(seen)
		}
		cur.MIDs = keysOf(seen)
		if err := sink.Checkpoint(cur.String()); err != nil {
			return err
		}
	}
	cur.MIDs = keysOf(seen)
	return nil
}

// drain hands over every record modified exactly at ms not in seen, paging
// by record id.
func (c *conn) drain(ctx context.Context, m *objMeta, fields []string, ms int64, seen map[string]bool, sink sdk.RecordSink) error {
	props := m.propertyNames(fields)
	last := "0"
	for {
		p, err := c.search(ctx, m, searchBody{
			FilterGroups: []filterGroup{{Filters: []filter{
				{PropertyName: m.modProp, Operator: "EQ", Value: strconv.FormatInt(ms, 10)},
				{PropertyName: "hs_object_id", Operator: "GT", Value: last}}}},
			Sorts:      []sortSpec{{PropertyName: "hs_object_id", Direction: "ASCENDING"}},
			Properties: props, Limit: searchPage})
		if err != nil {
			return fmt.Errorf("drain modifications at %d: %w", ms, err)
		}
		var out []sdk.Record
		for _, r := range p.Results {
			last = r.ID
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, m.record(r, fields))
			}
		}
		if len(out) > 0 {
			if err := sink.Records(out); err != nil {
				return err
			}
		}
		if !p.more() || len(p.Results) == 0 {
			return nil
		}
	}
}

// readArchived lists archived records; those archived after cur are handed
// to sink as tombstones (sink nil: only cur moves, for a full read).
// HubSpot's list API cannot filter archived records by time, so this walks
// all of them.
func (c *conn) readArchived(ctx context.Context, m *objMeta, cur *cursor, sink sdk.RecordSink) error {
	done := map[string]bool{}
	for _, id := range cur.AIDs {
		done[id] = true
	}
	from := cur.A
	newest, atNewest := cur.A, map[string]bool{}
	for id := range done {
		atNewest[id] = true
	}
	q := url.Values{"limit": {strconv.Itoa(listPage)}, "archived": {"true"}, "properties": {m.modProp}}
	for {
		var p page
		if _, err := c.getJSON(ctx, "/crm/v3/objects/"+m.path, q, &p); err != nil {
			return err
		}
		var out []sdk.Record
		for _, r := range p.Results {
			at, ok := millis(&r.ArchivedAt)
			if !ok {
				continue
			}
			if sink == nil {
				// Full read: only find the newest archiving.
				if at > newest {
					newest, atNewest = at, map[string]bool{}
				}
				if at == newest {
					atNewest[r.ID] = true
				}
				continue
			}
			if at < from || (at == from && done[r.ID]) {
				continue
			}
			if at > newest {
				newest, atNewest = at, map[string]bool{}
			}
			if at == newest {
				atNewest[r.ID] = true
			}
			rec := sdk.Record{ID: r.ID, Version: r.UpdatedAt, Deleted: true}
			if t, ok := parseHSTime(r.ArchivedAt); ok {
				rec.ModifiedAt = t
			}
			out = append(out, rec)
		}
		if len(out) > 0 {
			if err := sink.Records(out); err != nil {
				return err
			}
		}
		if !p.more() {
			break
		}
		q.Set("after", p.Paging.Next.After)
	}
	cur.A, cur.AIDs = newest, keysOf(atNewest)
	return nil
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
