package engine

import (
	"context"
	"fmt"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// adminRun opens both sides of def for a one-off admin action.
func (e *Engine) adminRun(ctx context.Context, def syncdef.Definition) (*run, error) {
	def = def.WithDefaults()
	r := e.newRun(ctx, def, Options{}, store.NewID())
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r, r.loadAllLinks(ctx)
}

// Resolve settles the manual conflict id by taking the value of side take
// ("left" or "right") as the conflict recorded it, writing it to the other
// side and making it the base.
func (e *Engine) Resolve(ctx context.Context, def syncdef.Definition, id, take string) error {
	if take != syncdef.Left && take != syncdef.Right {
		return fmt.Errorf("resolve: take %q: use left or right", take)
	}
	r, err := e.adminRun(ctx, def)
	if err != nil {
		return err
	}
	var c *store.Conflict
	for _, x := range r.confl {
		if x.ID == id {
			x := x
			c = &x
		}
	}
	if c == nil {
		return fmt.Errorf("resolve: sync %s has no open conflict %q (see `datasync sync conflicts %s`)", def.Name, id, def.Name)
	}
	l := r.links[c.LeftID]
	if l != nil {
		if err := r.fillBases(ctx, []*store.Link{l}); err != nil {
			return err
		}
		if err := l.DecodeBase(); err != nil {
			return err
		}
	}
	var fm *fmap
	for i := range r.maps {
		if r.maps[i].key == c.Field {
			fm = &r.maps[i]
		}
	}
	b := &store.Batch{Sync: def.Name, DropConflict: []store.ConflictKey{{LeftID: c.LeftID, Field: c.Field}}}
	if l == nil || fm == nil {
		// The link or the mapping is gone: nothing left to settle.
		return e.store.Commit(ctx, b)
	}
	src := sideL
	winner := c.Left
	if take == syncdef.Right {
		src, winner = sideR, c.Right
	}
	t := other(src)
	v, err := convert(*fm, src, winner)
	if err != nil {
		return fmt.Errorf("resolve %s: %s: %w", id, c.Field, err)
	}
	op := sdk.Op{Kind: sdk.OpUpdate, ID: linkID(l, t), Fields: []string{fm.field[t].Name}, Values: []sdk.Value{v}}
	if verrs := r.sides[t].valid.Record(op.Fields, op.Values, false); len(verrs) > 0 {
		return fmt.Errorf("resolve %s: %s refuses %q: %s", id, fm.field[t].Name, winner.Text(), verrs[0].Message)
	}
	res, err := r.write(ctx, r.sides[t], []*sdk.Op{&op})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return fmt.Errorf("resolve %s: write %s %s: %w", id, sideNames[t], op.ID, res[0].Err)
	}
	nl := *l
	nl.Base = l.Base.Clone()
	nl.Base.Set(fm.key, pair(src, winner, stored(&res[0], &op, 0)))
	setLinkVersion(&nl, t, res[0].Version)
	b.PutLinks = append(b.PutLinks, nl)
	// The written side's snapshot is stale now; the next read shows it as is.
	if _, ok := r.pending[[2]string{sideNames[t], op.ID}]; ok {
		b.DropPending = append(b.DropPending, store.RecordKey{Side: sideNames[t], RecordID: op.ID})
	}
	for _, e := range r.errs[[2]string{syncdef.Left, c.LeftID}] {
		if e.Category == "conflict" {
			b.ClearErrors = append(b.ClearErrors, store.RecordKey{Side: syncdef.Left, RecordID: c.LeftID})
		}
	}
	b.History = append(b.History, store.HistoryEntry{RunID: r.id, Side: sideNames[t], RecordID: op.ID, Op: store.OpUpdate,
		Direction: direction(t), Changes: []store.FieldChange{{Field: fm.field[t].Name, New: store.Value{Value: v}}}})
	return e.store.Commit(ctx, b)
}

// QueuedStore is what ApplyQueuedDeletes needs beyond Store.
type QueuedStore interface {
	QueuedDeletes(ctx context.Context, sync string) ([]store.QueuedDelete, error)
}

// ApplyQueuedDeletes carries out the queued deletes with the given ids (all
// when ids is empty) and returns how many records it deleted. A queued
// delete whose survivor was paired again meanwhile is dropped unexecuted.
func (e *Engine) ApplyQueuedDeletes(ctx context.Context, def syncdef.Definition, qs QueuedStore, ids []string) (int, error) {
	queued, err := qs.QueuedDeletes(ctx, def.Name)
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	r, err := e.adminRun(ctx, def)
	if err != nil {
		return 0, err
	}
	b := &store.Batch{Sync: def.Name}
	deleted := 0
	for _, q := range queued {
		if len(want) > 0 && !want[q.ID] {
			continue
		}
		b.DropQueued = append(b.DropQueued, q.ID)
		t := sideL
		if q.Side == syncdef.Right {
			t = sideR
		}
		l := r.linkOf(t, q.RecordID)
		orphan := store.LinkRightDeleted
		if t == sideR {
			orphan = store.LinkLeftDeleted
		}
		if l == nil || l.State != orphan {
			continue
		}
		op := sdk.Op{Kind: sdk.OpDelete, ID: q.RecordID}
		res, err := r.write(ctx, r.sides[t], []*sdk.Op{&op})
		if err != nil {
			return deleted, err
		}
		if x := res[0].Err; x != nil && x.Category != sdk.CategoryNotFound {
			return deleted, fmt.Errorf("delete %s record %s: %w", q.Side, q.RecordID, x)
		}
		b.DeleteLinks = append(b.DeleteLinks, l.LeftID)
		b.History = append(b.History, store.HistoryEntry{RunID: r.id, Side: q.Side, RecordID: q.RecordID, Op: store.OpDelete, Direction: direction(t)})
		deleted++
	}
	return deleted, e.store.Commit(ctx, b)
}
