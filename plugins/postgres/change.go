package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// changes applies updates and deletes, pipelined: SAVEPOINT, the statement,
// RELEASE for every op go to the server in one round trip. When a statement
// fails the server skips the rest; the connector rolls back to that op's
// savepoint, records its error and sends the remaining ops again.
func (w *writer) changes(ctx context.Context, run []int) error {
	// Runs of updates setting the same fields go in one statement each.
	for len(run) > 0 {
		n := w.updateRun(run)
		if n < updateBatchMin {
			if n == 0 {
				n = 1
			}
			// Up to the next run worth a statement of its own.
			for n < len(run) && w.updateRun(run[n:]) < updateBatchMin {
				n++
			}
			if err := w.changesEach(ctx, run[:n]); err != nil {
				return err
			}
		} else if err := w.updates(ctx, run[:n]); err != nil {
			return err
		}
		run = run[n:]
	}
	return nil
}

// updateBatchMin is the shortest run of updates sent as one statement.
var updateBatchMin = 4

// updateRun is how many ops at the start of run are updates that one
// statement can apply: same fields, distinct ids, a single-column key.
func (w *writer) updateRun(run []int) int {
	ops := w.req.Ops
	if len(w.t.pk) != 1 || len(run) == 0 || ops[run[0]].Kind != sdk.OpUpdate {
		return 0
	}
	first := &ops[run[0]]
	if len(first.Fields) == 0 || slices.Contains(first.Fields, w.t.cols[w.t.pk[0]].name) {
		return 0 // a key change: ops must see each other's, one by one
	}
	intKey := isIntType(w.t.cols[w.t.pk[0]].copyType)
	seen := make(map[string]bool, min(len(run), 64))
	n := 0
	for _, i := range run {
		op := &ops[i]
		key := op.ID
		if intKey { // "12" and "012" name one row
			k, err := strconv.ParseInt(strings.TrimSpace(key), 10, 64)
			if err != nil {
				break
			}
			key = strconv.FormatInt(k, 10)
		}
		if op.Kind != sdk.OpUpdate || seen[key] || !slices.Equal(op.Fields, first.Fields) {
			break
		}
		seen[key] = true
		n++
	}
	return n
}

// updates applies a run of updates (see updateRun) with one UPDATE ... FROM
// unnest(...) under a savepoint, the IfVersion checks in its WHERE. The ops
// whose row it did not return are told apart as the pipelined path does: a
// live row with another version is a conflict, no row is not-found. A
// statement error (a constraint one op breaks) rolls the run back and hands
// it to the pipelined path, which finds the op at fault.
func (w *writer) updates(ctx context.Context, run []int) error {
	t := w.t
	ops := w.req.Ops
	fields := ops[run[0]].Fields
	pk := &t.cols[t.pk[0]]
	keys := make([]*string, len(run))
	vers := make([]*string, len(run))
	for k, i := range run {
		keys[k] = &ops[i].ID
		if ops[i].IfVersion != "" {
			vers[k] = &ops[i].IfVersion
		}
	}
	args := []any{pgx.QueryResultFormatsByOID(w.formats), textArrayParam(keys), textArrayParam(vers)}
	un := []string{"$1::text::text[]", "$2::text::text[]"}
	alias := []string{"k", "v"}
	var set []string
	for j, f := range fields {
		col, _ := t.col(f)
		arr := make([]*string, len(run))
		for k, i := range run {
			arr[k] = w.params[i][j]
		}
		args = append(args, textArrayParam(arr))
		un = append(un, fmt.Sprintf("$%d::text::text[]", len(args)-1))
		alias = append(alias, fmt.Sprintf("a%d", j))
		set = append(set, fmt.Sprintf("%s = u.a%d::%s", col.ident, j, col.castType))
	}
	cols, vals := w.stamps(nil, nil, false)
	for j := range cols {
		set = append(set, cols[j]+" = "+vals[j])
	}
	alias = append(alias, "ord")
	live := ""
	if t.softDelete >= 0 {
		live = " AND t." + t.cols[t.softDelete].ident + " IS NULL"
	}
	from := " FROM unnest(" + strings.Join(un, ", ") + ") WITH ORDINALITY AS u(" + strings.Join(alias, ", ") + ")"
	match := " WHERE t." + pk.ident + " = u.k::" + pk.castType + live
	sql := "UPDATE " + t.qname + " AS t SET " + strings.Join(set, ", ") + from + match +
		" AND (u.v IS NULL OR " + versionExpr(t) + " = u.v) RETURNING u.ord, " + w.ret.sql

	if _, err := w.tx.Exec(ctx, "SAVEPOINT ds_update"); err != nil {
		return err
	}
	found := make([]bool, len(run))
	err := w.updateRows(ctx, run, found, sql, args...)
	if err == nil {
		_, err = w.tx.Exec(ctx, "RELEASE SAVEPOINT ds_update")
		if err != nil {
			return err
		}
	} else {
		if !isOpError(err) {
			return err
		}
		if rerr := w.undo(ctx, "ds_update"); rerr != nil {
			return rerr
		}
		for _, i := range run {
			w.res[i] = sdk.WriteResult{CorrelationID: w.res[i].CorrelationID}
		}
		return w.changesEach(ctx, run)
	}

	// The ops left: conflict when their row is there (with a version check), else not found.
	var missKeys []string
	var missOps []int
	for k, i := range run {
		if found[k] {
			continue
		}
		if ops[i].IfVersion == "" {
			w.res[i].Err = sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, ops[i].ID)
			continue
		}
		missKeys = append(missKeys, ops[i].ID)
		missOps = append(missOps, i)
	}
	if len(missOps) == 0 {
		return nil
	}
	rows, err := w.tx.Query(ctx, "SELECT u.ord, "+versionExpr(t)+" FROM unnest($1::text[]) WITH ORDINALITY AS u(k, ord) JOIN "+
		t.qname+" t ON t."+pk.ident+" = u.k::"+pk.castType+live, missKeys)
	if err != nil {
		return err
	}
	current := make([]*string, len(missOps))
	for rows.Next() {
		var ord int64
		var version string
		if err := rows.Scan(&ord, &version); err != nil {
			rows.Close()
			return err
		}
		if ord >= 1 && int(ord) <= len(missOps) {
			current[ord-1] = &version
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for k, i := range missOps {
		if v := current[k]; v != nil {
			w.res[i].Err = sdk.Errorf(sdk.CategoryConflict, "%s %s changed: version %s, not %s", t.name, ops[i].ID, *v, ops[i].IfVersion)
		} else {
			w.res[i].Err = sdk.Errorf(sdk.CategoryNotFound, "no %s record with id %q", t.name, ops[i].ID)
		}
	}
	return nil
}

// updateRows runs the batched UPDATE and fills the results of the ops whose
// row it returned.
func (w *writer) updateRows(ctx context.Context, run []int, found []bool, sql string, args ...any) error {
	rows, err := w.tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	nf := len(w.ret.fields)
	// The ops set every reported field, in order: a row stored as sent
	// reports the op's own values, and only other rows need room.
	inOrder := w.reportValues && slices.Equal(w.req.Ops[run[0]].Fields, w.req.Fields)
	var slab []sdk.Value
	scratch := make([]sdk.Value, nf)
	var key rowKey
	for rows.Next() {
		raw, fds := rows.RawValues(), rows.FieldDescriptions()
		if len(raw) < 1 {
			return fmt.Errorf("update returned no columns")
		}
		o, err := decodeValue(fds[0].DataTypeOID, fds[0].Format, raw[0])
		if err != nil || o.Kind != sdk.KindInteger || o.Int < 1 || int(o.Int) > len(run) || found[o.Int-1] {
			return fmt.Errorf("update returned an unexpected row (%v)", err)
		}
		k := int(o.Int - 1)
		var rec sdk.Record
		if err := w.ret.scanRaw(raw[1:], fds[1:], &rec, scratch, &key); err != nil {
			return err
		}
		i := run[k]
		r := sdk.WriteResult{CorrelationID: w.res[i].CorrelationID, ID: rec.ID, Version: rec.Version, ModifiedAt: rec.ModifiedAt}
		if w.reportValues {
			if inOrder && identical(scratch, w.req.Ops[i].Values) {
				r.Values = w.req.Ops[i].Values
			} else {
				if slab == nil {
					slab = make([]sdk.Value, len(run)*nf)
				}
				r.Values = slab[k*nf : (k+1)*nf : (k+1)*nf]
				copy(r.Values, scratch)
			}
		}
		w.res[i] = r
		found[k] = true
	}
	return rows.Err()
}

// identical reports whether two value lists are the same, kinds and time
// zones included.
func identical(a, b []sdk.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || !a[i].Equal(b[i]) || (a[i].Kind == sdk.KindDateTime && a[i].Time.Location() != b[i].Time.Location()) {
			return false
		}
	}
	return true
}

// changesEach applies updates and deletes one statement each, pipelined (see changes).
func (w *writer) changesEach(ctx context.Context, run []int) error {
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
		if err := w.undo(ctx, "ds_op"); err != nil {
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
