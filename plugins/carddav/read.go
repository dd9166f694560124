package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// Cursors: "s:<sync-token>" when the server does sync-collection (RFC 6578);
// "e:<base64 gzip JSON {name: etag}>" when it does not, the ETags of the last
// read, compared with the current ones. Both see deletes, so contacts have
// tombstones either way.
const (
	cursorSync = "s:"
	cursorETag = "e:"
)

// multigetChunk is how many cards one addressbook-multiget asks for.
const multigetChunk = 100

func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if err := checkObject(req.Object); err != nil {
		return err
	}
	if err := checkFields(req.Fields); err != nil {
		return err
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return err
	}
	log := sdk.Logger(ctx)
	switch {
	case strings.HasPrefix(req.Cursor, cursorETag):
		prev, err := decodeETags(strings.TrimPrefix(req.Cursor, cursorETag))
		if err != nil {
			log.Warn("unreadable ETag cursor: reading everything", "error", err)
			prev = nil
		}
		return c.readETags(ctx, book, prev, req.Fields, sink)
	case req.Cursor == "" || strings.HasPrefix(req.Cursor, cursorSync):
		token := strings.TrimPrefix(req.Cursor, cursorSync)
		c.mu.Lock()
		noSync := c.noSync
		c.mu.Unlock()
		if noSync {
			return c.readETags(ctx, book, nil, req.Fields, sink)
		}
		err := c.readSync(ctx, book, token, req.Fields, sink)
		var te *tokenError
		if errors.As(err, &te) && token != "" {
			// RFC 6578 3.2: an expired or unknown token means starting over.
			// Deletes made meanwhile are missed: the host compares full reads.
			log.Warn("sync-token refused: reading everything", "status", te.code)
			return c.readSync(ctx, book, "", req.Fields, sink)
		}
		if errors.As(err, &te) {
			log.Info("server refuses sync-collection: comparing ETags instead", "status", te.code)
			c.mu.Lock()
			c.noSync = true
			c.mu.Unlock()
			return c.readETags(ctx, book, nil, req.Fields, sink)
		}
		return err
	default:
		log.Warn("unknown cursor form: reading everything")
		return c.Read(ctx, sdk.ReadRequest{Object: req.Object, Fields: req.Fields}, sink)
	}
}

// checkFields reports the first of fields that contacts do not have.
func checkFields(fields []string) error {
	for _, f := range fields {
		if _, ok := contactsObject().Field(f); !ok {
			return sdk.FieldError(f, "contacts have no field %q", f)
		}
	}
	return nil
}

// tokenError is a sync-collection refused as such: a bad token, or no
// support for the report.
type tokenError struct{ code int }

func (e *tokenError) Error() string { return fmt.Sprintf("sync-collection refused (HTTP %d)", e.code) }

// readSync reads the changes since token (everything when it is empty).
func (c *conn) readSync(ctx context.Context, book, token string, fields []string, sink sdk.RecordSink) error {
	ms, err := c.dav.xmlRequest(ctx, "REPORT", book, "", `<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+xmlEscape(token)+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
	switch code := httpStatus(err); code {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusMethodNotAllowed,
		http.StatusPreconditionFailed, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity,
		http.StatusNotImplemented:
		return &tokenError{code: code}
	}
	if err != nil {
		return categorize(err, "sync-collection of "+book)
	}
	if ms.SyncToken == "" {
		return &tokenError{code: http.StatusMultiStatus}
	}
	var changed []string
	var deleted []sdk.Record
	for _, r := range ms.Responses {
		p, err := r.path()
		if err != nil {
			return fmt.Errorf("sync-collection of %s: %w", book, err)
		}
		name := nameOf(book, p)
		if name == "" {
			continue
		}
		if _, ok := r.ok(); ok {
			changed = append(changed, name)
		} else if token != "" {
			// A full read has nothing to report deleted.
			deleted = append(deleted, sdk.Record{ID: name, Version: "deleted", Deleted: true})
		}
	}
	if err := c.fetch(ctx, book, changed, fields, sink); err != nil {
		return err
	}
	if len(deleted) > 0 {
		if err := sink.Records(deleted); err != nil {
			return err
		}
	}
	return sink.Checkpoint(cursorSync + ms.SyncToken)
}

// readETags lists the ETags of the address book and reads the cards whose
// ETag differs from prev (all of them when prev is nil).
func (c *conn) readETags(ctx context.Context, book string, prev map[string]string, fields []string, sink sdk.RecordSink) error {
	cur, err := c.listETags(ctx, book)
	if err != nil {
		return err
	}
	var changed []string
	for name, etag := range cur {
		if prev == nil || prev[name] != etag {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if err := c.fetch(ctx, book, changed, fields, sink); err != nil {
		return err
	}
	var deleted []sdk.Record
	for name := range prev {
		if _, ok := cur[name]; !ok {
			deleted = append(deleted, sdk.Record{ID: name, Version: "deleted", Deleted: true})
		}
	}
	if len(deleted) > 0 {
		if err := sink.Records(deleted); err != nil {
			return err
		}
	}
	cursor, err := encodeETags(cur)
	if err != nil {
		return err
	}
	// The ETags are those listed before fetching: a card changed in between
	// comes back next time, which is allowed; one missed would not be.
	return sink.Checkpoint(cursorETag + cursor)
}

// listETags lists the cards of book with their ETags (PROPFIND, depth 1).
func (c *conn) listETags(ctx context.Context, book string) (map[string]string, error) {
	ms, err := c.dav.xmlRequest(ctx, "PROPFIND", book, "1", `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`)
	if err != nil {
		return nil, categorize(err, "list "+book)
	}
	out := map[string]string{}
	for _, r := range ms.Responses {
		p, err := r.path()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", book, err)
		}
		name := nameOf(book, p)
		if ps, ok := r.ok(); ok && name != "" {
			out[name] = cleanETag(ps.Prop.ETag)
		}
	}
	return out, nil
}

// fetch reads the named cards with addressbook-multiget and hands them to
// sink as records. A card gone meanwhile is skipped (its delete shows next
// time); a card that does not parse is logged and skipped.
func (c *conn) fetch(ctx context.Context, book string, names, fields []string, sink sdk.RecordSink) error {
	return c.fetchCards(ctx, book, names, func(cards []card) error {
		recs := make([]sdk.Record, 0, len(cards))
		for _, k := range cards {
			r, err := k.record(fields)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		return sink.Records(recs)
	})
}

func (c *conn) fetchCards(ctx context.Context, book string, names []string, fn func([]card) error) error {
	for start := 0; start < len(names); start += multigetChunk {
		chunk := names[start:min(start+multigetChunk, len(names))]
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><D:getlastmodified/><C:address-data/></D:prop>`)
		for _, n := range chunk {
			b.WriteString("<D:href>" + hrefFor(book+n) + "</D:href>")
		}
		b.WriteString("</C:addressbook-multiget>")
		ms, err := c.dav.xmlRequest(ctx, "REPORT", book, "1", b.String())
		if err != nil {
			return categorize(err, "addressbook-multiget in "+book)
		}
		cards := make([]card, 0, len(chunk))
		for _, r := range ms.Responses {
			p, err := r.path()
			if err != nil {
				return fmt.Errorf("addressbook-multiget in %s: %w", book, err)
			}
			name := nameOf(book, p)
			ps, ok := r.ok()
			if !ok || name == "" {
				continue
			}
			vc, err := decodeCard(ps.Prop.AddressData)
			if err != nil {
				sdk.Logger(ctx).Warn("skipping a card that does not parse", "card", name, "error", err)
				continue
			}
			mod, _ := http.ParseTime(ps.Prop.LastModified)
			cards = append(cards, card{name: name, etag: cleanETag(ps.Prop.ETag), modTime: mod, card: vc})
		}
		if err := fn(cards); err != nil {
			return err
		}
	}
	return nil
}

func encodeETags(m map[string]string) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(m); err != nil {
		return "", fmt.Errorf("encode ETag cursor: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("encode ETag cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func decodeETags(s string) (map[string]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode ETag cursor: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode ETag cursor: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("decode ETag cursor: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode ETag cursor: %w", err)
	}
	return m, nil
}

// allCards reads every card of the book.
func (c *conn) allCards(ctx context.Context, book string) ([]card, error) {
	etags, err := c.listETags(ctx, book)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(etags))
	for n := range etags {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []card
	err = c.fetchCards(ctx, book, names, func(cs []card) error {
		out = append(out, cs...)
		return nil
	})
	return out, err
}
