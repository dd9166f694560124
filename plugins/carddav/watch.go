package main

import (
	"context"

	"github.com/datasync-io/datasync/sdk"
)

// Watch polls the address book's change token every watch_poll: CardDAV
// has no push. The token is the collection's DAV:sync-token (RFC 6578) or,
// where the server has none, its CalendarServer getctag; any change to a
// card changes it.
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.watchPoll <= 0 {
		return sdk.PollWatch(ctx, 0, sink, nil)
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return err
	}
	last := ""
	return sdk.PollWatch(ctx, c.watchPoll, sink, func(ctx context.Context) ([]string, error) {
		token, err := c.changeToken(ctx, book)
		switch {
		case err != nil:
			return nil, err
		case token == "":
			return nil, sdk.Errorf(sdk.CategoryPermanent, "the server gives address book %s neither a sync-token nor a getctag: it cannot be watched", book)
		case token == last:
			return nil, nil
		}
		last = token
		return objects, nil
	})
}

// changeToken reads the address book's sync-token, or its getctag.
func (c *conn) changeToken(ctx context.Context, book string) (string, error) {
	ms, err := c.dav.xmlRequest(ctx, "PROPFIND", book, "0", `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:sync-token/><CS:getctag/></D:prop></D:propfind>`)
	if err != nil {
		return "", categorize(err, "watch "+book)
	}
	for _, r := range ms.Responses {
		if ps, ok := r.ok(); ok {
			if ps.Prop.SyncToken != "" {
				return ps.Prop.SyncToken, nil
			}
			return ps.Prop.CTag, nil
		}
	}
	return "", nil
}
