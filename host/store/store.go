package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	_ "github.com/datasync-io/datasync/sdk/cmalloc" // the C heap SQLite uses, set up for VMs
)

// FileName is the state database's name inside $DATASYNC_HOME.
const FileName = "state.db"

// ErrNotFound is returned when a named row does not exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrations embed.FS

// Store is datasync's state in one SQLite database (WAL, foreign keys on),
// or in PostgreSQL for several daemons sharing it. It is safe for
// concurrent use.
type Store struct {
	db   *sql.DB
	now  func() time.Time
	ckpt *checkpointer // SQLite only
	pg   bool
}

// Open opens the state at target, bringing its schema up to date: a SQLite
// file (created when missing), or a PostgreSQL database named by a
// postgres:// URL (IsPostgresURL).
func Open(ctx context.Context, target string) (*Store, error) {
	if IsPostgresURL(target) {
		return openPostgres(ctx, target)
	}
	path := target
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	q.Set("_cache_size", "-16384") // KiB: a run's link and history pages stay cached
	q.Set("_txlock", "immediate")  // writers queue on busy_timeout instead of failing on upgrade
	q.Set("_mutex", "no")          // database/sql uses a connection from one goroutine at a time
	db := sql.OpenDB(connector{dsn: "file:" + abs + "?" + q.Encode(), drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// A checkpoint copies the WAL into the database and syncs both:
		// two fsyncs of ~15 ms here, whatever their size. At SQLite's
		// default of 1,000 pages, every batch commit of an incremental run
		// (~2 dirty pages a link) paid one: three quarters of its time.
		_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walCheckpointPages), nil)
		return err
	}}})
	// One idle connection: database/sql hands out idle connections oldest
	// first, so with two a run would alternate between them, and each
	// SQLite connection drops its page cache whenever another one wrote.
	db.SetMaxIdleConns(1)
	s := &Store{db: db, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", abs, err)
	}
	if s.ckpt, err = startCheckpointer(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", abs, err)
	}
	return s, nil
}

// walCheckpointPages is how large the WAL grows (in 4 KiB pages) before a
// commit checkpoints it: 32 MiB.
const walCheckpointPages = 8192

// connector opens SQLite connections with the store's per-connection
// settings (those the driver's DSN has no parameter for).
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// Close closes the database.
func (s *Store) Close() error {
	s.ckpt.stop()
	return s.db.Close()
}

// SetClock replaces time.Now, for tests.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, in file-name order.
func (s *Store) migrate(ctx context.Context) error {
	if s.pg {
		// Daemons starting together migrate one after the other.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, migrationLock); err != nil {
			return fmt.Errorf("wait for the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, migrationLock) //nolint:errcheck // closing the session unlocks too
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		num, _, _ := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				version, base, fmtTime(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.ckpt.committed()
	return nil
}

// timeLayout is fixed-width so timestamps sort and compare as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// NewID returns a 128-bit id in hex, for runs, history, conflicts and
// correlation ids: the time in nanoseconds, then 64 random bits. Ids made
// later sort later, so rows keyed by them are appended to their index
// instead of landing on a random page of it.
func NewID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixNano()))
	_, _ = rand.Read(b[8:]) // never fails on supported platforms
	return hex.EncodeToString(b[:])
}
