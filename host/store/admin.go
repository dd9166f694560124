package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Connection is a plugin plus settings and (encrypted) credentials for one
// account of one app.
type Connection struct {
	Name               string
	Plugin             string
	PluginVersion      string
	Settings           map[string]string
	Secrets            []byte // encrypted by the caller: the store keeps bytes
	AccountFingerprint string
	AccountLabel       string
	Status             string // "ok" or what went wrong, e.g. "auth"
	Created, Updated   time.Time
}

// PutConnection inserts or replaces a connection, keeping its creation time.
func (s *Store) PutConnection(ctx context.Context, c Connection) error {
	settings, err := json.Marshal(nonNil(c.Settings))
	if err != nil {
		return fmt.Errorf("save connection %s: %w", c.Name, err)
	}
	if c.Status == "" {
		c.Status = "ok"
	}
	now := fmtTime(s.now())
	_, err = s.db.ExecContext(ctx, `INSERT INTO connections
		(name, plugin, plugin_version, settings, secrets, account_fingerprint, account_label, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET plugin = excluded.plugin, plugin_version = excluded.plugin_version,
		settings = excluded.settings, secrets = excluded.secrets, account_fingerprint = excluded.account_fingerprint,
		account_label = excluded.account_label, status = excluded.status, updated_at = excluded.updated_at`,
		c.Name, c.Plugin, c.PluginVersion, string(settings), c.Secrets, c.AccountFingerprint, c.AccountLabel,
		c.Status, now, now)
	if err != nil {
		return fmt.Errorf("save connection %s: %w", c.Name, err)
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

const connCols = `name, plugin, plugin_version, settings, secrets, account_fingerprint, account_label, status, created_at, updated_at`

func scanConnection(sc interface{ Scan(...any) error }) (Connection, error) {
	var c Connection
	var settings, created, updated string
	if err := sc.Scan(&c.Name, &c.Plugin, &c.PluginVersion, &settings, &c.Secrets, &c.AccountFingerprint,
		&c.AccountLabel, &c.Status, &created, &updated); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(settings), &c.Settings); err != nil {
		return c, fmt.Errorf("settings of %s: %w", c.Name, err)
	}
	c.Created, c.Updated = parseTime(created), parseTime(updated)
	return c, nil
}

// Connection returns the named connection or ErrNotFound.
func (s *Store) Connection(ctx context.Context, name string) (Connection, error) {
	c, err := scanConnection(s.db.QueryRowContext(ctx, `SELECT `+connCols+` FROM connections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("connection %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("load connection %s: %w", name, err)
	}
	return c, nil
}

// Connections returns every connection, by name.
func (s *Store) Connections(ctx context.Context) ([]Connection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+connCols+` FROM connections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	var out []Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetConnectionStatus records a connection's health ("ok", "auth", …).
func (s *Store) SetConnectionStatus(ctx context.Context, name, status string) error {
	return s.exec1(ctx, "connection "+name, `UPDATE connections SET status = ?, updated_at = ? WHERE name = ?`,
		status, fmtTime(s.now()), name)
}

// DeleteConnection removes a connection.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	return s.exec1(ctx, "connection "+name, `DELETE FROM connections WHERE name = ?`, name)
}

// exec1 runs a statement that must touch exactly one row.
func (s *Store) exec1(ctx context.Context, what, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// Sync states.
const (
	SyncActive = "active"
	SyncPaused = "paused"
	SyncDraft  = "draft"
)

// Sync is a stored sync definition (JSON, see package syncdef) and its state.
type Sync struct {
	Name             string
	Definition       json.RawMessage
	State            string
	Created, Updated time.Time
}

// PutSync inserts or replaces a sync's definition and state.
func (s *Store) PutSync(ctx context.Context, sy Sync) error {
	if sy.State == "" {
		sy.State = SyncDraft
	}
	now := fmtTime(s.now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO syncs (name, definition, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition,
		state = excluded.state, updated_at = excluded.updated_at`,
		sy.Name, string(sy.Definition), sy.State, now, now)
	if err != nil {
		return fmt.Errorf("save sync %s: %w", sy.Name, err)
	}
	return nil
}

func scanSync(sc interface{ Scan(...any) error }) (Sync, error) {
	var sy Sync
	var def, created, updated string
	err := sc.Scan(&sy.Name, &def, &sy.State, &created, &updated)
	sy.Definition = json.RawMessage(def)
	sy.Created, sy.Updated = parseTime(created), parseTime(updated)
	return sy, err
}

// Sync returns the named sync or ErrNotFound.
func (s *Store) Sync(ctx context.Context, name string) (Sync, error) {
	sy, err := scanSync(s.db.QueryRowContext(ctx,
		`SELECT name, definition, state, created_at, updated_at FROM syncs WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return sy, fmt.Errorf("sync %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return sy, fmt.Errorf("load sync %s: %w", name, err)
	}
	return sy, nil
}

// Syncs returns every sync, by name.
func (s *Store) Syncs(ctx context.Context) ([]Sync, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, definition, state, created_at, updated_at FROM syncs ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list syncs: %w", err)
	}
	defer rows.Close()
	var out []Sync
	for rows.Next() {
		sy, err := scanSync(rows)
		if err != nil {
			return nil, fmt.Errorf("list syncs: %w", err)
		}
		out = append(out, sy)
	}
	return out, rows.Err()
}

// SetSyncState sets a sync active, paused or draft.
func (s *Store) SetSyncState(ctx context.Context, name, state string) error {
	return s.exec1(ctx, "sync "+name, `UPDATE syncs SET state = ?, updated_at = ? WHERE name = ?`,
		state, fmtTime(s.now()), name)
}

// DeleteSync removes a sync and, by cascade, all its state.
func (s *Store) DeleteSync(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM syncs WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("sync %s: %w", name, ErrNotFound)
		}
		// Its leases too (no foreign key: a watch's is named apart). A
		// sync made again under the name starts without the old one's
		// next due time; a run of the old one still going is fenced.
		if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE sync_name IN (?, ?, ?)`,
			name, WatchLease(name, "left"), WatchLease(name, "right")); err != nil {
			return fmt.Errorf("sync %s: its leases: %w", name, err)
		}
		return nil
	})
}

// ResetSyncState forgets a sync's cursors, links, pending records and journal
// and errors (the definition and history stay): the next run starts from full reads and re-links
// records by their keys.
func (s *Store) ResetSyncState(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range []string{"cursors", "links", "pending_records", "journal", "journal_batches", "conflicts", "queued_deletes", "errors"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE sync_name = ?`, name); err != nil {
				return fmt.Errorf("reset sync %s: %s: %w", name, t, err)
			}
		}
		return nil
	})
}
