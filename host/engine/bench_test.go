package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// The engine's own cost per record, with in-process memory connectors and
// the real SQLite state store: `go test -bench . -benchmem ./host/engine`.
// make bench measures the whole pipeline with real plugins; these isolate
// the host, where profiles show the time goes.

const benchN = 5000

func benchFields(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"email": s(fmt.Sprintf("user%07d@example.com", i)), "first_name": s(fmt.Sprintf("First%d", i)),
		"last_name": s(fmt.Sprintf("Lastname%d", i)), "phone": s(fmt.Sprintf("+1 555 %07d", i)),
		"company": s(fmt.Sprintf("Company %d Inc", i%997)), "lifecycle_stage": s("lead"),
	}
}

func seeded(b *testing.B, n int) *env {
	e := newEnv(b, nil)
	for i := 0; i < n; i++ {
		e.create(e.left, benchFields(i))
	}
	return e
}

func perRecord(b *testing.B, d time.Duration, n int) {
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N*n), "ns/record")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkInitial syncs benchN records to an empty right side.
func BenchmarkInitial(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := seeded(b, benchN)
		b.StartTimer()
		t0 := time.Now()
		rep := e.run(Options{})
		total += time.Since(t0)
		if rep.Right.Created != benchN {
			b.Fatalf("created %d of %d", rep.Right.Created, benchN)
		}
	}
	perRecord(b, total, benchN)
}

// BenchmarkNoChangeFull re-reads both sides completely after a sync: every
// record is compared, nothing is written.
func BenchmarkNoChangeFull(b *testing.B) {
	e := seeded(b, benchN)
	e.run(Options{})
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		rep := e.run(Options{Full: true})
		if rep.Writes() != 0 || rep.Left.Unchanged != benchN {
			b.Fatalf("no-change run: %+v", rep)
		}
	}
	perRecord(b, time.Since(t0), benchN)
}
