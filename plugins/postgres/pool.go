package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// pool is a small bounded pool of pgx connections. pgxpool would do, but its
// puddle dependency is not in the module; a plugin needs only a few
// connections, reused so prepared statements stay warm.
type pool struct {
	cfg  *pgx.ConnConfig
	sem  chan struct{} // one token per open-or-opening connection in use
	idle chan *pgx.Conn
	shut atomic.Bool // closed: released connections are closed, not kept
}

func newPool(cfg *pgx.ConnConfig, size int) *pool {
	return &pool{cfg: cfg, sem: make(chan struct{}, size), idle: make(chan *pgx.Conn, size)}
}

// acquire returns an idle connection or opens one, waiting while all are busy.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case c := <-p.idle:
			if c.IsClosed() {
				continue
			}
			return c, nil
		default:
		}
		break
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// release gives c back; a connection left broken or inside a transaction is
// closed instead of reused.
func (p *pool) release(c *pgx.Conn) {
	defer func() { <-p.sem }()
	if c.IsClosed() || c.PgConn().TxStatus() != 'I' || p.shut.Load() {
		_ = c.Close(context.Background())
		return
	}
	select {
	case p.idle <- c:
	default:
		_ = c.Close(context.Background())
	}
}

// close closes the idle connections; busy ones close on release.
func (p *pool) close() error {
	p.shut.Store(true)
	var first error
	for {
		select {
		case c := <-p.idle:
			if err := c.Close(context.Background()); err != nil && first == nil {
				first = fmt.Errorf("close connection: %w", err)
			}
		default:
			return first
		}
	}
}
