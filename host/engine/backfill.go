package engine

import (
	"context"
	"fmt"
	"maps"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// A mapping added or changed since the cursors were stored (fmap.fresh) must
// be merged for every linked pair. Rather than read both sides completely and
// hold every link and record until written (~840 MB at 200,000 links), a run
// whose connectors look records up by id reads the sides incrementally, as
// any run, then backfills: it goes through the links a page at a time, looks
// their records up by id (narrow: keys and the fresh mappings' fields), and
// merges and writes each page as a complete read would have, before the next.
//
// The cursors keep their old fingerprint until the backfill is done (see
// execute): a run that stops midway backfills again, from the first page,
// where the pairs already merged settle without writes.

// canBackfill reports whether this run's fresh mappings can be backfilled:
// both connectors look records up by id, the run writes, and, but for the
// fresh mappings, both sides would be read incrementally. Open conflicts do
// not keep the complete read (their pairs are not in step, so are looked up
// whole), nor do creates an interrupted run left (settled into links before
// the reads). It sets the narrow fields the backfill looks records up with
// (setNarrow).
func (r *run) canBackfill() bool {
	if r.opts.dry || r.opts.Full || !r.hasLinks {
		return false
	}
	if !r.setNarrow() {
		return false // narrow records could not be indexed by key (run.keyValue)
	}
	for _, s := range r.sides {
		c := r.cursors[s.name]
		if c.Cursor == "" || !s.obj.Incremental || !s.obj.Tombstones && r.def.Deletes != syncdef.DeletesIgnore || !lookupsByID(s.conn) {
			return false
		}
	}
	return true
}

// lookupsByID reports whether a connection's connector says it looks records
// up by id. One that cannot say (in process) is not asked, unlike by a
// streamed run (see stream.fetch): a backfill that met a refusal midway could
// not fall back to a complete read.
func lookupsByID(c Conn) bool {
	a, ok := c.(interface{ Capable(string) bool })
	return ok && a.Capable(sdk.CapabilityLookupByID)
}

// lookupPartners looks up by id the partners of the linked records an
// incremental read brought, as a complete read would have brought them,
// in two kinds of run:
//   - a backfilling run: merged with its partner unknown, a pair skips the
//     fresh mappings (decSkip), and one whose write then failed is left out
//     of the backfill (see backfillAll), so would not merge them at all;
//   - a slice before the last (see side.cut): a partner whose side's read
//     stopped short may have changed past the cut. Merged as at its linked
//     version, a field in step with its old value would take that for the
//     base, and a later slice reading the change would drop the other
//     side's change of a one-way field. Looked up, the pair merges as in
//     one run. Only a partner that changed counts as read: the one run
//     reads it too.
func (r *run) lookupPartners(ctx context.Context) error {
	if !r.backfill && !r.setNarrow() {
		// Narrow records could not be indexed by key (run.keyValue): the
		// partners are looked up with all their values.
		for _, s := range r.sides {
			s.narrow = nil
		}
	}
	var want [2][]string
	for i, s := range r.sides {
		o := r.sides[other(i)]
		if !r.backfill && !o.cut {
			continue // o was read to its end: a partner it did not bring is unchanged
		}
		for id, x := range s.recs {
			l := r.linkOf(i, id)
			if l == nil || x.pending && !x.due {
				// A snapshot not retried yet (see addPending) is no change
				// the read brought: looked up, its partner would make the
				// pair merge with it, which may be stale in a slice.
				continue
			}
			if pid := linkID(l, o.i); o.recs[pid] == nil && !o.tomb[pid] {
				want[o.i] = append(want[o.i], pid)
			}
		}
	}
	for i, s := range r.sides {
		got, err := r.lookupLinked(ctx, s, want[i])
		if err != nil {
			return err
		}
		for id, x := range got {
			if r.backfill || !r.atLinkedVersion(r.linkOf(i, id), i, x) {
				r.report.side(i).Read++ // a slice's lookup: a change it brings
			}
			s.recs[id] = x
		}
	}
	return nil
}

// lookupLinked looks records of side s up by id, for the links of r.links
// they belong to: narrow (side.narrow) first, then with all their values
// those that a narrow record would not settle (run.settles: not at their
// linked version, of a link not in step or whose base lacks a mapping not
// fresh). It returns those found, by id.
func (r *run) lookupLinked(ctx context.Context, s *side, ids []string) (map[string]*rec, error) {
	out := make(map[string]*rec, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	narrow := !r.e.noNarrow && len(s.narrow) > 0
	fields := s.fields
	if narrow {
		fields = s.narrow
	}
	if err := r.lookupByID(ctx, s, ids, fields, narrow, out); err != nil {
		return nil, err
	}
	var wide []string
	for id, x := range out {
		if l := r.linkOf(s.i, id); x.narrow && !(r.atLinkedVersion(l, s.i, x) && r.inStep(l) && baseHolds(l, r.trustedKeys)) {
			wide = append(wide, id)
			delete(out, id)
		}
	}
	if err := r.lookupByID(ctx, s, wide, s.fields, false, out); err != nil {
		return nil, err
	}
	return out, nil
}

// lookupByID looks records of side s up by id, with fields (narrow: those of
// side.narrow), into out; a record deleted or not found is left out, and
// one not asked for.
func (r *run) lookupByID(ctx context.Context, s *side, ids, fields []string, narrow bool, out map[string]*rec) error {
	for start := 0; start < len(ids); start += r.e.backfillMax {
		part := ids[start:min(len(ids), start+r.e.backfillMax)]
		vals := make([]sdk.Value, len(part))
		for i, id := range part {
			vals[i] = sdk.String(id)
		}
		recs, err := s.conn.Lookup(ctx, sdk.LookupRequest{Object: s.obj.Name, Values: vals, Fields: fields}) // by id
		if err != nil {
			return &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err),
				Err: fmt.Errorf("look %d records of %s up by id: %w", len(part), s.obj.Name, err)}
		}
		asked := make(map[string]bool, len(part))
		for _, id := range part {
			asked[id] = true
		}
		for _, x := range recs {
			if x.Deleted || !asked[x.ID] {
				continue
			}
			if len(x.Values) != len(fields) {
				return &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryPermanent,
					Err: fmt.Errorf("look %s up by id: record %s has %d values for %d fields", s.obj.Name, x.ID, len(x.Values), len(fields))}
			}
			out[x.ID] = &rec{id: x.ID, version: x.Version, mod: x.ModifiedAt, vals: x.Values, read: true, narrow: narrow}
		}
	}
	return nil
}

// backfillAll merges the fresh mappings for every link, a page at a time,
// once the run's changes are written.
func (r *run) backfillAll(ctx context.Context) error {
	// What this run's writes left. A record that failed in this run is left
	// alone here, as its one try this run was merged with its partner
	// (lookupPartners); one failing since before is merged (holdFailing).
	r.pending, r.errs, r.confl = map[[2]string]store.Pending{}, map[[2]string][]store.RecordError{}, map[[2]string]store.Conflict{}
	if err := r.load(ctx); err != nil {
		return fmt.Errorf("backfill sync %s: %w", r.def.Name, err)
	}
	r.tried = maps.Clone(r.opts.tried)
	if r.tried == nil {
		r.tried = map[[2]string]bool{}
	}
	for _, x := range r.issues {
		r.tried[[2]string{x.Side, x.RecordID}] = true
	}
	r.lazy, r.allLinks = false, false
	r.items = nil                               // written: what is left of them are nils (see finish)
	r.posts = [2]map[string]map[int]sdk.Value{} // nothing is matched
	for _, s := range r.sides {
		s.echo, s.full, s.partial = nil, false, nil
	}
	p := &pipeline{r: r}
	var pend []*item
	for after := ""; ; {
		if r.stopped() {
			// As between batches (pipeline.send): the batch in flight is
			// committed; the next run backfills again.
			if err := p.close(ctx); err != nil {
				return err
			}
			return ErrStopped
		}
		links, err := r.e.store.LinksAfter(ctx, r.def.Name, after, r.e.backfillMax)
		if err != nil {
			return p.abandon(fmt.Errorf("backfill sync %s: %w", r.def.Name, err))
		}
		if len(links) == 0 {
			break
		}
		after = links[len(links)-1].LeftID
		if pend, err = r.backfillPage(ctx, p, links, pend); err != nil {
			return p.abandon(err)
		}
	}
	if _, err := p.send(ctx, pend, true); err != nil {
		return p.abandon(err)
	}
	if err := p.close(ctx); err != nil {
		return p.abandon(err)
	}
	r.links, r.byRight = map[string]*store.Link{}, map[string]*store.Link{}
	for _, s := range r.sides {
		s.recs, s.tomb = nil, nil
	}
	return nil
}

// backfillPage merges a page of links as a complete read would, writing the
// items it plans through p (pend: those of earlier pages short of a batch,
// returned likewise with this page's). Left out: links whose records are
// not both found (deleted since the run's reads: a later read brings the
// tombstone), and those backfills leaves out.
func (r *run) backfillPage(ctx context.Context, p *pipeline, links []store.Link, pend []*item) ([]*item, error) {
	r.links, r.byRight = make(map[string]*store.Link, len(links)), make(map[string]*store.Link, len(links))
	var ids [2][]string
	for i := range links {
		l := &links[i]
		if !r.backfills(l) {
			continue
		}
		r.links[l.LeftID], r.byRight[l.RightID] = l, l
		ids[sideL], ids[sideR] = append(ids[sideL], l.LeftID), append(ids[sideR], l.RightID)
	}
	for i, s := range r.sides {
		got, err := r.lookupLinked(ctx, s, ids[i])
		if err != nil {
			return nil, err
		}
		r.report.side(s.i).Read += len(got)
		s.recs, s.tomb = got, map[string]bool{}
	}
	for id, l := range r.links {
		if r.sides[sideL].recs[id] == nil || r.sides[sideR].recs[l.RightID] == nil {
			delete(r.links, id)
			delete(r.byRight, l.RightID)
		}
	}
	r.holdFailing()
	r.pre = store.Batch{Sync: r.def.Name}
	unlinked, err := r.processLinks(ctx)
	if err != nil {
		return nil, err
	}
	if len(unlinked[sideL])+len(unlinked[sideR]) > 0 {
		return nil, fmt.Errorf("backfill sync %s: %d records left unlinked", r.def.Name, len(unlinked[sideL])+len(unlinked[sideR]))
	}
	if err := r.e.store.Commit(ctx, &r.pre); err != nil {
		return nil, fmt.Errorf("backfill sync %s: %w", r.def.Name, err)
	}
	items := r.items
	r.items = nil
	return p.send(ctx, append(pend, items...), false)
}

// backfills reports whether the backfill merges link l (see backfillPage):
// not a pair deleted on one side (nothing of it syncs but that delete), nor
// one whose record failed in this run (run.tried).
func (r *run) backfills(l *store.Link) bool {
	if l.State == store.LinkLeftDeleted || l.State == store.LinkRightDeleted {
		return false
	}
	return !r.tried[[2]string{syncdef.Left, l.LeftID}] && !r.tried[[2]string{syncdef.Right, l.RightID}]
}

// holdFailing holds back, as addPending does after a complete read, the
// records of a page looked up unchanged since they failed until their
// retry is due (run.holdBack); merged for a fresh mapping, such a record is
// written with the rest of its changes.
func (r *run) holdFailing() {
	for _, s := range r.sides {
		for id, x := range s.recs {
			r.holdBack([2]string{s.name, id}, x)
		}
	}
}
