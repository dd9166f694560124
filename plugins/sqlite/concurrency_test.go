package main

import (
	"context"
	"sync"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// TestIncrementalUnderConcurrentWrites: while writers create and update rows
// in parallel, a reader follows the cursor. Whatever interleaving happens,
// the reader ends up having seen every row at its final version: stamps are
// taken inside the write lock, so a later commit never sorts before a
// cursor already handed out.
func TestIncrementalUnderConcurrentWrites(t *testing.T) {
	path := newDB(t, `CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER, updated_at TEXT)`)
	c := openConn(t, path)
	// A second connection, as a second plugin process would have.
	c2 := openConn(t, path)
	const writers, rounds = 4, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := c
			if w%2 == 1 {
				conn = c2
			}
			var mine []string
			for r := range rounds {
				ops := []sdk.Op{conformance.CreateOp(map[string]sdk.Value{"n": sdk.Int(int64(r))})}
				for _, id := range mine {
					ops = append(ops, conformance.UpdateOp(id, "", map[string]sdk.Value{"n": sdk.Int(int64(r))}))
				}
				res, err := conformance.WriteOps(context.Background(), conn, "items", ops...)
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range res {
					if x.Err != nil {
						t.Errorf("writer %d: %v", w, x.Err)
						return
					}
				}
				mine = append(mine, res[0].ID)
				if len(mine) > 5 {
					mine = mine[1:]
				}
			}
		}()
	}
	seen := map[string]string{}
	cursor := ""
	follow := func() {
		col, err := conformance.ReadAll(context.Background(), c, sdk.ReadRequest{Object: "items", Cursor: cursor, Fields: []string{"n"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range col.All {
			seen[r.ID] = r.Version
		}
		cursor = col.Cursor
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			follow()
			full := readAll(t, c, "items", "", "n")
			if len(full.All) != writers*rounds {
				t.Fatalf("%d rows, want %d", len(full.All), writers*rounds)
			}
			for _, r := range full.All {
				if seen[r.ID] != r.Version {
					t.Errorf("row %s: the cursor reader last saw version %q, the row is at %q", r.ID, seen[r.ID], r.Version)
				}
			}
			t.Logf("%d incremental reads", reads+1)
			return
		default:
			follow()
		}
	}
}
