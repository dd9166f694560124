package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
)

// davBook reads and writes one CardDAV address book over plain HTTP, so the
// test checks what the server holds without going through the carddav plugin.
type davBook struct {
	t          *testing.T
	base       string // server URL
	path       string // address book path
	user, pass string
}

// davCard is one card as stored: its href, ETag and parsed content.
type davCard struct {
	href, etag string
	card       vcard.Card
}

func (b davBook) do(method, href string, body []byte, header map[string]string) (int, http.Header, []byte) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.base+href, bytes.NewReader(body))
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, href, err)
	}
	req.SetBasicAuth(b.user, b.pass)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, href, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("read %s %s: %v", method, href, err)
	}
	return resp.StatusCode, resp.Header, out
}

// hrefs lists the book's cards (PROPFIND, Depth 1): href → ETag.
func (b davBook) hrefs() map[string]string {
	b.t.Helper()
	const propfind = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:resourcetype/></D:prop></D:propfind>`
	status, _, body := b.do("PROPFIND", b.path, []byte(propfind),
		map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
	if status != http.StatusMultiStatus {
		b.t.Fatalf("PROPFIND %s: HTTP %d: %s", b.path, status, body)
	}
	var ms struct {
		Responses []struct {
			Href  string `xml:"href"`
			Props []struct {
				ETag       string    `xml:"prop>getetag"`
				Collection *struct{} `xml:"prop>resourcetype>collection"`
			} `xml:"propstat"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal(body, &ms); err != nil {
		b.t.Fatalf("PROPFIND %s: %v\n%s", b.path, err, body)
	}
	out := map[string]string{}
	for _, r := range ms.Responses {
		href, err := url.PathUnescape(r.Href)
		if err != nil {
			b.t.Fatalf("PROPFIND %s: href %q: %v", b.path, r.Href, err)
		}
		for _, p := range r.Props {
			if p.Collection == nil && p.ETag != "" && strings.HasSuffix(href, ".vcf") {
				out[href] = p.ETag
			}
		}
	}
	return out
}

// get fetches one card.
func (b davBook) get(href string) davCard {
	b.t.Helper()
	status, h, body := b.do(http.MethodGet, href, nil, nil)
	if status != http.StatusOK {
		b.t.Fatalf("GET %s: HTTP %d: %s", href, status, body)
	}
	card, err := vcard.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		b.t.Fatalf("GET %s: parse vCard: %v\n%s", href, err, body)
	}
	return davCard{href: href, etag: h.Get("ETag"), card: card}
}

// byEmail fetches every card of the book, by lower-cased first EMAIL.
func (b davBook) byEmail() map[string]davCard {
	b.t.Helper()
	out := map[string]davCard{}
	for href := range b.hrefs() {
		c := b.get(href)
		email := strings.ToLower(c.card.Value(vcard.FieldEmail))
		if _, dup := out[email]; dup {
			b.t.Fatalf("two cards in %s with email %q", b.path, email)
		}
		out[email] = c
	}
	return out
}

// put stores a card: a create when etag is "" (If-None-Match: *), else an
// update of that version (If-Match).
func (b davBook) put(href string, card vcard.Card, etag string) {
	b.t.Helper()
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(card); err != nil {
		b.t.Fatalf("encode %s: %v", href, err)
	}
	h := map[string]string{"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"}
	if etag != "" {
		delete(h, "If-None-Match")
		h["If-Match"] = etag
	}
	// Radicale answers 201 to an update too.
	if status, _, body := b.do(http.MethodPut, href, buf.Bytes(), h); status != http.StatusCreated && status != http.StatusNoContent {
		b.t.Fatalf("PUT %s: HTTP %d: %s", href, status, body)
	}
}

// newCard is a vCard 3.0 as another CardDAV client would write it.
func newCard(uid, given, family, email, tel, org string) vcard.Card {
	c := vcard.Card{}
	c.SetValue(vcard.FieldVersion, "3.0")
	c.SetValue(vcard.FieldUID, uid)
	c.SetValue(vcard.FieldFormattedName, given+" "+family)
	c.SetName(&vcard.Name{GivenName: given, FamilyName: family})
	c.Add(vcard.FieldEmail, &vcard.Field{Value: email, Params: vcard.Params{vcard.ParamType: {"WORK"}}})
	c.SetValue(vcard.FieldTelephone, tel)
	c.SetValue(vcard.FieldOrganization, org)
	c.SetValue("X-TEST-KEEP", "kept by every update")
	return c
}
