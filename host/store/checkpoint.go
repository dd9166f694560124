package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies the WAL into the database on a connection of its own,
// shortly after commits, so that neither a commit nor Close waits on a
// checkpoint's two fsyncs (~15 ms each on a virtual disk, whatever their
// size): they overlap the connectors' writes instead. A PASSIVE checkpoint
// never blocks readers or writers; it copies what it can. Commits still
// checkpoint themselves past walCheckpointPages, should this fall behind.
type checkpointer struct {
	conn *sql.Conn
	kick chan struct{} // a commit happened; never closed
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// checkpointDelay gathers the commits of a moment into one checkpoint.
const checkpointDelay = 20 * time.Millisecond

func startCheckpointer(db *sql.DB) (*checkpointer, error) {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	c := &checkpointer{conn: conn, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case <-c.kick:
		}
		select {
		case <-c.quit:
			return // closing the database checkpoints what is left
		case <-time.After(checkpointDelay):
		}
		// Failing is harmless: the WAL stays, and is copied later.
		_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// committed asks for a checkpoint soon (none before Open has started the
// checkpointer: the migrations).
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// stop waits for a checkpoint under way and releases the connection.
func (c *checkpointer) stop() {
	if c == nil {
		return
	}
	c.once.Do(func() {
		close(c.quit)
		<-c.done
		c.conn.Close()
	})
}
