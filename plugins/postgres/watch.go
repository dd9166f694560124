package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// Watch listens on the watch_channel setting's channel (LISTEN) and says
// which watched tables changed: a notice's payload names a table, bare or
// schema-qualified, and an empty one means any of them. The notices come
// from the admin's triggers (see the README): PostgreSQL sends none of its
// own.
func (c *Conn) Watch(ctx context.Context, objects []string, sink sdk.WatchSink) error {
	if c.set.watchChannel == "" {
		return sdk.Errorf(sdk.CategoryPermanent,
			"watch needs the watch_channel setting and a trigger that notifies that channel (see the postgres connector's README)")
	}
	// A connection of its own, not a pooled one: it waits for notices as
	// long as the watch lasts.
	pc, err := pgx.ConnectConfig(ctx, c.pool.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.connectError(err)
	}
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{c.set.watchChannel}.Sanitize()); err != nil {
		return mapQueryError(fmt.Errorf("watch: listen on %s: %w", c.set.watchChannel, err))
	}
	if err := sink.Ready(); err != nil {
		return err
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return mapQueryError(fmt.Errorf("watch: wait for notices on %s: %w", c.set.watchChannel, err))
		}
		for _, o := range c.noticed(n.Payload, objects) {
			if err := sink.Changed(o); err != nil {
				return err
			}
		}
	}
}

// noticed returns which of objects a notice's payload names.
func (c *Conn) noticed(payload string, objects []string) []string {
	payload = strings.TrimSpace(payload)
	if payload == "" {
		return objects
	}
	if schema, table, ok := strings.Cut(payload, "."); ok {
		if schema != c.set.schema {
			return nil
		}
		payload = table
	}
	for _, o := range objects {
		if o == payload {
			return []string{o}
		}
	}
	return nil
}
