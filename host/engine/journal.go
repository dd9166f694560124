package engine

import (
	"context"
	"fmt"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// settleJournal resolves creates journaled by a run that did not finish:
// each is looked up on its target (by the correlation id in the external-id
// field, else by match key); one found is linked, one not found is
// forgotten (its source record is read again, as its cursor never moved).
func (r *run) settleJournal(ctx context.Context) error {
	entries := r.journaled
	if len(entries) == 0 {
		return nil
	}
	if r.allLinks {
		if err := r.loadAllLinks(ctx); err != nil {
			return err
		}
	}
	payloads := make([]store.JournalPayload, len(entries))
	for i, j := range entries {
		var err error
		if payloads[i], err = store.DecodeJournalPayload(j.Payload); err != nil {
			return fmt.Errorf("journal entry %s: %w", j.ID, err)
		}
	}
	sources, err := r.journaledSources(ctx, entries, payloads)
	if err != nil {
		return err
	}
	b := &store.Batch{Sync: r.def.Name}
	settled := map[string]bool{}
	for i, j := range entries {
		t := r.createdOn(j)
		ts := r.sides[t]
		p := payloads[i]
		found, err := r.lookupJournaled(ctx, ts, j, p)
		if err != nil {
			return err
		}
		switch {
		case j.Batch == "":
			b.SettleJourn = append(b.SettleJourn, j.ID)
		case !settled[j.Batch]:
			settled[j.Batch] = true
			b.SettleBatch = append(b.SettleBatch, j.Batch)
		}
		src := other(t)
		if found != nil {
			if err := r.ensureLinks(ctx, t, []string{found.ID}); err != nil {
				return err
			}
			if err := r.ensureLinks(ctx, src, []string{j.SourceID}); err != nil {
				return err
			}
		}
		if found == nil || r.linked(t, found.ID) || r.linked(src, j.SourceID) {
			continue
		}
		// The created record's version is left unknown (""): the one it has
		// now may be a later change's, made after the create, which its
		// version would mark as synced, and lose. Unknown, the record is
		// compared with the base the next time it is read, and a change is
		// found (or its version taken, when there is none).
		base := p.Base
		if base == nil && p.Mappings == r.createMaps {
			base = r.recoveredBase(src, sources[src][j.SourceID], p.SourceVersion)
		}
		l := &store.Link{State: store.LinkSyncing, Base: base}
		if t == sideR {
			l.LeftID, l.RightID, l.LeftVersion = j.SourceID, found.ID, p.SourceVersion
		} else {
			l.LeftID, l.RightID, l.RightVersion = found.ID, j.SourceID, p.SourceVersion
		}
		r.links[l.LeftID], r.byRight[l.RightID] = l, l
		b.AddLinks = append(b.AddLinks, *l)
		b.History = append(b.History, store.HistoryEntry{RunID: r.id, Side: ts.name, RecordID: found.ID, Op: store.OpCreate,
			Direction: direction(t)})
		r.report.Settled++
	}
	if r.opts.dry {
		return nil
	}
	if err := r.e.store.Commit(ctx, b); err != nil {
		return err
	}
	r.nlinks = -1 // links were added: count again if asked
	return r.e.failpoint("settled")
}

// createdOn is the side a journaled create was made on.
func (r *run) createdOn(j store.JournalEntry) int {
	if j.Side == r.sides[sideR].name {
		return sideR
	}
	return sideL
}

// journaledSources looks up by id, on each side whose connector can, the
// source records of the journaled creates whose base is to be worked out
// again (recoveredBase): those journaled without one, under the run's
// mappings. A lookup the connector declines finds none.
func (r *run) journaledSources(ctx context.Context, entries []store.JournalEntry, payloads []store.JournalPayload) ([2]map[string]*rec, error) {
	var want [2][]string
	for i, j := range entries {
		if payloads[i].Base != nil || payloads[i].Mappings != r.createMaps {
			continue
		}
		src := other(r.createdOn(j))
		want[src] = append(want[src], j.SourceID)
	}
	out := [2]map[string]*rec{{}, {}}
	for s, ids := range want {
		if len(ids) == 0 || !lookupsByID(r.sides[s].conn) {
			continue
		}
		if err := r.lookupByID(ctx, r.sides[s], ids, r.sides[s].fields, false, out[s]); err != nil {
			if lookupFatal(ctx, sdk.CategoryOf(err)) {
				return out, err
			}
			out[s] = map[string]*rec{} // declined
		}
	}
	return out, nil
}

// recoveredBase is the base of the link of a create an interrupted run
// journaled, the one finalizeCreate gives a create stored as sent: worked
// out again from its source record x (nil: not found), of side src, under
// the same mappings (the caller checks). When that record has changed
// since (its version is not the one created from), is gone, or could not
// be looked up, or the mappings changed, the values it was created from
// are not known: the link gets no base, and the pair merges as a first
// match does (equal fields settle, an empty one is filled, the rule
// settles the rest).
func (r *run) recoveredBase(src int, x *rec, version string) store.Base {
	if x == nil || x.version != version {
		return nil
	}
	it := &item{kind: itemCreate, src: src}
	it.cur[src] = x
	op := &sdk.Op{}
	if !r.createValues(src, x, op, &it.opMaps[other(src)], func(fmap, sdk.Value, error) {}) {
		return nil // not created from these values after all
	}
	return r.createBase(nil, it, op.Values)
}

func (r *run) lookupJournaled(ctx context.Context, ts *side, j store.JournalEntry, p store.JournalPayload) (*sdk.Record, error) {
	look := func(field string, v sdk.Value, want func(sdk.Record) bool) (*sdk.Record, error) {
		recs, err := ts.conn.Lookup(ctx, sdk.LookupRequest{Object: ts.obj.Name, Field: field, Values: []sdk.Value{v}, Fields: ts.fields})
		if err != nil {
			return nil, &RunError{Side: ts.name, Connection: ts.def.Connection, Category: sdk.CategoryOf(err),
				Err: fmt.Errorf("settle the creates of an interrupted run: lookup %s: %w", field, err)}
		}
		var hits []sdk.Record
		for _, x := range recs {
			if !x.Deleted && len(x.Values) == len(ts.fields) && want(x) {
				hits = append(hits, x)
			}
		}
		if len(hits) == 1 {
			return &hits[0], nil
		}
		return nil, nil
	}
	if ext := ts.obj.ExternalIDField; ext != "" {
		if i, ok := ts.idx[ext]; ok && !r.mappedOn(ts.i, ext) {
			return look(ext, sdk.String(j.ID), func(x sdk.Record) bool { return x.Values[i].Text() == j.ID })
		}
	}
	for _, k := range p.Keys {
		i, ok := ts.idx[k.Field]
		if !ok {
			continue
		}
		want := mapping.Normalize(k.Value, ts.flds[i].Type)
		x, err := look(k.Field, k.Value, func(x sdk.Record) bool {
			return mapping.Normalize(x.Values[i], ts.flds[i].Type) == want
		})
		if x != nil || err != nil {
			return x, err
		}
	}
	return nil, nil
}

func (r *run) mappedOn(s int, field string) bool {
	for _, fm := range r.maps {
		if fm.field[s].Name == field {
			return true
		}
	}
	return false
}
