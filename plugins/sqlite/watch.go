package main

import (
	"context"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Watch polls the file's change counter (PRAGMA data_version, on a
// connection of its own) every watch_poll: SQLite sends no notices between
// processes. A commit by any other connection, this plugin's own writes
// included, is a change to every watched table: the counter does not say
// which table changed.
func (c *conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.watchPoll <= 0 {
		return sdk.Errorf(sdk.CategoryPermanent, "watching is off (%s is 0)", settingWatchPoll)
	}
	wc, err := c.db.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.dbError("watch", err)
	}
	defer wc.Close()
	version := func() (int64, error) {
		var v int64
		err := wc.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
		return v, err
	}
	last, err := version()
	if err != nil {
		return c.dbError("watch", err)
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
		v, err := version()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return c.dbError("watch", err)
		}
		if v == last {
			continue
		}
		last = v
		for _, o := range objects {
			if err := sink.Changed(o); err != nil {
				return err
			}
		}
	}
}
