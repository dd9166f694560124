package main

import (
	"context"

	"github.com/datasync-io/datasync/sdk"
)

// Watch polls the file's change counter (PRAGMA data_version, on a
// connection of its own) every watch_poll: SQLite sends no notices between
// processes. A commit by any other connection, this plugin's own writes
// included, is a change to every watched table: the counter does not say
// which table changed.
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.watchPoll <= 0 {
		return sdk.PollWatch(ctx, 0, sink, nil)
	}
	wc, err := c.db.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.dbError("watch", err)
	}
	defer wc.Close()
	last := int64(-1)
	return sdk.PollWatch(ctx, c.watchPoll, sink, func(ctx context.Context) ([]string, error) {
		var v int64
		if err := wc.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return nil, c.dbError("watch", err)
		}
		if v == last {
			return nil, nil
		}
		last = v
		return objects, nil
	})
}
