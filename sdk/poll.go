package sdk

import (
	"context"
	"time"
)

// WatchPollField is the setting by which an admin sets how often a
// connector that polls for changes (PollWatch) looks; 0 turns watching off.
func WatchPollField(def string) ConfigField {
	return ConfigField{Name: "watch_poll", Label: "Watch poll", Default: def,
		Description: "How often the daemon's watch looks for changes (each change runs the syncs reading it soon); 0 turns watching off."}
}

// PollWatch is Watch for a source that sends no notices: changed is called
// once to take the source's state as it is, then every interval; each call
// returns which objects changed since the one before, and sink is told of
// them. An interval of 0 means watching is off: a permanent error. It
// returns nil once ctx is done, and changed's error otherwise.
func PollWatch(ctx context.Context, interval time.Duration, sink WatchSink, changed func(ctx context.Context) ([]string, error)) error {
	if interval <= 0 {
		return Errorf(CategoryPermanent, "watching is off (watch_poll is 0)")
	}
	if _, err := changed(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := sink.Ready(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		objects, err := changed(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		for _, o := range objects {
			if err := sink.Changed(o); err != nil {
				return err
			}
		}
	}
}
