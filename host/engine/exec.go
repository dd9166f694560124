package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// execute writes the items in batches, committing state after each batch,
// then moves the cursors. A streamed run (see stream.go) plans and writes
// its items as the streamed side is read.
func (r *run) execute(ctx context.Context) error {
	if err := r.e.store.Commit(ctx, &r.pre); err != nil {
		return err
	}
	// Matching is done: what a batch needs hangs off its items, and a
	// record is let go with the batch that wrote it.
	for _, s := range r.sides {
		if r.stream == nil || s.i == r.stream.p {
			s.recs, s.tomb = nil, nil
		}
	}
	p := &pipeline{r: r}
	var err error
	if r.stream != nil {
		err = r.executeStream(ctx, p)
	} else {
		_, err = p.send(ctx, r.items, true)
	}
	if err == nil {
		err = p.close(ctx)
	}
	if err != nil {
		return p.abandon(err)
	}
	// Until the fresh mappings are backfilled, the cursors keep the
	// fingerprint they had, under which those mappings are still fresh: a
	// run stopped or failed before the backfill ends backfills again.
	if err := r.commitCursors(ctx, r.backfill); err != nil {
		return err
	}
	if r.backfill && !r.cut() {
		if err := r.backfillAll(ctx); err != nil {
			return err
		}
		if err := r.commitCursors(ctx, false); err != nil {
			return err
		}
	}
	return r.e.failpoint("cursors") // the report's errors are the run's slices' (see Engine.Run)
}

// commitCursors commits the sides' cursors where the run's reads left them,
// with the definition's fingerprint, or, keepFresh, with the one each had.
func (r *run) commitCursors(ctx context.Context, keepFresh bool) error {
	final := &store.Batch{Sync: r.def.Name}
	for _, s := range r.sides {
		// Written even without a new cursor: the fingerprint records that
		// this definition was synced completely (see trustVersions).
		old := r.cursors[s.name]
		c := store.Cursor{Side: s.name, Cursor: old.Cursor, Fingerprint: r.fp, Skip: s.marks}
		if keepFresh {
			c.Fingerprint = old.Fingerprint
		}
		if s.hasCurs {
			c.Cursor = s.cursor
		}
		if !s.hasCurs && c.Cursor != "" || s.cut {
			// The echoes the old cursor's marks name may lie past the new
			// cursor, or it is the old one: its marks stay (all of them read
			// again past maxMarks or maxMarkBytes, as in side.mark).
			if c.Skip = append(slices.Clip(old.Skip), s.marks...); overMarks(c.Skip) {
				c.Skip = nil
			}
		}
		final.Cursors = append(final.Cursors, c)
		if len(r.errs[[2]string{s.name, ""}]) > 0 {
			final.ClearErrors = append(final.ClearErrors, store.RecordKey{Side: s.name})
		}
	}
	if len(r.errs[[2]string{"", ""}]) > 0 {
		final.ClearErrors = append(final.ClearErrors, store.RecordKey{})
	}
	if err := r.e.store.Commit(ctx, final); err != nil {
		return fmt.Errorf("commit the cursors of sync %s: %w", r.def.Name, err)
	}
	return nil
}

// pipeline writes items in batches of up to Engine.batch ops. Batches are
// pipelined: while the connectors write batch k, the host finalizes and
// commits batch k-1 and journals batch k+1, so host and plugins work at the
// same time. Writes stay in order: batch k is sent only when batch k-1's
// writes returned.
type pipeline struct {
	r    *run
	prev *flight // the batch being written
}

// send writes items. all: every one of them; else only whole batches, and
// the items short of one are returned, to be sent with later ones.
func (p *pipeline) send(ctx context.Context, items []*item, all bool) ([]*item, error) {
	r := p.r
	limit := r.e.batch
	if all {
		limit = splitBatch(items, limit)
	}
	for start := 0; start < len(items); {
		if r.stopped() {
			if err := p.close(ctx); err != nil {
				return nil, err
			}
			return nil, ErrStopped
		}
		// Items without ops (a link whose base or state alone changes) count
		// towards a batch too: a run of 190,000 of them (a mapping added)
		// made one batch, finalized and committed at once, every base
		// decoded together (~150 MB at 200k).
		end, ops := start, 0
		for end < len(items) && end-start < 2*limit && (ops == 0 || ops+items[end].nops() <= limit) {
			ops += items[end].nops()
			end++
		}
		if !all && end == len(items) && ops < limit {
			return items[start:], nil
		}
		f, err := r.journal(ctx, items[start:end])
		if err != nil {
			return nil, err
		}
		if p.prev != nil {
			if err := p.prev.wait(); err != nil {
				p.prev = nil
				return nil, err
			}
		}
		f.start(ctx, r)
		prev := p.prev
		p.prev = f
		if prev != nil {
			if err := r.finish(ctx, prev); err != nil {
				return nil, err
			}
		}
		start = end
	}
	return nil, nil
}

// Writes of fewer than pipelineDepth full batches are split into
// pipelineDepth smaller ones (of at least minSplit ops): a batch's commit
// overlaps only the next batch's write, so a run of one or two batches
// would write, then commit, with nothing at the same time.
const (
	pipelineDepth = 4
	minSplit      = 250
)

// splitBatch returns the ops per batch for writing all of items, given the
// engine's batch size.
func splitBatch(items []*item, batch int) int {
	ops := 0
	for _, it := range items {
		ops += it.nops()
	}
	if ops >= pipelineDepth*batch {
		return batch
	}
	return min(batch, max(minSplit, (ops+pipelineDepth-1)/pipelineDepth))
}

// close commits the batch in flight.
func (p *pipeline) close(ctx context.Context) error {
	f := p.prev
	p.prev = nil
	if f == nil {
		return nil
	}
	return p.r.finish(ctx, f)
}

// abandon waits for the writes in flight before an early return: a run
// never returns with a goroutine still writing.
func (p *pipeline) abandon(err error) error {
	if p.prev != nil {
		p.prev.wait()
		p.prev = nil
	}
	return err
}

// flight is one batch on its way: journaled, then written by a goroutine of
// its own while the run goes on.
type flight struct {
	items   []*item
	batchID string // its journal entries' batch ("": it creates nothing)
	done    chan error
	err     error
	waited  bool
}

// stopped reports whether Options.Stop asked the run to stop.
func (r *run) stopped() bool {
	select {
	case <-r.opts.Stop:
		return true
	default:
		return false
	}
}

// journal commits the creates of a batch before anything of it is written.
func (r *run) journal(ctx context.Context, items []*item) (*flight, error) {
	f := &flight{items: items}
	journal := &store.Batch{Sync: r.def.Name}
	for _, it := range items {
		r.buildCreate(it)
		if it.kind == itemCreate && it.ops[other(it.src)] != nil {
			if f.batchID == "" {
				f.batchID = store.NewID()
			}
			journal.AddJournal = append(journal.AddJournal, r.journalEntry(it, f.batchID))
		}
	}
	if err := r.e.store.Commit(ctx, journal); err != nil {
		return nil, err
	}
	return f, r.e.failpoint("journaled")
}

// start sends the batch's writes, right side first, on a goroutine.
func (f *flight) start(ctx context.Context, r *run) {
	f.done = make(chan error, 1)
	go func() {
		for _, t := range []int{sideR, sideL} {
			var ops []*sdk.Op
			var owners []*item
			for _, it := range f.items {
				if op := it.ops[t]; op != nil {
					ops, owners = append(ops, op), append(owners, it)
				}
			}
			if len(ops) == 0 {
				continue
			}
			results, err := r.write(ctx, r.sides[t], ops)
			if err != nil {
				f.done <- err
				return
			}
			for i, it := range owners {
				res := results[i]
				it.res[t] = &res
			}
		}
		f.done <- nil
	}()
}

// wait returns the outcome of the batch's writes once they are done.
func (f *flight) wait() error {
	if !f.waited {
		f.err, f.waited = <-f.done, true
	}
	return f.err
}

// finish commits what a written batch changed.
func (r *run) finish(ctx context.Context, f *flight) error {
	if err := f.wait(); err != nil {
		return err
	}
	if err := r.e.failpoint("written"); err != nil {
		return err
	}
	// Sized once: growing these slices of large structs was a tenth of a
	// first fill's allocation.
	creates := 0
	for _, it := range f.items {
		if it.kind == itemCreate {
			creates++
		}
	}
	b := &store.Batch{Sync: r.def.Name, AddLinks: make([]store.Link, 0, creates),
		History: make([]store.HistoryEntry, 0, len(f.items))}
	if f.batchID != "" {
		b.SettleBatch = []string{f.batchID}
	}
	for _, it := range f.items {
		if err := it.unfoldBase(); err != nil {
			return err
		}
		r.finalize(it, b)
	}
	if err := r.e.store.Commit(ctx, b); err != nil {
		return err
	}
	clear(f.items) // r.items' entries: done with
	return r.e.failpoint("committed")
}

func (r *run) journalEntry(it *item, batchID string) store.JournalEntry {
	src, t := it.src, other(it.src)
	x := it.cur[src]
	op := it.ops[t]
	// No base: it was a third of the bytes a first fill stored a record, and
	// settleJournal works a recovered create's out again (recoveredBase).
	p := store.JournalPayload{SourceVersion: x.version, Mappings: r.createMaps}
	for k, key := range r.keys {
		v := x.vals[key[src]]
		if r.keyNorm(src, k, v) == "" {
			continue
		}
		p.Keys = append(p.Keys, store.JournalKey{Field: r.sides[t].fields[key[t]], Value: v})
	}
	return store.JournalEntry{ID: op.CorrelationID, Batch: batchID, Side: r.sides[t].name, SourceID: x.id, Payload: p.Encode()}
}

// createBase appends to dst the base of a link made by the create of item
// it: for each mapping the create wrote, the source value and vals[j] (what
// the target stored for op field j); for each it did not (empty, or read-only
// there), the source value and null, as far as we know.
func (r *run) createBase(dst store.Base, it *item, vals []sdk.Value) store.Base {
	src, t := it.src, other(it.src)
	x := it.cur[src]
	for j, i := range it.opMaps[t] {
		if i >= 0 {
			fm := r.maps[i]
			dst = append(dst, store.BaseField{Key: fm.key, BasePair: pair(t, vals[j], x.vals[fm.idx[src]])})
		}
	}
	for i, fm := range r.maps {
		if !slices.Contains(it.opMaps[t], i) {
			dst = append(dst, store.BaseField{Key: fm.key, BasePair: pair(src, x.vals[fm.idx[src]], sdk.Null)})
		}
	}
	return dst
}

// pair builds a base pair from a value on side s and its counterpart.
func pair(s int, mine, theirs sdk.Value) store.BasePair {
	if s == sideL {
		return store.BasePair{Left: mine, Right: theirs}
	}
	return store.BasePair{Left: theirs, Right: mine}
}

// write sends ops to a side in one batch, retrying rate-limited and
// transient failures (of the batch or of single ops) a bounded number of
// times; connection-level failures fail the run.
func (r *run) write(ctx context.Context, s *side, ops []*sdk.Op) ([]sdk.WriteResult, error) {
	out := make([]sdk.WriteResult, len(ops))
	todo := make([]int, 0, len(ops))
	for i, op := range ops {
		if s.cut && op.Kind != sdk.OpCreate && op.IfVersion == "" {
			// The record may have changed past the cut (see side.cut), and
			// with its version unknown (a create an interrupted run left,
			// see settleJournal) the write could not be refused for it
			// (sdk.Op.IfVersion): it would overwrite or delete that change.
			// It is tried again by a later slice, which reads further.
			out[i] = sdk.WriteResult{CorrelationID: op.CorrelationID, ID: op.ID,
				Err: sdk.Errorf(sdk.CategoryTransient, "the record's version is unknown and its later changes are not read yet: written by a later slice")}
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	runErr := func(cat sdk.Category, err error) error {
		return &RunError{Side: s.name, Connection: s.def.Connection, Category: cat, Err: fmt.Errorf("write %s: %w", s.obj.Name, err)}
	}
	for attempt := 0; ; attempt++ {
		req := sdk.WriteRequest{Object: s.obj.Name, Ops: make([]sdk.Op, 0, len(todo))}
		seen := map[string]bool{}
		for _, i := range todo {
			req.Ops = append(req.Ops, *ops[i])
			for _, f := range ops[i].Fields {
				if !seen[f] {
					seen[f] = true
					req.Fields = append(req.Fields, f)
				}
			}
		}
		res, err := s.conn.Write(ctx, req)
		if err != nil {
			cat := sdk.CategoryOf(err)
			if cat.Retryable() && attempt < r.e.retries && ctx.Err() == nil {
				if err := r.e.sleep(ctx, r.backoff(attempt, sdk.AsError(err).RetryAfter)); err != nil {
					return nil, runErr(sdk.CategoryTransient, err)
				}
				continue
			}
			return nil, runErr(cat, err)
		}
		if len(res) != len(req.Ops) {
			return nil, runErr(sdk.CategoryPermanent, fmt.Errorf("the connector returned %d results for %d ops", len(res), len(req.Ops)))
		}
		var again []int
		var wait time.Duration
		for j, i := range todo {
			x := res[j]
			if x.Err != nil {
				switch x.Err.Category {
				case sdk.CategoryAuth, sdk.CategoryForbidden:
					return nil, runErr(x.Err.Category, x.Err)
				}
				if x.Err.Category.Retryable() && attempt < r.e.retries {
					again = append(again, i)
					wait = max(wait, x.Err.RetryAfter)
					continue
				}
				if x.Err.Category == sdk.CategoryUnreachable {
					return nil, runErr(x.Err.Category, x.Err)
				}
			}
			// Stored values come in req.Fields order: realign them to the op.
			if x.Values != nil {
				vals := make([]sdk.Value, len(ops[i].Fields))
				for k, f := range ops[i].Fields {
					for m, rf := range req.Fields {
						if rf == f && m < len(x.Values) {
							vals[k] = x.Values[m]
						}
					}
				}
				x.Values = vals
			}
			if x.Err == nil && x.Mark != "" {
				s.mark(x.Mark)
			}
			out[i] = x
		}
		if len(again) == 0 {
			return out, nil
		}
		if err := r.e.sleep(ctx, r.backoff(attempt, wait)); err != nil {
			return nil, runErr(sdk.CategoryTransient, err)
		}
		todo = again
	}
}

func (r *run) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := retryAfter
	if d <= 0 {
		d = 100 * time.Millisecond << attempt
	}
	return min(d, r.e.maxWait)
}

// stored is the value a write left on side t for op field j: as the connector
// reports it, else as sent.
func stored(res *sdk.WriteResult, op *sdk.Op, j int) sdk.Value {
	if res != nil && res.Values != nil && j < len(res.Values) {
		return res.Values[j]
	}
	return op.Values[j]
}

func ok(res *sdk.WriteResult) bool { return res != nil && res.Err == nil }

// finalize turns an item's outcome into state changes and report counts.
func (r *run) finalize(it *item, b *store.Batch) {
	// A record's errors are replaced by this attempt's (none when it synced).
	for s := range sideNames {
		ids := map[string]bool{}
		if x := it.cur[s]; x != nil {
			ids[x.id] = true
		}
		if it.link != nil {
			ids[linkID(it.link, s)] = true
		}
		for id := range ids {
			r.clearErrors(b, s, id)
		}
	}
	defer r.putErrors(it, b)
	switch it.kind {
	case itemLink:
		r.finalizeLink(it, b)
	case itemCreate:
		r.finalizeCreate(it, b)
	case itemDelete:
		r.finalizeDelete(it, b)
	case itemReport:
		x := it.cur[it.src]
		r.putPending(b, it.src, x, x.vals)
	}
}

func (r *run) finalizeLink(it *item, b *store.Batch) {
	l := it.link
	for s := range sideNames {
		if x := it.cur[s]; x != nil {
			setLinkVersion(l, s, x.version)
		}
	}
	if it.isNew {
		b.History = append(b.History, store.HistoryEntry{RunID: r.id, Side: syncdef.Left, RecordID: l.LeftID, Op: store.OpLink})
	}
	if it.excludedBy != "" {
		l.State, l.ExcludedBy = store.LinkExcluded, it.excludedBy
		r.putLink(b, it)
		for s := range sideNames {
			if x := it.cur[s]; x != nil {
				r.settle(b, l, s, x, x.vals)
			} else if it.thin[s] != nil {
				r.settleThin(b, it, s)
			}
		}
		return
	}
	l.ExcludedBy = ""
	post := [2][]sdk.Value{}
	for s := range sideNames {
		if x := it.cur[s]; x != nil {
			post[s] = append([]sdk.Value(nil), x.vals...)
		}
	}
	wrote := [2]bool{}
	gone, failed := -1, false
	for t := range sideNames {
		op, res := it.ops[t], it.res[t]
		if op == nil {
			continue
		}
		if !ok(res) {
			if res != nil && res.Err.Category == sdk.CategoryNotFound {
				// The record is gone: a delete the read could not see.
				gone = t
				continue
			}
			r.failResult(it, t, res)
			failed = true
			continue
		}
		wrote[t] = true
		setLinkVersion(l, t, res.Version)
		r.report.side(t).Updated++
		h := store.HistoryEntry{RunID: r.id, Side: sideNames[t], RecordID: linkID(l, t), Op: store.OpUpdate,
			Direction: direction(t)}
		for j, i := range it.opMaps[t] {
			fm := r.maps[i]
			v := stored(res, op, j)
			h.Changes = append(h.Changes, store.FieldChange{Field: fm.field[t].Name, Old: store.Value{Value: r.val(it, t, i)}, New: store.Value{Value: v}})
			it.setBase(fm.key, pair(t, v, r.val(it, other(t), i)))
			if post[t] != nil {
				post[t][fm.idx[t]] = v
			}
		}
		b.History = append(b.History, h)
	}
	// Fields found in step take their values as the base, unless a side was
	// not read (its link's values stood for it, as at its linked version)
	// and no write to it bore that out (sdk.Op.IfVersion): after a failed
	// write, such a record may have changed since the read (a stale write),
	// and its old values, taken for the base, would make the other side's
	// change look old when the pair is merged again: a one-way mapping would
	// drop it. (A slice looks such partners up first: lookupPartners.)
	verified := true
	for s := range sideNames {
		if x := it.cur[s]; failed && (x == nil || !x.read) && !wrote[s] {
			verified = false
		}
	}
	for i, d := range it.dec {
		if d == decKeep && verified {
			it.setBase(r.maps[i].key, store.BasePair{Left: r.val(it, sideL, i), Right: r.val(it, sideR, i)})
		}
	}
	for _, i := range it.conflicts {
		fm := r.maps[i]
		b.PutConflicts = append(b.PutConflicts, store.Conflict{LeftID: l.LeftID, RightID: l.RightID, Field: fm.key,
			Left: r.val(it, sideL, i), Right: r.val(it, sideR, i)})
		r.fail(it, sideL, l.LeftID, "conflict", fm.field[sideL].Name, r.val(it, sideL, i).Text(),
			fmt.Sprintf("%s changed on both sides: left %q, right %q", fm.key, r.val(it, sideL, i).Text(), r.val(it, sideR, i).Text()), "")
		r.report.Left.Conflicts++
		r.report.Right.Conflicts++
	}
	for i, fm := range r.maps {
		if _, open := r.confl[[2]string{l.LeftID, fm.key}]; open && it.dec[i] != decConflict {
			b.DropConflict = append(b.DropConflict, store.ConflictKey{LeftID: l.LeftID, Field: fm.key})
		}
	}
	switch {
	case gone == sideL:
		l.State = store.LinkLeftDeleted
	case gone == sideR:
		l.State = store.LinkRightDeleted
	case len(it.errs) > 0:
		l.State = store.LinkFailing
	default:
		l.State = store.LinkSyncing
	}
	r.putLink(b, it)
	for s := range sideNames {
		if x := it.cur[s]; x != nil {
			if wrote[s] {
				// A snapshot kept pending (a conflict stays open) is of the
				// record as this write left it: at the read's version, a
				// later run would take it back for the link's, and a delete
				// would then be refused as if someone had changed it. Its
				// modification time stays the read's, the last change
				// someone made: the write's would win most-recent merges
				// against changes made after that one (a later slice's).
				y := *x
				y.version = it.res[s].Version
				x = &y
			}
			r.settle(b, l, s, x, post[s])
		} else if it.thin[s] != nil {
			r.settleThin(b, it, s)
		}
	}
	if it.ops[sideL] == nil && it.ops[sideR] == nil && len(it.errs) == 0 {
		r.report.Left.Unchanged++
		r.report.Right.Unchanged++
	}
	foldBase(it.orig, it.raw) // the run's loaded links hold no decoded base
}

// settleThin settles, as settle does a record read, the record of side s
// that an item merged from a narrow read for fresh mappings (item.thin),
// once the item's writes are done: should it fail, or a conflict stay open,
// its pending snapshot must hold its fresh values, or the next run, not
// reading it, would take the base for them and write its partner's value
// over it. Its other mapped fields are as the base now says (it was at its
// linked version, and any write to it is in the base); the rest (the
// external id) are null, as a snapshot's are not merged. Built only when
// it differs from the base: most items of a backfill do not.
func (r *run) settleThin(b *store.Batch, it *item, s int) {
	x, sd := it.thin[s], r.sides[s]
	l := it.link
	var written map[int]sdk.Value // mapping index → the value written to s
	op, res := it.ops[s], it.res[s]
	wrote := op != nil && ok(res)
	if wrote {
		written = make(map[int]sdk.Value, len(it.opMaps[s]))
		for j, i := range it.opMaps[s] {
			if i >= 0 {
				written[i] = stored(res, op, j)
			}
		}
	}
	narrowVal := func(i int, fm fmap) (sdk.Value, bool) {
		if v, found := written[i]; found {
			return v, true
		}
		if j := slices.Index(sd.narrow, sd.fields[fm.idx[s]]); j >= 0 {
			return x.vals[j], true
		}
		return sdk.Value{}, false
	}
	differs := false
	for i, fm := range r.maps {
		v, found := narrowVal(i, fm)
		if !found {
			continue // the base stands for it
		}
		if base, has := l.Base.Get(fm.key); !has || !r.sameSide(fm, s, v, pairSide(base, s)) {
			differs = true
			break
		}
	}
	if !differs {
		if _, had := r.pending[[2]string{sideNames[s], x.id}]; had {
			b.DropPending = append(b.DropPending, store.RecordKey{Side: sideNames[s], RecordID: x.id})
		}
		return
	}
	vals := make([]sdk.Value, len(sd.fields))
	for j, f := range sd.narrow {
		if i, found := sd.idx[f]; found {
			vals[i] = x.vals[j]
		}
	}
	for i, fm := range r.maps {
		if v, found := narrowVal(i, fm); found {
			vals[fm.idx[s]] = v
		} else if base, has := l.Base.Get(fm.key); has {
			vals[fm.idx[s]] = pairSide(base, s)
		}
	}
	y := *x
	if wrote {
		y.version = res.Version
	}
	r.putPending(b, s, &y, vals)
}

// setBase sets the base of a mapping on the item's link. The link shares
// its base with the stored one until a value really changes: most links of
// a run change nothing, and are not copied.
func (it *item) setBase(key string, p store.BasePair) {
	if old, ok := it.link.Base.Get(key); ok && old.Left.Equal(p.Left) && old.Right.Equal(p.Right) {
		return
	}
	if !it.ownBase {
		it.link.Base, it.ownBase = it.link.Base.Clone(), true
	}
	it.link.Base.Set(key, p)
}

// putLink stores an item's link: inserted when matched this run, updated
// when it changed, left alone when not (a no-change run writes no state).
func (r *run) putLink(b *store.Batch, it *item) {
	l, o := it.link, it.orig
	switch {
	case it.isNew:
		b.AddLinks = append(b.AddLinks, *l)
	case o != nil && o.LeftID == l.LeftID && o.RightID == l.RightID && o.LeftVersion == l.LeftVersion &&
		o.RightVersion == l.RightVersion && o.State == l.State && o.ExcludedBy == l.ExcludedBy && (!it.ownBase || o.Base.Equal(l.Base)):
	default:
		b.PutLinks = append(b.PutLinks, *l)
	}
}

func setLinkVersion(l *store.Link, s int, v string) {
	if s == sideL {
		l.LeftVersion = v
	} else {
		l.RightVersion = v
	}
}

func direction(target int) string {
	if target == sideR {
		return string(mapping.DirLeftToRight)
	}
	return string(mapping.DirRightToLeft)
}

// settle keeps a pending snapshot of record x while its values differ from
// the link's base (its change is not applied yet), and drops it otherwise.
func (r *run) settle(b *store.Batch, l *store.Link, s int, x *rec, vals []sdk.Value) {
	for _, fm := range r.maps {
		base, has := l.Base.Get(fm.key)
		if !has || !r.sameSide(fm, s, vals[fm.idx[s]], pairSide(base, s)) {
			r.putPending(b, s, x, vals)
			return
		}
	}
	if _, had := r.pending[[2]string{sideNames[s], x.id}]; had {
		b.DropPending = append(b.DropPending, store.RecordKey{Side: sideNames[s], RecordID: x.id})
	}
}

func (r *run) putPending(b *store.Batch, s int, x *rec, vals []sdk.Value) {
	m := make(map[string]sdk.Value, len(vals))
	for i, f := range r.sides[s].fields {
		m[f] = vals[i]
	}
	b.PutPending = append(b.PutPending, store.Pending{Side: sideNames[s], RecordID: x.id, Version: x.version, ModifiedAt: x.mod, Values: m})
}

func (r *run) clearErrors(b *store.Batch, s int, id string) {
	k := [2]string{sideNames[s], id}
	if len(r.errs[k]) > 0 {
		b.ClearErrors = append(b.ClearErrors, store.RecordKey{Side: k[0], RecordID: id})
	}
}

// failResult records a failed write toward side t.
func (r *run) failResult(it *item, t int, res *sdk.WriteResult) {
	e := res.Err
	src := other(t)
	id := ""
	if it.kind == itemDelete {
		src, id = t, linkID(it.link, t)
	} else {
		id = sourceID(it, src)
	}
	cat := e.Category.String()
	if e.Category == sdk.CategoryConflict {
		// The record changed after it was read (sdk.Op.IfVersion): not a
		// conflict to settle by hand ("conflict", see merge), but a change
		// to merge again, as the next read (or slice) brings it.
		cat = categoryStale
	}
	field := e.Field
	if field != "" && src != t {
		for _, fm := range r.maps {
			if fm.field[t].Name == e.Field {
				field = fm.field[src].Name
			}
		}
	}
	value := ""
	if x := it.cur[src]; x != nil && field != "" {
		if j, ok := r.sides[src].idx[field]; ok {
			value = x.vals[j].Text()
		}
	}
	r.fail(it, src, id, cat, field, value, fmt.Sprintf("%s %s: %s", sideNames[t], opName(it), e.Error()), "")
	r.report.side(t).Failed++
	r.failedWrites = append(r.failedWrites, failedWrite{side: t, key: issueKey{sideNames[src], id, cat}})
}

// categoryStale is the record error of a write refused because the record
// had changed since it was read.
const categoryStale = "stale"

// failedWrite is a write that failed toward side, and the record error it left.
type failedWrite struct {
	side int
	key  issueKey
}

func opName(it *item) string {
	switch it.kind {
	case itemCreate:
		return "create"
	case itemDelete:
		return "delete"
	}
	return "update"
}

// putErrors stores the item's errors with their next retry time.
func (r *run) putErrors(it *item, b *store.Batch) {
	for _, e := range it.errs {
		attempts := 1
		for _, old := range r.errs[[2]string{e.Side, e.RecordID}] {
			if old.Category == e.Category {
				attempts, e.FirstSeen = old.Attempts+1, old.FirstSeen
			}
		}
		e.Attempts = attempts
		e.NextRetry = r.now.Add(retryDelay(e.Category, attempts))
		b.PutErrors = append(b.PutErrors, e)
		r.issues = append(r.issues, e)
	}
}

// retryDelay is the backoff of a failing record: transient causes are tried
// again on the next run; data problems back off exponentially (a fix of the
// data is read as a change and retried at once anyway).
func retryDelay(category string, attempts int) time.Duration {
	if c, ok := sdk.ParseCategory(category); ok && c.Retryable() {
		return 0
	}
	d := time.Minute << min(attempts-1, 9)
	return min(d, 6*time.Hour)
}

func (r *run) finalizeCreate(it *item, b *store.Batch) {
	src, t := it.src, other(it.src)
	x := it.cur[src]
	op, res := it.ops[t], it.res[t]
	if ok(res) && res.ID == "" {
		res.Err = sdk.Errorf(sdk.CategoryPermanent, "the connector reported the create as done but returned no record id")
	}
	if !ok(res) {
		if op != nil {
			r.failResult(it, t, res)
		}
		r.putPending(b, src, x, x.vals)
		return
	}
	l := store.Link{State: store.LinkSyncing}
	if src == sideL {
		l.LeftID, l.RightID, l.LeftVersion, l.RightVersion = x.id, res.ID, x.version, res.Version
	} else {
		l.LeftID, l.RightID, l.LeftVersion, l.RightVersion = res.ID, x.id, res.Version, x.version
	}
	h := store.HistoryEntry{RunID: r.id, Side: sideNames[t], RecordID: res.ID, Op: store.OpCreate, Direction: direction(t)}
	vals, asSent := op.Values, true
	for j := range vals {
		asSent = asSent && stored(res, op, j).Equal(vals[j])
	}
	if !asSent {
		vals = make([]sdk.Value, len(op.Values))
		for j := range vals {
			vals[j] = stored(res, op, j)
		}
	}
	// Encoded here, through the run's scratch buffers, rather than by
	// Commit from a Base of its own: a first fill links millions.
	r.scratch = r.createBase(r.scratch[:0], it, vals)
	r.enc = store.AppendBase(r.enc[:0], r.scratch)
	l.RawBase, l.RawBaseKeys = string(r.enc), r.createKeys
	// The history holds the values written, encoded here rather than as a
	// FieldChange each: a first fill records millions of them.
	n := 0
	for _, i := range it.opMaps[t] {
		if i >= 0 {
			n++
		}
	}
	r.enc = store.AppendChangeCount(r.enc[:0], n)
	for j, i := range it.opMaps[t] {
		if i >= 0 {
			r.enc = store.AppendChange(r.enc, r.maps[i].field[t].Name, sdk.Null, vals[j])
		}
	}
	h.RawChanges = string(r.enc)
	b.AddLinks = append(b.AddLinks, l)
	b.History = append(b.History, h)
	// settle, short: the base holds x's own values on its side.
	if _, had := r.pending[[2]string{sideNames[src], x.id}]; had {
		b.DropPending = append(b.DropPending, store.RecordKey{Side: sideNames[src], RecordID: x.id})
	}
	r.report.side(t).Created++
}

func (r *run) finalizeDelete(it *item, b *store.Batch) {
	t := other(it.src)
	l := it.link
	res := it.res[t]
	if ok(res) || res != nil && res.Err.Category == sdk.CategoryNotFound {
		b.DeleteLinks = append(b.DeleteLinks, l.LeftID)
		b.History = append(b.History, store.HistoryEntry{RunID: r.id, Side: sideNames[t], RecordID: linkID(l, t),
			Op: store.OpDelete, Direction: direction(t)})
		for s := range sideNames {
			k := [2]string{sideNames[s], linkID(l, s)}
			if _, had := r.pending[k]; had {
				b.DropPending = append(b.DropPending, store.RecordKey{Side: k[0], RecordID: k[1]})
			}
		}
		if ok(res) {
			r.report.side(t).Deleted++
		}
		return
	}
	r.failResult(it, t, res)
	// Keep the link, marked: the delete is retried when the error is due.
	l.State = store.LinkLeftDeleted
	if it.src == sideR {
		l.State = store.LinkRightDeleted
	}
	b.PutLinks = append(b.PutLinks, *l)
}
