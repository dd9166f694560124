package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/syncdef"
)

// ErrStopped ends a run stopped by shutdown at a batch boundary.
var ErrStopped = errors.New("stopped by shutdown")

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

// Run runs def once. Cancelling ctx while the run reads abandons it (nothing
// was written); once writing, the batch in flight is written and committed
// and the run stops before the next one.
func (r *EngineRunner) Run(ctx context.Context, def syncdef.Definition, opts engine.Options) (engine.Report, error) {
	g := &gate{}
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { g.stop(cancel) })
	defer stop()

	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	conns := map[string]engine.Conn{}
	dial := func(ctx context.Context, name string) (engine.Conn, error) {
		if c, ok := conns[name]; ok {
			return c, nil
		}
		c, closeFn, err := r.open(ctx, name)
		if err != nil {
			return nil, err
		}
		conns[name], closers = c, append(closers, closeFn)
		return c, nil
	}
	e := engine.New(r.st, dial, append(append([]engine.Option(nil), r.opts...), engine.WithFailpoint(g.failpoint))...)
	rep, err := e.Run(ectx, def, opts)
	if err != nil && g.stopped() {
		err = fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return rep, err
}

// gate turns a stop request into the engine's terms: before the first
// write, cancel (reads and atomic commits lose nothing); after it, refuse
// the next batch at a failpoint, after the one in flight committed.
type gate struct {
	mu       sync.Mutex
	writing  bool
	stopping bool
}

func (g *gate) stop(cancel func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopping = true
	if !g.writing {
		cancel()
	}
}

func (g *gate) stopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopping
}

func (g *gate) failpoint(step string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch step {
	case "journaled":
		// The batch's creates are journaled, nothing written yet: stopping
		// here leaves only journal entries the next run settles by Lookup.
		if g.stopping {
			return ErrStopped
		}
		g.writing = true
	case "committed", "settled":
		if g.stopping {
			return ErrStopped
		}
	}
	return nil
}
