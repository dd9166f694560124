package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/datasync-io/datasync/sdk"
)

// Write applies a batch in one transaction (BEGIN IMMEDIATE, so it never
// deadlocks upgrading a read lock). A constraint failure undoes only its op —
// SQLite backs out the failing statement, and tables with triggers or ON
// CONFLICT clauses get a savepoint per op — so the good ops commit and the
// bad one is reported in its result.
func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	// Results report req.Fields; a name the table lacks (-1) stays null,
	// and the op that sets it fails on its own.
	var resCols []int
	for _, f := range req.Fields {
		ci, ok := t.field(f)
		if !ok {
			ci = -1
		}
		resCols = append(resCols, ci)
	}
	cn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, c.dbError("write "+t.name, err)
	}
	defer cn.Close()
	w := &writer{c: c, t: t, cn: cn, resCols: resCols, stmts: map[string]*sql.Stmt{}, execs: map[string]*sql.Stmt{}, sc: newScanner(t)}
	defer w.closeStmts()
	if _, err := cn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, c.dbError("write "+t.name, err)
	}
	done := false
	defer func() {
		if !done {
			// After an interrupt SQLite may already have rolled back.
			_, _ = cn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	results := make([]sdk.WriteResult, len(req.Ops))
	var left []written // what each op stored, for its mark
	if marksWrites(t) {
		left = make([]written, len(req.Ops))
	}
	// Statements run without the caller's cancellation: the driver would
	// start a goroutine per statement to watch it. The batch checks it
	// between ops instead, and rolls back when it fires.
	opCtx := context.WithoutCancel(ctx)
	for i := range req.Ops {
		if req.Ops[i].Kind == sdk.OpCreate {
			w.creates++
		}
	}
	for i := range req.Ops {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("write %s: %w", t.name, err)
		}
		if results[i], err = w.apply(opCtx, &req.Ops[i]); err != nil {
			return nil, err
		}
		if left != nil {
			left[i], w.stored = w.stored, written{}
		}
	}
	w.closeStmts()
	if last, ok := w.lastStamp(); ok {
		// Still in the write lock: the next batch's stamps follow these.
		c.clock.advance(last)
	}
	if left != nil {
		w.mark(results, left)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %s: %w", t.name, err)
	}
	if _, err := cn.ExecContext(opCtx, "COMMIT"); err != nil {
		return nil, c.dbError("commit write to "+t.name, err)
	}
	done = true
	return results, nil
}

// writer carries one batch's transaction and its prepared statements,
// which every op of the same shape reuses.
type writer struct {
	c       *conn
	t       *table
	cn      *sql.Conn
	resCols []int
	stmts   map[string]*sql.Stmt
	execs   map[string]*sql.Stmt
	key     []byte
	sc      *scanner
	cols    []int
	args    []any
	vals    []sdk.Value // unused room for result values
	// base is the batch's first stamp, taken in the write lock; creates,
	// the batch's create ops; usedC and usedU, how many successful creates
	// and updates took a stamp (see stamp).
	base         time.Time
	creates      int
	usedC, usedU int
	// stored is what the last op stored, for its mark (see written).
	stored written
}

// stamp is the updated-at stamp for the create (or update) being applied.
// A batch's successful creates get consecutive microseconds from one stamp
// the clock handed out inside the write lock, and its updates the ones
// after those; an op that fails uses none. So creates that get consecutive
// rowids get consecutive stamps even with updates between them (a two-way
// first run writes both, interleaved), and one mark names them all
// (mark.go). The stamps never run ahead of the clock more than one stamp
// per op would (they follow base at one per microsecond), and lag it by at
// most the batch's duration; they still fall between this transaction's
// start and its commit, so they sort every other writer's changes in
// commit order as before.
func (w *writer) stamp(create bool) time.Time {
	if w.base.IsZero() {
		w.base = w.c.clock.next()
	}
	if create {
		return w.base.Add(time.Duration(w.usedC) * time.Microsecond)
	}
	return w.base.Add(time.Duration(w.creates+w.usedU) * time.Microsecond)
}

// lastStamp returns the latest stamp the batch stored, if any.
func (w *writer) lastStamp() (time.Time, bool) {
	switch {
	case w.usedU > 0:
		return w.base.Add(time.Duration(w.creates+w.usedU-1) * time.Microsecond), true
	case w.usedC > 0:
		return w.base.Add(time.Duration(w.usedC-1) * time.Microsecond), true
	}
	return time.Time{}, false
}

func (w *writer) closeStmts() {
	for _, m := range []map[string]*sql.Stmt{w.stmts, w.execs} {
		for k, s := range m {
			s.Close()
			delete(m, k)
		}
	}
}

// stmt returns the prepared statement for a shape (kind and columns),
// building its SQL with build on first use.
func (w *writer) stmt(ctx context.Context, kind byte, cols []int, build func() string) (*sql.Stmt, error) {
	w.key = append(w.key[:0], kind)
	for _, ci := range cols {
		w.key = strconv.AppendInt(append(w.key, ','), int64(ci), 10)
	}
	if s, ok := w.stmts[string(w.key)]; ok {
		return s, nil
	}
	s, err := w.cn.PrepareContext(ctx, build())
	if err != nil {
		return nil, w.c.dbError("prepare write to "+w.t.name, err)
	}
	w.stmts[string(w.key)] = s
	return s, nil
}

// exec runs a statement that needs no arguments nor result (savepoints).
func (w *writer) exec(ctx context.Context, sqlText string) error {
	s, ok := w.execs[sqlText]
	if !ok {
		var err error
		if s, err = w.cn.PrepareContext(ctx, sqlText); err != nil {
			return w.c.dbError("write "+w.t.name, err)
		}
		w.execs[sqlText] = s
	}
	if _, err := s.ExecContext(ctx); err != nil {
		return w.c.dbError("write "+w.t.name, err)
	}
	return nil
}

// apply runs one op. A failure of the op itself lands in the result; the
// returned error fails the whole batch.
func (w *writer) apply(ctx context.Context, op *sdk.Op) (sdk.WriteResult, error) {
	res := sdk.WriteResult{CorrelationID: op.CorrelationID, ID: op.ID}
	if w.t.savepoints {
		if err := w.exec(ctx, "SAVEPOINT op"); err != nil {
			return res, err
		}
	}
	var (
		out   outcome
		opErr *sdk.Error
		err   error
	)
	switch op.Kind {
	case sdk.OpCreate:
		out, opErr, err = w.create(ctx, op)
	case sdk.OpUpdate:
		out, opErr, err = w.update(ctx, op)
	case sdk.OpDelete:
		opErr, err = w.delete(ctx, op)
	default:
		opErr = sdk.Errorf(sdk.CategoryValidation, "unknown op kind %d", op.Kind)
	}
	if err != nil {
		return res, err
	}
	if opErr != nil {
		if w.rolledBack() {
			return res, sdk.Errorf(sdk.CategoryPermanent,
				"write %s: an ON CONFLICT ROLLBACK clause undid the whole batch at op %s: %s", w.t.name, op.Kind, opErr.Message)
		}
		if w.t.savepoints {
			if err := w.exec(ctx, "ROLLBACK TO op"); err != nil {
				return res, err
			}
		}
		res.Err = opErr
	}
	if w.t.savepoints {
		if err := w.exec(ctx, "RELEASE op"); err != nil {
			return res, err
		}
	}
	if res.Err != nil || op.Kind == sdk.OpDelete {
		return res, nil
	}
	create := op.Kind == sdk.OpCreate
	if !out.at.IsZero() { // the op stored its stamp
		if create {
			w.usedC++
		} else {
			w.usedU++
		}
	}
	w.stored = w.wrote(out)
	w.stored.create = create
	w.fill(&res, out, op)
	return res, nil
}

// fill completes a successful create or update's result.
func (w *writer) fill(res *sdk.WriteResult, out outcome, op *sdk.Op) {
	t := w.t
	if out.bound && w.sameAsSent(op) {
		// Stored exactly as sent: the op's values are the result's.
		res.ID = valueText(out.id)
		res.Version = valueText(w.args[w.pos(t.uaCol)])
		res.ModifiedAt = out.at
		res.Values = op.Values
		return
	}
	var vals []sdk.Value
	if len(w.resCols) > 0 {
		// One allocation for many results' values.
		if len(w.vals) < len(w.resCols) {
			w.vals = make([]sdk.Value, len(w.resCols)*256)
		}
		vals, w.vals = w.vals[:len(w.resCols):len(w.resCols)], w.vals[len(w.resCols):]
	}
	if !out.bound {
		row := out.row
		res.ID = valueText(row[0])
		res.Version = t.version(row)
		res.ModifiedAt = out.at
		if out.at.IsZero() {
			res.ModifiedAt = t.modifiedAt(row)
		}
		for i, ci := range w.resCols {
			if ci >= 0 {
				vals[i] = decode(&t.cols[ci], row[ci+1])
			}
		}
		res.Values = vals
		return
	}
	// The values bound are the values stored (see canSkipReturning).
	res.ID = valueText(out.id)
	res.Version = valueText(w.args[w.pos(t.uaCol)])
	res.ModifiedAt = out.at
	for i, ci := range w.resCols {
		if ci >= 0 {
			vals[i] = decode(&t.cols[ci], w.args[w.pos(ci)])
		}
	}
	res.Values = vals
}

// sameAsSent reports whether the values bound for op read back as exactly
// the values it sent, in the result's field order.
func (w *writer) sameAsSent(op *sdk.Op) bool {
	if len(op.Fields) != len(w.resCols) || len(op.Values) != len(op.Fields) {
		return false
	}
	for i, ci := range w.resCols {
		if ci < 0 || w.t.cols[ci].name != op.Fields[i] && !strings.EqualFold(w.t.cols[ci].name, op.Fields[i]) {
			return false
		}
		p := w.pos(ci)
		if p < 0 {
			return false
		}
		v := decode(&w.t.cols[ci], w.args[p])
		sent := &op.Values[i]
		if v.Kind != sent.Kind || !v.Equal(*sent) || (v.Kind == sdk.KindDateTime && v.Time.Location() != sent.Time.Location()) {
			return false
		}
	}
	return true
}

// rolledBack reports whether SQLite left the transaction (a ROLLBACK
// conflict clause or RAISE(ROLLBACK) does that).
func (w *writer) rolledBack() bool {
	auto := false
	_ = w.cn.Raw(func(dc any) error {
		if sc, ok := dc.(*sqlite3.SQLiteConn); ok {
			auto = sc.AutoCommit()
		}
		return nil
	})
	return auto
}

// setColumns collects the columns and values an op writes: read-only
// columns (updated-at, generated) are skipped, since the connector or SQLite
// keep them.
func (w *writer) setColumns(op *sdk.Op) *sdk.Error {
	w.cols, w.args = w.cols[:0], w.args[:0]
	for j, f := range op.Fields {
		ci, ok := w.t.field(f)
		if !ok {
			return sdk.FieldError(f, "no field %q in table %s", f, w.t.name)
		}
		c := &w.t.cols[ci]
		if ci == w.t.uaCol || c.generated {
			continue
		}
		var v sdk.Value
		if j < len(op.Values) {
			v = op.Values[j]
		}
		if ci == w.t.idCol && w.t.id == idGenerated && v.IsEmpty() && op.Kind == sdk.OpCreate {
			continue // generated below
		}
		a, verr := encode(c, v)
		if verr != nil {
			return verr
		}
		for _, seen := range w.cols {
			if seen == ci {
				return sdk.FieldError(f, "field %q set twice", f)
			}
		}
		w.cols = append(w.cols, ci)
		w.args = append(w.args, a)
	}
	return nil
}

// outcome is what a create or update stored: the row read back, or, when
// that was not needed, the id with the bound values still in w.args.
type outcome struct {
	row   []any
	id    any
	at    time.Time // the updated-at stamp written; zero when none
	bound bool
}

func (w *writer) create(ctx context.Context, op *sdk.Op) (outcome, *sdk.Error, error) {
	t := w.t
	if e := w.setColumns(op); e != nil {
		return outcome{}, e, nil
	}
	if t.idCol >= 0 && t.id != idRowid && w.pos(t.idCol) < 0 {
		if t.id == idGiven {
			return outcome{}, sdk.FieldError(t.cols[t.idCol].name, "%s is the primary key: a create must set it", t.cols[t.idCol].name), nil
		}
		w.cols = append(w.cols, t.idCol)
		w.args = append(w.args, newUUID())
	}
	if t.id == idRowid && !t.autoinc {
		if e, err := w.avoidReuse(ctx); e != nil || err != nil {
			return outcome{}, e, err
		}
	}
	var at time.Time
	if t.uaCol >= 0 {
		at = w.stamp(true)
		w.cols = append(w.cols, t.uaCol)
		w.args = append(w.args, t.stamp(at))
	}
	if w.canSkipReturning() {
		s, err := w.stmt(ctx, 'C', w.cols, w.insertSQL)
		if err != nil {
			return outcome{}, nil, err
		}
		r, err := s.ExecContext(ctx, w.args...)
		if err != nil {
			_, e, ferr := w.failed(err)
			return outcome{}, e, ferr
		}
		var id any
		if t.id == idRowid {
			n, err := r.LastInsertId()
			if err != nil {
				return outcome{}, nil, w.c.dbError("write "+t.name, err)
			}
			id = n
		} else {
			id = w.args[w.pos(t.idCol)]
		}
		return outcome{id: id, at: at, bound: true}, nil, nil
	}
	s, err := w.stmt(ctx, 'c', w.cols, func() string { return w.insertSQL() + " RETURNING " + t.sel })
	if err != nil {
		return outcome{}, nil, err
	}
	if err := s.QueryRowContext(ctx, w.args...).Scan(w.sc.ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			// An ON CONFLICT IGNORE clause dropped the row.
			return outcome{}, &sdk.Error{Category: sdk.CategoryDuplicate, Message: "the table ignored the row (ON CONFLICT IGNORE)"}, nil
		}
		_, e, ferr := w.failed(err)
		return outcome{}, e, ferr
	}
	return outcome{row: w.sc.row, at: at}, nil, nil
}

// insertSQL is the INSERT for the columns in w.cols (-1 names the rowid).
func (w *writer) insertSQL() string {
	t := w.t
	if len(w.cols) == 0 {
		return "INSERT INTO " + t.q + " DEFAULT VALUES"
	}
	names := make([]string, len(w.cols))
	for i, ci := range w.cols {
		if ci < 0 {
			names[i] = "rowid"
		} else {
			names[i] = t.cols[ci].q
		}
	}
	return "INSERT INTO " + t.q + " (" + strings.Join(names, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(w.cols)-1) + ")"
}

// canSkipReturning reports whether a create's stored values are exactly
// the values bound, so the row need not be read back: the version is the
// connector's stamp, every reported field is set by the op, no trigger can
// change the row, and no column's affinity converts what is bound.
func (w *writer) canSkipReturning() bool {
	t := w.t
	if t.uaCol < 0 || t.triggers {
		return false
	}
	for _, ci := range w.resCols {
		if ci >= 0 && w.pos(ci) < 0 {
			return false
		}
	}
	for _, ci := range w.cols {
		if ci >= 0 && !t.cols[ci].exactBind {
			return false
		}
	}
	return true
}

// pos is the index of column ci in w.cols, or -1.
func (w *writer) pos(ci int) int {
	for i, x := range w.cols {
		if x == ci {
			return i
		}
	}
	return -1
}

func (w *writer) update(ctx context.Context, op *sdk.Op) (outcome, *sdk.Error, error) {
	t := w.t
	id, ok := t.idArg(op.ID)
	if !ok {
		return outcome{}, notFound(t, op.ID), nil
	}
	if e, err := w.precondition(ctx, op, id); e != nil || err != nil {
		return outcome{}, e, err
	}
	if e := w.setColumns(op); e != nil {
		return outcome{}, e, nil
	}
	if t.idCol >= 0 {
		for i, ci := range w.cols {
			if ci == t.idCol {
				if w.args[i] != id {
					return outcome{}, sdk.FieldError(t.cols[ci].name, "the primary key cannot be changed"), nil
				}
				w.cols = append(w.cols[:i], w.cols[i+1:]...)
				w.args = append(w.args[:i], w.args[i+1:]...)
				break
			}
		}
	}
	var at time.Time
	if t.uaCol >= 0 {
		at = w.stamp(false)
		w.cols = append(w.cols, t.uaCol)
		w.args = append(w.args, t.stamp(at))
	}
	if len(w.cols) == 0 { // an empty patch of a table without updated-at
		found, err := w.selectByID(ctx, id)
		if err != nil || !found {
			return outcome{}, notFoundIf(!found, t, op.ID), err
		}
		return outcome{row: w.sc.row}, nil, nil
	}
	if t.id == idRowid && w.canSkipReturning() {
		// The row need not be read back (see canSkipReturning); the key is
		// the rowid, so the id bound is the id stored.
		s, err := w.stmt(ctx, 'U', w.cols, func() string {
			sets := make([]string, len(w.cols))
			for i, ci := range w.cols {
				sets[i] = t.cols[ci].q + " = ?"
			}
			return "UPDATE " + t.q + " SET " + strings.Join(sets, ", ") + " WHERE " + t.idExpr + " = ?"
		})
		if err != nil {
			return outcome{}, nil, err
		}
		r, err := s.ExecContext(ctx, append(w.args, id)...)
		if err != nil {
			_, e, ferr := w.failed(err)
			return outcome{}, e, ferr
		}
		if n, err := r.RowsAffected(); err != nil {
			return outcome{}, nil, w.c.dbError("write "+t.name, err)
		} else if n == 0 {
			return outcome{}, notFound(t, op.ID), nil
		}
		return outcome{id: id, at: at, bound: true}, nil, nil
	}
	s, err := w.stmt(ctx, 'u', w.cols, func() string {
		sets := make([]string, len(w.cols))
		for i, ci := range w.cols {
			sets[i] = t.cols[ci].q + " = ?"
		}
		return "UPDATE " + t.q + " SET " + strings.Join(sets, ", ") + " WHERE " + t.idExpr + " = ? RETURNING " + t.sel
	})
	if err != nil {
		return outcome{}, nil, err
	}
	w.args = append(w.args, id)
	if err := s.QueryRowContext(ctx, w.args...).Scan(w.sc.ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return outcome{}, notFound(t, op.ID), nil
		}
		_, e, ferr := w.failed(err)
		return outcome{}, e, ferr
	}
	return outcome{row: w.sc.row, at: at}, nil, nil
}

func (w *writer) delete(ctx context.Context, op *sdk.Op) (*sdk.Error, error) {
	t := w.t
	id, ok := t.idArg(op.ID)
	if !ok {
		return notFound(t, op.ID), nil
	}
	if e, err := w.precondition(ctx, op, id); e != nil || err != nil {
		return e, err
	}
	s, err := w.stmt(ctx, 'd', nil, func() string {
		return "DELETE FROM " + t.q + " WHERE " + t.idExpr + " = ?"
	})
	if err != nil {
		return nil, err
	}
	r, err := s.ExecContext(ctx, id)
	if err != nil {
		_, e, ferr := w.failed(err)
		return e, ferr
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound(t, op.ID), nil
	}
	if t.id == idRowid && !t.autoinc {
		w.c.noteDeleted(t.name, id.(int64))
	}
	return nil, nil
}

// avoidReuse gives a create an explicit rowid above any this connection
// deleted, where SQLite would otherwise hand a deleted one out again.
func (w *writer) avoidReuse(ctx context.Context) (*sdk.Error, error) {
	t := w.t
	hw := w.c.highestDeleted(t.name)
	if hw == 0 || w.pos(t.idCol) >= 0 {
		return nil, nil
	}
	s, err := w.stmt(ctx, 'm', nil, func() string { return "SELECT max(rowid) FROM " + t.q })
	if err != nil {
		return nil, err
	}
	var top sql.NullInt64
	if err := s.QueryRowContext(ctx).Scan(&top); err != nil {
		return nil, w.c.dbError("write "+t.name, err)
	}
	if top.Int64 >= hw {
		return nil, nil // SQLite's own choice, max+1, is already fresh
	}
	w.cols = append(w.cols, t.idCol) // -1 names the hidden rowid
	w.args = append(w.args, hw+1)
	return nil, nil
}

// precondition checks op.IfVersion against the row's current version.
func (w *writer) precondition(ctx context.Context, op *sdk.Op, id any) (*sdk.Error, error) {
	if op.IfVersion == "" {
		return nil, nil
	}
	if t := w.t; t.uaCol >= 0 {
		// The version is the updated-at value, unless that is null.
		s, err := w.stmt(ctx, 'v', nil, func() string {
			return "SELECT +" + t.cols[t.uaCol].q + " FROM " + t.q + " WHERE " + t.idExpr + " = ?"
		})
		if err != nil {
			return nil, err
		}
		var ua any
		err = s.QueryRowContext(ctx, id).Scan(&ua)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(t, op.ID), nil
		}
		if err != nil {
			return nil, w.c.dbError("read "+t.name, err)
		}
		if ua != nil {
			if v := valueText(ua); v != op.IfVersion {
				return sdk.Errorf(sdk.CategoryConflict, "%s %s is at version %s, not %s", t.name, op.ID, v, op.IfVersion), nil
			}
			return nil, nil
		}
	}
	found, err := w.selectByID(ctx, id)
	if err != nil || !found {
		return notFoundIf(!found, w.t, op.ID), err
	}
	if v := w.t.version(w.sc.row); v != op.IfVersion {
		return sdk.Errorf(sdk.CategoryConflict, "%s %s is at version %s, not %s", w.t.name, op.ID, v, op.IfVersion), nil
	}
	return nil, nil
}

func (w *writer) selectByID(ctx context.Context, id any) (bool, error) {
	s, err := w.stmt(ctx, 's', nil, func() string {
		return "SELECT " + w.t.sel + " FROM " + w.t.q + " WHERE " + w.t.idExpr + " = ?"
	})
	if err != nil {
		return false, err
	}
	err = s.QueryRowContext(ctx, id).Scan(w.sc.ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, w.c.dbError("read "+w.t.name, err)
	}
	return true, nil
}

func notFound(t *table, id string) *sdk.Error {
	return sdk.Errorf(sdk.CategoryNotFound, "no row with id %q in %s", id, t.name)
}

func notFoundIf(cond bool, t *table, id string) *sdk.Error {
	if cond {
		return notFound(t, id)
	}
	return nil
}

// idArg converts a record id to the value its column is compared with; ok
// is false for an id no row can have.
func (t *table) idArg(id string) (any, bool) {
	if t.id == idRowid {
		i, err := strconv.ParseInt(id, 10, 64)
		return i, err == nil
	}
	a, err := encode(&t.cols[t.idCol], sdk.String(id))
	return a, err == nil && a != nil
}

// failed sorts a statement's error: a constraint the op broke is the op's
// result; anything else fails the batch.
func (w *writer) failed(err error) ([]any, *sdk.Error, error) {
	if e := constraintError(w.t, err); e != nil {
		return nil, e, nil
	}
	return nil, nil, w.c.dbError("write "+w.t.name, err)
}

// constraintError maps a constraint failure onto a categorized error naming
// the field; nil when err is no constraint failure.
func constraintError(t *table, err error) *sdk.Error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return nil
	}
	msg := se.Error()
	switch {
	case se.Code == sqlite3.ErrConstraint:
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintNotNull:
			f := t.fieldIn(msg)
			return &sdk.Error{Category: sdk.CategoryValidation, Field: f, Message: f + " is required: " + msg}
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return &sdk.Error{Category: sdk.CategoryDuplicate, Field: t.fieldIn(msg), Message: msg}
		}
		return &sdk.Error{Category: sdk.CategoryValidation, Field: t.fieldIn(msg), Message: msg}
	case se.Code == sqlite3.ErrMismatch, se.Code == sqlite3.ErrTooBig, se.Code == sqlite3.ErrRange:
		return &sdk.Error{Category: sdk.CategoryValidation, Field: t.fieldIn(msg), Message: msg}
	}
	return nil
}

// fieldIn finds the column a constraint message names: "NOT NULL constraint
// failed: t.col", "UNIQUE constraint failed: t.a, t.b" (the first),
// "cannot store TEXT value in INTEGER column t.col", or a CHECK expression
// mentioning it.
func (t *table) fieldIn(msg string) string {
	rest := msg
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		rest = msg[i+2:]
	} else if i := strings.LastIndex(msg, " column "); i >= 0 {
		rest = msg[i+8:]
	}
	first, _, _ := strings.Cut(rest, ", ")
	first = strings.TrimPrefix(strings.TrimSpace(first), t.name+".")
	if ci, ok := t.column(first); ok {
		return t.cols[ci].name
	}
	for _, tok := range strings.FieldsFunc(rest, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	}) {
		if ci, ok := t.column(tok); ok {
			return t.cols[ci].name
		}
	}
	return ""
}

// newUUID returns a random (version 4) UUID for a text primary key.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:])
}
