package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/scripts/testsvc"
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

func textWrite(b *testing.B, c *conn, batches [][]sdk.Op, p *testsvc.Meter) []sdk.WriteResult {
	var all []sdk.WriteResult
	if p != nil {
		p.Begin()
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
		p.End(textRows)
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
	p := testsvc.NewMeter(b)
	for b.Loop() {
		c := openConn(b, newDB(b, textDDL))
		textWrite(b, c, textCreates(), p)
	}
	p.Report()
}

// BenchmarkConnReadText: a full read.
func BenchmarkConnReadText(b *testing.B) {
	c := openConn(b, newDB(b, textDDL))
	textWrite(b, c, textCreates(), nil)
	p := testsvc.NewMeter(b)
	for b.Loop() {
		p.Begin()
		sink := &countSink{}
		if err := c.Read(context.Background(), sdk.ReadRequest{Object: "contacts", Fields: textFields}, sink); err != nil {
			b.Fatal(err)
		}
		p.End(sink.n)
		if sink.n != textRows {
			b.Fatal(sink.n)
		}
	}
	p.Report()
}

// BenchmarkConnUpdateText: every record updated (two fields changed, all
// ten sent, with the version read), as the host sends them.
func BenchmarkConnUpdateText(b *testing.B) {
	c := openConn(b, newDB(b, textDDL))
	created := textWrite(b, c, textCreates(), nil)
	p := testsvc.NewMeter(b)
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
	p.Report()
}
