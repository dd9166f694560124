package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/go-ldap/ldap/v3"
)

// Operational attributes read with every entry: they make the version and
// the incremental cursor.
const (
	attrModifyTS = "modifyTimestamp"
	attrCSN      = "entryCSN"
)

const genTimeLayout = "20060102150405Z0700"

// cursor is where an incremental read resumes: entries modified at or after
// TS, but for those already seen ("id#modifyTimestamp#entryCSN"): timestamps
// have whole seconds, and a second may hold more changes after the read.
type cursor struct {
	TS   string   `json:"ts,omitempty"` // GeneralizedTime as the server gives it
	Seen []string `json:"seen,omitempty"`
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return cursor{}, fmt.Errorf("cursor %q: %w", s, err)
	}
	if c.TS != "" {
		if _, err := parseGenTime(c.TS); err != nil {
			return cursor{}, fmt.Errorf("cursor %q: %w", s, err)
		}
	}
	return c, nil
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func parseGenTime(s string) (time.Time, error) {
	// GeneralizedTime may carry a fraction ("20240101120000.123456Z").
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		frac := s[i+1 : j]
		t, err := time.Parse(genTimeLayout, s[:i]+s[j:])
		if err != nil {
			return time.Time{}, err
		}
		n, _ := strconv.Atoi((frac + "000000000")[:9])
		return t.Add(time.Duration(n)), nil
	}
	return time.Parse(genTimeLayout, s)
}

// version is what changes on every write: modifyTimestamp and entryCSN (a
// CSN carries microseconds and a change count; not every server has one).
func entryVersion(e *ldap.Entry) string {
	ts, csn := e.GetEqualFoldAttributeValue(attrModifyTS), e.GetEqualFoldAttributeValue(attrCSN)
	if csn == "" {
		return ts
	}
	return ts + "#" + csn
}

// attrsFor lists the attributes a read of fields needs.
func (o *object) attrsFor(fields []string) ([]string, error) {
	attrs := []string{attrModifyTS, attrCSN}
	if o.idAttr != "" {
		attrs = append(attrs, o.idAttr)
	}
	for _, f := range fields {
		af, ok := o.fields[f]
		if !ok {
			return nil, sdk.FieldError(f, "%s has no field %q", o.typ.Name, f)
		}
		if af.Attr != "" && !slices.Contains(attrs, af.Attr) {
			attrs = append(attrs, af.Attr)
		}
	}
	return attrs, nil
}

// record turns an entry into a record with fields' values.
func (o *object) record(e *ldap.Entry, fields []string) sdk.Record {
	r := sdk.Record{ID: o.idOf(e), Version: entryVersion(e), Values: make([]sdk.Value, len(fields))}
	if t, err := parseGenTime(e.GetEqualFoldAttributeValue(attrModifyTS)); err == nil {
		r.ModifiedAt = t.UTC()
	}
	for i, f := range fields {
		if f == fieldDN {
			r.Values[i] = sdk.String(e.DN)
			continue
		}
		r.Values[i] = o.fields[f].value(e.GetEqualFoldAttributeValues(o.fields[f].Attr))
	}
	return r
}

// idOf is an entry's record id: its entryUUID, or its DN.
func (o *object) idOf(e *ldap.Entry) string {
	if o.idAttr != "" {
		if id := e.GetEqualFoldAttributeValue(o.idAttr); id != "" {
			return id
		}
	}
	return e.DN
}

// value converts an attribute's values: the first one for a scalar field,
// all for a list field; nothing is null. A value that does not parse as
// the field's type is null (and stays in the directory untouched).
func (af attrField) value(vals []string) sdk.Value {
	if len(vals) == 0 {
		return sdk.Null
	}
	if af.IsList {
		return sdk.StringList(slices.Clone(vals)...)
	}
	v := vals[0]
	switch af.Type {
	case sdk.TypeInteger:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return sdk.Int(n)
		}
		return sdk.Null
	case sdk.TypeBoolean:
		switch strings.ToUpper(v) {
		case "TRUE":
			return sdk.Bool(true)
		case "FALSE":
			return sdk.Bool(false)
		}
		return sdk.Null
	case sdk.TypeDateTime:
		if t, err := parseGenTime(v); err == nil {
			return sdk.DateTime(t)
		}
		return sdk.Null
	}
	return sdk.String(v)
}

// baseFilter selects the entries of the object: its class and the
// configured filter.
func (c *conn) baseFilter(o *object, extra string) string {
	f := "(objectClass=" + ldap.EscapeFilter(o.typ.Name) + ")" + c.s.filter + extra
	return "(&" + f + ")"
}

// search runs a subtree search below the base DN in pages (RFC 2696),
// handing each page to fn; it returns how many pages it took.
func (c *conn) search(ctx context.Context, filter string, attrs []string, fn func([]*ldap.Entry) error) (int, error) {
	lc, err := c.client()
	if err != nil {
		return 0, err
	}
	paging := ldap.NewControlPaging(c.pageSize)
	req := ldap.NewSearchRequest(c.s.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, []ldap.Control{paging})
	pages := 0
	for {
		if err := ctx.Err(); err != nil {
			c.abandon(lc, req, paging)
			return pages, err
		}
		res, err := lc.Search(req)
		if err != nil {
			if ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
				c.drop(lc)
			}
			return pages, c.mapErr(err, "search "+c.s.baseDN)
		}
		pages++
		if err := fn(res.Entries); err != nil {
			c.abandon(lc, req, paging)
			return pages, err
		}
		ctl, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(ctl.Cookie) == 0 {
			return pages, nil
		}
		paging.SetCookie(ctl.Cookie)
	}
}

// abandon tells the server a paged search ends early (page size 0).
func (c *conn) abandon(lc *ldap.Conn, req *ldap.SearchRequest, paging *ldap.ControlPaging) {
	if len(paging.Cookie) == 0 {
		return
	}
	paging.PagingSize = 0
	_, _ = lc.Search(req)
}

func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	o, err := c.objectFor(ctx, req.Object)
	if err != nil {
		return err
	}
	attrs, err := o.attrsFor(req.Fields)
	if err != nil {
		return err
	}
	cur, err := parseCursor(req.Cursor)
	if err != nil {
		sdk.Logger(ctx).Warn("unreadable cursor: reading everything", "error", err)
		cur = cursor{}
	}
	seen := map[string]bool{}
	for _, s := range cur.Seen {
		seen[s] = true
	}
	extra := ""
	if cur.TS != "" {
		extra = "(" + attrModifyTS + ">=" + ldap.EscapeFilter(cur.TS) + ")"
	}
	win := window{keys: map[string]time.Time{}}
	recs := make([]sdk.Record, 0, c.pageSize)
	pages, err := c.search(ctx, c.baseFilter(o, extra), attrs, func(entries []*ldap.Entry) error {
		recs = recs[:0]
		for _, e := range entries {
			ts := e.GetEqualFoldAttributeValue(attrModifyTS)
			key := o.idOf(e) + "#" + ts + "#" + e.GetEqualFoldAttributeValue(attrCSN)
			if t, err := parseGenTime(ts); err == nil {
				win.add(key, t)
			}
			if seen[key] {
				continue // read before, unchanged since
			}
			recs = append(recs, o.record(e, req.Fields))
		}
		if len(recs) == 0 {
			return nil
		}
		return sink.Records(recs)
	})
	if err != nil {
		return err
	}
	sdk.Logger(ctx).Debug("read", "object", o.typ.Name, "pages", pages, "since", cur.TS)
	next := cur
	if !win.max.IsZero() {
		next = win.cursor()
	}
	return sink.Checkpoint(next.String())
}

// cursorLag is how far before the newest modifyTimestamp read the next read
// starts again: a change committed a moment after a later one (concurrent
// writers) still has a timestamp inside it. The entries read within it are
// remembered (id, timestamp, entryCSN) and skipped unless changed.
const cursorLag = time.Second

// window keeps the entries of the last cursorLag before the newest
// timestamp seen so far.
type window struct {
	max  time.Time
	keys map[string]time.Time
}

func (w *window) add(key string, t time.Time) {
	if t.After(w.max) {
		w.max = t
		for k, kt := range w.keys {
			if kt.Before(w.max.Add(-cursorLag)) {
				delete(w.keys, k)
			}
		}
	}
	if !t.Before(w.max.Add(-cursorLag)) {
		w.keys[key] = t
	}
}

func (w *window) cursor() cursor {
	c := cursor{TS: w.max.Add(-cursorLag).UTC().Format("20060102150405Z")}
	for k := range w.keys {
		c.Seen = append(c.Seen, k)
	}
	slices.Sort(c.Seen)
	return c
}

// Lookup searches for entries whose attribute equals one of the values
// (with the attribute's own matching rule: mail case-insensitively). With
// no field the values are record ids: entryUUIDs (ids that are DNs, where
// the server has no entryUUID, cannot be looked up so).
func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	o, err := c.objectFor(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	attr := o.idAttr
	if req.Field != "" {
		af, ok := o.fields[req.Field]
		if !ok || af.Attr == "" {
			return nil, sdk.FieldError(req.Field, "%s has no field %q to look up by", o.typ.Name, req.Field)
		}
		attr = af.Attr
	} else if attr == "" {
		return nil, sdk.FieldError("", "%s entries are known by DN here (no entryUUID): no lookup by id", o.typ.Name)
	}
	attrs, err := o.attrsFor(req.Fields)
	if err != nil {
		return nil, err
	}
	var or strings.Builder
	for _, v := range req.Values {
		items := []string{v.Text()}
		if v.Kind == sdk.KindStringList {
			items = v.List
		}
		for _, s := range items {
			if s != "" {
				or.WriteString("(" + attr + "=" + ldap.EscapeFilter(s) + ")")
			}
		}
	}
	if or.Len() == 0 {
		return nil, nil
	}
	var out []sdk.Record
	_, err = c.search(ctx, c.baseFilter(o, "(|"+or.String()+")"), attrs, func(entries []*ldap.Entry) error {
		for _, e := range entries {
			out = append(out, o.record(e, req.Fields))
		}
		return nil
	})
	return out, err
}
