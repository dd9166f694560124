package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// benchRows is how many contacts each benchmark iteration moves
// (DATASYNC_BENCH_ROWS, default 100,000).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("DATASYNC_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var benchFields = []string{"email", "first_name", "last_name", "phone", "company", "city", "country", "stage", "owner", "source"}

const benchDDL = `CREATE TABLE contacts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, first_name text, last_name text,
	phone text, company text, city text, country text, stage text, owner text, source text,
	updated_at timestamptz NOT NULL DEFAULT now())`

func benchOps(n, from int) []sdk.Op {
	ops := make([]sdk.Op, n)
	for i := range ops {
		k := from + i
		ops[i] = sdk.Op{Kind: sdk.OpCreate, Fields: benchFields, Values: []sdk.Value{
			sdk.String(fmt.Sprintf("contact%08d@example.com", k)), sdk.String("Firstname" + strconv.Itoa(k%977)),
			sdk.String("Lastname" + strconv.Itoa(k%1999)), sdk.String(fmt.Sprintf("+1 555 %07d", k)),
			sdk.String("Company " + strconv.Itoa(k%5003) + " Incorporated"), sdk.String("Springfield"), sdk.String("United States"),
			sdk.String("customer"), sdk.String("owner" + strconv.Itoa(k%37) + "@example.com"), sdk.String("web form")}}
	}
	return ops
}

// BenchmarkPlugin writes then fully reads benchRows contacts through the plugin
// binary (go-plugin + gRPC, as the host does), batches of 5,000.
func BenchmarkPlugin(b *testing.B) {
	env := testsvc.Postgres(b)
	url := testsvc.CreateDatabase(b, env)
	d := &testDB{env: env, url: url, cfg: configFor(env, url)}
	rc, kill, err := sdk.LaunchPlugin(context.Background(), buildPluginB(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer kill()
	ctx := context.Background()
	conn, err := rc.Open(ctx, d.cfg)
	if err != nil {
		b.Fatal(err)
	}
	admin := adminConn(b, url)
	n := benchRows()
	var writeDur, readDur time.Duration
	for it := 0; it < b.N; it++ {
		if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS contacts; "+benchDDL); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for from := 0; from < n; from += 5000 {
			res, err := conformance.WriteOps(ctx, conn, "contacts", benchOps(min(5000, n-from), from)...)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		writeDur += time.Since(start)
		start = time.Now()
		col := &countSink{}
		if err := conn.Read(ctx, sdk.ReadRequest{Object: "contacts", Fields: benchFields}, col); err != nil {
			b.Fatal(err)
		}
		readDur += time.Since(start)
		if col.n != n || col.cursor == "" {
			b.Fatalf("read %d records (cursor %q), want %d", col.n, col.cursor, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/writeDur.Seconds(), "written/s")
	b.ReportMetric(float64(n*b.N)/readDur.Seconds(), "read/s")
}

type countSink struct {
	n      int
	cursor string
}

func (c *countSink) Records(recs []sdk.Record) error { c.n += len(recs); return nil }
func (c *countSink) Checkpoint(cur string) error     { c.cursor = cur; return nil }
