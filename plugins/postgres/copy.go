package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
	src := &copySource{w: w, run: run, p: p, k: -1}
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
	if _, err := w.tx.CopyFrom(ctx, pgx.Identifier{w.schema, t.name}, p.cols, src); err != nil {
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

// copySource feeds COPY one op at a time, converting the validated text
// parameters into the Go values pgx encodes in binary.
type copySource struct {
	w   *writer
	run []int
	p   *copyPlan
	k   int
	ids []int64
	now time.Time
	row []any
	err error
}

func (s *copySource) Next() bool {
	s.k++
	return s.k < len(s.run) && s.err == nil
}

func (s *copySource) Err() error { return s.err }

func (s *copySource) Values() ([]any, error) {
	s.row = s.row[:0]
	if s.p.pkIdx < 0 {
		s.row = append(s.row, s.ids[s.k])
	}
	params := s.w.params[s.run[s.k]]
	for j, col := range s.p.fields {
		v, err := copyValue(col.copyType, params[j])
		if err != nil {
			s.err = fmt.Errorf("copy %s: %w", col.name, err)
			return nil, s.err
		}
		s.row = append(s.row, v)
	}
	if s.p.stamp {
		s.row = append(s.row, s.now)
	}
	if s.p.ver {
		s.row = append(s.row, int64(1))
	}
	return s.row, nil
}

// copyValue converts a text parameter (already validated by paramText) for COPY.
func copyValue(typ string, p *string) (any, error) {
	if p == nil {
		return nil, nil
	}
	switch typ {
	case "int2", "int4", "int8":
		return strconv.ParseInt(*p, 10, 64)
	case "bool":
		return *p == "true", nil
	case "date":
		return time.Parse(time.DateOnly, *p)
	case "timestamp", "timestamptz":
		return time.Parse("2006-01-02 15:04:05.999999Z07:00", *p)
	}
	return *p, nil
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
	slab := make([]sdk.Value, len(run)*nf)
	for k, i := range run {
		vals := slab[k*nf : (k+1)*nf : (k+1)*nf]
		for j, fj := range pos {
			v, err := storedValue(p.fields[fj].copyType, w.params[i][fj])
			if err != nil {
				return err
			}
			vals[j] = v
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
