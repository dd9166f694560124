package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// changes applies updates and deletes, pipelined: SAVEPOINT, the statement,
// RELEASE for every op go to the server in one round trip. When a statement
// fails the server skips the rest; the connector rolls back to that op's
// savepoint, records its error and sends the remaining ops again.
func (w *writer) changes(ctx context.Context, run []int) error {
	var missing []int // ops whose row was not there (or not at IfVersion)
	for len(run) > 0 {
		b := &pgx.Batch{}
		for _, i := range run {
			sql, args := w.changeSQL(i)
			b.Queue("SAVEPOINT ds_op")
			b.Queue(sql, args...)
			b.Queue("RELEASE SAVEPOINT ds_op")
		}
		br := w.tx.SendBatch(ctx, b)
		failed, ferr := -1, error(nil)
		for k, i := range run {
			if _, err := br.Exec(); err != nil {
				failed, ferr = k, err
				break
			}
			found, err := w.changeResult(br, i)
			if err != nil {
				failed, ferr = k, err
				break
			}
			if !found {
				missing = append(missing, i)
			}
			if _, err := br.Exec(); err != nil {
				failed, ferr = k, err
				break
			}
		}
		if err := br.Close(); err != nil && failed < 0 {
			return err
		}
		if failed < 0 {
			break
		}
		if !isOpError(ferr) {
			return ferr
		}
		if _, err := w.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT ds_op"); err != nil {
			return err
		}
		if _, err := w.tx.Exec(ctx, "RELEASE SAVEPOINT ds_op"); err != nil {
			return err
		}
		i := run[failed]
		w.res[i] = sdk.WriteResult{CorrelationID: w.res[i].CorrelationID, Err: mapWriteError(w.t, ferr)}
		run = run[failed+1:]
	}
	return w.explainMissing(ctx, missing)
}

// changeResult reads the RETURNING row of op i, if any.
func (w *writer) changeResult(br pgx.BatchResults, i int) (bool, error) {
	rows, err := br.Query()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	p := w.ret
	if w.req.Ops[i].Kind == sdk.OpDelete {
		p = w.keyOnly
	}
	found := false
	var key rowKey
	for rows.Next() {
		var rec sdk.Record
		if err := p.scan(rows, &rec, make([]sdk.Value, len(p.fields)), &key); err != nil {
			return false, err
		}
		r := sdk.WriteResult{CorrelationID: w.res[i].CorrelationID, ID: rec.ID, Version: rec.Version, ModifiedAt: rec.ModifiedAt}
		if w.req.Ops[i].Kind == sdk.OpUpdate && w.reportValues {
			r.Values = rec.Values
		}
		w.res[i] = r
		found = true
	}
	return found, rows.Err()
}

// keyWhere is "(k1, k2) = ($n::text::type, ...)" for the key columns.
func (w *writer) keyWhere(first int) string {
	t := w.t
	cols := make([]string, len(t.pk))
	ps := make([]string, len(t.pk))
	for j, k := range t.pk {
		cols[j] = "t." + t.cols[k].ident
		ps[j] = fmt.Sprintf("$%d::text::%s", first+j, t.cols[k].castType)
	}
	return "(" + strings.Join(cols, ", ") + ") = (" + strings.Join(ps, ", ") + ")"
}

// changeSQL builds the UPDATE (or DELETE, or soft-delete UPDATE) of op i.
func (w *writer) changeSQL(i int) (string, []any) {
	t := w.t
	op := &w.req.Ops[i]
	keys, _ := splitKey(op.ID, len(t.pk)) // checked in prepare
	// No result-format option here: a batch does not take one, and the
	// projection only selects types the decoder reads in either format.
	var args []any
	var set []string
	if op.Kind == sdk.OpUpdate {
		for j, f := range op.Fields {
			col, _ := t.col(f)
			args = append(args, w.params[i][j])
			set = append(set, fmt.Sprintf("%s = $%d::text::%s", col.ident, len(args), col.castType))
		}
	}
	if op.Kind == sdk.OpDelete && t.softDelete >= 0 {
		set = append(set, t.cols[t.softDelete].ident+" = clock_timestamp()")
	}
	first := len(args) + 1
	for _, k := range keys {
		args = append(args, k)
	}
	where := w.keyWhere(first)
	if t.softDelete >= 0 {
		where += " AND t." + t.cols[t.softDelete].ident + " IS NULL"
	}
	if op.IfVersion != "" {
		args = append(args, op.IfVersion)
		where += fmt.Sprintf(" AND %s = $%d::text", versionExpr(t), len(args))
	}
	if op.Kind == sdk.OpDelete && t.softDelete < 0 {
		return "DELETE FROM " + t.qname + " AS t WHERE " + where + " RETURNING " + w.keyOnly.sql, args
	}
	p := w.ret
	if op.Kind == sdk.OpDelete {
		p = w.keyOnly
	}
	cols, vals := w.stamps(nil, nil, false)
	for j := range cols {
		set = append(set, cols[j]+" = "+vals[j])
	}
	if len(set) == 0 {
		k := t.cols[t.pk[0]].ident
		set = append(set, k+" = t."+k)
	}
	return "UPDATE " + t.qname + " AS t SET " + strings.Join(set, ", ") + " WHERE " + where + " RETURNING " + p.sql, args
}

// explainMissing tells not_found from conflict for ops that matched no row.
func (w *writer) explainMissing(ctx context.Context, missing []int) error {
	t := w.t
	for _, i := range missing {
		op := &w.req.Ops[i]
		keys, _ := splitKey(op.ID, len(t.pk))
		args := make([]any, len(keys))
		for j, k := range keys {
			args[j] = k
		}
		where := w.keyWhere(1)
		if t.softDelete >= 0 {
			where += " AND t." + t.cols[t.softDelete].ident + " IS NULL"
		}
		var version string
		err := w.tx.QueryRow(ctx, "SELECT "+versionExpr(t)+" FROM "+t.qname+" t WHERE "+where, args...).Scan(&version)
		r := sdk.WriteResult{CorrelationID: w.res[i].CorrelationID}
		switch {
		case err == pgx.ErrNoRows:
			r.Err = sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, op.ID)
		case err != nil:
			if !isOpError(err) {
				return err
			}
			// An id the key type cannot hold (text for an integer key) names no record.
			r.Err = sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, op.ID)
		default:
			r.Err = sdk.Errorf(sdk.CategoryConflict, "%s %s changed: version %s, not %s", t.name, op.ID, version, op.IfVersion)
		}
		w.res[i] = r
	}
	return nil
}
