package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// Echo marks. A write's results carry the full (64-bit) id of the
// (sub)transaction that wrote each row; the host hands them back as
// ReadRequest.Skip, and an incremental read leaves out, in SQL, the rows
// whose xmin is one of them: the host's own writes, which it already knows.
// A row changed since by anyone else has another xmin and is read.

// markPrefix tells this connector's marks from other connectors'.
const markPrefix = "pgx:"

// marksWrites reports whether t's rows can be marked: the version is the
// row's xmin (so it is the result's Version), and nothing but the
// statements' own rows can carry the transaction's xid (a trigger, a rule
// or a cascading foreign key could change other rows in it, whose state
// the host does not know).
func marksWrites(t *table) bool {
	return t.version < 0 && !t.view && !t.triggers && !t.spills
}

// mark gives every result whose row this transaction wrote the full xid of
// its (sub)transaction. It runs in the write's transaction, after the ops.
func (w *writer) mark(ctx context.Context) error {
	if !marksWrites(w.t) {
		return nil
	}
	some := false
	for i := range w.res {
		some = some || w.markable(i)
	}
	if !some {
		return nil
	}
	var top int64
	if err := w.tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::int8").Scan(&top); err != nil {
		return fmt.Errorf("transaction id: %w", err)
	}
	for i := range w.res {
		if !w.markable(i) {
			continue
		}
		x, err := strconv.ParseUint(w.res[i].Version, 10, 32)
		if err != nil {
			continue // not an xmin after all: no mark is always safe
		}
		// Subtransactions get their xids after the top-level one's: the
		// 32-bit xmin is the first xid at or after top with those low bits.
		full := uint64(top) + uint64(uint32(x)-uint32(top))
		w.res[i].Mark = markPrefix + strconv.FormatUint(full, 10)
	}
	return nil
}

// markable reports whether result i is a row this write left behind with its
// xmin as version: a create or update, or a soft delete. A hard delete
// returns the removed row's old xmin, someone else's.
func (w *writer) markable(i int) bool {
	r := &w.res[i]
	if r.Err != nil || r.Version == "" {
		return false
	}
	return w.req.Ops[i].Kind != sdk.OpDelete || w.t.softDelete >= 0
}

// parseSkip returns the xids of this connector's marks in skip, sorted,
// without duplicates; other marks are ignored, which only means their rows
// are read.
func parseSkip(skip []string) []uint64 {
	var xids []uint64
	for _, m := range skip {
		s, ok := strings.CutPrefix(m, markPrefix)
		if !ok {
			continue
		}
		// Normal xids only (3 and up); int8 range, as the SQL compares them.
		x, err := strconv.ParseUint(s, 10, 63)
		if err != nil || x < 3 {
			continue
		}
		xids = append(xids, x)
	}
	slices.Sort(xids)
	return slices.Compact(xids)
}

// fullXmin is the SQL of a row's 64-bit xmin, from its 32-bit one: the
// latest xid at or before the snapshot's xmax with those low bits.
func fullXmin(xmax uint64) string {
	return fmt.Sprintf("(%d::int8 - (((%d::int8 %% 4294967296) - t.xmin::text::int8 + 4294967296) %% 4294967296))", xmax, xmax)
}

// skipFilter is the condition leaving out rows written by the xids: a
// constant array (integers formatted here), which PostgreSQL hashes.
func skipFilter(xmax uint64, xids []uint64) string {
	if len(xids) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" AND " + fullXmin(xmax) + " <> ALL ('{")
	for i, x := range xids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	b.WriteString("}'::int8[])")
	return b.String()
}
