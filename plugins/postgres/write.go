package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/datasync-io/datasync/sdk"
)

// createChunk bounds the rows of one multi-row INSERT.
const createChunk = 5000

// Write applies a batch in one transaction. Runs of creates setting the same
// fields go in one INSERT ... SELECT FROM unnest(...) RETURNING; when that
// fails, the run is split in halves (each under a savepoint) until the
// failing ops stand alone, so one bad op costs a few statements, not the
// batch. Updates and deletes are pipelined, each under its own savepoint.
// Results of the rows written carry echo marks where the table allows
// (mark.go).
func (c *Conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	if t.obj.ReadOnly {
		return nil, sdk.Errorf(sdk.CategoryPermanent, "%s is read-only (a view, or a table with a composite primary key)", t.name)
	}
	w := &writer{t: t, req: req, res: make([]sdk.WriteResult, len(req.Ops)), params: make([][]*string, len(req.Ops)),
		formats: c.resultFormats, schema: c.set.schema}
	known := make([]string, 0, len(req.Fields))
	for _, f := range req.Fields {
		if i, ok := t.byName[f]; ok && i != t.softDelete {
			known = append(known, f)
		}
	}
	w.reportValues = len(known) == len(req.Fields)
	if w.ret, err = newProjection(t, known); err != nil {
		return nil, err
	}
	if w.keyOnly, err = newProjection(t, nil); err != nil {
		return nil, err
	}
	for i := range req.Ops {
		w.res[i].CorrelationID = req.Ops[i].CorrelationID
		w.res[i].Err = w.prepare(i)
		w.prepared++
	}
	err = c.withConn(ctx, func(pc *pgx.Conn) error {
		tx, err := pc.Begin(ctx)
		if err != nil {
			return mapQueryError(fmt.Errorf("write %s: begin: %w", t.name, err))
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		w.tx = tx
		if err := w.run(ctx); err != nil {
			if catalogChanged(err) {
				c.forgetCatalog()
				return sdk.Errorf(sdk.CategoryTransient, "write %s: the table changed while writing (%v); retry", t.name, err)
			}
			return mapQueryError(fmt.Errorf("write %s: %w", t.name, err))
		}
		if err := w.mark(ctx); err != nil {
			return mapQueryError(fmt.Errorf("write %s: %w", t.name, err))
		}
		if err := tx.Commit(ctx); err != nil {
			return mapQueryError(fmt.Errorf("write %s: commit: %w", t.name, err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return w.res, nil
}

// writer is one Write in progress.
type writer struct {
	t            *table
	req          sdk.WriteRequest
	res          []sdk.WriteResult
	params       [][]*string // per op: its values as text parameters
	ret, keyOnly *projection
	reportValues bool
	tx           pgx.Tx
	formats      map[uint32]int16
	schema       string
	strs         []string  // unused room for parameter texts
	ptrs         []*string // unused room for parameter slots
	prepared     int       // ops prepared so far
}

// prepare checks op i against the table and renders its parameters.
func (w *writer) prepare(i int) *sdk.Error {
	op := &w.req.Ops[i]
	t := w.t
	if op.Kind != sdk.OpDelete && len(op.Values) != len(op.Fields) {
		return sdk.Errorf(sdk.CategoryPermanent, "%d values for %d fields", len(op.Values), len(op.Fields))
	}
	if op.Kind != sdk.OpCreate {
		keys, err := splitKey(op.ID, len(t.pk))
		if err != nil || op.ID == "" {
			return sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, op.ID)
		}
		for j, k := range t.pk {
			// An id the key column cannot hold names no record (and would abort the transaction).
			if _, e := paramText(&t.cols[k], sdk.String(keys[j])); e != nil {
				return sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, op.ID)
			}
		}
	}
	if op.Kind == sdk.OpDelete {
		return nil
	}
	ps := w.paramSlots(len(op.Fields))
	for j, f := range op.Fields {
		col, ok := t.col(f)
		if !ok || t.byName[f] == t.softDelete {
			return sdk.FieldError(f, "%s has no field %q", t.name, f)
		}
		if col.field.ReadOnly {
			return sdk.FieldError(f, "%s is read-only", f)
		}
		v, null, e := paramValue(col, op.Values[j])
		if e != nil {
			return e
		}
		if null && col.field.Required {
			return sdk.FieldError(f, "%s is required", f)
		}
		if !null {
			w.strs[j] = v
			ps[j] = &w.strs[j]
		}
	}
	w.strs = w.strs[len(ps):]
	if op.Kind == sdk.OpCreate {
		for _, col := range t.cols {
			if col.field.Required && !slices.Contains(op.Fields, col.name) {
				return sdk.FieldError(col.name, "%s is required", col.name)
			}
		}
	}
	w.params[i] = ps
	return nil
}

// paramSlots returns n parameter slots for an op, and leaves w.strs with
// room for their texts: both come from one allocation for many ops.
func (w *writer) paramSlots(n int) []*string {
	if len(w.ptrs) < n || len(w.strs) < n {
		size := max(n, len(w.req.Fields)*(len(w.req.Ops)-w.prepared))
		w.ptrs, w.strs = make([]*string, size), make([]string, size)
	}
	ps := w.ptrs[:n:n]
	w.ptrs = w.ptrs[n:]
	return ps
}

// run walks the ops in order: creates in runs, updates and deletes pipelined.
// undo rolls the transaction back to savepoint name and releases it: the
// statements since are as if never sent, the transaction goes on.
func (w *writer) undo(ctx context.Context, name string) error {
	if _, err := w.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name); err != nil {
		return err
	}
	_, err := w.tx.Exec(ctx, "RELEASE SAVEPOINT "+name)
	return err
}

func (w *writer) run(ctx context.Context) error {
	ops := w.req.Ops
	for i := 0; i < len(ops); {
		if w.res[i].Err != nil {
			i++
			continue
		}
		j := i + 1
		var run []int
		run = append(run, i)
		if ops[i].Kind == sdk.OpCreate {
			for j < len(ops) && len(run) < createChunk && (w.res[j].Err != nil || (ops[j].Kind == sdk.OpCreate && slices.Equal(ops[j].Fields, ops[i].Fields))) {
				if w.res[j].Err == nil {
					run = append(run, j)
				}
				j++
			}
			if err := w.creates(ctx, run, true); err != nil {
				return err
			}
		} else {
			for j < len(ops) && (w.res[j].Err != nil || ops[j].Kind != sdk.OpCreate) {
				if w.res[j].Err == nil {
					run = append(run, j)
				}
				j++
			}
			if err := w.changes(ctx, run); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// isOpError reports whether err is the statement's fault (a constraint, a bad
// value), which one op owns, rather than the connection's.
func isOpError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && pe.Code != "57P01" && !catalogChanged(err)
}

// catalogChanged reports an error saying the cached catalog is stale: a
// column, table or type the statement named is gone.
func catalogChanged(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42703", "42P01", "42704", "42883":
		return true
	}
	return false
}

// creates inserts the ops of run (same fields) with one statement; on a
// statement error it bisects under savepoints to find the ops at fault.
func (w *writer) creates(ctx context.Context, run []int, tryCopy bool) error {
	if _, err := w.tx.Exec(ctx, "SAVEPOINT ds_create"); err != nil {
		return err
	}
	var err error
	p, copied := w.planCopy(w.req.Ops[run[0]].Fields, len(run))
	copied = copied && tryCopy
	if copied {
		err = w.copyInsert(ctx, run, p)
	} else {
		err = w.insert(ctx, run)
	}
	if err == nil {
		_, err = w.tx.Exec(ctx, "RELEASE SAVEPOINT ds_create")
		return err
	}
	// COPY also fails on values pgx cannot encode (an int2 out of range):
	// any failure leaving the connection up goes to the INSERT path.
	if !isOpError(err) && !(copied && !w.tx.Conn().IsClosed() && !catalogChanged(err)) {
		return err
	}
	if rerr := w.undo(ctx, "ds_create"); rerr != nil {
		return rerr
	}
	for _, i := range run {
		w.res[i].ID, w.res[i].Version, w.res[i].Values = "", "", nil
	}
	if copied {
		return w.creates(ctx, run, false) // the INSERT path finds the ops at fault
	}
	if len(run) == 1 {
		w.res[run[0]].Err = mapWriteError(w.t, err)
		return nil
	}
	half := len(run) / 2
	if err := w.creates(ctx, run[:half], false); err != nil {
		return err
	}
	return w.creates(ctx, run[half:], false)
}

// insert runs INSERT ... SELECT FROM unnest($1::text[], ...) WITH ORDINALITY
// ORDER BY ord RETURNING, one text array per column, and fills the results.
func (w *writer) insert(ctx context.Context, run []int) error {
	t := w.t
	fields := w.req.Ops[run[0]].Fields
	var cols, sel, un, alias []string
	args := []any{pgx.QueryResultFormatsByOID(w.formats)}
	for j, f := range fields {
		col, _ := t.col(f)
		arr := make([]*string, len(run))
		for k, i := range run {
			arr[k] = w.params[i][j]
		}
		args = append(args, textArrayParam(arr))
		cols = append(cols, col.ident)
		sel = append(sel, fmt.Sprintf("u.a%d::%s", j, col.castType))
		un = append(un, fmt.Sprintf("$%d::text::text[]", j+1))
		alias = append(alias, fmt.Sprintf("a%d", j))
	}
	cols, sel = w.stamps(cols, sel, true)
	var sql string
	if len(un) == 0 {
		// No field set: one row of defaults per op.
		args = append(args, len(run))
		un = append(un, "generate_series(1, $1::int)")
	}
	alias = append(alias, "ord")
	sql = "INSERT INTO " + t.qname + " AS t (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(sel, ", ") +
		" FROM unnest(" + strings.Join(un, ", ") + ") WITH ORDINALITY AS u(" + strings.Join(alias, ", ") + ")" +
		" ORDER BY u.ord RETURNING " + w.ret.sql
	if len(cols) == 0 {
		sql = "INSERT INTO " + t.qname + " AS t SELECT FROM generate_series(1, $1::int) RETURNING " + w.ret.sql
	}
	return w.returning(ctx, run, sql, args...)
}

// stamps adds the columns the connector maintains: updated_at, and an
// integer version column (1 on create, +1 on update).
func (w *writer) stamps(cols, vals []string, create bool) ([]string, []string) {
	t := w.t
	if t.updatedAt >= 0 && !generated(t, t.updatedAt) {
		cols = append(cols, t.cols[t.updatedAt].ident)
		vals = append(vals, "clock_timestamp()")
	}
	if t.version >= 0 && t.intVersion && !generated(t, t.version) {
		v := t.cols[t.version].ident
		cols = append(cols, v)
		if create {
			vals = append(vals, "1")
		} else {
			vals = append(vals, "COALESCE(t."+v+", 0) + 1")
		}
	}
	return cols, vals
}

// generated reports a column the database computes itself.
func generated(t *table, i int) bool { return t.cols[i].generated }

// returning runs sql and assigns its rows, in order, to the ops of run;
// nothing is assigned unless every op got its row.
func (w *writer) returning(ctx context.Context, run []int, sql string, args ...any) error {
	rows, err := w.tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	nf := len(w.ret.fields)
	slab := make([]sdk.Value, len(run)*nf)
	out := make([]sdk.WriteResult, 0, len(run))
	var key rowKey
	for rows.Next() {
		k := len(out)
		if k >= len(run) {
			return fmt.Errorf("insert returned more rows than ops")
		}
		var rec sdk.Record
		if err := w.ret.scan(rows, &rec, slab[k*nf:(k+1)*nf:(k+1)*nf], &key); err != nil {
			return err
		}
		out = append(out, sdk.WriteResult{ID: rec.ID, Version: rec.Version, ModifiedAt: rec.ModifiedAt, Values: rec.Values})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(out) != len(run) {
		// A trigger skipped rows: attribute by retrying one op at a time.
		if len(run) == 1 {
			return &pgconn.PgError{Code: "P0000", Message: "the row was not inserted (a trigger skipped it)"}
		}
		return &pgconn.PgError{Code: "P0000", Message: "fewer rows inserted than ops"}
	}
	for k, i := range run {
		out[k].CorrelationID = w.res[i].CorrelationID
		if !w.reportValues {
			out[k].Values = nil
		}
		w.res[i] = out[k]
	}
	return nil
}
