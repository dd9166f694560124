package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// pageSize is how many rows an incremental read fetches per keyset page and
// checkpoint; sinkBatch how many records go to the sink at once.
const (
	pageSize  = 5000
	sinkBatch = 1000
)

// cursor is where an incremental read resumes. Rows are handed out in
// (updated_at, primary key) order up to the high-water mark TS/Key. A
// transaction can commit after a read a row stamped before that mark (its
// updated_at is its own clock reading, taken before commit). Such rows were
// invisible to the read's snapshot: their xmin is one of the transactions in
// progress then (Pending, or a subtransaction of one) or was assigned after
// it (>= Xmax). The next read fetches them with a catch-up query on xmin,
// looking back late_commit_window before the mark.
type cursor struct {
	TS      *int64   `json:"t,omitempty"` // µs since the Unix epoch; nil: nothing read yet
	Key     []string `json:"k,omitempty"`
	Xmax    uint64   `json:"x"`           // the read snapshot's xmax (64-bit xid)
	Pending []uint64 `json:"p,omitempty"` // in progress at the read (64-bit xids)
	// Since: every transaction that could still commit after the read began
	// at or after this time (µs), so its rows are stamped no earlier; nil
	// when the read could not see every session's start.
	Since *int64 `json:"s,omitempty"`
}

const cursorPrefix = "pg1:"

func (c cursor) encode() string {
	b, _ := json.Marshal(c) // plain fields: cannot fail
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, cursorPrefix))
	if err != nil || !strings.HasPrefix(s, cursorPrefix) {
		return c, sdk.Errorf(sdk.CategoryPermanent, "cursor %q was not made by this connector", s)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, sdk.Errorf(sdk.CategoryPermanent, "cursor %q was not made by this connector: %v", s, err)
	}
	return c, nil
}

// snapshot is what a read's transaction snapshot says about other transactions.
type snapshot struct {
	xmax    uint64
	pending []uint64 // in progress and able to write this database's tables
	since   *int64   // see cursor.Since
}

// oldestStart runs before the read's transaction: the earliest start of the
// transactions open in this database, or now when none is. A transaction
// still open when the read's snapshot is taken was either open now or starts
// later, so it stamps nothing earlier. nil when some session's start is
// hidden (another role's, without pg_read_all_stats) or a prepared
// transaction waits: then only late_commit_window bounds the catch-up.
func oldestStart(ctx context.Context, pc *pgx.Conn, skew time.Duration) (*int64, error) {
	var oldest time.Time
	var hidden bool
	err := pc.QueryRow(ctx, `SELECT least(clock_timestamp(), min(xact_start)),
		bool_or(query = '<insufficient privilege>')
		OR EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE database = current_database())
		FROM pg_stat_activity WHERE datname = current_database()
		AND backend_type IS DISTINCT FROM 'autovacuum worker' AND backend_type IS DISTINCT FROM 'walsender'`).Scan(&oldest, &hidden)
	if err != nil || hidden {
		return nil, err
	}
	us := oldest.Add(-skew).UnixMicro()
	return &us, nil
}

// takeSnapshot must be the first statement of the read's transaction: it fixes
// the snapshot. Transactions of other databases and autovacuum are left out of
// pending: they cannot write this database's rows.
func takeSnapshot(ctx context.Context, tx pgx.Tx) (snapshot, error) {
	var s snapshot
	var xip []int64
	var xmax int64
	if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8,
		ARRAY(SELECT x::text::int8 FROM pg_snapshot_xip(pg_current_snapshot()) x)`).Scan(&xmax, &xip); err != nil {
		return s, fmt.Errorf("take snapshot: %w", err)
	}
	s.xmax = uint64(xmax)
	if len(xip) == 0 {
		return s, nil
	}
	other := map[uint32]bool{}
	rows, err := tx.Query(ctx, `SELECT backend_xid::text::int8 FROM pg_stat_activity
		WHERE backend_xid IS NOT NULL AND (datname IS DISTINCT FROM current_database() OR backend_type = 'autovacuum worker')`)
	if err != nil {
		return s, fmt.Errorf("list transactions: %w", err)
	}
	for rows.Next() {
		var x int64
		if err := rows.Scan(&x); err != nil {
			rows.Close()
			return s, fmt.Errorf("list transactions: %w", err)
		}
		other[uint32(x)] = true
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("list transactions: %w", err)
	}
	for _, x := range xip {
		if !other[uint32(x)] {
			s.pending = append(s.pending, uint64(x))
		}
	}
	return s, nil
}

// Read streams the records of one table: all of them for an empty cursor,
// else those changed since the cursor.
func (c *Conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return err
	}
	p, err := newProjection(t, req.Fields)
	if err != nil {
		return err
	}
	incremental := t.obj.Incremental
	switch {
	case req.VersionsOnly && (req.Cursor == "" || !incremental):
		p = versionsProjection(t) // a full read: its cursor is a query of its own (highWater)
	case req.VersionsOnly:
		p, _ = newProjection(t, nil) // keys, version and updated-at: fewer bytes to move and decode
	}
	var cur cursor
	if req.Cursor != "" && incremental {
		if cur, err = parseCursor(req.Cursor); err != nil {
			return err
		}
	}
	return c.withConn(ctx, func(pc *pgx.Conn) error {
		var since *int64
		if incremental {
			var err error
			if since, err = oldestStart(ctx, pc, c.set.clockSkew); err != nil {
				return mapQueryError(fmt.Errorf("read %s: session starts: %w", t.name, err))
			}
		}
		tx, err := pc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return mapQueryError(fmt.Errorf("read %s: begin: %w", t.name, err))
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		var snap snapshot
		if incremental {
			if snap, err = takeSnapshot(ctx, tx); err != nil {
				return mapQueryError(fmt.Errorf("read %s: %w", t.name, err))
			}
			snap.since = since
		}
		r := &reader{c: c, t: t, p: p, tx: tx, sink: sink, vals: make([]sdk.Value, sinkBatch*len(p.fields))}
		if req.Cursor == "" || !incremental {
			err = r.full(ctx, snap, incremental)
		} else {
			err = r.incremental(ctx, cur, snap, parseSkip(req.Skip))
		}
		if catalogChanged(err) {
			c.forgetCatalog()
			return sdk.Errorf(sdk.CategoryTransient, "read %s: the table changed while reading (%v); retry", t.name, err)
		}
		if err != nil {
			return mapQueryError(err)
		}
		return tx.Commit(ctx)
	})
}

// reader is one Read in progress: it batches records for the sink, reusing
// the record and value slices between batches.
type reader struct {
	c    *Conn
	t    *table
	p    *projection
	tx   pgx.Tx
	sink sdk.RecordSink
	recs []sdk.Record
	vals []sdk.Value
	key  rowKey
}

// query runs sql (its select list is p's) and hands every row to the sink;
// last is the key of the last row, hasLast whether there was one.
func (r *reader) query(ctx context.Context, sql string, args ...any) (n int, last rowKey, err error) {
	if r.c.traceQuery != nil {
		r.c.traceQuery(sql, args)
	}
	rows, err := r.tx.Query(ctx, sql, append([]any{pgx.QueryResultFormatsByOID(r.c.resultFormats)}, args...)...)
	if err != nil {
		return 0, last, fmt.Errorf("read %s: %w", r.t.name, err)
	}
	defer rows.Close()
	nf := len(r.p.fields)
	for rows.Next() {
		k := len(r.recs)
		r.recs = append(r.recs, sdk.Record{})
		if err := r.p.scan(rows, &r.recs[k], r.vals[k*nf:(k+1)*nf:(k+1)*nf], &r.key); err != nil {
			return n, last, err
		}
		n++
		if len(r.recs) == sinkBatch {
			if err := r.flush(); err != nil {
				return n, last, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, last, fmt.Errorf("read %s: %w", r.t.name, err)
	}
	last = rowKey{keys: slices.Clone(r.key.keys), ts: r.key.ts, hasT: r.key.hasT}
	return n, last, nil
}

func (r *reader) flush() error {
	if len(r.recs) == 0 {
		return nil
	}
	err := r.sink.Records(r.recs)
	r.recs = r.recs[:0]
	return err
}

func (r *reader) checkpoint(cur cursor) error {
	if err := r.flush(); err != nil {
		return err
	}
	return r.sink.Checkpoint(cur.encode())
}

// full streams every (not soft-deleted) row in one query; for an incremental
// table it then checkpoints at the newest (updated_at, key) of the snapshot.
func (r *reader) full(ctx context.Context, snap snapshot, incremental bool) error {
	where := ""
	if r.t.softDelete >= 0 {
		where = " WHERE t." + r.t.cols[r.t.softDelete].ident + " IS NULL"
	}
	if _, _, err := r.query(ctx, "SELECT "+r.p.sql+" FROM "+r.t.qname+" t"+where); err != nil {
		return err
	}
	if !incremental {
		return r.flush()
	}
	cur := cursor{Xmax: snap.xmax, Pending: snap.pending, Since: snap.since}
	ts := "t." + r.t.cols[r.t.updatedAt].ident
	if err := r.highWater(ctx, &cur, ts+" IS NOT NULL AND "+ts+" < 'infinity'"); err != nil {
		return err
	}
	return r.checkpoint(cur)
}

// highWater moves cur to the greatest (updated_at, key) of the rows matching
// where (over alias t, with args), in the database's own ordering of the
// key; it leaves cur as it is when no row matches.
func (r *reader) highWater(ctx context.Context, cur *cursor, where string, args ...any) error {
	ts := "t." + r.t.cols[r.t.updatedAt].ident
	sql := "SELECT " + ts + "::text, " + castKeysText(r.t) + " FROM " + r.t.qname + " t WHERE " + where +
		" ORDER BY " + ts + " DESC, " + r.keysDesc() + " LIMIT 1"
	var tsText string
	var keyTexts []string
	err := r.tx.QueryRow(ctx, sql, args...).Scan(&tsText, &keyTexts)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return fmt.Errorf("read %s: high-water mark: %w", r.t.name, err)
	default:
		tm, err := parseTS(tsText)
		if err != nil {
			return fmt.Errorf("read %s: high-water mark: %w", r.t.name, err)
		}
		us := tm.UnixMicro()
		cur.TS, cur.Key = &us, keyTexts
	}
	return nil
}

// keyList is the key columns over alias t, comma-separated.
func (r *reader) keyList() string {
	parts := make([]string, len(r.t.pk))
	for i, k := range r.t.pk {
		parts[i] = "t." + r.t.cols[k].ident
	}
	return strings.Join(parts, ",")
}

// keysDesc is the key columns over alias t, each descending.
func (r *reader) keysDesc() string {
	parts := make([]string, len(r.t.pk))
	for i, k := range r.t.pk {
		parts[i] = "t." + r.t.cols[k].ident + " DESC"
	}
	return strings.Join(parts, ", ")
}

// castKeysText is the key columns as a text array, as the connector formats ids.
func castKeysText(t *table) string {
	parts := make([]string, len(t.pk))
	for i, k := range t.pk {
		parts[i] = "t." + t.cols[k].ident + "::text"
		if t.cols[k].field.Type == sdk.TypeDateTime {
			// ids of timestamp keys use the connector's RFC 3339 form
			parts[i] = "to_char(t." + t.cols[k].ident + ", 'YYYY-MM-DD\"T\"HH24:MI:SS.USOF')"
		}
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

func parseTS(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999Z07", "2006-01-02 15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q not understood", s)
}

// param is text parameter n cast to typ, in a subquery: PostgreSQL then
// casts it once (an InitPlan), where a bare cast in a filter is redone
// for every row a scan looks at (timestamptz_in was a tenth of an
// incremental read of a million-row table).
func param(n int, typ string) string {
	return fmt.Sprintf("(SELECT $%d::text::%s)", n, typ)
}

// tsParam formats a high-water time for a text parameter cast to the column type.
func tsParam(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999Z07:00")
}

// incremental reads the late rows (catch-up), then pages of rows past the
// high-water mark, checkpointing after each. Rows written by the xids in
// skip (the host's own writes, see mark.go) are left out of both.
func (r *reader) incremental(ctx context.Context, cur cursor, snap snapshot, skip []uint64) error {
	t := r.t
	ts := "t." + t.cols[t.updatedAt].ident
	tsCast := t.cols[t.updatedAt].castType
	keys := r.keyList()
	keyParams := func(first int) string {
		ps := make([]string, len(t.pk))
		for i, k := range t.pk {
			ps[i] = param(first+i, t.cols[k].castType)
		}
		return strings.Join(ps, ",")
	}
	notInfinite := " AND " + ts + " < 'infinity'"
	skipped := skipFilter(snap.xmax, skip)
	var opts []any // query options ahead of the parameters
	if skipped != "" {
		// Not prepared: each read's list differs, and pgx's statement cache
		// would keep every such statement, list and all, on both ends.
		opts = []any{pgx.QueryExecModeDescribeExec}
	}
	from := int64(0)
	if cur.TS != nil {
		from = *cur.TS - r.c.set.lateWindow.Microseconds()
		if cur.Since != nil && *cur.Since > from {
			from = *cur.Since
		}
	}
	if cur.TS != nil && from < *cur.TS {
		// Late rows: their transaction was in progress at the last read (and has
		// finished since) or got its xid after it. Everything from the oldest
		// such xid on is read again: a subtransaction's xid cannot be tied to
		// its parent, so a few rows committed in between may come twice.
		lower := cur.Xmax
		for _, x := range cur.Pending {
			if x < lower && !slices.Contains(snap.pending, x) && x < snap.xmax {
				lower = x
			}
		}
		sql := "SELECT " + r.p.sql + " FROM " + t.qname + " t WHERE " + ts + " > " + param(1, tsCast) +
			" AND (" + ts + "," + keys + ") <= (" + param(2, tsCast) + "," + keyParams(3) + ")" +
			" AND " + fullXmin(snap.xmax) + " >= " + strconv.FormatUint(lower, 10) + skipped
		args := append(opts, tsParam(from), tsParam(*cur.TS))
		for _, k := range cur.Key {
			args = append(args, k)
		}
		if len(cur.Key) != len(t.pk) {
			return sdk.Errorf(sdk.CategoryPermanent, "cursor has %d key values for %d key columns of %s", len(cur.Key), len(t.pk), t.name)
		}
		if _, _, err := r.query(ctx, sql, args...); err != nil {
			return err
		}
	}
	// Each page must walk the (updated_at, key) index from the mark and stop
	// after pageSize rows. Without statistics (a table just filled by COPY,
	// before autovacuum analyzes it) or in a prepared statement's generic
	// plan, PostgreSQL guesses that few rows lie past the mark and fetches
	// them all with a bitmap scan, then sorts them for the first pageSize:
	// every page then reads every row after it, quadratic in the rows
	// changed (200,000 echoes of a write: 40 pages, ~4 million rows sorted).
	// Sorting is never needed with such an index, so the read's transaction
	// tells the planner to avoid it; without such an index it sorts anyway.
	if _, err := r.tx.Exec(ctx, "SET LOCAL enable_sort = off"); err != nil {
		return fmt.Errorf("read %s: %w", t.name, err)
	}
	next := cursor{TS: cur.TS, Key: cur.Key, Xmax: snap.xmax, Pending: snap.pending, Since: snap.since}
	// past is the condition on the rows after c's mark, and its parameters.
	past := func(c cursor) (string, []any) {
		if c.TS == nil {
			return ts + " IS NOT NULL" + notInfinite, nil
		}
		args := []any{tsParam(*c.TS)}
		for _, k := range c.Key {
			args = append(args, k)
		}
		return ts + " >= " + param(1, tsCast) + notInfinite +
			" AND (" + ts + "," + keys + ") > (" + param(1, tsCast) + "," + keyParams(2) + ")", args
	}
	for {
		where, args := past(next)
		sql := "SELECT " + r.p.sql + " FROM " + t.qname + " t WHERE " + where + skipped +
			" ORDER BY " + ts + "," + keys + " LIMIT " + strconv.Itoa(pageSize)
		n, last, err := r.query(ctx, sql, append(opts, args...)...)
		if err != nil {
			return err
		}
		if n > 0 && last.hasT {
			us := last.ts.UnixMicro()
			next.TS, next.Key = &us, last.keys
		}
		if n < pageSize && skipped != "" {
			// The last page: every row past it was skipped. The cursor moves
			// past them too, or the next read would walk them again.
			where, args := past(next)
			if err := r.highWater(ctx, &next, where, args...); err != nil {
				return err
			}
		}
		if err := r.checkpoint(next); err != nil {
			return err
		}
		if n < pageSize {
			return nil
		}
	}
}
