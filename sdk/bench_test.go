package sdk

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/hashicorp/go-plugin"
)

// The wire benchmarks move batches of benchN records of ten ~30-byte string
// fields, the shape of the bench scenarios' contacts, and report per record.
const benchN = 2000

var benchFieldNames = []string{"email", "first_name", "last_name", "phone", "company", "city", "country", "stage", "owner", "source"}

func benchRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		vals := make([]Value, len(benchFieldNames))
		for j := range vals {
			vals[j] = String(fmt.Sprintf("%s value %08d of record xx", benchFieldNames[j][:3], i))
		}
		recs[i] = Record{ID: fmt.Sprint(100000 + i), Version: fmt.Sprint(7000 + i), Values: vals}
	}
	return recs
}

func benchOps(recs []Record) []Op {
	ops := make([]Op, len(recs))
	for i, r := range recs {
		ops[i] = Op{Kind: OpCreate, CorrelationID: fmt.Sprint("c", i), Fields: benchFieldNames, Values: r.Values}
	}
	return ops
}

// perRecord reports ns and allocations per record for n records per iteration.
func perRecord(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/rec")
	b.ReportMetric(float64(mallocs()-b0)/float64(b.N*n), "allocs/rec")
}

// b0 is the malloc count when the measured loop started (see startCount).
var b0 uint64

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// BenchmarkReadEncode: the plugin side of a read, records to a marshaled message.
func BenchmarkReadEncode(b *testing.B) {
	recs := benchRecords(benchN)
	sink := &readSink{fields: benchFieldNames, send: func([]byte) error { return nil }}
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		if err := sink.Records(recs); err != nil {
			b.Fatal(err)
		}
		if err := sink.flush(""); err != nil {
			b.Fatal(err)
		}
	}
	perRecord(b, benchN)
}

// BenchmarkReadDecode: the host side of a read, a marshaled message to records.
func BenchmarkReadDecode(b *testing.B) {
	recs := benchRecords(benchN)
	var buf []byte
	sink := &readSink{fields: benchFieldNames, send: func(m []byte) error { buf = m; return nil }}
	if err := sink.Records(recs); err != nil {
		b.Fatal(err)
	}
	if err := sink.flush(""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		m := &readMsg{nfields: len(benchFieldNames)}
		if err := m.decodeWire(buf); err != nil {
			b.Fatal(err)
		}
		if len(m.recs) != benchN {
			b.Fatal(len(m.recs))
		}
	}
	perRecord(b, benchN)
}

// BenchmarkWriteEncode: the host side of a write, ops to a marshaled batch.
func BenchmarkWriteEncode(b *testing.B) {
	ops := benchOps(benchRecords(benchN))
	index := map[string]uint32{}
	for i, f := range benchFieldNames {
		index[f] = uint32(i)
	}
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		if batches, _ := splitOps(ops, index); len(batches) != 1 {
			b.Fatal(len(batches))
		}
	}
	perRecord(b, benchN)
}

// BenchmarkWriteDecode: the plugin side of a write, a marshaled batch to ops,
// and the results (stored as sent) back to a marshaled response.
func BenchmarkWriteDecode(b *testing.B) {
	ops := benchOps(benchRecords(benchN))
	index := map[string]uint32{}
	for i, f := range benchFieldNames {
		index[f] = uint32(i)
	}
	batches, _ := splitOps(ops, index)
	if len(batches) != 1 {
		b.Fatalf("%d batches", len(batches))
	}
	buf := batches[0].msg
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		m := &writeReqMsg{req: WriteRequest{Object: "contacts", Fields: benchFieldNames}}
		if err := m.decodeWire(buf); err != nil || m.bad != nil {
			b.Fatal(err, m.bad)
		}
		req := m.req
		res := make([]WriteResult, len(req.Ops))
		for i, op := range req.Ops {
			res[i] = WriteResult{CorrelationID: op.CorrelationID, ID: "1234567", Version: "89012", Values: op.Values}
		}
		if out := encodeResults(res, req); len(out) == 0 {
			b.Fatal("no results")
		}
	}
	perRecord(b, benchN)
}

// benchConn is a connector that costs nothing: reads hand out a fixed set of
// records, writes answer every op as stored as sent.
type benchConn struct {
	fakeConn
	recs  []Record
	batch int
}

func (c *benchConn) Read(_ context.Context, _ ReadRequest, sink RecordSink) error {
	for i := 0; i < len(c.recs); i += c.batch {
		if err := sink.Records(c.recs[i:min(i+c.batch, len(c.recs))]); err != nil {
			return err
		}
	}
	return sink.Checkpoint("end")
}

func (c *benchConn) Write(_ context.Context, req WriteRequest) ([]WriteResult, error) {
	out := make([]WriteResult, len(req.Ops))
	for i, op := range req.Ops {
		out[i] = WriteResult{CorrelationID: op.CorrelationID, ID: "1234567", Version: "89012", Values: op.Values}
	}
	return out, nil
}

type benchConnector struct{ conn *benchConn }

func (f *benchConnector) Describe(ctx context.Context) (Description, error) {
	return (&fakeConnector{}).Describe(ctx)
}
func (f *benchConnector) Open(context.Context, Config) (Conn, error) { return f.conn, nil }

func dialBench(b *testing.B, bc *benchConn) Conn {
	client, _ := plugin.TestPluginGRPCConn(b, false, map[string]plugin.Plugin{PluginName: &grpcPlugin{impl: &benchConnector{conn: bc}}})
	b.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := raw.(*RemoteConnector).Open(context.Background(), Config{Secrets: map[string]string{"token": "x"}})
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

type countingSink struct{ n int }

func (c *countingSink) Records(r []Record) error { c.n += len(r); return nil }
func (c *countingSink) Checkpoint(string) error  { return nil }

// benchRoundN is the records of one round-trip iteration (several wire batches).
const benchRoundN = 10000

// BenchmarkReadRoundTrip reads benchRoundN records through a real go-plugin
// gRPC pair (both ends in this process, so ns/rec is their sum).
func BenchmarkReadRoundTrip(b *testing.B) {
	conn := dialBench(b, &benchConn{recs: benchRecords(benchRoundN), batch: 1000})
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		var s countingSink
		if err := conn.Read(context.Background(), ReadRequest{Object: "things", Fields: benchFieldNames}, &s); err != nil {
			b.Fatal(err)
		}
		if s.n != benchRoundN {
			b.Fatal(s.n)
		}
	}
	perRecord(b, benchRoundN)
}

// BenchmarkWriteRoundTrip writes benchRoundN creates through a real go-plugin
// gRPC pair (both ends in this process).
func BenchmarkWriteRoundTrip(b *testing.B) {
	conn := dialBench(b, &benchConn{})
	ops := benchOps(benchRecords(benchRoundN))
	b.ReportAllocs()
	b0 = mallocs()
	for b.Loop() {
		res, err := conn.Write(context.Background(), WriteRequest{Object: "things", Fields: benchFieldNames, Ops: ops})
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != benchRoundN || res[0].Err != nil {
			b.Fatal(len(res))
		}
	}
	perRecord(b, benchRoundN)
}
