package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// RecordKey names one record of one side of a sync.
type RecordKey struct {
	Side     string
	RecordID string
}

// Batch is what the engine changes for one batch of writes; Commit applies
// all of it in one transaction, so state never shows half a batch. Within
// the transaction deletions run before insertions, so a batch may replace a
// link (delete by left id, put with a new right id).
type Batch struct {
	Sync string

	DeleteLinks  []string // left ids
	PutLinks     []Link   // upserted by (sync, left id)
	AddLinks     []Link   // new links, inserted (after PutLinks): their ids must be free
	PutPending   []Pending
	DropPending  []RecordKey
	AddJournal   []JournalEntry // stored one row per (Batch, Side); Batch "" makes a row per entry
	SettleJourn  []string       // correlation ids of entries stored without a Batch
	SettleBatch  []string       // Batch ids: every entry journaled with them
	PutErrors    []RecordError
	ClearErrors  []RecordKey // every category of these records (RecordID "" clears run-level errors of Side)
	PutConflicts []Conflict  // upserted by (sync, left id, field)
	DropConflict []ConflictKey
	QueueDeletes []QueuedDelete
	DropQueued   []string // ids
	History      []HistoryEntry
	Cursors      []Cursor
}

// ConflictKey names one field of one link.
type ConflictKey struct {
	LeftID string
	Field  string
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool {
	return len(b.DeleteLinks)+len(b.PutLinks)+len(b.AddLinks)+len(b.PutPending)+len(b.DropPending)+len(b.AddJournal)+
		len(b.SettleJourn)+len(b.SettleBatch)+len(b.PutErrors)+len(b.ClearErrors)+len(b.PutConflicts)+len(b.DropConflict)+
		len(b.QueueDeletes)+len(b.DropQueued)+len(b.History)+len(b.Cursors) == 0
}

// Commit applies the batch in one transaction.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	if b.Empty() {
		return nil
	}
	now := fmtTime(s.now())
	// The statements run without the context's cancellation, which the
	// transaction still has: the driver runs each statement of a context
	// that can be cancelled on a goroutine of its own, to interrupt it,
	// and a batch is thousands of short statements.
	sctx := context.WithoutCancel(ctx)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := fence(ctx, tx, b.Sync); err != nil {
			return err
		}
		// Each statement is prepared once per batch: preparing dominates
		// the cost of small writes.
		stmts := map[string]*sql.Stmt{}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		run := func(what, q string, args ...any) (sql.Result, error) {
			st, ok := stmts[q]
			if !ok {
				var err error
				if st, err = tx.PrepareContext(sctx, q); err != nil {
					return nil, fmt.Errorf("%s: %w", what, err)
				}
				stmts[q] = st
			}
			res, err := st.ExecContext(sctx, args...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			return res, nil
		}
		ex := func(what, q string, args ...any) error {
			_, err := run(what, q, args...)
			return err
		}
		// affects runs a statement and reports whether it changed a row.
		affects := func(what, q string, args ...any) (bool, error) {
			res, err := run(what, q, args...)
			if err != nil {
				return false, err
			}
			n, err := res.RowsAffected()
			return n > 0, err
		}
		// upsert updates a row and inserts it when there was none. Both
		// SQLite and PostgreSQL have INSERT … ON CONFLICT DO UPDATE, but the
		// bundled SQLite runs that update path some 50 times slower than a
		// plain UPDATE, and links are upserted for every record a run reads.
		upsert := func(what, update string, uargs []any, insert string, iargs []any) error {
			if ok, err := affects(what, update, uargs...); ok || err != nil {
				return err
			}
			return ex(what, insert, iargs...)
		}
		for _, id := range b.DeleteLinks {
			if err := ex("delete link "+id, `DELETE FROM links WHERE sync_name = ? AND left_id = ?`, b.Sync, id); err != nil {
				return err
			}
		}
		for _, k := range b.DropPending {
			if err := ex("drop pending "+k.RecordID, `DELETE FROM pending_records WHERE sync_name = ? AND side = ? AND record_id = ?`,
				b.Sync, k.Side, k.RecordID); err != nil {
				return err
			}
		}
		for _, id := range b.SettleJourn {
			if err := ex("settle journal "+id, `DELETE FROM journal WHERE id = ? AND sync_name = ?`, id, b.Sync); err != nil {
				return err
			}
		}
		for _, id := range b.SettleBatch {
			if err := ex("settle journal batch "+id, `DELETE FROM journal_batches WHERE sync_name = ? AND batch = ?`, b.Sync, id); err != nil {
				return err
			}
		}
		for _, k := range b.ClearErrors {
			if err := ex("clear errors of "+k.RecordID, `DELETE FROM errors WHERE sync_name = ? AND side = ? AND record_id = ?`,
				b.Sync, k.Side, k.RecordID); err != nil {
				return err
			}
		}
		for _, k := range b.DropConflict {
			if err := ex("drop conflict", `DELETE FROM conflicts WHERE sync_name = ? AND left_id = ? AND field = ?`,
				b.Sync, k.LeftID, k.Field); err != nil {
				return err
			}
		}
		for _, id := range b.DropQueued {
			if err := ex("drop queued delete", `DELETE FROM queued_deletes WHERE sync_name = ? AND id = ?`, b.Sync, id); err != nil {
				return err
			}
		}
		var scratch []byte
		for _, l := range b.PutLinks {
			if l.State == "" {
				l.State = LinkSyncing
			}
			base, keys, err := l.encodedBase(&scratch)
			if err != nil {
				return err
			}
			// Mostly the right id stays. Left out of the SET, its index is
			// not rewritten: SQLite rewrites the entries of every indexed
			// column an UPDATE sets, same value or not (a fifth of the pages
			// an incremental run's links dirtied).
			what := "save link " + l.LeftID + "↔" + l.RightID
			kept, err := affects(what, `UPDATE links SET left_version = ?, right_version = ?, base = ?, base_keys = ?, state = ?,
				excluded_by = ?, updated_at = ? WHERE sync_name = ? AND left_id = ? AND right_id = ?`,
				l.LeftVersion, l.RightVersion, base, keys, l.State, l.ExcludedBy, now, b.Sync, l.LeftID, l.RightID)
			if err != nil {
				return err
			}
			if kept {
				continue
			}
			if err := upsert(what,
				`UPDATE links SET right_id = ?, left_version = ?, right_version = ?, base = ?, base_keys = ?, state = ?,
				excluded_by = ?, updated_at = ? WHERE sync_name = ? AND left_id = ?`,
				[]any{l.RightID, l.LeftVersion, l.RightVersion, base, keys, l.State, l.ExcludedBy, now, b.Sync, l.LeftID},
				`INSERT INTO links (sync_name, left_id, right_id, left_version, right_version, base, base_keys, state,
				excluded_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{b.Sync, l.LeftID, l.RightID, l.LeftVersion, l.RightVersion, base, keys, l.State, l.ExcludedBy, now, now}); err != nil {
				return err
			}
		}
		addLink := func(l Link, args []any) ([]any, error) {
			if l.State == "" {
				l.State = LinkSyncing
			}
			base, keys, err := l.encodedBase(&scratch)
			if err != nil {
				return nil, err
			}
			return append(args, l.LeftID, l.RightID, l.LeftVersion, l.RightVersion, base, keys, l.State, l.ExcludedBy), nil
		}
		// New links go up to linksPerInsert rows a statement: a first fill
		// adds one per record, and SQLite's per-statement work (binds
		// through cgo, step, reset) costs more than the row itself.
		rest := b.AddLinks
		var args []any
		if len(rest) > 0 {
			args = make([]any, 0, 2+min(len(rest), linksPerInsert)*linkInsertArgs)
		}
		for len(rest) > 1 {
			chunk := rest[:min(len(rest), linksPerInsert)]
			args = append(args[:0], b.Sync, now)
			for _, l := range chunk {
				var err error
				if args, err = addLink(l, args); err != nil {
					return err
				}
			}
			q := insertLinksSQL
			if len(chunk) < linksPerInsert {
				q = linkInsert(len(chunk))
			}
			// A statement that fails changes nothing (SQLite undoes it
			// whole), so the rows from here go again one a statement, to
			// name the link that failed. PostgreSQL fails the transaction
			// with it, unless it ran inside a savepoint.
			if s.pg {
				if err := ex("add links", "SAVEPOINT add_links"); err != nil {
					return err
				}
			}
			if ex("add links", q, args...) != nil {
				if s.pg {
					if err := ex("add links", "ROLLBACK TO SAVEPOINT add_links"); err != nil {
						return err
					}
				}
				break
			}
			rest = rest[len(chunk):]
		}
		for _, l := range rest {
			var err error
			if args, err = addLink(l, append(args[:0], b.Sync, now)); err != nil {
				return err
			}
			if err := ex("add link "+l.LeftID+"↔"+l.RightID, insertLinkSQL, args...); err != nil {
				return err
			}
		}
		for _, p := range b.PutPending {
			vals, err := EncodeValues(p.Values)
			if err != nil {
				return fmt.Errorf("pending %s: %w", p.RecordID, err)
			}
			if err := upsert("save pending "+p.RecordID,
				`UPDATE pending_records SET version = ?, modified_at = ?, vals = ?, updated_at = ?
				WHERE sync_name = ? AND side = ? AND record_id = ?`,
				[]any{p.Version, fmtTime(p.ModifiedAt), string(vals), now, b.Sync, p.Side, p.RecordID},
				`INSERT INTO pending_records (sync_name, side, record_id, version, modified_at, vals, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`,
				[]any{b.Sync, p.Side, p.RecordID, p.Version, fmtTime(p.ModifiedAt), string(vals), now}); err != nil {
				return err
			}
		}
		for _, g := range groupJournal(b.AddJournal) {
			if err := ex("journal batch "+g.batch, `INSERT INTO journal_batches (batch, side, sync_name, entries, created_at)
				VALUES (?, ?, ?, ?, ?)`, g.batch, g.side, b.Sync, encodeJournal(g.entries), now); err != nil {
				return err
			}
		}
		for _, j := range b.AddJournal {
			if j.Batch != "" {
				continue
			}
			payload := string(j.Payload)
			if payload == "" {
				payload = "{}"
			}
			if err := ex("journal create "+j.ID, `INSERT INTO journal (id, sync_name, side, source_id, payload, created_at)
				VALUES (?, ?, ?, ?, ?, ?)`, j.ID, b.Sync, j.Side, j.SourceID, payload, now); err != nil {
				return err
			}
		}
		for _, e := range b.PutErrors {
			// A record's errors are often cleared and put again in one batch
			// (the engine replaces them with the latest attempt's): the
			// caller's Attempts and FirstSeen carry the history across.
			first := e.FirstSeen
			if first.IsZero() {
				first = s.now()
			}
			if err := upsert("save error of "+e.RecordID,
				`UPDATE errors SET field = ?, value = ?, message = ?, hint = ?, attempts = attempts + 1, next_retry = ?,
				last_seen = ? WHERE sync_name = ? AND side = ? AND record_id = ? AND category = ?`,
				[]any{e.Field, e.Value, e.Message, e.Hint, fmtTime(e.NextRetry), now, b.Sync, e.Side, e.RecordID, e.Category},
				`INSERT INTO errors (sync_name, side, record_id, category, field, value, message, hint, attempts,
				next_retry, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{b.Sync, e.Side, e.RecordID, e.Category, e.Field, e.Value, e.Message, e.Hint, max(1, e.Attempts),
					fmtTime(e.NextRetry), fmtTime(first), now}); err != nil {
				return err
			}
		}
		for _, c := range b.PutConflicts {
			lv, err := json.Marshal(Value{c.Left})
			if err != nil {
				return err
			}
			rv, err := json.Marshal(Value{c.Right})
			if err != nil {
				return err
			}
			if c.ID == "" {
				c.ID = NewID()
			}
			if err := upsert("save conflict on "+c.LeftID,
				`UPDATE conflicts SET right_id = ?, left_value = ?, right_value = ?, updated_at = ?
				WHERE sync_name = ? AND left_id = ? AND field = ?`,
				[]any{c.RightID, string(lv), string(rv), now, b.Sync, c.LeftID, c.Field},
				`INSERT INTO conflicts (id, sync_name, left_id, right_id, field, left_value, right_value, created_at,
				updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{c.ID, b.Sync, c.LeftID, c.RightID, c.Field, string(lv), string(rv), now, now}); err != nil {
				return err
			}
		}
		for _, q := range b.QueueDeletes {
			if q.ID == "" {
				q.ID = NewID()
			}
			if err := ex("queue delete of "+q.RecordID, `INSERT INTO queued_deletes (id, sync_name, side, record_id,
				other_id, queued_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sync_name, side, record_id) DO NOTHING`,
				q.ID, b.Sync, q.Side, q.RecordID, q.OtherID, now); err != nil {
				return err
			}
		}
		for _, g := range groupHistory(b.History) {
			at := fmtTime(g[0].At)
			if at == "" {
				at = now
			}
			h := g[0]
			if err := ex("history of "+h.RecordID, `INSERT INTO history_batches (id, sync_name, run_id, side, op, direction,
				entries, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				NewID(), b.Sync, h.RunID, h.Side, h.Op, h.Direction, encodeHistory(g), at); err != nil {
				return err
			}
		}
		for _, c := range b.Cursors {
			skip := ""
			if len(c.Skip) > 0 {
				j, _ := json.Marshal(c.Skip) // strings: cannot fail
				skip = string(j)
			}
			if err := upsert("save cursor of "+c.Side,
				`UPDATE cursors SET cursor = ?, fingerprint = ?, skip = ?, updated_at = ? WHERE sync_name = ? AND side = ?`,
				[]any{c.Cursor, c.Fingerprint, skip, now, b.Sync, c.Side},
				`INSERT INTO cursors (sync_name, side, cursor, fingerprint, skip, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				[]any{b.Sync, c.Side, c.Cursor, c.Fingerprint, skip, now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit state of %s: %w", b.Sync, err)
	}
	return nil
}

// linksPerInsert is how many new links one INSERT adds (see Commit);
// linkInsertArgs are the parameters of each, after the two every row shares
// (?1 sync name, ?2 time).
const (
	linksPerInsert = 32
	linkInsertArgs = 8
)

var (
	insertLinkSQL  = linkInsert(1)
	insertLinksSQL = linkInsert(linksPerInsert)
)

func linkInsert(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO links (sync_name, created_at, updated_at, left_id, right_id, left_version, right_version, base,
	base_keys, state, excluded_by) VALUES `)
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		p := 3 + r*linkInsertArgs
		fmt.Fprintf(&b, "(?1, ?2, ?2, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d)", p, p+1, p+2, p+3, p+4, p+5, p+6, p+7)
	}
	return b.String()
}
