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
// creates: the journal, then links, history and the settled journal.
func BenchmarkCommitCreates(b *testing.B) {
	ctx := context.Background()
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
				Payload: JournalPayload{SourceVersion: "1", Base: base}.Encode()})
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
