package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

const benchDDL = `CREATE TABLE contacts (
	id INTEGER PRIMARY KEY,
	email TEXT, first_name TEXT, last_name TEXT, phone TEXT, company TEXT,
	city TEXT, age INTEGER, score DECIMAL, active BOOLEAN, birthday DATE,
	updated_at DATETIME
)`

var benchFields = []string{"email", "first_name", "last_name", "phone", "company", "city", "age", "score", "active", "birthday"}

func benchOps(start, n int) []sdk.Op {
	ops := make([]sdk.Op, n)
	for k := range ops {
		i := start + k
		ops[k] = sdk.Op{Kind: sdk.OpCreate, Fields: benchFields, Values: []sdk.Value{
			sdk.String(fmt.Sprintf("user%d@example.com", i)), sdk.String("First"), sdk.String(fmt.Sprint("Last", i)),
			sdk.String("+1 555 0100"), sdk.String("Acme"), sdk.String("Springfield"), sdk.Int(int64(i % 90)),
			{Kind: sdk.KindDecimal, Str: "12.5"}, sdk.Bool(i%2 == 0),
			sdk.Date(time.Date(1980, 1, 1+i%28, 0, 0, 0, 0, time.UTC)),
		}}
	}
	return ops
}

// BenchmarkCreate measures raw inserts in batches of 2000 ten-field records.
func BenchmarkCreate(b *testing.B) {
	c := openConn(b, newDB(b, benchDDL))
	const batch = 2000
	ops := benchOps(0, batch)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		res, err := c.Write(context.Background(), sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: ops})
		if err != nil || res[0].Err != nil {
			b.Fatal(err, res[0].Err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRead measures a full read of 100k ten-field records.
func BenchmarkRead(b *testing.B) {
	c := openConn(b, newDB(b, benchDDL))
	const total = 100_000
	for start := 0; start < total; start += 5000 {
		if _, err := c.Write(context.Background(), sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: benchOps(start, 5000)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		sink := &countSink{}
		if err := c.Read(context.Background(), sdk.ReadRequest{Object: "contacts", Fields: benchFields}, sink); err != nil {
			b.Fatal(err)
		}
		if sink.n != total {
			b.Fatalf("read %d records", sink.n)
		}
		n += total
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadDigest measures a digest read (the --full check of a
// no-change run) of 100k ten-field records, asking for one field (as the
// host does: the first match key).
func BenchmarkReadDigest(b *testing.B) {
	c := openConn(b, newDB(b, benchDDL, `CREATE INDEX contacts_updated ON contacts (updated_at, id)`))
	const total = 100_000
	for start := 0; start < total; start += 5000 {
		if _, err := c.Write(context.Background(), sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: benchOps(start, 5000)}); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	for b.Loop() {
		d, _, err := sdk.ReadDigest(context.Background(), c, sdk.ReadRequest{Object: "contacts", Fields: []string{"email"}, DigestBuckets: 256})
		if err != nil {
			b.Fatal(err)
		}
		count := uint64(0)
		for _, x := range d {
			count += x.Count
		}
		if count != total {
			b.Fatalf("digest of %d records", count)
		}
		n += total
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

type countSink struct{ n int }

func (s *countSink) Records(recs []sdk.Record) error { s.n += len(recs); return nil }
func (s *countSink) Checkpoint(string) error         { return nil }

// BenchmarkCreatePlugin measures creates through the real binary over
// go-plugin, in requests of 5000 records (the SDK cuts wire batches).
func BenchmarkCreatePlugin(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "datasync-connector-sqlite")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build plugin: %v\n%s", err, out)
	}
	rc, kill, err := sdk.LaunchPlugin(context.Background(), bin, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer kill()
	conn, err := rc.Open(context.Background(), sdk.Config{Settings: map[string]string{settingPath: newDB(b, benchDDL)}})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	ops := benchOps(0, batch)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		res, err := conn.Write(context.Background(), sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: ops})
		if err != nil || res[0].Err != nil {
			b.Fatal(err, res[0].Err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadEchoes measures an incremental read from a cursor taken
// before 100k creates, written in the host's batches (sdk.BatchRecords) or
// in one: without marks every created row comes back; skipping the writes'
// marks, none does.
func BenchmarkReadEchoes(b *testing.B) {
	for _, batch := range []int{500, sdk.BatchRecords, 100_000} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) { benchReadEchoes(b, batch) })
	}
}

func benchReadEchoes(b *testing.B, batch int) {
	ctx := context.Background()
	c := openConn(b, newDB(b, benchDDL))
	if _, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: benchOps(0, 1000)}); err != nil {
		b.Fatal(err)
	}
	before := &cursorSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "contacts", Fields: benchFields}, before); err != nil {
		b.Fatal(err)
	}
	const total = 100_000
	var marks []string
	seen := map[string]bool{}
	for start := 0; start < total; start += batch {
		res, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: benchOps(1000+start, batch)})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			if r.Mark != "" && !seen[r.Mark] {
				seen[r.Mark] = true
				marks = append(marks, r.Mark)
			}
		}
	}
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprint("skip=", skip), func(b *testing.B) {
			req := sdk.ReadRequest{Object: "contacts", Cursor: before.cursor, Fields: benchFields}
			want := total
			if skip {
				if len(marks) == 0 {
					b.Skip("the connector sets no marks")
				}
				req.Skip, want = marks, 0
			}
			for b.Loop() {
				sink := &cursorSink{}
				if err := c.Read(ctx, req, sink); err != nil {
					b.Fatal(err)
				}
				if sink.n != want {
					b.Fatalf("read %d records, want %d", sink.n, want)
				}
			}
			b.ReportMetric(float64(len(req.Skip)), "marks")
		})
	}
}

// BenchmarkReadScatteredEchoes reads past 1,000 scattered updates (every
// 100th of 100k rows, as an incremental run writes them back), each a
// single-row mark the read leaves out, and 1,000 other scattered changes,
// which it returns: an incremental read after an incremental run.
func BenchmarkReadScatteredEchoes(b *testing.B) {
	ctx := context.Background()
	c := openConn(b, newDB(b, benchDDL, `CREATE INDEX contacts_updated ON contacts (updated_at, id)`))
	const total = 100_000
	for start := 0; start < total; start += 5000 {
		if _, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: benchFields, Ops: benchOps(start, 5000)}); err != nil {
			b.Fatal(err)
		}
	}
	before := &cursorSink{}
	if err := c.Read(ctx, sdk.ReadRequest{Object: "contacts", Fields: benchFields}, before); err != nil {
		b.Fatal(err)
	}
	var ops []sdk.Op
	for i := 1; i <= total; i += 100 {
		ops = append(ops, sdk.Op{Kind: sdk.OpUpdate, ID: fmt.Sprint(i), Fields: []string{"phone"}, Values: []sdk.Value{sdk.String("+1 555 0199")}})
	}
	res, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: []string{"phone"}, Ops: ops})
	if err != nil {
		b.Fatal(err)
	}
	var marks []string
	for _, r := range res {
		if r.Err != nil || r.Mark == "" {
			b.Fatalf("update: %v, mark %q", r.Err, r.Mark)
		}
		marks = append(marks, r.Mark)
	}
	for k := range ops {
		ops[k].ID = fmt.Sprint(51 + 100*k) // someone else's changes: their marks are dropped
	}
	if _, err := c.Write(ctx, sdk.WriteRequest{Object: "contacts", Fields: []string{"phone"}, Ops: ops}); err != nil {
		b.Fatal(err)
	}
	req := sdk.ReadRequest{Object: "contacts", Cursor: before.cursor, Fields: benchFields, Skip: marks}
	for b.Loop() {
		sink := &cursorSink{}
		if err := c.Read(ctx, req, sink); err != nil {
			b.Fatal(err)
		}
		if sink.n != len(ops) {
			b.Fatalf("read %d records, want %d", sink.n, len(ops))
		}
	}
}

// cursorSink counts records and keeps the last checkpoint.
type cursorSink struct {
	n      int
	cursor string
}

func (s *cursorSink) Records(recs []sdk.Record) error { s.n += len(recs); return nil }
func (s *cursorSink) Checkpoint(c string) error       { s.cursor = c; return nil }
