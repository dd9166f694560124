package sdk

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestWriteEach(t *testing.T) {
	ops := make([]Op, 20)
	for i := range ops {
		ops[i] = Op{Kind: OpCreate, CorrelationID: fmt.Sprint(i)}
	}
	auth := &Error{Category: CategoryAuth, Message: "refused"}
	for _, c := range []struct {
		name      string
		fail      func(i int) *Error
		wantBatch Category // batch error expected; unspecified: per-op results
	}{
		{"all succeed", func(int) *Error { return nil }, CategoryUnspecified},
		{"all refused: the batch fails", func(int) *Error { return auth }, CategoryAuth},
		{"unreachable and validation, none applied", func(i int) *Error {
			if i%2 == 0 {
				return &Error{Category: CategoryUnreachable}
			}
			return FieldError("email", "bad")
		}, CategoryUnreachable},
		{"one applied: per-op results", func(i int) *Error {
			if i == 7 {
				return nil
			}
			return auth
		}, CategoryUnspecified},
		{"only validation failures: per-op results", func(int) *Error { return FieldError("email", "bad") }, CategoryUnspecified},
	} {
		t.Run(c.name, func(t *testing.T) {
			var running, peak atomic.Int32
			res, err := WriteEach(context.Background(), ops, 3, func(_ context.Context, op Op) WriteResult {
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				var i int
				fmt.Sscan(op.CorrelationID, &i)
				return WriteResult{CorrelationID: op.CorrelationID, Err: c.fail(i)}
			})
			if peak.Load() > 3 {
				t.Errorf("%d ops ran at once, want at most 3", peak.Load())
			}
			if c.wantBatch != CategoryUnspecified {
				if CategoryOf(err) != c.wantBatch || res != nil {
					t.Fatalf("want a %s batch error, got %v (%d results)", c.wantBatch, err, len(res))
				}
				return
			}
			if err != nil || len(res) != len(ops) {
				t.Fatalf("want %d results, got %d, err %v", len(ops), len(res), err)
			}
			for i, r := range res {
				if r.CorrelationID != fmt.Sprint(i) || (r.Err == nil) != (c.fail(i) == nil) {
					t.Fatalf("result %d out of place or wrong: %+v", i, r)
				}
			}
		})
	}
}
