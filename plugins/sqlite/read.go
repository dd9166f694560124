package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// readBatch is how many records Read hands to the sink at a time.
const readBatch = 2000

// lookupChunk bounds the values of one IN (...) list.
const lookupChunk = 500

// cursor is where an incremental read resumes: after the row with updated-at
// U and id ID in (updated_at, id) order, so rows sharing a stamp are never
// skipped. Kinds say how each was stored ("n" null, "i" integer, "r" real,
// "t" text), so the comparison binds them as SQLite stored them; UKind "s"
// is the start of the table (a full read that found no rows).
type cursor struct {
	Col   string `json:"c"`
	UKind string `json:"uk"`
	U     string `json:"u,omitempty"`
	IKind string `json:"ik"`
	ID    string `json:"id"`
}

func typed(v any) (kind, text string) {
	switch x := v.(type) {
	case nil:
		return "n", ""
	case int64:
		return "i", strconv.FormatInt(x, 10)
	case float64:
		return "r", strconv.FormatFloat(x, 'g', -1, 64)
	}
	return "t", valueText(v)
}

func untyped(kind, text string) (any, error) {
	switch kind {
	case "n":
		return nil, nil
	case "i":
		return strconv.ParseInt(text, 10, 64)
	case "r":
		return strconv.ParseFloat(text, 64)
	case "t":
		return text, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func (t *table) cursorAfter(row []any) string { return t.cursorAt(row[t.uaCol+1], row[0]) }

// cursorAt is the cursor just after the row with updated-at ua and id.
func (t *table) cursorAt(ua, id any) string {
	uk, u := typed(ua)
	ik, i := typed(id)
	b, _ := json.Marshal(cursor{Col: t.cols[t.uaCol].name, UKind: uk, U: u, IKind: ik, ID: i})
	return string(b)
}

// fieldColumns resolves field names (all exposed fields when empty) to
// column indexes.
func (t *table) fieldColumns(fields []string) ([]int, error) {
	if len(fields) == 0 {
		fields = t.obj.FieldNames()
	}
	out := make([]int, len(fields))
	for i, f := range fields {
		ci, ok := t.field(f)
		if !ok {
			return nil, sdk.FieldError(f, "no field %q in table %s", f, t.name)
		}
		out[i] = ci
	}
	return out, nil
}

// version is a row's version: its updated-at value, or a hash of the whole
// row where there is none. row is the select list (id, then every column).
func (t *table) version(row []any) string {
	if t.uaCol >= 0 {
		if v := row[t.uaCol+1]; v != nil {
			return valueText(v)
		}
	}
	return rowHash(row[1:])
}

func (t *table) modifiedAt(row []any) time.Time {
	if t.uaCol < 0 {
		return time.Time{}
	}
	switch v := row[t.uaCol+1].(type) {
	case int64:
		return unixAuto(v).UTC()
	case string:
		if at, ok := parseDateTime(v); ok {
			return at
		}
	}
	return time.Time{}
}

// record builds a record from a selected row, its values for fieldCols
// written into vals.
func (t *table) record(row []any, fieldCols []int, vals []sdk.Value) sdk.Record {
	for i, ci := range fieldCols {
		vals[i] = decode(&t.cols[ci], row[ci+1])
	}
	return sdk.Record{ID: valueText(row[0]), Version: t.version(row), ModifiedAt: t.modifiedAt(row), Values: vals}
}

// scanner scans rows of a table's select list into one reused slice.
type scanner struct {
	row  []any
	ptrs []any
}

func newScanner(t *table) *scanner {
	s := &scanner{row: make([]any, len(t.cols)+1), ptrs: make([]any, len(t.cols)+1)}
	for i := range s.row {
		s.ptrs[i] = &s.row[i]
	}
	return s
}

func (s *scanner) scan(rows *sql.Rows) error { return rows.Scan(s.ptrs...) }

// past is the condition on the rows after (u, id) in (updated-at, id)
// order, and its arguments; u and id as stored.
func (t *table) past(u, id any) (string, []any) {
	ua := t.cols[t.uaCol].q
	if u == nil {
		return "(" + ua + " IS NULL AND " + t.idExpr + " > ?) OR " + ua + " IS NOT NULL", []any{id}
	}
	return "(" + ua + ", " + t.idExpr + ") > (?, ?)", []any{u, id}
}

// readSel is the select list of a read of fieldCols: t.sel's, column for
// column, but a column the read needs for nothing (not asked for, not the
// id or the updated-at) is NULL unless the row's updated-at is, when its
// version is a hash of the whole row (version). A narrow read (a key, or
// ids and versions for a digest) then moves three values a row out of
// SQLite, not every column's.
func (t *table) readSel(fieldCols []int) string {
	if t.uaCol < 0 || len(fieldCols) >= len(t.cols) {
		return t.sel
	}
	need := make([]bool, len(t.cols))
	need[t.uaCol] = true
	for _, ci := range fieldCols {
		need[ci] = true
	}
	parts := make([]string, 0, len(t.cols)+1)
	parts = append(parts, t.idExpr)
	ua := t.cols[t.uaCol].q
	for i, c := range t.cols {
		if need[i] {
			parts = append(parts, "+"+c.q)
		} else {
			parts = append(parts, "CASE WHEN "+ua+" IS NULL THEN +"+c.q+" END")
		}
	}
	return strings.Join(parts, ", ")
}

// asBound is v as a cursor holding it binds it (see typed).
func asBound(v any) any {
	b, _ := untyped(typed(v))
	return b
}

// queryer is a database, or one connection of it holding a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Read streams the table's rows. Incremental tables are read in (updated-at,
// id) order from the cursor, with a checkpoint after every batch; others in
// id order, in full. One statement serves the whole read, so it sees one
// snapshot and sorts once. Rows the host's own writes left, named by marks
// in req.Skip (mark.go), are left out of an incremental read; the cursor
// still moves past them.
func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return err
	}
	fieldCols, err := t.fieldColumns(req.Fields)
	if err != nil {
		return err
	}
	if req.VersionsOnly {
		// No column but the id and the updated-at (the whole row where that
		// is NULL): the read walks the updated-at index alone, where a
		// field would cost a seek into the table for every row.
		fieldCols = nil
	}
	incremental := t.uaCol >= 0
	var q strings.Builder
	q.WriteString("SELECT " + t.readSel(fieldCols) + " FROM " + t.q)
	var (
		where, skip string // the rows past the cursor; those the marks leave out
		whereArgs   []any  // where's
		args        []any
	)
	if incremental {
		ua := t.cols[t.uaCol].q
		if req.Cursor != "" {
			var cur cursor
			if err := json.Unmarshal([]byte(req.Cursor), &cur); err != nil {
				return sdk.Errorf(sdk.CategoryPermanent, "read %s: unreadable cursor %q", t.name, req.Cursor)
			}
			var u, id any
			var uerr, ierr error
			if cur.UKind != "s" {
				u, uerr = untyped(cur.UKind, cur.U)
				id, ierr = untyped(cur.IKind, cur.ID)
			}
			switch {
			case uerr != nil || ierr != nil:
				return sdk.Errorf(sdk.CategoryPermanent, "read %s: unreadable cursor %q", t.name, req.Cursor)
			case cur.UKind == "s" || !strings.EqualFold(cur.Col, t.cols[t.uaCol].name):
				// From the start; or the updated-at column was reconfigured:
				// start over.
			default:
				where, whereArgs = t.past(u, id)
			}
			args = append(args, whereArgs...)
			var skipArgs []any
			skip, skipArgs = t.skipFilter(req.Skip)
			switch {
			case skip == "" && where != "":
				q.WriteString(" WHERE " + where)
			case skip != "" && where != "":
				q.WriteString(" WHERE (" + where + ") AND " + skip)
			case skip != "":
				q.WriteString(" WHERE " + skip)
			}
			args = append(args, skipArgs...)
		}
		q.WriteString(" ORDER BY " + ua + ", " + t.idExpr)
	} else {
		q.WriteString(" ORDER BY " + t.idExpr)
	}

	var db queryer = c.db
	if skip != "" {
		// The read and the high-water mark below must see one snapshot: one
		// connection, one (deferred, so read-only) transaction.
		cn, err := c.db.Conn(ctx)
		if err != nil {
			return c.dbError("read "+t.name, err)
		}
		defer cn.Close()
		if _, err := cn.ExecContext(ctx, "BEGIN"); err != nil {
			return c.dbError("read "+t.name, err)
		}
		defer func() { _, _ = cn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") }()
		db = cn
	}
	rows, err := db.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return c.dbError("read "+t.name, err)
	}
	defer rows.Close()
	sc := newScanner(t)
	batch := make([]sdk.Record, 0, readBatch)
	var vals []sdk.Value
	lastCursor := req.Cursor
	var lastUA, lastID any // of the newest row handed over; the cursor is built per batch
	handed := false
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := sink.Records(batch); err != nil {
			return fmt.Errorf("read %s: %w", t.name, err)
		}
		batch = batch[:0]
		if incremental {
			lastCursor = t.cursorAt(lastUA, lastID)
			if err := sink.Checkpoint(lastCursor); err != nil {
				return fmt.Errorf("read %s: %w", t.name, err)
			}
		}
		return nil
	}
	for rows.Next() {
		if err := sc.scan(rows); err != nil {
			return c.dbError("read "+t.name, err)
		}
		if len(vals) < len(fieldCols) {
			// One allocation per batch for every record's values; the sink
			// may keep them, so they are never reused.
			vals = make([]sdk.Value, len(fieldCols)*readBatch)
		}
		rec := t.record(sc.row, fieldCols, vals[:len(fieldCols):len(fieldCols)])
		vals = vals[len(fieldCols):]
		batch = append(batch, rec)
		if incremental {
			lastUA, lastID, handed = sc.row[t.uaCol+1], sc.row[0], true
		}
		if len(batch) == readBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return c.dbError("read "+t.name, err)
	}
	var skipped string // the cursor past the rows left out after the last one handed over
	if skip != "" {
		rows.Close()
		if handed {
			where, whereArgs = t.past(asBound(lastUA), asBound(lastID))
		}
		if skipped, err = t.highWater(ctx, db, where, whereArgs); err != nil {
			return c.dbError("read "+t.name, err)
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil || skipped == "" {
			return err
		}
	}
	if skipped != "" {
		return sink.Checkpoint(skipped)
	}
	if incremental {
		if lastCursor == "" {
			b, _ := json.Marshal(cursor{Col: t.cols[t.uaCol].name, UKind: "s"})
			lastCursor = string(b)
		}
		return sink.Checkpoint(lastCursor)
	}
	return nil
}

// highWater is the cursor after the greatest (updated-at, id) of the rows
// matching where (all rows when empty); "" when none does.
func (t *table) highWater(ctx context.Context, db queryer, where string, args []any) (string, error) {
	ua := t.cols[t.uaCol].q
	q := "SELECT +" + ua + ", " + t.idExpr + " FROM " + t.q
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY " + ua + " DESC, " + t.idExpr + " DESC LIMIT 1"
	var u, id any
	switch err := db.QueryRowContext(ctx, q, args...).Scan(&u, &id); {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("high-water mark: %w", err)
	}
	return t.cursorAt(u, id), nil
}

// Lookup returns the rows whose column equals one of the values. Any column
// may be searched, the primary key included, or the ids (an empty Field);
// values are converted as a write would store them, so a lookup finds
// what a write stored.
func (c *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	ci, ok := t.column(req.Field)
	colQ, enc := "", func(v sdk.Value) (any, bool) {
		a, err := encode(&t.cols[ci], v)
		return a, err == nil
	}
	switch {
	case req.Field == "": // the ids, converted as a write's op ids are
		colQ, enc = t.idExpr, func(v sdk.Value) (any, bool) { return t.idArg(v.Text()) }
	case !ok:
		return nil, sdk.FieldError(req.Field, "no column %q in table %s", req.Field, t.name)
	default:
		colQ = t.cols[ci].q
	}
	fieldCols, err := t.fieldColumns(req.Fields)
	if err != nil {
		return nil, err
	}
	seen := map[any]bool{}
	var args []any
	for _, v := range req.Values {
		a, ok := enc(v)
		if !ok || a == nil || seen[a] {
			continue // a value the column cannot hold matches nothing
		}
		seen[a] = true
		args = append(args, a)
	}
	var out []sdk.Record
	sc := newScanner(t)
	for start := 0; start < len(args); start += lookupChunk {
		chunk := args[start:min(start+lookupChunk, len(args))]
		q := "SELECT " + t.sel + " FROM " + t.q + " WHERE " + colQ + " IN (?" +
			strings.Repeat(", ?", len(chunk)-1) + ") ORDER BY " + t.idExpr
		rows, err := c.db.QueryContext(ctx, q, chunk...)
		if err != nil {
			return nil, c.dbError("lookup "+t.name, err)
		}
		for rows.Next() {
			if err := sc.scan(rows); err != nil {
				rows.Close()
				return nil, c.dbError("lookup "+t.name, err)
			}
			out = append(out, t.record(sc.row, fieldCols, make([]sdk.Value, len(fieldCols))))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, c.dbError("lookup "+t.name, err)
		}
	}
	return out, nil
}
