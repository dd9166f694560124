package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// Options.Stop stops a run at a safe point: before anything is written when
// it comes during the reads, after the batch in flight is committed when it
// comes during the writes. Either way the next run does exactly the rest.
func TestStop(t *testing.T) {
	for _, c := range []struct {
		name      string
		at        string // the failpoint after which Stop closes ("": before the run)
		nth       int    // ... at its nth pass
		wantAfter int    // records on the right after the stopped run
	}{
		{"before reading", "", 0, 0},
		{"after the first batch's journal", "journaled", 1, 10},
		{"after the first batch committed", "committed", 1, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop := make(chan struct{})
			seen := 0
			e := newEnv(t, nil, WithBatchSize(10), WithFailpoint(func(step string) error {
				if step == c.at {
					if seen++; seen == c.nth {
						close(stop)
					}
				}
				return nil
			}))
			for i := 0; i < 45; i++ {
				e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("u%d@x.io", i))})
			}
			if c.at == "" {
				close(stop)
			}
			rep, err := e.eng.Run(e.ctx, e.def, Options{Stop: stop})
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("run: %v, want ErrStopped", err)
			}
			// Batches are pipelined: a stop after batch 1's journal lets the
			// batch 1 writes in flight finish; a stop after its commit, batch 2's.
			if n := len(e.right.Snapshot(obj)); n != c.wantAfter || rep.Right.Created != c.wantAfter {
				t.Fatalf("right has %d records, report %d created; want %d", n, rep.Right.Created, c.wantAfter)
			}
			if errs, _ := e.st.Errors(e.ctx, e.def.Name, ""); len(errs) != 0 {
				t.Fatalf("a stop is not an error of the sync: %+v", errs)
			}
			rep = e.run(Options{})
			if rep.Right.Created != 45-c.wantAfter || len(e.right.Snapshot(obj)) != 45 {
				t.Fatalf("next run created %d, right has %d; want %d and 45", rep.Right.Created, len(e.right.Snapshot(obj)), 45-c.wantAfter)
			}
			e.quiet()
		})
	}
}
