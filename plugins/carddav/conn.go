package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
)

// conn is one account's address book. It is safe for concurrent use.
type conn struct {
	dav         *davClient
	bookSetting string        // "" → discovery
	watchPoll   time.Duration // how often Watch asks for the change token

	mu        sync.Mutex
	book      string // resolved address book path, with a trailing slash
	principal string
	noSync    bool // the server refused sync-collection: ETag comparison instead
}

func (c *conn) Close() error {
	c.dav.http.CloseIdleConnections()
	return nil
}

// Check authenticates and finds the address book.
func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	book, err := c.addressBook(ctx)
	if err != nil {
		return sdk.Account{}, err
	}
	c.mu.Lock()
	principal := c.principal
	c.mu.Unlock()
	who := principal
	if who == "" {
		who = "/" + c.dav.username
	}
	server := c.dav.base.Scheme + "://" + c.dav.base.Host
	return sdk.Account{
		Fingerprint: server + who,
		Label:       fmt.Sprintf("%s on %s, address book %s", c.dav.username, server, book),
	}, nil
}

func (c *conn) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Objects: []sdk.ObjectType{contactsObject()}}, nil
}

func checkObject(object string) error {
	if object != objectContacts {
		return sdk.Errorf(sdk.CategoryNotFound, "no object %q: a CardDAV address book has only %q", object, objectContacts)
	}
	return nil
}

// addressBook resolves (once) the address book path: the setting, checked
// to be an address book, or the one address book of the user's home set.
func (c *conn) addressBook(ctx context.Context) (string, error) {
	c.mu.Lock()
	book := c.book
	c.mu.Unlock()
	if book != "" {
		return book, nil
	}
	cl, err := carddav.NewClient(c.dav, c.dav.base.String())
	if err != nil {
		return "", fmt.Errorf("carddav client: %w", err)
	}
	// The principal lookup is the first authenticated request: a 401 or a
	// refused connection shows here.
	principal, err := cl.FindCurrentUserPrincipal(ctx)
	if err != nil && httpStatus(err) != http.StatusNotFound {
		return "", categorize(err, "find the current user principal")
	}
	if c.bookSetting != "" {
		isBook, err := c.isAddressBook(ctx, c.bookSetting)
		if err != nil {
			return "", err
		}
		if !isBook {
			found := c.listBooks(ctx, cl, principal)
			msg := "none found"
			if len(found) > 0 {
				msg = "found: " + strings.Join(found, ", ")
			}
			return "", sdk.FieldError("addressbook", "%s is not an address book on %s (%s)", c.bookSetting, c.dav.base.Host, msg)
		}
		book = c.bookSetting
	} else {
		if principal == "" {
			return "", sdk.FieldError("addressbook", "the server does not say the user's principal: set addressbook")
		}
		found := c.listBooks(ctx, cl, principal)
		switch len(found) {
		case 0:
			return "", sdk.FieldError("addressbook", "no address book found for %s on %s: create one or set addressbook", c.dav.username, c.dav.base.Host)
		case 1:
			book = found[0]
		default:
			// Picking one silently could sync the wrong contacts.
			return "", sdk.FieldError("addressbook", "%d address books found (%s): set addressbook to one of them", len(found), strings.Join(found, ", "))
		}
	}
	c.mu.Lock()
	c.book, c.principal = book, principal
	c.mu.Unlock()
	return book, nil
}

// isAddressBook reports whether path is an address book collection.
func (c *conn) isAddressBook(ctx context.Context, path string) (bool, error) {
	ms, err := c.dav.xmlRequest(ctx, "PROPFIND", path, "0", `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`)
	switch httpStatus(err) {
	case http.StatusNotFound:
		return false, nil
	case http.StatusForbidden:
		return false, sdk.Errorf(sdk.CategoryForbidden, "%s may not read %s on %s", c.dav.username, path, c.dav.base.Host)
	}
	if err != nil {
		return false, categorize(err, "find address book "+path)
	}
	for _, r := range ms.Responses {
		if ps, ok := r.ok(); ok && ps.Prop.ResourceType.AddressBook != nil {
			return true, nil
		}
	}
	return false, nil
}

// listBooks lists the address books of the principal's home set, sorted;
// best effort (for messages and discovery).
func (c *conn) listBooks(ctx context.Context, cl *carddav.Client, principal string) []string {
	if principal == "" {
		return nil
	}
	home, err := cl.FindAddressBookHomeSet(ctx, principal)
	if err != nil {
		sdk.Logger(ctx).Debug("no address book home set", "principal", principal, "error", err)
		return nil
	}
	books, err := cl.FindAddressBooks(ctx, home)
	if err != nil {
		sdk.Logger(ctx).Debug("listing address books failed", "home", home, "error", err)
		return nil
	}
	out := make([]string, 0, len(books))
	for _, b := range books {
		out = append(out, "/"+strings.Trim(b.Path, "/")+"/")
	}
	slices.Sort(out)
	return out
}

// card is one address object as read.
type card struct {
	name    string // resource name within the address book: the record id
	etag    string
	modTime time.Time
	card    vcard.Card
}

func (k card) record(fields []string) (sdk.Record, error) {
	vals, err := cardValues(k.card, fields)
	if err != nil {
		return sdk.Record{}, err
	}
	mod := k.modTime
	if rev, ok := parseRev(k.card.Value(vcard.FieldRevision)); ok {
		mod = rev
	}
	if !mod.IsZero() {
		mod = mod.UTC()
	}
	return sdk.Record{ID: k.name, Version: k.etag, ModifiedAt: mod, Values: vals}, nil
}

func parseRev(s string) (time.Time, bool) {
	for _, layout := range []string{"20060102T150405Z", time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "20060102T150405Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// cleanETag strips the quotes (and a weak marker) of an ETag.
func cleanETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.Trim(s, `"`)
}

// nameOf returns the resource name of path within book; "" when path is not
// a direct member (the book itself, a sub-collection).
func nameOf(book, path string) string {
	name, ok := strings.CutPrefix(path, book)
	if !ok || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// validName checks a record id before it becomes part of a URL.
func validName(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, "/\\")
}

// safeUID reports whether uid can be a file name as is.
func safeUID(uid string) bool {
	if uid == "" || len(uid) > 200 || uid[0] == '.' {
		return false
	}
	for _, r := range uid {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@+=", r)) {
			return false
		}
	}
	return true
}

// newUID returns a random RFC 4122 version 4 UUID.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
