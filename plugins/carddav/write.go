package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/emersion/go-vcard"
)

// writeWorkers is how many ops of a batch run at once; each op is one or two
// HTTP requests, and servers such as Radicale serialise writes anyway.
const writeWorkers = 4

func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	if err := checkObject(req.Object); err != nil {
		return nil, err
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return nil, err
	}
	return sdk.WriteEach(ctx, req.Ops, writeWorkers, func(ctx context.Context, op sdk.Op) sdk.WriteResult {
		return c.writeOp(ctx, book, req.Fields, op)
	})
}

func (c *conn) writeOp(ctx context.Context, book string, fields []string, op sdk.Op) sdk.WriteResult {
	var res sdk.WriteResult
	var err error
	switch op.Kind {
	case sdk.OpCreate:
		res, err = c.create(ctx, book, fields, op)
	case sdk.OpUpdate:
		res, err = c.update(ctx, book, fields, op)
	case sdk.OpDelete:
		res, err = c.delete(ctx, book, op)
	default:
		err = sdk.Errorf(sdk.CategoryPermanent, "unknown op kind %d", op.Kind)
	}
	res.CorrelationID = op.CorrelationID
	if err != nil {
		res.Err = sdk.AsError(err)
	}
	return res
}

// applyOp applies the op's fields to card.
func applyOp(vc vcard.Card, op sdk.Op) error {
	for i, f := range op.Fields {
		if err := applyField(vc, f, op.Values[i]); err != nil {
			return err
		}
	}
	return nil
}

// stamp gives the card what every write needs: VERSION, FN, N, and a new REV
// (so the ETag changes even when no value did).
func stamp(vc vcard.Card) {
	fillRequired(vc)
	vc.SetValue(vcard.FieldRevision, time.Now().UTC().Format("20060102T150405Z"))
}

func (c *conn) create(ctx context.Context, book string, fields []string, op sdk.Op) (sdk.WriteResult, error) {
	vc := vcard.Card{}
	vc.SetValue(vcard.FieldVersion, "3.0")
	if err := applyOp(vc, op); err != nil {
		return sdk.WriteResult{}, err
	}
	uid := unescapeText(vc.Value(vcard.FieldUID))
	if uid == "" {
		uid = newUID()
		vc.SetValue(vcard.FieldUID, uid)
	}
	name := uid + ".vcf"
	if !safeUID(uid) {
		name = newUID() + ".vcf"
	}
	stamp(vc)
	etag, err := c.put(ctx, book+name, vc, map[string]string{"If-None-Match": "*"})
	switch httpStatus(err) {
	case http.StatusPreconditionFailed:
		return sdk.WriteResult{}, &sdk.Error{Category: sdk.CategoryDuplicate, Field: fUID,
			Message: fmt.Sprintf("a card %s (UID %q) already exists", name, uid)}
	case http.StatusConflict:
		// Radicale (no-uid-conflict, RFC 6352 6.3.2.1) refuses a second card with a UID.
		return sdk.WriteResult{}, &sdk.Error{Category: sdk.CategoryDuplicate, Field: fUID,
			Message: fmt.Sprintf("a card with UID %q already exists", uid)}
	}
	if err != nil {
		return sdk.WriteResult{}, writeError(err, "create "+name)
	}
	return c.result(name, etag, vc, fields)
}

func (c *conn) update(ctx context.Context, book string, fields []string, op sdk.Op) (sdk.WriteResult, error) {
	if !validName(op.ID) {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryNotFound, "no card %q", op.ID)
	}
	cur, err := c.get(ctx, book+op.ID)
	if err != nil {
		return sdk.WriteResult{}, err
	}
	if op.IfVersion != "" && op.IfVersion != cur.etag {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryConflict, "card %s changed since version %s (now %s)", op.ID, op.IfVersion, cur.etag)
	}
	if v, ok := op.Value(fUID); ok && v.Text() != "" && v.Text() != unescapeText(cur.card.Value(vcard.FieldUID)) {
		return sdk.WriteResult{}, sdk.FieldError(fUID, "the UID of a card cannot change (%q → %q)", cur.card.Value(vcard.FieldUID), v.Text())
	}
	if v, ok := op.Value(fUID); ok && v.Text() == "" {
		return sdk.WriteResult{}, sdk.FieldError(fUID, "a card must keep its UID")
	}
	if err := applyOp(cur.card, op); err != nil {
		return sdk.WriteResult{}, err
	}
	stamp(cur.card)
	// If-Match on the ETag just read: a change in between is a conflict,
	// never overwritten.
	etag, err := c.put(ctx, book+op.ID, cur.card, map[string]string{"If-Match": `"` + cur.etag + `"`})
	if httpStatus(err) == http.StatusPreconditionFailed {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryConflict, "card %s changed while it was being updated", op.ID)
	}
	if err != nil {
		return sdk.WriteResult{}, writeError(err, "update "+op.ID)
	}
	return c.result(op.ID, etag, cur.card, fields)
}

func (c *conn) delete(ctx context.Context, book string, op sdk.Op) (sdk.WriteResult, error) {
	if !validName(op.ID) {
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryNotFound, "no card %q", op.ID)
	}
	hdr := map[string]string{}
	if op.IfVersion != "" {
		hdr["If-Match"] = `"` + op.IfVersion + `"`
	}
	resp, err := c.dav.request(ctx, http.MethodDelete, book+op.ID, nil, hdr)
	switch httpStatus(err) {
	case http.StatusNotFound, http.StatusGone:
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryNotFound, "no card %s", op.ID)
	case http.StatusPreconditionFailed:
		return sdk.WriteResult{}, sdk.Errorf(sdk.CategoryConflict, "card %s changed since version %s", op.ID, op.IfVersion)
	}
	if err != nil {
		return sdk.WriteResult{}, writeError(err, "delete "+op.ID)
	}
	resp.Body.Close()
	return sdk.WriteResult{ID: op.ID}, nil
}

// result reports what was stored: the card as sent (servers store it as
// sent, give or take formatting).
func (c *conn) result(name, etag string, vc vcard.Card, fields []string) (sdk.WriteResult, error) {
	vals, err := cardValues(vc, fields)
	if err != nil {
		return sdk.WriteResult{}, err
	}
	mod, _ := parseRev(vc.Value(vcard.FieldRevision))
	return sdk.WriteResult{ID: name, Version: etag, ModifiedAt: mod, Values: vals}, nil
}

// put sends the card and returns its new ETag (asked for when the answer
// has none).
func (c *conn) put(ctx context.Context, path string, vc vcard.Card, hdr map[string]string) (string, error) {
	hdr["Content-Type"] = "text/vcard; charset=utf-8"
	resp, err := c.dav.request(ctx, http.MethodPut, path, []byte(encodeCard(vc)), hdr)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if etag := cleanETag(resp.Header.Get("ETag")); etag != "" {
		return etag, nil
	}
	k, err := c.get(ctx, path)
	if err != nil {
		return "", err
	}
	return k.etag, nil
}

// get reads one card with its ETag.
func (c *conn) get(ctx context.Context, path string) (card, error) {
	resp, err := c.dav.request(ctx, http.MethodGet, path, nil, map[string]string{"Accept": "text/vcard"})
	if code := httpStatus(err); code == http.StatusNotFound || code == http.StatusGone {
		return card{}, sdk.Errorf(sdk.CategoryNotFound, "no card %s", path[strings.LastIndexByte(path, '/')+1:])
	}
	if err != nil {
		return card{}, categorize(err, "read "+path)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return card{}, categorize(err, "read "+path)
	}
	vc, err := decodeCard(string(body))
	if err != nil {
		return card{}, sdk.Errorf(sdk.CategoryPermanent, "card %s does not parse: %v", path, err)
	}
	mod, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	return card{name: path[strings.LastIndexByte(path, '/')+1:], etag: cleanETag(resp.Header.Get("ETag")), modTime: mod, card: vc}, nil
}

// writeError categorizes a failed PUT or DELETE: a refused card (400, 415,
// 413) is a validation error, not a reason to retry.
func writeError(err error, what string) error {
	switch httpStatus(err) {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return sdk.Errorf(sdk.CategoryValidation, "%s: the server refused the card: %v", what, err)
	}
	return categorize(err, what)
}

// Lookup reads the address book and keeps the cards whose field equals one
// of the values (emails compared case-insensitively; a list field matches
// when any item does). With no field, the values are card names (record
// ids), fetched with addressbook-multiget (sdk.CapabilityLookupByID).
func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	if err := checkObject(req.Object); err != nil {
		return nil, err
	}
	if req.Field == "" {
		return c.lookupByName(ctx, req)
	}
	fd, ok := contactsObject().Field(req.Field)
	if !ok {
		return nil, sdk.FieldError(req.Field, "contacts have no field %q", req.Field)
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, v := range req.Values {
		for _, s := range lookupKeys(v, fd) {
			want[s] = true
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	cards, err := c.allCards(ctx, book)
	if err != nil {
		return nil, err
	}
	var out []sdk.Record
	for _, k := range cards {
		v, err := cardValue(k.card, req.Field)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(lookupKeys(v, fd), func(s string) bool { return want[s] }) {
			continue
		}
		r, err := k.record(req.Fields)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// lookupByName fetches the cards named by req.Values. A name that is not a
// card's of this address book (gone, or with a path in it) finds nothing.
func (c *conn) lookupByName(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	if err := checkFields(req.Fields); err != nil {
		return nil, err
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(req.Values))
	seen := map[string]bool{}
	for _, v := range req.Values {
		n := v.Text()
		if n == "" || strings.ContainsAny(n, "/\\") || n == "." || n == ".." || seen[n] {
			continue
		}
		seen[n] = true
		names = append(names, n)
	}
	var out []sdk.Record
	err = c.fetchCards(ctx, book, names, func(cards []card) error {
		for _, k := range cards {
			if !seen[k.name] {
				continue // the server answered for a card not asked for
			}
			r, err := k.record(req.Fields)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func lookupKeys(v sdk.Value, fd sdk.Field) []string {
	items := []string{v.Text()}
	if v.Kind == sdk.KindStringList {
		items = v.List
	}
	var out []string
	for _, s := range items {
		s = strings.TrimSpace(s)
		if fd.Type == sdk.TypeEmail || fd.Name == fEmails {
			s = strings.ToLower(s)
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
