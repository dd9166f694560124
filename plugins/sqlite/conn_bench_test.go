package main

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// The benchmarks below move contacts shaped like the bench scenarios' (ten
// ~30-byte text fields, a DATETIME updated-at) through the connector in
// process, in write batches of sdk.BatchRecords, and report per record: wall
// time, this process's CPU time and allocations.
const textRows = 20_000

const textDDL = `CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT UNIQUE, first_name TEXT, last_name TEXT,
	phone TEXT, company TEXT, city TEXT, country TEXT, stage TEXT, owner TEXT, source TEXT, updated_at DATETIME)`

var textFields = []string{"email", "first_name", "last_name", "phone", "company", "city", "country", "stage", "owner", "source"}

func textOps(n, from int) []sdk.Op {
	ops := make([]sdk.Op, n)
	for i := range ops {
		k := from + i
		ops[i] = sdk.Op{Kind: sdk.OpCreate, CorrelationID: fmt.Sprint(k), Fields: textFields, Values: []sdk.Value{
			sdk.String(fmt.Sprintf("contact%08d@example.com", k)), sdk.String(fmt.Sprint("Firstname", k%977)),
			sdk.String(fmt.Sprint("Lastname", k%1999)), sdk.String(fmt.Sprintf("+1 555 %07d", k)),
			sdk.String(fmt.Sprint("Company ", k%5003, " Incorporated")), sdk.String("Springfield"), sdk.String("United States"),
			sdk.String("customer"), sdk.String(fmt.Sprint("owner", k%37, "@example.com")), sdk.String("web form")}}
	}
	return ops
}

type perRec struct {
	b         *testing.B
	n         int
	cpu, wall time.Duration
	allocs    uint64
	start     time.Time
	cpu0      time.Duration
	m0        uint64
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
	runtime.GC()
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

func textWrite(b *testing.B, c *conn, batches [][]sdk.Op, p *perRec) []sdk.WriteResult {
	var all []sdk.WriteResult
	if p != nil {
		p.begin()
	}
	for _, ops := range batches {
		res, err := c.Write(context.Background(), sdk.WriteRequest{Object: "contacts", Fields: textFields, Ops: ops})
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
	if p != nil {
		p.end(textRows)
	}
	return all
}

func textCreates() [][]sdk.Op {
	var batches [][]sdk.Op
	for from := 0; from < textRows; from += sdk.BatchRecords {
		batches = append(batches, textOps(sdk.BatchRecords, from))
	}
	return batches
}

// BenchmarkConnCreateText: creates into an empty table.
func BenchmarkConnCreateText(b *testing.B) {
	p := &perRec{b: b}
	for b.Loop() {
		c := openConn(b, newDB(b, textDDL))
		textWrite(b, c, textCreates(), p)
	}
	p.report()
}

// BenchmarkConnReadText: a full read.
func BenchmarkConnReadText(b *testing.B) {
	c := openConn(b, newDB(b, textDDL))
	textWrite(b, c, textCreates(), nil)
	p := &perRec{b: b}
	for b.Loop() {
		p.begin()
		sink := &countSink{}
		if err := c.Read(context.Background(), sdk.ReadRequest{Object: "contacts", Fields: textFields}, sink); err != nil {
			b.Fatal(err)
		}
		p.end(sink.n)
		if sink.n != textRows {
			b.Fatal(sink.n)
		}
	}
	p.report()
}

// BenchmarkConnUpdateText: every record updated (two fields changed, all
// ten sent, with the version read), as the host sends them.
func BenchmarkConnUpdateText(b *testing.B) {
	c := openConn(b, newDB(b, textDDL))
	created := textWrite(b, c, textCreates(), nil)
	p := &perRec{b: b}
	for it := 0; b.Loop(); it++ {
		batches := textCreates()
		for bi, ops := range batches {
			for k := range ops {
				r := created[bi*sdk.BatchRecords+k]
				ops[k].Kind, ops[k].ID, ops[k].IfVersion = sdk.OpUpdate, r.ID, r.Version
				ops[k].Values[3] = sdk.String(fmt.Sprint("+1 555 ", it, "-", k))
				ops[k].Values[9] = sdk.String(fmt.Sprint("import ", it))
			}
		}
		created = textWrite(b, c, batches, p)
	}
	p.report()
}
