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
	for len(run) > 0 {
		b := &pgx.Batch{}
		for _, i := range run {
			sql, args := w.changeSQL(i)
			b.Queue("SAVEPOINT ds_op")
			b.Queue(sql, args...)
			if w.req.Ops[i].IfVersion != "" {
				// Tells a stale version (row there) from a missing row, should the statement match nothing.
				esql, eargs := w.existsSQL(i)
				b.Queue(esql, eargs...)
			}
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
			exists := false
			if w.req.Ops[i].IfVersion != "" {
				var version string
				err := br.QueryRow().Scan(&version)
				switch {
				case err == nil:
					exists = true
				case err != pgx.ErrNoRows:
					failed, ferr = k, err
				}
				if failed >= 0 {
					break
				}
				if !found && exists {
					w.res[i].Err = sdk.Errorf(sdk.CategoryConflict, "%s %s changed: version %s, not %s", w.t.name, w.req.Ops[i].ID, version, w.req.Ops[i].IfVersion)
				}
			}
			if !found && !exists {
				w.res[i].Err = sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", w.t.name, w.req.Ops[i].ID)
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
			return nil
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
	return nil
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

// existsSQL selects the current version of op i's (live) row.
func (w *writer) existsSQL(i int) (string, []any) {
	t := w.t
	keys, _ := splitKey(w.req.Ops[i].ID, len(t.pk))
	args := make([]any, len(keys))
	for j, k := range keys {
		args[j] = k
	}
	where := w.keyWhere(1)
	if t.softDelete >= 0 {
		where += " AND t." + t.cols[t.softDelete].ident + " IS NULL"
	}
	return "SELECT " + versionExpr(t) + " FROM " + t.qname + " t WHERE " + where, args
}
