package main

import (
	"context"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/datasync-io/datasync/sdk"
)

// watchSkew is how far before this host's clock the first poll looks for
// changes: the server's clock may run behind.
const watchSkew = 5 * time.Minute

// Watch asks the directory every watch_poll for entries of the objects
// changed since the last poll (by modifyTimestamp, told apart by entryCSN,
// as incremental reads do): plain LDAP sends no notices. A delete leaves no
// entry to find, so it waits for the sync's schedule.
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.watchPoll <= 0 {
		return sdk.PollWatch(ctx, 0, sink, nil)
	}
	type watched struct {
		name string
		o    *object
		win  window
	}
	var ws []*watched
	since := time.Now().Add(-watchSkew).UTC().Format("20060102150405Z")
	for _, name := range objects {
		o, err := c.objectFor(ctx, name)
		if err != nil {
			return err
		}
		ws = append(ws, &watched{name: name, o: o, win: window{keys: map[string]time.Time{}}})
	}
	// Each poll reports the objects with an entry changed since the one before.
	return sdk.PollWatch(ctx, c.watchPoll, sink, func(ctx context.Context) ([]string, error) {
		var out []string
		for _, w := range ws {
			changed, err := c.polled(ctx, w.o, &w.win, since)
			if err != nil {
				return nil, err
			}
			if changed {
				out = append(out, w.name)
			}
		}
		return out, nil
	})
}

// polled reports whether an entry of o changed since the last poll, whose
// entries win holds (those of the last second before the newest seen): the
// search starts there, or at since before anything was seen.
func (c *conn) polled(ctx context.Context, o *object, win *window, since string) (bool, error) {
	from := since
	if !win.max.IsZero() {
		from = win.cursor().TS
	}
	seen := win.keys
	win.keys = map[string]time.Time{}
	changed := false
	attrs := []string{attrModifyTS, attrCSN}
	if o.idAttr != "" {
		attrs = append(attrs, o.idAttr)
	}
	_, err := c.search(ctx, c.baseFilter(o, "("+attrModifyTS+">="+ldap.EscapeFilter(from)+")"), attrs, func(entries []*ldap.Entry) error {
		for _, e := range entries {
			ts := e.GetEqualFoldAttributeValue(attrModifyTS)
			key := o.idOf(e) + "#" + ts + "#" + e.GetEqualFoldAttributeValue(attrCSN)
			if _, ok := seen[key]; !ok {
				changed = true
			}
			if t, err := parseGenTime(ts); err == nil {
				win.add(key, t)
			}
		}
		return nil
	})
	if win.max.IsZero() { // nothing in the window: the same one next time
		win.keys = seen
	}
	return changed, err
}
