package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// TestBatchedUpdatesMatchOneByOne runs the same mixed batch of updates
// (good, stale version, missing row, unique and check violations, no
// version, a soft-deleted row, a duplicate id, a value the column stores
// differently) through the one-statement path and the pipelined path, and
// wants the same results and the same rows.
func TestBatchedUpdatesMatchOneByOne(t *testing.T) {
	const ddl = `CREATE TABLE people (
		id serial PRIMARY KEY,
		email text NOT NULL UNIQUE,
		name varchar(10),
		code char(4),
		tags text[],
		age int CHECK (age >= 0),
		deleted_at timestamptz,
		updated_at timestamptz)`
	fields := []string{"email", "name", "code", "tags", "age"}
	run := func(t *testing.T, batchMin int, withDup bool) ([]sdk.WriteResult, []string) {
		d := newTestDB(t)
		d.exec(t, ddl)
		c := d.open(t, "soft_delete_column", "deleted_at")
		ctx := context.Background()
		var creates []sdk.Op
		for i := range 12 {
			creates = append(creates, sdk.Op{Kind: sdk.OpCreate, CorrelationID: fmt.Sprint("c", i), Fields: fields, Values: []sdk.Value{
				sdk.String(fmt.Sprintf("p%d@example.com", i)), sdk.String(fmt.Sprint("n", i)), sdk.String("ab"),
				sdk.StringList("x", `q"uo\te`), sdk.Int(int64(i))}})
		}
		created, err := c.Write(ctx, sdk.WriteRequest{Object: "people", Fields: fields, Ops: creates})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(ctx, sdk.WriteRequest{Object: "people", Ops: []sdk.Op{{Kind: sdk.OpDelete, ID: created[9].ID}}}); err != nil {
			t.Fatal(err)
		}
		upd := func(i int, ifVersion string, email string, age int64) sdk.Op {
			return sdk.Op{Kind: sdk.OpUpdate, CorrelationID: fmt.Sprint("u", i), ID: created[i].ID, IfVersion: ifVersion, Fields: fields,
				Values: []sdk.Value{sdk.String(email), sdk.String(fmt.Sprint("m", i)), sdk.String("cd"), sdk.StringList("y", "", "NULL"), sdk.Int(age)}}
		}
		ops := []sdk.Op{
			upd(0, created[0].Version, "p0@example.com", 10),
			upd(1, "stale", "p1@example.com", 11),
			upd(2, "", "p2-new@example.com", 12),
			upd(3, created[3].Version, "p3@example.com", 13),
			upd(9, created[9].Version, "p9@example.com", 19), // soft-deleted
			upd(4, created[4].Version, "p4@example.com", 14),
		}
		missing := upd(5, "123", "p5@example.com", 15)
		missing.ID = "999999"
		ops = append(ops, missing)
		missingNoVersion := upd(6, "", "p6@example.com", 16)
		missingNoVersion.ID = "999998"
		ops = append(ops, missingNoVersion, upd(7, created[7].Version, "p7@example.com", 17), upd(8, created[8].Version, "p8@example.com", 18))
		if withDup {
			ops = append(ops, upd(10, created[10].Version, "p0@example.com", 20), // unique violation
				upd(11, created[11].Version, "p11@example.com", -1)) // check violation
		}
		saved := updateBatchMin
		updateBatchMin = batchMin
		defer func() { updateBatchMin = saved }()
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "people", Fields: fields, Ops: ops})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := d.conn.Query(ctx, "SELECT id, email, name, code, tags::text, age, deleted_at IS NULL FROM people ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var table []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			table = append(table, fmt.Sprint(vals...))
		}
		return res, table
	}
	for _, withDup := range []bool{false, true} {
		batched, bt := run(t, 4, withDup)
		each, et := run(t, 1<<30, withDup)
		if strings.Join(bt, "\n") != strings.Join(et, "\n") {
			t.Errorf("dup=%v: rows differ:\nbatched:\n%s\none by one:\n%s", withDup, strings.Join(bt, "\n"), strings.Join(et, "\n"))
		}
		for i := range each {
			b, e := batched[i], each[i]
			if (b.Err == nil) != (e.Err == nil) || (b.Err != nil && (b.Err.Category != e.Err.Category || b.Err.Field != e.Err.Field)) {
				t.Errorf("dup=%v op %d: batched %v, one by one %v", withDup, i, b.Err, e.Err)
				continue
			}
			if b.CorrelationID != e.CorrelationID || b.ID != e.ID || (b.Version == "") != (e.Version == "") || b.ModifiedAt.IsZero() != e.ModifiedAt.IsZero() {
				t.Errorf("dup=%v op %d: batched %+v, one by one %+v", withDup, i, b, e)
			}
			if len(b.Values) != len(e.Values) {
				t.Errorf("dup=%v op %d: batched values %v, one by one %v", withDup, i, b.Values, e.Values)
				continue
			}
			for j := range b.Values {
				if !b.Values[j].Equal(e.Values[j]) {
					t.Errorf("dup=%v op %d value %d: batched %#v, one by one %#v", withDup, i, j, b.Values[j], e.Values[j])
				}
			}
		}
		if withDup && (batched[10].Err == nil || batched[11].Err == nil || batched[0].Err != nil) {
			t.Errorf("want the violations refused and the rest applied: %v %v %v", batched[0].Err, batched[10].Err, batched[11].Err)
		}
		if batched[1].Err == nil || batched[1].Err.Category != sdk.CategoryConflict || batched[6].Err == nil || batched[6].Err.Category != sdk.CategoryNotFound {
			t.Errorf("want a conflict and a not-found: %v %v", batched[1].Err, batched[6].Err)
		}
	}
}
