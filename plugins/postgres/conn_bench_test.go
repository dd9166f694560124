package main

import (
	"context"
	"testing"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
)

// The in-process benchmarks below call the connector directly (no gRPC) on
// benchConnRows contacts, in write batches of sdk.BatchRecords, and report
// per record: wall time, this process's CPU time (the plugin's own cost,
// without the server's) and allocations.
const benchConnRows = 20_000

func benchConn(b *testing.B) (*Conn, *testDB) {
	env := testsvc.Postgres(b)
	url := testsvc.CreateDatabase(b, env)
	d := &testDB{env: env, url: url, cfg: configFor(env, url), conn: adminConn(b, url)}
	c, err := New().Open(context.Background(), d.cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c.(*Conn), d
}

// benchFill creates the contacts; the time measured in p, if any, is the
// writes' alone.
func benchFill(b *testing.B, c *Conn, d *testDB, p *testsvc.Meter) []sdk.WriteResult {
	ctx := context.Background()
	if _, err := d.conn.Exec(ctx, "DROP TABLE IF EXISTS contacts; "+benchDDL); err != nil {
		b.Fatal(err)
	}
	c.forgetCatalog()
	var all []sdk.WriteResult
	var batches [][]sdk.Op
	for from := 0; from < benchConnRows; from += sdk.BatchRecords {
		batches = append(batches, benchOps(sdk.BatchRecords, from))
	}
	if p != nil {
		p.Begin()
	}
	for _, ops := range batches {
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: ops})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		all = append(all, res...)
	}
	return all
}

// BenchmarkConnCreate: creates into an empty table (the COPY path).
func BenchmarkConnCreate(b *testing.B) {
	c, d := benchConn(b)
	p := testsvc.NewMeter(b)
	for b.Loop() {
		benchFill(b, c, d, p)
		p.End(benchConnRows)
	}
	p.Report()
}

// BenchmarkConnRead: a full read of the table.
func BenchmarkConnRead(b *testing.B) {
	c, d := benchConn(b)
	benchFill(b, c, d, nil)
	p := testsvc.NewMeter(b)
	for b.Loop() {
		p.Begin()
		col := &countSink{}
		if err := c.Read(context.Background(), sdk.ReadRequest{Object: "contacts", Fields: benchFields}, col); err != nil {
			b.Fatal(err)
		}
		p.End(col.n)
		if col.n != benchConnRows {
			b.Fatal(col.n)
		}
	}
	p.Report()
}

// BenchmarkConnUpdate: updates of every record (two fields changed, all ten
// sent, with the version read), as the host sends them.
func BenchmarkConnUpdate(b *testing.B) {
	c, d := benchConn(b)
	created := benchFill(b, c, d, nil)
	ctx := context.Background()
	p := testsvc.NewMeter(b)
	versions := make([]string, len(created))
	for i, r := range created {
		versions[i] = r.Version
	}
	for it := 0; b.Loop(); it++ {
		var batches [][]sdk.Op
		for from := 0; from < benchConnRows; from += sdk.BatchRecords {
			ops := benchOps(sdk.BatchRecords, from)
			for k := range ops {
				i := from + k
				ops[k].Kind, ops[k].ID = sdk.OpUpdate, created[i].ID
				ops[k].Values[3] = sdk.String("+1 555 " + itoa(it) + "-" + itoa(i))
				ops[k].Values[9] = sdk.String("import " + itoa(it))
			}
			batches = append(batches, ops)
		}
		p.Begin()
		for bi, ops := range batches {
			from := bi * sdk.BatchRecords
			for k := range ops {
				ops[k].IfVersion = versions[from+k]
			}
			res, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: ops})
			if err != nil {
				b.Fatal(err)
			}
			for k, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				versions[from+k] = r.Version
			}
		}
		p.End(benchConnRows)
	}
	p.Report()
}

// BenchmarkCheckFresh opens a connection and checks the account, as every
// run does first: a login and a fresh backend each time.
func BenchmarkCheckFresh(b *testing.B) {
	_, d := benchConn(b)
	ctx := context.Background()
	for b.Loop() {
		c, err := New().Open(ctx, d.cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Check(ctx); err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}
