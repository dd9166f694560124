package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/sdk"
	_ "github.com/datasync-io/datasync/sdk/cmalloc" // the C heap SQLite uses, set up for VMs
)

// Version is the connector's release.
const Version = "0.1.0"

// Setting names.
const (
	settingPath      = "path"
	settingUpdatedAt = "updated_at_column"
	settingTables    = "tables"
	settingWatchPoll = "watch_poll"
)

// busyTimeout is how long a statement waits for another writer's lock.
const busyTimeout = 5 * time.Second

// Connector is the SQLite connector: Describe and Open.
type Connector struct{}

// New returns the SQLite connector.
func New() *Connector { return &Connector{} }

// Describe says what the connector needs: a database file, no credentials.
func (*Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "sqlite",
		Version: Version,
		Description: "Tables of a SQLite database file as object types. Tables with an updated-at " +
			"column are read incrementally; the connector keeps that column current on every write.",
		Settings: []sdk.ConfigField{
			{Name: settingPath, Label: "Database file", Required: true, Example: "/var/lib/app/app.db",
				Description: "Path of an existing SQLite database file; it is never created."},
			{Name: settingUpdatedAt, Label: "Updated-at column", Default: "updated_at",
				Description: "Tables with this column are read incrementally; the connector sets it on every write."},
			{Name: settingTables, Label: "Tables", Example: "contacts, companies",
				Description: "Comma-separated tables to expose; empty exposes every table."},
			sdk.WatchPollField("1s"),
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID, sdk.CapabilityWatch},
		Requirements: []string{
			"Read and write access to the database file and its directory (WAL mode keeps -wal and -shm files beside it).",
		},
	}, nil
}

// Open prepares a connection to the database file; Check reaches it.
func (c *Connector) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	d, _ := c.Describe(ctx)
	cfg = d.WithDefaults(cfg)
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Get(settingPath))
	if err != nil {
		return nil, sdk.FieldError(settingPath, "resolve %q: %v", cfg.Get(settingPath), err)
	}
	var only map[string]bool
	for _, name := range strings.Split(cfg.Get(settingTables), ",") {
		if name = strings.TrimSpace(name); name != "" {
			if only == nil {
				only = map[string]bool{}
			}
			only[strings.ToLower(name)] = true
		}
	}
	poll, err := cfg.Duration(settingWatchPoll, time.Second)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(dbConnector{dsn: dsn(abs), drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// A checkpoint syncs the WAL and the database (~15 ms each on a
		// virtual disk) in the commit that passes the mark: at SQLite's
		// 1,000 pages, every few write batches of a first run paid it.
		_, err := c.Exec(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", walCheckpointPages), nil)
		return err
	}}})
	// Writers are serialized by SQLite anyway; a few connections let reads
	// run beside a write (WAL).
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return &conn{path: abs, uaName: cfg.Get(settingUpdatedAt), only: only, db: db, watchPoll: poll}, nil
}

// walCheckpointPages is how large the WAL grows (in pages) before a
// commit copies it into the database: 32 MiB of 4 KiB pages.
const walCheckpointPages = 8192

// dbConnector opens SQLite connections with settings the driver's DSN has
// no parameter for (ConnectHook).
type dbConnector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c dbConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dbConnector) Driver() driver.Driver                        { return c.drv }

// dsn builds the driver's URI for path: mode=rw so a missing file is an
// error rather than a new empty database; _mutex=no because database/sql
// never uses a connection from two goroutines at once, and SQLite's own
// lock around every call was a sixth of a digest read's CPU.
func dsn(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(path)) + fmt.Sprintf(
		"?mode=rw&_busy_timeout=%d&_journal_mode=WAL&_synchronous=NORMAL&_mutex=no", busyTimeout.Milliseconds())
}

// conn is an open connection to one database file.
type conn struct {
	path   string
	uaName string
	only   map[string]bool // tables to expose (lower case); nil: all
	db     *sql.DB
	clock  stamper
	// watchPoll is how often Watch looks at the file's change counter.
	watchPoll time.Duration

	mu        sync.Mutex
	schemaVer int64
	loaded    bool
	tables    []*table
	// deleted is the highest rowid this connection deleted, per table
	// without AUTOINCREMENT: SQLite would hand it out again to the next
	// insert, and a host still holding the old id would take the new row
	// for the deleted one.
	deleted map[string]int64
}

// noteDeleted records that rowid id of table was deleted.
func (c *conn) noteDeleted(table string, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleted == nil {
		c.deleted = map[string]int64{}
	}
	c.deleted[table] = max(c.deleted[table], id)
}

func (c *conn) highestDeleted(table string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deleted[table]
}

// Check opens the file and reads its catalogue. The fingerprint is the
// absolute path and the file's identity (device and inode), so pointing the
// connection at another file, or a replaced one, changes it.
func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	st, err := c.stat()
	if err != nil {
		return sdk.Account{}, err
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&n); err != nil {
		return sdk.Account{}, c.dbError("check", err)
	}
	sum := sha256.Sum256([]byte("sqlite\x00" + c.path + "\x00" + fileIdentity(st)))
	return sdk.Account{Fingerprint: hex.EncodeToString(sum[:16]), Label: "SQLite " + c.path}, nil
}

// stat reports a missing or unreadable file as unreachable, in words an
// admin can act on.
func (c *conn) stat() (fs.FileInfo, error) {
	st, err := os.Stat(c.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, sdk.Errorf(sdk.CategoryUnreachable, "no such database file: %s", c.path)
	case errors.Is(err, fs.ErrPermission):
		return nil, sdk.Errorf(sdk.CategoryForbidden, "no permission to reach database file %s: %v", c.path, err)
	case err != nil:
		return nil, sdk.Errorf(sdk.CategoryUnreachable, "database file %s: %v", c.path, err)
	case st.IsDir():
		return nil, sdk.Errorf(sdk.CategoryUnreachable, "%s is a directory, not a database file", c.path)
	}
	return st, nil
}

// dbError categorizes a failure of the database as a whole.
func (c *conn) dbError(what string, err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrCantOpen:
			if _, serr := c.stat(); serr != nil {
				return serr
			}
			return sdk.Errorf(sdk.CategoryUnreachable, "%s: cannot open database file %s: %v", what, c.path, err)
		case sqlite3.ErrNotADB:
			return sdk.Errorf(sdk.CategoryUnreachable, "%s: %s is not a SQLite database", what, c.path)
		case sqlite3.ErrPerm, sqlite3.ErrReadonly, sqlite3.ErrAuth:
			return sdk.Errorf(sdk.CategoryForbidden, "%s: %s: %v", what, c.path, err)
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return sdk.Errorf(sdk.CategoryTransient, "%s: database %s is busy: %v", what, c.path, err)
		case sqlite3.ErrCorrupt, sqlite3.ErrFull, sqlite3.ErrIoErr:
			return sdk.Errorf(sdk.CategoryPermanent, "%s: %s: %v", what, c.path, err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s: %w", what, c.path, err)
}

// Schema returns the tables as object types.
func (c *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	tables, err := c.load(ctx)
	if err != nil {
		return sdk.Schema{}, err
	}
	s := sdk.Schema{Objects: make([]sdk.ObjectType, 0, len(tables))}
	for _, t := range tables {
		s.Objects = append(s.Objects, t.obj)
	}
	return s, nil
}

// load returns the tables, re-reading them when the schema changed.
func (c *conn) load(ctx context.Context) ([]*table, error) {
	var ver int64
	if err := c.db.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&ver); err != nil {
		return nil, c.dbError("read schema", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && ver == c.schemaVer {
		return c.tables, nil
	}
	tables, err := loadSchema(ctx, c.db, c.uaName, c.only)
	if err != nil {
		return nil, c.dbError("read schema", err)
	}
	c.tables, c.schemaVer, c.loaded = tables, ver, true
	return tables, nil
}

// table returns the named table.
func (c *conn) table(ctx context.Context, name string) (*table, error) {
	tables, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if t.name == name {
			return t, nil
		}
	}
	return nil, sdk.Errorf(sdk.CategoryNotFound, "no table %q in %s", name, c.path)
}

// Close closes the database.
func (c *conn) Close() error { return c.db.Close() }

// stamper hands out updated-at stamps: microseconds, strictly increasing
// within the process so two writes in the same microsecond still differ.
type stamper struct {
	mu   sync.Mutex
	last time.Time
}

func (s *stamper) next() time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.After(s.last) {
		now = s.last.Add(time.Microsecond)
	}
	s.last = now
	return now
}

// advance makes every later stamp come after at: a batch that took
// stamps from a base of its own (writer.stamp) reports its last.
func (s *stamper) advance(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.last) {
		s.last = at
	}
}

// stamp is the stored form of an updated-at time for table t.
func (t *table) stamp(at time.Time) any {
	if t.uaInt {
		return at.UnixMicro()
	}
	return at.Format(stampLayout)
}
