package main

import (
	"context"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Watch polls the address book's change token every watch_poll: CardDAV
// has no push. The token is the collection's DAV:sync-token (RFC 6578) or,
// where the server has none, its CalendarServer getctag; any change to a
// card changes it.
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.watchPoll <= 0 {
		return sdk.Errorf(sdk.CategoryPermanent, "watching is off (watch_poll is 0)")
	}
	book, err := c.addressBook(ctx)
	if err != nil {
		return err
	}
	last, err := c.changeToken(ctx, book)
	if err != nil {
		return err
	}
	if last == "" {
		return sdk.Errorf(sdk.CategoryPermanent, "the server gives address book %s neither a sync-token nor a getctag: it cannot be watched", book)
	}
	if err := sink.Ready(); err != nil {
		return err
	}
	t := time.NewTicker(c.watchPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		token, err := c.changeToken(ctx, book)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if token == last {
			continue
		}
		last = token
		for _, o := range objects {
			if err := sink.Changed(o); err != nil {
				return err
			}
		}
	}
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
