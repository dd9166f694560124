package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/datasync-io/datasync/sdk"
)

// Connector is the PostgreSQL connector.
type Connector struct{}

// New returns the connector.
func New() *Connector { return &Connector{} }

// Describe declares the settings and capabilities.
func (c *Connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:        "postgres",
		Version:     "0.1.0",
		Description: "Tables and views of one PostgreSQL schema",
		Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{
			{Name: "password", Label: "Password", Secret: true,
				Description: "password of the URL's user (may instead be in the URL; it is never logged)"},
		}},
		Settings: []sdk.ConfigField{
			{Name: "url", Label: "Connection URL", Required: true, Example: "postgres://crm@db.example:5432/crm?sslmode=require",
				Description: "postgres://user@host:port/database; put the password in the password secret"},
			{Name: "schema", Label: "Schema", Default: "public", Description: "the schema whose tables and views are exposed"},
			{Name: "updated_at_column", Label: "Updated-at column", Default: "updated_at",
				Description: "tables with this timestamp column are read incrementally; the connector sets it on every write"},
			{Name: "soft_delete_column", Label: "Soft-delete column", Example: "deleted_at",
				Description: "a timestamp column: non-null means deleted; deletes set it and incremental reads report tombstones"},
			{Name: "version_column", Label: "Version column", Example: "version",
				Description: "a column whose value is the record version (an integer column is incremented on every write); default: the row's xmin"},
			{Name: "late_commit_window", Label: "Late-commit window", Default: "1h",
				Description: "how far back incremental reads look for rows committed late by long transactions"},
			{Name: "clock_skew", Label: "Clock skew", Default: "5s",
				Description: "how much earlier than its transaction's start a row's updated-at may be (stamps from application clocks)"},
			{Name: "watch_channel", Label: "Watch channel", Example: "datasync",
				Description: "a LISTEN/NOTIFY channel whose notices (payload: the table's name) make the daemon run the table's syncs at once; triggers must notify it"},
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID, sdk.CapabilityWatch},
		Requirements: []string{
			"The user needs SELECT on the schema's tables, and INSERT, UPDATE, DELETE on those to be written.",
			"Tables need a primary key; incremental reads need a timestamp updated-at column (an index on it helps).",
		},
	}, nil
}

// settings are the parsed connection settings.
type settings struct {
	schema, updatedAt, softDelete, version string
	watchChannel                           string
	lateWindow, clockSkew                  time.Duration
}

// Open parses the settings; it does not connect (Check does).
func (c *Connector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	raw := strings.TrimSpace(cfg.Get("url"))
	if raw == "" {
		return nil, sdk.FieldError("url", "url is required")
	}
	pcfg, err := pgx.ParseConfig(raw)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, sdk.FieldError("url", "cannot parse the connection URL: %s", stripParseNoise(err))
	}
	if pw := cfg.Secrets["password"]; pw != "" {
		pcfg.Password = pw
	}
	if pcfg.ConnectTimeout == 0 {
		pcfg.ConnectTimeout = 15 * time.Second
	}
	// Timestamps without time zone are read and written as UTC.
	pcfg.RuntimeParams["timezone"] = "UTC"
	// Timestamps cast to text (cursor marks, text-format values) in one known form.
	pcfg.RuntimeParams["datestyle"] = "ISO, YMD"
	if pcfg.RuntimeParams["application_name"] == "" {
		pcfg.RuntimeParams["application_name"] = "datasync"
	}
	s := settings{
		schema:       orDefault(cfg.Get("schema"), "public"),
		updatedAt:    orDefault(cfg.Get("updated_at_column"), "updated_at"),
		softDelete:   strings.TrimSpace(cfg.Get("soft_delete_column")),
		version:      strings.TrimSpace(cfg.Get("version_column")),
		watchChannel: strings.TrimSpace(cfg.Get("watch_channel")),
		lateWindow:   time.Hour,
		clockSkew:    5 * time.Second,
	}
	if w := strings.TrimSpace(cfg.Get("late_commit_window")); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return nil, sdk.FieldError("late_commit_window", "late_commit_window %q is not a duration such as 1h or 10m", w)
		}
		s.lateWindow = d
	}
	if w := strings.TrimSpace(cfg.Get("clock_skew")); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return nil, sdk.FieldError("clock_skew", "clock_skew %q is not a duration such as 5s or 1m", w)
		}
		s.clockSkew = d
	}
	return &Conn{set: s, pool: newPool(pcfg, 4), host: pcfg.Host, port: pcfg.Port, db: pcfg.Database,
		user: pcfg.User, resultFormats: binaryOIDs()}, nil
}

func orDefault(s, d string) string {
	if s = strings.TrimSpace(s); s == "" {
		return d
	}
	return s
}

func stripParseNoise(err error) string {
	msg := err.Error()
	// "cannot parse `postgres://u:xxxxx@h/db`: failed to parse as URL (...)": keep the reason.
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// Conn is one open connection to a database.
type Conn struct {
	set           settings
	pool          *pool
	host, db      string
	user          string
	port          uint16
	resultFormats map[uint32]int16             // read-only after Open
	traceQuery    func(sql string, args []any) // tests: sees every query a read runs

	mu       sync.Mutex
	cache    map[string]*table
	cachedAt time.Time
}

// schemaTTL bounds how long catalog metadata is reused between calls.
const schemaTTL = 10 * time.Second

// Close closes the pooled connections.
func (c *Conn) Close() error { return c.pool.close() }

// withConn runs f on a pooled connection, mapping connection failures.
func (c *Conn) withConn(ctx context.Context, f func(*pgx.Conn) error) error {
	pc, err := c.pool.acquire(ctx)
	if err != nil {
		return c.connectError(err)
	}
	defer c.pool.release(pc)
	return f(pc)
}

// Check connects and identifies the database cluster and database.
func (c *Conn) Check(ctx context.Context) (sdk.Account, error) {
	var acct sdk.Account
	err := c.withConn(ctx, func(pc *pgx.Conn) error {
		// One statement for what every run checks, sent unprepared: on the
		// fresh backend of a run each prepared statement cost a round trip
		// of its own, four of them before the first read.
		var db, user string
		var exists, usable bool
		if err := pc.QueryRow(ctx, `SELECT current_database(), current_user, n.oid IS NOT NULL,
			COALESCE(has_schema_privilege(n.oid, 'USAGE'), false)
			FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1`,
			pgx.QueryExecModeSimpleProtocol, c.set.schema).Scan(&db, &user, &exists, &usable); err != nil {
			return mapQueryError(fmt.Errorf("check: %w", err))
		}
		if !exists {
			return sdk.FieldError("schema", "schema %q does not exist in database %q", c.set.schema, db)
		}
		if !usable {
			return sdk.Errorf(sdk.CategoryForbidden, "user %q may not use schema %q (GRANT USAGE ON SCHEMA %s TO %s)", user, c.set.schema, c.set.schema, user)
		}
		id := ""
		// pg_control_system is not granted to everyone: fall back to the address.
		if err := pc.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()", pgx.QueryExecModeSimpleProtocol).Scan(&id); err != nil {
			if pc.PgConn().TxStatus() != 'I' || pc.IsClosed() {
				return mapQueryError(fmt.Errorf("check: %w", err))
			}
			var addr *string
			var port *int
			if err := pc.QueryRow(ctx, "SELECT host(inet_server_addr()), inet_server_port()", pgx.QueryExecModeSimpleProtocol).Scan(&addr, &port); err != nil {
				return mapQueryError(fmt.Errorf("check: %w", err))
			}
			id = c.host
			if addr != nil && port != nil {
				id = fmt.Sprintf("%s:%d", *addr, *port)
			}
		}
		acct = sdk.Account{
			Fingerprint: "postgres:" + id + "/" + db,
			Label:       fmt.Sprintf("%s@%s:%d/%s (schema %s)", user, c.host, c.port, db, c.set.schema),
		}
		return nil
	})
	return acct, err
}

// connectError categorizes a failure to open a connection.
func (c *Conn) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sdk.Errorf(sdk.CategoryTransient, "connect to %s:%d: %v", c.host, c.port, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return &sdk.Error{Category: sdk.CategoryAuth, Message: fmt.Sprintf("authentication failed: check user and password (user %q on %s:%d)", c.user, c.host, c.port)}
		case "3D000":
			return sdk.FieldError("url", "database %q does not exist on %s:%d", c.db, c.host, c.port)
		case "42501":
			return sdk.Errorf(sdk.CategoryForbidden, "user %q may not connect to database %q: %s", c.user, c.db, pgErr.Message)
		case "53300", "57P03":
			return sdk.Errorf(sdk.CategoryTransient, "connect to %s:%d: %s", c.host, c.port, pgErr.Message)
		}
		return sdk.Errorf(sdk.CategoryPermanent, "connect to %s:%d: %s", c.host, c.port, pgErr.Message)
	}
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) || errors.As(err, &netErr) || isConnectFailure(err) {
		return sdk.Errorf(sdk.CategoryUnreachable, "cannot reach PostgreSQL at %s:%d: %s", c.host, c.port, innermost(err))
	}
	return sdk.Errorf(sdk.CategoryUnreachable, "connect to %s:%d: %s", c.host, c.port, innermost(err))
}

func isConnectFailure(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// innermost is the root cause's message, without pgx's connection-string preamble.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
