package daemon

import (
	"context"
	"sync"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/syncdef"
)

// ErrStopped ends a run stopped by shutdown (at a batch boundary once it
// writes): the engine's.
var ErrStopped = engine.ErrStopped

// Opener opens a named connection (its plugin launched, account checked);
// the func closes it and stops the plugin.
type Opener func(ctx context.Context, connection string) (engine.Conn, func(), error)

// EngineRunner runs syncs with the engine, opening their connections for
// each run: a plugin that crashed is launched afresh by the next run.
type EngineRunner struct {
	st   engine.Store
	open Opener
	opts []engine.Option
}

// NewEngineRunner returns a Runner over st opening connections with open.
func NewEngineRunner(st engine.Store, open Opener, opts ...engine.Option) *EngineRunner {
	return &EngineRunner{st: st, open: open, opts: opts}
}

// Run runs def once. Cancelling ctx stops it through engine.Options.Stop:
// while it reads, at once (nothing was written); once it writes, after the
// batch in flight is written and committed.
func (r *EngineRunner) Run(ctx context.Context, def syncdef.Definition, opts engine.Options) (engine.Report, error) {
	opts.Stop = ctx.Done()
	ectx := context.WithoutCancel(ctx)
	var mu sync.Mutex // the engine opens both sides at once
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	conns := map[string]engine.Conn{}
	dial := func(ctx context.Context, name string) (engine.Conn, error) {
		mu.Lock()
		c, ok := conns[name]
		mu.Unlock()
		if ok {
			return c, nil
		}
		c, closeFn, err := r.open(ctx, name)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		conns[name], closers = c, append(closers, closeFn)
		return c, nil
	}
	return engine.New(r.st, dial, r.opts...).Run(ectx, def, opts)
}
