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
		return sdk.Errorf(sdk.CategoryPermanent, "watching is off (watch_poll is 0)")
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
	// poll reports whether an entry of w's changed since the last poll.
	poll := func(w *watched) (bool, error) {
		from := since
		if !w.win.max.IsZero() {
			from = w.win.cursor().TS
		}
		seen := w.win.keys
		w.win.keys = map[string]time.Time{}
		changed := false
		attrs := []string{attrModifyTS, attrCSN}
		if w.o.idAttr != "" {
			attrs = append(attrs, w.o.idAttr)
		}
		_, err := c.search(ctx, c.baseFilter(w.o, "("+attrModifyTS+">="+ldap.EscapeFilter(from)+")"), attrs, func(entries []*ldap.Entry) error {
			for _, e := range entries {
				ts := e.GetEqualFoldAttributeValue(attrModifyTS)
				key := w.o.idOf(e) + "#" + ts + "#" + e.GetEqualFoldAttributeValue(attrCSN)
				if _, ok := seen[key]; !ok {
					changed = true
				}
				if t, err := parseGenTime(ts); err == nil {
					w.win.add(key, t)
				}
			}
			return nil
		})
		if w.win.max.IsZero() { // nothing in the window: the same one next time
			w.win.keys = seen
		}
		return changed, err
	}
	for _, w := range ws { // what has changed so far is not news
		if _, err := poll(w); err != nil {
			return err
		}
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
		for _, w := range ws {
			changed, err := poll(w)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if changed {
				if err := sink.Changed(w.name); err != nil {
					return err
				}
			}
		}
	}
}
