package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Cursor is where the next incremental read of one side resumes.
// Fingerprint identifies what the cursor was read for (sides, mappings,
// filters): the engine ignores a cursor whose fingerprint differs.
type Cursor struct {
	Sync, Side  string
	Cursor      string
	Fingerprint string
	// Skip: marks of the writes made to the side since Cursor was read
	// (sdk.ReadRequest.Skip), for its next incremental read.
	Skip    []string
	Updated time.Time
}

// Cursors returns a sync's cursors by side.
func (s *Store) Cursors(ctx context.Context, sync string) (map[string]Cursor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT side, cursor, fingerprint, skip, updated_at FROM cursors WHERE sync_name = ?`, sync)
	if err != nil {
		return nil, fmt.Errorf("load cursors of %s: %w", sync, err)
	}
	defer rows.Close()
	out := map[string]Cursor{}
	for rows.Next() {
		c := Cursor{Sync: sync}
		var updated, skip string
		if err := rows.Scan(&c.Side, &c.Cursor, &c.Fingerprint, &skip, &updated); err != nil {
			return nil, fmt.Errorf("load cursors of %s: %w", sync, err)
		}
		if skip != "" && json.Unmarshal([]byte(skip), &c.Skip) != nil {
			c.Skip = nil // unreadable marks: the echoes are read, which is only slower
		}
		c.Updated = parseTime(updated)
		out[c.Side] = c
	}
	return out, rows.Err()
}

// Link states.
const (
	LinkSyncing      = "syncing"
	LinkExcluded     = "excluded"      // a filter no longer matches: nothing flows
	LinkFailing      = "failing"       // the last write for it failed
	LinkLeftDeleted  = "left_deleted"  // gone on the left; the right record is kept (deletes ignored or queued)
	LinkRightDeleted = "right_deleted" // gone on the right; the left record is kept
)

// Link pairs a left and a right record known to be the same, with the base
// of each mapped field (keyed by "left=right" of the mapping).
type Link struct {
	Sync                      string
	LeftID, RightID           string
	LeftVersion, RightVersion string
	State                     string
	ExcludedBy                string // excluded: whose filter refused it ("left", "right", "both")
	Base                      Base
	RawBase                   string // the base as stored, when loaded still encoded (see DecodeBase)
	RawBaseKeys               string // BaseKeys of RawBase's keys, when the caller knows it ("": worked out)
	// BaseOmitted: loaded without its base, whose keys were exactly those
	// asked for (see RunLinks); FillBases loads it. Such a link can't be
	// decoded or stored until then.
	BaseOmitted      bool
	Created, Updated time.Time
}

// encodedBase is the base to store, and the digest of its keys: RawBase
// when it was never decoded. buf is scratch space, reused across the links
// of a batch.
func (l *Link) encodedBase(buf *[]byte) (base, keys string, err error) {
	if l.BaseOmitted {
		return "", "", fmt.Errorf("link %s↔%s: stored without its base loaded (FillBases)", l.LeftID, l.RightID)
	}
	if l.Base == nil && l.RawBase != "" {
		if l.RawBaseKeys != "" {
			return l.RawBase, l.RawBaseKeys, nil
		}
		return l.RawBase, baseKeysOf(l.RawBase), nil
	}
	*buf = appendBase((*buf)[:0], l.Base)
	return string(*buf), l.Base.keys(), nil
}

// DecodeBase fills Base from RawBase, once.
func (l *Link) DecodeBase() error {
	if l.BaseOmitted {
		return fmt.Errorf("base of link %s↔%s: not loaded (FillBases)", l.LeftID, l.RightID)
	}
	if l.Base != nil || l.RawBase == "" {
		return nil
	}
	b, err := DecodeBase(l.RawBase)
	if err != nil {
		return fmt.Errorf("base of link %s↔%s: %w", l.LeftID, l.RightID, err)
	}
	l.Base, l.RawBase = b, ""
	return nil
}

// Links returns every link of a sync.
func (s *Store) Links(ctx context.Context, sync string) ([]Link, error) {
	return s.queryLinks(ctx, sync, true, `base`, ` ORDER BY left_id`, 0)
}

// EncodedLinks returns every link of a sync with its base left encoded
// (RawBase set, Base nil; see Link.DecodeBase) and without Created and
// Updated: what a run needs, as cheaply as a run of 200,000 links allows.
func (s *Store) EncodedLinks(ctx context.Context, sync string) ([]Link, error) {
	n, err := s.LinkCount(ctx, sync)
	if err != nil {
		return nil, err
	}
	return s.queryLinks(ctx, sync, false, `base`, ``, n)
}

// RunLinks returns every link of a sync as EncodedLinks does, but leaves
// out the bases that hold exactly keys (BaseOmitted): a run whose mappings
// those are knows such a base covers them, and loads the few it merges
// with FillBases. A no-change run so reads no bases at all.
func (s *Store) RunLinks(ctx context.Context, sync string, keys []string) ([]Link, error) {
	n, err := s.LinkCount(ctx, sync)
	if err != nil {
		return nil, err
	}
	return s.queryLinks(ctx, sync, false, omitBase(keys), ``, n)
}

// omitBase is the base column of links with the bases that hold exactly
// keys left out (NULL).
func omitBase(keys []string) string {
	// The digest is digits, letters and a colon: safe as a literal.
	return `CASE WHEN base_keys = '` + BaseKeys(keys) + `' THEN NULL ELSE base END`
}

// FillBases loads the bases RunLinks left out of links.
func (s *Store) FillBases(ctx context.Context, sync string, links []*Link) error {
	const chunk = 500 // well under SQLite's limit on bound parameters
	for start := 0; start < len(links); start += chunk {
		part := links[start:min(len(links), start+chunk)]
		args := make([]any, 0, len(part)+1)
		args = append(args, sync)
		byID := make(map[string]*Link, len(part))
		for _, l := range part {
			args = append(args, l.LeftID)
			byID[l.LeftID] = l
		}
		rows, err := s.db.QueryContext(ctx, `SELECT left_id, base FROM links WHERE sync_name = ? AND left_id IN (?`+
			strings.Repeat(`, ?`, len(part)-1)+`)`, args...)
		if err != nil {
			return fmt.Errorf("load link bases of %s: %w", sync, err)
		}
		for rows.Next() {
			var id, base string
			if err := rows.Scan(&id, &base); err != nil {
				rows.Close()
				return fmt.Errorf("load link bases of %s: %w", sync, err)
			}
			if l := byID[id]; l != nil {
				l.RawBase, l.BaseOmitted = base, false
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load link bases of %s: %w", sync, err)
		}
	}
	for _, l := range links {
		if l.BaseOmitted {
			return fmt.Errorf("load link bases of %s: link %s↔%s is gone", sync, l.LeftID, l.RightID)
		}
	}
	return nil
}

// LinksFor returns the links of a sync whose record on side ("left" or
// "right") is one of ids, with their bases left encoded, as EncodedLinks.
func (s *Store) LinksFor(ctx context.Context, sync, side string, ids []string) ([]Link, error) {
	return s.linksFor(ctx, sync, side, ids, `base`)
}

func (s *Store) linksFor(ctx context.Context, sync, side string, ids []string, baseCol string) ([]Link, error) {
	col := "left_id"
	if side == "right" {
		col = "right_id"
	}
	var out []Link
	const chunk = 500 // well under SQLite's limit on bound parameters
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(len(ids), start+chunk)]
		args := make([]any, 0, len(part))
		for _, id := range part {
			args = append(args, id)
		}
		ls, err := s.queryLinks(ctx, sync, false, baseCol, ` AND `+col+` IN (?`+strings.Repeat(`, ?`, len(part)-1)+`)`, len(part), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

// RunLinksFor returns the links of records ids of side ("left" or "right")
// as LinksFor does, with the bases that hold exactly keys left out, as
// RunLinks does.
func (s *Store) RunLinksFor(ctx context.Context, sync, side string, ids []string, keys []string) ([]Link, error) {
	return s.linksFor(ctx, sync, side, ids, omitBase(keys))
}

// LinksAfter returns up to limit links of a sync whose left ids come after
// after, in left-id order, with their bases encoded (as EncodedLinks): a
// run that goes through every link a page at a time holds one page.
func (s *Store) LinksAfter(ctx context.Context, sync, after string, limit int) ([]Link, error) {
	return s.queryLinks(ctx, sync, false, `base`, ` AND left_id > ? ORDER BY left_id LIMIT ?`, limit, after, limit)
}

// queryLinks loads links. decode: bases decoded and the times read (the
// full form); else bases encoded and no times (a run's form). baseCol is the
// base's column expression: a NULL base is one left out (BaseOmitted). size
// is how many are expected, to size the result once.
func (s *Store) queryLinks(ctx context.Context, sync string, decode bool, baseCol, cond string, size int, args ...any) ([]Link, error) {
	cols := `left_id, right_id, left_version, right_version, ` + baseCol + `, state, excluded_by`
	if decode {
		cols += `, created_at, updated_at`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM links WHERE sync_name = ?`+cond, append([]any{sync}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("load links of %s: %w", sync, err)
	}
	defer rows.Close()
	out := make([]Link, 0, size)
	for rows.Next() {
		out = append(out, Link{Sync: sync})
		l := &out[len(out)-1]
		var base sql.NullString
		dest := []any{&l.LeftID, &l.RightID, &l.LeftVersion, &l.RightVersion, &base, &l.State, &l.ExcludedBy}
		var created, updated string
		if decode {
			dest = append(dest, &created, &updated)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load links of %s: %w", sync, err)
		}
		l.RawBase, l.BaseOmitted = base.String, !base.Valid
		if decode {
			if err := l.DecodeBase(); err != nil {
				return nil, fmt.Errorf("load links of %s: %w", sync, err)
			}
			l.Created, l.Updated = parseTime(created), parseTime(updated)
		}
	}
	return out, rows.Err()
}

// LinkCount returns how many links a sync has.
func (s *Store) LinkCount(ctx context.Context, sync string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM links WHERE sync_name = ?`, sync).Scan(&n); err != nil {
		return 0, fmt.Errorf("count links of %s: %w", sync, err)
	}
	return n, nil
}

// HasLinks reports whether a sync has any link, without counting them.
func (s *Store) HasLinks(ctx context.Context, sync string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM links WHERE sync_name = ? LIMIT 1) one`, sync).Scan(&n); err != nil {
		return false, fmt.Errorf("look for links of %s: %w", sync, err)
	}
	return n == 1, nil
}

// LinkCounts returns how many links of a sync are in each state.
func (s *Store) LinkCounts(ctx context.Context, sync string) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM links WHERE sync_name = ? GROUP BY state`, sync)
	if err != nil {
		return nil, fmt.Errorf("count links of %s: %w", sync, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Pending is the last-seen form of a record whose changes were not all
// applied (a failed write, a manual conflict): kept so the engine can retry
// without re-reading it.
type Pending struct {
	Sync, Side string
	RecordID   string
	Version    string
	ModifiedAt time.Time
	Values     map[string]sdk.Value // every field as read
	Updated    time.Time
}

// Pending returns a sync's pending records.
func (s *Store) Pending(ctx context.Context, sync string) ([]Pending, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT side, record_id, version, modified_at, vals, updated_at
		FROM pending_records WHERE sync_name = ? ORDER BY side, record_id`, sync)
	if err != nil {
		return nil, fmt.Errorf("load pending records of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		p := Pending{Sync: sync}
		var mod, vals, updated string
		if err := rows.Scan(&p.Side, &p.RecordID, &p.Version, &mod, &vals, &updated); err != nil {
			return nil, fmt.Errorf("load pending records of %s: %w", sync, err)
		}
		var err error
		if p.Values, err = DecodeValues([]byte(vals)); err != nil {
			return nil, fmt.Errorf("load pending record %s: %w", p.RecordID, err)
		}
		p.ModifiedAt, p.Updated = parseTime(mod), parseTime(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// JournalEntry is a create about to be sent (or sent, not yet settled):
// after a crash the engine looks for it on Side before creating anything.
type JournalEntry struct {
	ID       string // the correlation id
	Batch    string // the batch of a run it was journaled with ("": stored alone)
	Sync     string
	Side     string // where the record is created
	SourceID string // the record it copies, on the other side
	Payload  json.RawMessage
	Created  time.Time
}

// Journal returns a sync's unsettled creates, oldest first.
func (s *Store) Journal(ctx context.Context, sync string) ([]JournalEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, side, source_id, payload, created_at FROM journal
		WHERE sync_name = ? ORDER BY created_at, id`, sync)
	if err != nil {
		return nil, fmt.Errorf("load journal of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		j := JournalEntry{Sync: sync}
		var payload, created string
		if err := rows.Scan(&j.ID, &j.Side, &j.SourceID, &payload, &created); err != nil {
			return nil, fmt.Errorf("load journal of %s: %w", sync, err)
		}
		j.Payload, j.Created = json.RawMessage(payload), parseTime(created)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load journal of %s: %w", sync, err)
	}
	brows, err := s.db.QueryContext(ctx, `SELECT batch, side, entries, created_at FROM journal_batches
		WHERE sync_name = ? ORDER BY created_at, batch, side`, sync)
	if err != nil {
		return nil, fmt.Errorf("load journal of %s: %w", sync, err)
	}
	defer brows.Close()
	for brows.Next() {
		row := JournalEntry{Sync: sync}
		var entries, created string
		if err := brows.Scan(&row.Batch, &row.Side, &entries, &created); err != nil {
			return nil, fmt.Errorf("load journal of %s: %w", sync, err)
		}
		row.Created = parseTime(created)
		js, err := decodeJournal(entries, row)
		if err != nil {
			return nil, fmt.Errorf("load journal of %s: batch %s: %w", sync, row.Batch, err)
		}
		out = append(out, js...)
	}
	return out, brows.Err()
}

// RecordError is why one record of a sync did not sync (RecordID empty: a
// run-level error, e.g. auth on a connection). One row per (side, record,
// category), updated in place: a repeated put counts one more attempt.
type RecordError struct {
	Sync, Side, RecordID string
	Category             string
	Field, Value         string
	Message, Hint        string
	Attempts             int
	NextRetry            time.Time
	FirstSeen, LastSeen  time.Time
}

// Errors returns a sync's errors, optionally of one category ("" for all).
func (s *Store) Errors(ctx context.Context, sync, category string) ([]RecordError, error) {
	q := `SELECT side, record_id, category, field, value, message, hint, attempts, next_retry, first_seen, last_seen
		FROM errors WHERE sync_name = ?`
	args := []any{sync}
	if category != "" {
		q += ` AND category = ?`
		args = append(args, category)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY category, side, record_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("load errors of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []RecordError
	for rows.Next() {
		e := RecordError{Sync: sync}
		var next, first, last string
		if err := rows.Scan(&e.Side, &e.RecordID, &e.Category, &e.Field, &e.Value, &e.Message, &e.Hint,
			&e.Attempts, &next, &first, &last); err != nil {
			return nil, fmt.Errorf("load errors of %s: %w", sync, err)
		}
		e.NextRetry, e.FirstSeen, e.LastSeen = parseTime(next), parseTime(first), parseTime(last)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Run statuses.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
)

// Run is one run of a sync.
type Run struct {
	ID       string
	Sync     string
	Started  time.Time
	Finished time.Time
	Status   string
	Counts   json.RawMessage // the engine's report counts
	Error    string
}

// StartRun records a run as running.
func (s *Store) StartRun(ctx context.Context, r Run) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO runs (id, sync_name, started_at, status) VALUES (?, ?, ?, ?)`,
		r.ID, r.Sync, fmtTime(r.Started), RunRunning)
	if err != nil {
		return fmt.Errorf("start run of %s: %w", r.Sync, err)
	}
	return nil
}

// FinishRun records a run's end, status, counts and error.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	counts := string(r.Counts)
	if counts == "" {
		counts = "{}"
	}
	return s.exec1(ctx, "finish run "+r.ID, `UPDATE runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE id = ?`,
		fmtTime(r.Finished), r.Status, counts, r.Error, r.ID)
}

// Runs returns a sync's latest runs, newest first (limit <= 0: all).
func (s *Store) Runs(ctx context.Context, sync string, limit int) ([]Run, error) {
	q := `SELECT id, started_at, finished_at, status, counts, error FROM runs WHERE sync_name = ? ORDER BY started_at DESC, id`
	args := []any{sync}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("load runs of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r := Run{Sync: sync}
		var started, finished, counts string
		if err := rows.Scan(&r.ID, &started, &finished, &r.Status, &counts, &r.Error); err != nil {
			return nil, fmt.Errorf("load runs of %s: %w", sync, err)
		}
		r.Started, r.Finished, r.Counts = parseTime(started), parseTime(finished), json.RawMessage(counts)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Conflict is a field changed differently on both sides under the manual
// rule, waiting for an admin.
type Conflict struct {
	ID              string
	Sync            string
	LeftID, RightID string
	Field           string // the mapping key, "left=right"
	Left, Right     sdk.Value
	Created         time.Time
	Updated         time.Time
}

// Conflicts returns a sync's open conflicts.
func (s *Store) Conflicts(ctx context.Context, sync string) ([]Conflict, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, left_id, right_id, field, left_value, right_value, created_at, updated_at
		FROM conflicts WHERE sync_name = ? ORDER BY created_at, id`, sync)
	if err != nil {
		return nil, fmt.Errorf("load conflicts of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		c := Conflict{Sync: sync}
		var lv, rv, created, updated string
		if err := rows.Scan(&c.ID, &c.LeftID, &c.RightID, &c.Field, &lv, &rv, &created, &updated); err != nil {
			return nil, fmt.Errorf("load conflicts of %s: %w", sync, err)
		}
		var l, r Value
		if err := json.Unmarshal([]byte(lv), &l); err != nil {
			return nil, fmt.Errorf("conflict %s: %w", c.ID, err)
		}
		if err := json.Unmarshal([]byte(rv), &r); err != nil {
			return nil, fmt.Errorf("conflict %s: %w", c.ID, err)
		}
		c.Left, c.Right = l.Value, r.Value
		c.Created, c.Updated = parseTime(created), parseTime(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}

// QueuedDelete is a delete waiting for an admin's approval: RecordID on Side
// would be deleted because OtherID was deleted on the other side.
type QueuedDelete struct {
	ID, Sync, Side    string
	RecordID, OtherID string
	Queued            time.Time
}

// QueuedDeletes returns a sync's queued deletes.
func (s *Store) QueuedDeletes(ctx context.Context, sync string) ([]QueuedDelete, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, side, record_id, other_id, queued_at FROM queued_deletes
		WHERE sync_name = ? ORDER BY queued_at, id`, sync)
	if err != nil {
		return nil, fmt.Errorf("load queued deletes of %s: %w", sync, err)
	}
	defer rows.Close()
	var out []QueuedDelete
	for rows.Next() {
		q := QueuedDelete{Sync: sync}
		var at string
		if err := rows.Scan(&q.ID, &q.Side, &q.RecordID, &q.OtherID, &at); err != nil {
			return nil, fmt.Errorf("load queued deletes of %s: %w", sync, err)
		}
		q.Queued = parseTime(at)
		out = append(out, q)
	}
	return out, rows.Err()
}

// History ops.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
	OpLink   = "link" // two existing records were matched
)

// FieldChange is one field a write changed.
type FieldChange struct {
	Field string `json:"field"`
	Old   Value  `json:"old"`
	New   Value  `json:"new"`
}

// HistoryEntry is one thing a sync did to one record.
type HistoryEntry struct {
	ID        string
	Sync      string
	RunID     string
	Side      string // where the record lives
	RecordID  string
	Op        string
	Direction string // "left-to-right" or "right-to-left"
	Changes   []FieldChange
	// RawChanges, when set, is what Commit stores for Changes (which it
	// then ignores), already encoded with AppendChangeCount and
	// AppendChange: a first fill records its creates without building a
	// FieldChange per value.
	RawChanges string
	At         time.Time
}

// HistoryQuery selects history entries; empty fields match everything.
type HistoryQuery struct {
	Sync  string
	Op    string
	Side  string
	Since time.Time
	Limit int
}

// History returns history entries, newest first.
func (s *Store) History(ctx context.Context, q HistoryQuery) ([]HistoryEntry, error) {
	where := ` WHERE sync_name = ?`
	args := []any{q.Sync}
	if q.Op != "" {
		where += ` AND op = ?`
		args = append(args, q.Op)
	}
	if q.Side != "" {
		where += ` AND side = ?`
		args = append(args, q.Side)
	}
	if !q.Since.IsZero() {
		where += ` AND at >= ?`
		args = append(args, fmtTime(q.Since))
	}
	// Every row holds at least one entry, so Limit rows of each table hold
	// the newest Limit entries.
	order := ` ORDER BY at DESC, id`
	if q.Limit > 0 {
		order += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	fail := func(err error) ([]HistoryEntry, error) { return nil, fmt.Errorf("load history of %s: %w", q.Sync, err) }
	var out []HistoryEntry
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, side, record_id, op, direction, changes, at FROM history`+where+order, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		h := HistoryEntry{Sync: q.Sync}
		var changes, at string
		if err := rows.Scan(&h.ID, &h.RunID, &h.Side, &h.RecordID, &h.Op, &h.Direction, &changes, &at); err != nil {
			return fail(err)
		}
		if err := json.Unmarshal([]byte(changes), &h.Changes); err != nil {
			return fail(fmt.Errorf("entry %s: %w", h.ID, err))
		}
		h.At = parseTime(at)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	brows, err := s.db.QueryContext(ctx, `SELECT id, run_id, side, op, direction, entries, at FROM history_batches`+where+order, args...)
	if err != nil {
		return fail(err)
	}
	defer brows.Close()
	for brows.Next() {
		row := HistoryEntry{Sync: q.Sync}
		var entries, at string
		if err := brows.Scan(&row.ID, &row.RunID, &row.Side, &row.Op, &row.Direction, &entries, &at); err != nil {
			return fail(err)
		}
		row.At = parseTime(at)
		hs, err := decodeHistory(entries, row)
		if err != nil {
			return fail(fmt.Errorf("batch %s: %w", row.ID, err))
		}
		out = append(out, hs...)
	}
	if err := brows.Err(); err != nil {
		return fail(err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// scalar helper for tests and callers counting rows.
func (s *Store) count(ctx context.Context, table, sync string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE sync_name = ?`, sync).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}
