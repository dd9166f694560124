package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/datasync-io/datasync/sdk"
)

// copyMin is the smallest run of creates worth the COPY path's extra round trips.
const copyMin = 64

// copyPlan is how a run of creates maps onto COPY columns.
type copyPlan struct {
	pk     *column
	pkIdx  int       // position of the key in the ops' fields; -1: drawn from its sequence
	fields []*column // the ops' fields
	cols   []string  // COPY column list
	stamp  bool      // updated_at set by the connector
	ver    bool      // integer version column set to 1
}

// planCopy says whether COPY can write a run setting fields: one key column
// given by the ops or drawn from its sequence, and only types the COPY
// encoder takes from plain Go values.
func (w *writer) planCopy(fields []string, n int) (*copyPlan, bool) {
	t := w.t
	if len(t.pk) != 1 || n < copyMin {
		return nil, false
	}
	p := &copyPlan{pk: &t.cols[t.pk[0]], pkIdx: slices.Index(fields, t.cols[t.pk[0]].name)}
	if p.pkIdx < 0 {
		if p.pk.sequence == "" || p.pk.always || !isIntType(p.pk.copyType) {
			return nil, false
		}
		p.cols = append(p.cols, p.pk.name)
	}
	for _, f := range fields {
		col, _ := t.col(f)
		if col.copyType == "" {
			return nil, false
		}
		p.fields = append(p.fields, col)
		p.cols = append(p.cols, col.name)
	}
	if t.updatedAt >= 0 && !t.cols[t.updatedAt].generated {
		if t.cols[t.updatedAt].copyType == "" {
			return nil, false
		}
		p.stamp = true
		p.cols = append(p.cols, t.cols[t.updatedAt].name)
	}
	if t.version >= 0 && t.intVersion && !t.cols[t.version].generated {
		p.ver = true
		p.cols = append(p.cols, t.cols[t.version].name)
	}
	return p, true
}

func isIntType(t string) bool { return t == "int2" || t == "int4" || t == "int8" }

// copyInsert writes the run with COPY (ids drawn from the key's sequence
// first), then reads the stored rows back by key for the results. Any
// failure leaves it to the caller to roll back and take the INSERT path.
func (w *writer) copyInsert(ctx context.Context, run []int, p *copyPlan) error {
	t := w.t
	src := &copySource{}
	if p.pkIdx < 0 {
		rows, err := w.tx.Query(ctx, "SELECT nextval($1::regclass), clock_timestamp() FROM generate_series(1, $2::int)", p.pk.sequence, len(run))
		if err != nil {
			return err
		}
		src.ids = make([]int64, 0, len(run))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id, &src.now); err != nil {
				rows.Close()
				return err
			}
			src.ids = append(src.ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
	} else if err := w.tx.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&src.now); err != nil {
		return err
	}
	idents := make([]string, len(p.cols))
	for j, c := range p.cols {
		idents[j] = pgx.Identifier{c}.Sanitize()
	}
	data := w.copyData(run, p, src)
	if _, err := w.tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data),
		"COPY "+t.qname+" ("+strings.Join(idents, ", ")+") FROM STDIN"); err != nil {
		return err
	}
	if !t.triggers && len(p.fields) == len(w.ret.fields) {
		// Nothing can have changed the values on the way in: the results are
		// what was sent, in stored form, and the subtransaction's xid.
		return w.copyResults(ctx, run, p, src)
	}
	// The stored rows, as RETURNING would give them, matched to the ops by key.
	var keys any
	where := "t." + p.pk.ident + " = ANY($1::text[]::" + p.pk.castType + "[])"
	want := make([]string, len(run))
	if p.pkIdx < 0 {
		keys = src.ids
		where = "t." + p.pk.ident + " = ANY($1::int8[])"
		for k, id := range src.ids {
			want[k] = strconv.FormatInt(id, 10)
		}
	} else {
		ks := make([]string, len(run))
		for k, i := range run {
			ks[k] = *w.params[i][p.pkIdx]
			want[k] = ks[k]
			if isIntType(p.pk.copyType) {
				n, _ := strconv.ParseInt(ks[k], 10, 64) // validated in prepare
				want[k] = strconv.FormatInt(n, 10)
			}
		}
		keys = ks
	}
	rows, err := w.tx.Query(ctx, "SELECT "+w.ret.sql+" FROM "+t.qname+" t WHERE "+where, pgx.QueryResultFormatsByOID(w.formats), keys)
	if err != nil {
		return err
	}
	defer rows.Close()
	nf := len(w.ret.fields)
	slab := make([]sdk.Value, len(run)*nf)
	byKey := make(map[string]sdk.WriteResult, len(run))
	var key rowKey
	for k := 0; rows.Next(); k++ {
		if k >= len(run) {
			return fmt.Errorf("copy: read back more rows than ops")
		}
		var rec sdk.Record
		if err := w.ret.scan(rows, &rec, slab[k*nf:(k+1)*nf:(k+1)*nf], &key); err != nil {
			return err
		}
		byKey[rec.ID] = sdk.WriteResult{ID: rec.ID, Version: rec.Version, ModifiedAt: rec.ModifiedAt, Values: rec.Values}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	out := make([]sdk.WriteResult, len(run))
	for k := range run {
		r, ok := byKey[want[k]]
		if !ok {
			// A trigger changed or skipped the row: let the INSERT path attribute it.
			return &pgconn.PgError{Code: "P0000", Message: "copied rows do not match the ops"}
		}
		out[k] = r
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

// copySource is what a COPY adds to the ops' values: the ids drawn from the
// key's sequence and the updated-at stamp.
type copySource struct {
	ids []int64
	now time.Time
}

// copyData renders the run as COPY text: the validated text parameters,
// which the server reads with the same input functions as the INSERT
// path's casts from text.
func (w *writer) copyData(run []int, p *copyPlan, src *copySource) []byte {
	size := 0
	for _, i := range run {
		for _, v := range w.params[i] {
			if v != nil {
				size += len(*v) + 1
			}
		}
		size += 3*len(p.cols) + 48
	}
	b := make([]byte, 0, size+size/16)
	now := src.now.Format("2006-01-02 15:04:05.999999Z07:00")
	for k, i := range run {
		n := len(b)
		if p.pkIdx < 0 {
			b = strconv.AppendInt(append(b, '\t'), src.ids[k], 10)
		}
		for _, v := range w.params[i][:len(p.fields)] {
			b = append(b, '\t')
			if v == nil {
				b = append(b, '\\', 'N')
			} else {
				b = appendCopyText(b, *v)
			}
		}
		if p.stamp {
			b = append(append(b, '\t'), now...)
		}
		if p.ver {
			b = append(b, '\t', '1')
		}
		// Every column was written after a tab: the first one's becomes the
		// previous row's end.
		if k == 0 {
			b = append(b[:n], b[n+1:]...)
		} else {
			b[n] = '\n'
		}
	}
	if len(run) > 0 {
		b = append(b, '\n')
	}
	return b
}

// appendCopyText escapes s for COPY's text format.
func appendCopyText(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\t':
			esc = 't'
		default:
			continue
		}
		b = append(append(b, s[start:i]...), '\\', esc)
		start = i + 1
	}
	return append(b, s[start:]...)
}

// copyResults fills the results of a COPY from what was sent: the values in
// the form a read returns them, the version the rows' common xmin.
func (w *writer) copyResults(ctx context.Context, run []int, p *copyPlan, src *copySource) error {
	t := w.t
	firstKey := ""
	if p.pkIdx < 0 {
		firstKey = strconv.FormatInt(src.ids[0], 10)
	} else {
		firstKey = *w.params[run[0]][p.pkIdx]
	}
	var version string
	if err := w.tx.QueryRow(ctx, "SELECT "+versionExpr(t)+" FROM "+t.qname+" t WHERE t."+p.pk.ident+" = $1::text::"+p.pk.castType,
		firstKey).Scan(&version); err != nil {
		return err
	}
	// Result values follow the request's field order; the run's ops set them all.
	pos := make([]int, len(w.ret.fields))
	for j, ci := range w.ret.fields {
		pos[j] = slices.IndexFunc(p.fields, func(c *column) bool { return c == &t.cols[ci] })
		if pos[j] < 0 {
			return &pgconn.PgError{Code: "P0000", Message: "copy: result field not written"}
		}
	}
	nf := len(pos)
	inOrder := nf == len(p.fields)
	for j, fj := range pos {
		inOrder = inOrder && fj == j
	}
	var slab []sdk.Value
	for k, i := range run {
		var vals []sdk.Value
		if inOrder && w.reportValues && w.storedAsSent(i, p) {
			// The common case: what was sent is what a read returns. The
			// op's own values say so without a copy (the SDK then leaves
			// them off the wire).
			vals = w.req.Ops[i].Values
		} else {
			if slab == nil {
				slab = make([]sdk.Value, len(run)*nf)
			}
			vals = slab[k*nf : (k+1)*nf : (k+1)*nf]
			for j, fj := range pos {
				v, err := storedValue(p.fields[fj].copyType, w.params[i][fj])
				if err != nil {
					return err
				}
				vals[j] = v
			}
		}
		id := ""
		if p.pkIdx < 0 {
			id = strconv.FormatInt(src.ids[k], 10)
		} else {
			v, err := storedValue(p.pk.copyType, w.params[i][p.pkIdx])
			if err != nil {
				return err
			}
			id = v.Text()
		}
		r := sdk.WriteResult{CorrelationID: w.res[i].CorrelationID, ID: id, Version: version, Values: vals}
		if p.stamp {
			r.ModifiedAt = src.now.UTC().Truncate(time.Microsecond)
		}
		if !w.reportValues {
			r.Values = nil
		}
		w.res[i] = r
	}
	return nil
}

// storedAsSent reports whether every value op i sent is the value a read
// of what it stored returns (strings sent as strings, and the like).
func (w *writer) storedAsSent(i int, p *copyPlan) bool {
	op := &w.req.Ops[i]
	for j, col := range p.fields {
		v := &op.Values[j]
		ps := w.params[i][j]
		switch {
		case ps == nil:
			if v.Kind != sdk.KindNull {
				return false
			}
		case col.copyType == "text" || col.copyType == "varchar":
			if v.Kind != sdk.KindString || v.Str != *ps {
				return false
			}
		default:
			sv, err := storedValue(col.copyType, ps)
			if err != nil || sv.Kind != v.Kind || sv.Kind == sdk.KindDateTime || !sv.Equal(*v) {
				return false
			}
		}
	}
	return true
}

// storedValue is a validated text parameter as a read returns the stored value.
func storedValue(typ string, p *string) (sdk.Value, error) {
	if p == nil {
		return sdk.Null, nil
	}
	switch typ {
	case "int2", "int4", "int8":
		n, err := strconv.ParseInt(*p, 10, 64)
		return sdk.Int(n), err
	case "bool":
		return sdk.Bool(*p == "true"), nil
	case "date":
		return sdk.Value{Kind: sdk.KindDate, Str: *p}, nil
	case "timestamp", "timestamptz":
		tm, err := time.Parse("2006-01-02 15:04:05.999999Z07:00", *p)
		return sdk.DateTime(tm), err
	}
	return sdk.String(*p), nil
}
