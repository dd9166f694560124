package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// Lookup returns the records whose field equals one of the values, with
// one query: WHERE field = ANY($1). An empty field is the id: the primary
// key, when it is one column.
func (c *Conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	t, err := c.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	if req.Field == "" {
		if len(t.pk) != 1 {
			return nil, sdk.FieldError(req.Field, "%s has a key of %d columns: no lookup by id", t.name, len(t.pk))
		}
		req.Field = t.cols[t.pk[0]].name
	}
	col, ok := t.col(req.Field)
	if !ok || t.byName[req.Field] == t.softDelete {
		return nil, sdk.FieldError(req.Field, "%s has no field %q", t.name, req.Field)
	}
	if col.list {
		return nil, sdk.FieldError(req.Field, "lookup by the list field %s is not supported", req.Field)
	}
	p, err := newProjection(t, req.Fields)
	if err != nil {
		return nil, err
	}
	vals := make([]*string, 0, len(req.Values))
	for _, v := range req.Values {
		s, e := paramText(col, v)
		if e != nil || s == nil {
			continue // a value the column cannot hold matches nothing
		}
		vals = append(vals, s)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	where := "t." + col.ident + " = ANY($1::text[]::" + col.castType + "[])"
	if t.softDelete >= 0 {
		where += " AND t." + t.cols[t.softDelete].ident + " IS NULL"
	}
	var out []sdk.Record
	err = c.withConn(ctx, func(pc *pgx.Conn) error {
		rows, err := pc.Query(ctx, "SELECT "+p.sql+" FROM "+t.qname+" t WHERE "+where, pgx.QueryResultFormatsByOID(c.resultFormats), vals)
		if catalogChanged(err) {
			c.forgetCatalog()
			return sdk.Errorf(sdk.CategoryTransient, "lookup %s: the table changed (%v); retry", t.name, err)
		}
		if err != nil {
			return mapQueryError(fmt.Errorf("lookup %s by %s: %w", t.name, req.Field, err))
		}
		defer rows.Close()
		var key rowKey
		for rows.Next() {
			var rec sdk.Record
			if err := p.scan(rows, &rec, make([]sdk.Value, len(p.fields)), &key); err != nil {
				return err
			}
			out = append(out, rec)
		}
		return mapQueryError(rows.Err())
	})
	return out, err
}
