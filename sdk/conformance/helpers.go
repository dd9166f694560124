package conformance

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Collector is a sdk.RecordSink that keeps deep copies of what a Read hands
// over (a connector may reuse its slices) and the checkpoints it makes.
type Collector struct {
	All         []sdk.Record
	Cursor      string // the last checkpoint's cursor
	Checkpoints int
	// AtCheckpoint is len(All) when the last checkpoint came: a read that
	// ends with a checkpoint has AtCheckpoint == len(All).
	AtCheckpoint int
}

// Records implements sdk.RecordSink.
func (c *Collector) Records(recs []sdk.Record) error {
	for _, r := range recs {
		r.Values = slices.Clone(r.Values)
		for i, v := range r.Values {
			r.Values[i].List = slices.Clone(v.List)
		}
		c.All = append(c.All, r)
	}
	return nil
}

// Checkpoint implements sdk.RecordSink.
func (c *Collector) Checkpoint(cursor string) error {
	c.Cursor = cursor
	c.Checkpoints++
	c.AtCheckpoint = len(c.All)
	return nil
}

// ReadAll runs one Read into a Collector.
func ReadAll(ctx context.Context, conn sdk.Conn, req sdk.ReadRequest) (*Collector, error) {
	c := &Collector{}
	if err := conn.Read(ctx, req, c); err != nil {
		return c, fmt.Errorf("read %s from cursor %q: %w", req.Object, req.Cursor, err)
	}
	return c, nil
}

// WriteOps sends ops as one batch, with the request's field list the union of
// the ops' fields, and checks that there is one result per op.
func WriteOps(ctx context.Context, conn sdk.Conn, object string, ops ...sdk.Op) ([]sdk.WriteResult, error) {
	req := sdk.WriteRequest{Object: object, Ops: ops}
	for _, op := range ops {
		for _, f := range op.Fields {
			if !slices.Contains(req.Fields, f) {
				req.Fields = append(req.Fields, f)
			}
		}
	}
	res, err := conn.Write(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("write %d ops to %s: %w", len(ops), object, err)
	}
	if len(res) != len(ops) {
		return res, fmt.Errorf("write %d ops to %s: got %d results", len(ops), object, len(res))
	}
	return res, nil
}

// CreateOp returns a create op setting fields (in sorted field order).
func CreateOp(fields map[string]sdk.Value) sdk.Op {
	op := sdk.Op{Kind: sdk.OpCreate}
	op.Fields, op.Values = split(fields)
	return op
}

// UpdateOp returns an update op patching record id; ifVersion may be "".
func UpdateOp(id, ifVersion string, patch map[string]sdk.Value) sdk.Op {
	op := sdk.Op{Kind: sdk.OpUpdate, ID: id, IfVersion: ifVersion}
	op.Fields, op.Values = split(patch)
	return op
}

// DeleteOp returns a delete op; ifVersion may be "".
func DeleteOp(id, ifVersion string) sdk.Op {
	return sdk.Op{Kind: sdk.OpDelete, ID: id, IfVersion: ifVersion}
}

func split(m map[string]sdk.Value) ([]string, []sdk.Value) {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	values := make([]sdk.Value, len(fields))
	for i, f := range fields {
		values[i] = m[f]
	}
	return fields, values
}

// AsMap pairs a record's positional values with the field list they follow.
func AsMap(fields []string, r sdk.Record) map[string]sdk.Value {
	m := make(map[string]sdk.Value, len(fields))
	for i, f := range fields {
		if i < len(r.Values) {
			m[f] = r.Values[i]
		}
	}
	return m
}

// ByID indexes records by id; it reports the first id seen twice.
func ByID(recs []sdk.Record) (map[string]sdk.Record, error) {
	m := make(map[string]sdk.Record, len(recs))
	for _, r := range recs {
		if _, dup := m[r.ID]; dup {
			return m, fmt.Errorf("record %q appears twice", r.ID)
		}
		m[r.ID] = r
	}
	return m, nil
}

// Notices is a sdk.WatchSink that hands a Watch's notices to a channel: ""
// for Ready, else the object that changed. Make it buffered.
type Notices chan string

// Ready sends "".
func (n Notices) Ready() error { n <- ""; return nil }

// Changed sends object.
func (n Notices) Changed(object string) error { n <- object; return nil }

// Watching is a Watch running for a test (StartWatch).
type Watching struct {
	t       testing.TB
	notices Notices
	done    chan error
	cancel  context.CancelFunc
}

// StartWatch runs w.Watch on objects on a goroutine until the test ends
// or Stop.
func StartWatch(t testing.TB, w sdk.Watcher, objects ...string) *Watching {
	ctx, cancel := context.WithCancel(context.Background())
	wt := &Watching{t: t, notices: make(Notices, 100), done: make(chan error, 1), cancel: cancel}
	go func() { wt.done <- w.Watch(ctx, objects, wt.notices) }()
	t.Cleanup(cancel)
	return wt
}

// Next waits up to within for a notice ("" for ready); false when none
// came. A watch that ends meanwhile fails the test.
func (w *Watching) Next(within time.Duration) (string, bool) {
	w.t.Helper()
	select {
	case n := <-w.notices:
		return n, true
	case err := <-w.done:
		w.t.Fatalf("Watch ended: %v", err)
	case <-time.After(within):
	}
	return "", false
}

// Ended waits up to within for the watch to end by itself and returns what
// Watch returned; one still going then fails the test.
func (w *Watching) Ended(within time.Duration) error {
	w.t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(within):
		w.t.Fatalf("Watch still going after %v", within)
		return nil
	}
}

// Stop cancels the watch and returns what Watch returned.
func (w *Watching) Stop() error {
	w.t.Helper()
	w.cancel()
	select {
	case err := <-w.done:
		return err
	case <-time.After(10 * time.Second):
		w.t.Fatal("Watch did not return within 10s of being cancelled")
		return nil
	}
}
