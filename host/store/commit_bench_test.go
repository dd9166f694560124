package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// BenchmarkCommitCreates commits what a run stores for a batch of 500
// creates: the journal, then links, history and the settled journal. The
// context can be cancelled, as a run's is (Ctrl-C, SIGTERM).
func BenchmarkCommitCreates(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Open(ctx, filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.PutSync(ctx, Sync{Name: "a", Definition: []byte("{}"), State: SyncActive}); err != nil {
		b.Fatal(err)
	}
	const batch = 500
	n := 0
	var spent time.Duration // in Commit only
	for b.Loop() {
		j := &Batch{Sync: "a"}
		c := &Batch{Sync: "a"}
		for i := 0; i < batch; i++ {
			n++
			id := NewID()
			var base Base
			var ch []FieldChange
			for f := 0; f < 6; f++ {
				v := sdk.String(fmt.Sprintf("value %d of field %d", n, f))
				base.Set(fmt.Sprintf("f%d=f%d", f, f), BasePair{Left: v, Right: v})
				ch = append(ch, FieldChange{Field: fmt.Sprintf("f%d", f), New: Value{v}})
			}
			j.AddJournal = append(j.AddJournal, JournalEntry{ID: id, Batch: fmt.Sprint("b", (n-1)/batch), Side: "right", SourceID: fmt.Sprint(n),
				Payload: JournalPayload{SourceVersion: "1", Keys: []JournalKey{{Field: "f0", Value: base[0].Left}}}.Encode()})
			_ = id
			c.AddLinks = append(c.AddLinks, Link{LeftID: fmt.Sprint(n), RightID: fmt.Sprint("r", n), LeftVersion: "1", RightVersion: "1", Base: base})
			c.History = append(c.History, HistoryEntry{RunID: "run", Side: "right", RecordID: fmt.Sprint("r", n), Op: OpCreate, Direction: "left-to-right", Changes: ch})
		}
		c.SettleBatch = []string{j.AddJournal[0].Batch}
		t0 := time.Now()
		if err := s.Commit(ctx, j); err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(t0)
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(n), "ns/record")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCommitUpdates commits what an incremental run stores for a
// batch of 450 updated links (new versions and base, one history entry
// each) picked across 100,000 links, as changes to 1 % of the records do.
func BenchmarkCommitUpdates(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.PutSync(ctx, Sync{Name: "a", Definition: []byte("{}"), State: SyncActive}); err != nil {
		b.Fatal(err)
	}
	const total, batch = 100_000, 450
	link := func(i, version int) Link {
		var base Base
		for f := 0; f < 10; f++ {
			v := sdk.String(fmt.Sprintf("value %d of field %d, version %d, some thirty bytes", i, f, version))
			base.Set(fmt.Sprintf("f%d=f%d", f, f), BasePair{Left: v, Right: v})
		}
		return Link{LeftID: fmt.Sprint(i), RightID: fmt.Sprint("r", i), LeftVersion: fmt.Sprint(version), RightVersion: fmt.Sprint(version), Base: base}
	}
	for start := 0; start < total; start += 5000 {
		c := &Batch{Sync: "a"}
		for i := start; i < start+5000; i++ {
			c.AddLinks = append(c.AddLinks, link(i, 1))
		}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	// A new process: a cold page cache, as an incremental run starts.
	if s, err = Open(ctx, path); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n, round := 0, 0
	var spent time.Duration // in Commit only
	for b.Loop() {
		round++
		c := &Batch{Sync: "a"}
		for k := 0; k < batch; k++ {
			i := (k*(total/batch) + round*7) % total
			l := link(i, round+1)
			c.PutLinks = append(c.PutLinks, l)
			c.History = append(c.History, HistoryEntry{RunID: "run", Side: "right", RecordID: l.RightID, Op: OpUpdate,
				Direction: "left-to-right", Changes: []FieldChange{{Field: "f1", New: Value{sdk.String("x")}}}})
		}
		n += batch
		t0 := time.Now()
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(t0)
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(n), "ns/record")
	b.ReportMetric(0, "ns/op")
}
