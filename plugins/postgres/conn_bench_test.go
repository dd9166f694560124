package main

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
)

// The in-process benchmarks below call the connector directly (no gRPC) on
// benchConnRows contacts, in write batches of sdk.BatchRecords, and report
// per record: wall time, this process's CPU time (the plugin's own cost,
// without the server's) and allocations.
const benchConnRows = 20_000

type perRec struct {
	b      *testing.B
	n      int
	cpu    time.Duration
	allocs uint64
	wall   time.Duration
	start  time.Time
	cpu0   time.Duration
	m0     uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

func (p *perRec) begin() {
	runtime.GC() // the setup's garbage is not the measured code's
	p.start, p.cpu0, p.m0 = time.Now(), cpuTime(), mallocs()
}
func (p *perRec) end(n int) {
	p.wall += time.Since(p.start)
	p.cpu += cpuTime() - p.cpu0
	p.allocs += mallocs() - p.m0
	p.n += n
}
func (p *perRec) report() {
	p.b.ReportMetric(float64(p.wall.Nanoseconds())/float64(p.n), "ns/rec")
	p.b.ReportMetric(float64(p.cpu.Nanoseconds())/float64(p.n), "cpu-ns/rec")
	p.b.ReportMetric(float64(p.allocs)/float64(p.n), "allocs/rec")
}

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
func benchFill(b *testing.B, c *Conn, d *testDB, p *perRec) []sdk.WriteResult {
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
		p.begin()
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
	p := &perRec{b: b}
	for b.Loop() {
		benchFill(b, c, d, p)
		p.end(benchConnRows)
	}
	p.report()
}

// BenchmarkConnRead: a full read of the table.
func BenchmarkConnRead(b *testing.B) {
	c, d := benchConn(b)
	benchFill(b, c, d, nil)
	p := &perRec{b: b}
	for b.Loop() {
		p.begin()
		col := &countSink{}
		if err := c.Read(context.Background(), sdk.ReadRequest{Object: "contacts", Fields: benchFields}, col); err != nil {
			b.Fatal(err)
		}
		p.end(col.n)
		if col.n != benchConnRows {
			b.Fatal(col.n)
		}
	}
	p.report()
}

// BenchmarkConnUpdate: updates of every record (two fields changed, all ten
// sent, with the version read), as the host sends them.
func BenchmarkConnUpdate(b *testing.B) {
	c, d := benchConn(b)
	created := benchFill(b, c, d, nil)
	ctx := context.Background()
	p := &perRec{b: b}
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
		p.begin()
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
		p.end(benchConnRows)
	}
	p.report()
}
