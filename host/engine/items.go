package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

type itemKind uint8

const (
	itemLink   itemKind = iota // an existing or newly matched link: merge and patch
	itemCreate                 // a new record: create it on the other side
	itemDelete                 // propagate a delete
	itemReport                 // a record that cannot sync (missing or duplicate key)
)

// item is the work for one link or one record in a run.
type item struct {
	kind    itemKind
	link    *store.Link // itemLink, itemDelete: the link as it will be stored
	orig    *store.Link // itemLink of a stored link: the link as stored
	ownBase bool        // link.Base is the item's own copy (see setBase)
	unbuilt bool        // itemCreate: its op is not built yet (see buildCreate)
	// raw: itemLink, the base of its link encoded, as loaded. The decoded
	// base (~2 KB: two sdk.Values a mapping) is needed to plan and to
	// finalize, not in between, when a run holds every item it planned:
	// it is decoded for each (see unfoldBase).
	raw        string
	isNew      bool       // itemLink: matched this run
	cur        [2]*rec    // current records (nil: unknown, the base stands for it)
	thin       [2]*rec    // records read narrow, for the fresh mappings (see run.fresh)
	src        int        // itemCreate: the record's side; itemDelete: the side it was deleted on
	dec        []decision // itemLink: per mapping
	excludedBy string
	ops        [2]*sdk.Op
	opMaps     [2][]int // mapping index of each op field (-1: the external-id field)
	res        [2]*sdk.WriteResult
	errs       []store.RecordError
	conflicts  []int
}

func (it *item) nops() int {
	if it.unbuilt {
		return 1 // at most: its create is built with its batch
	}
	n := 0
	for _, op := range it.ops {
		if op != nil {
			n++
		}
	}
	return n
}

// fail records why the item's record could not sync.
func (r *run) fail(it *item, sideIdx int, id, category, field, value, msg, hint string) {
	if hint == "" {
		hint = hintFor(category, sideNames[sideIdx])
	}
	it.errs = append(it.errs, store.RecordError{Side: sideNames[sideIdx], RecordID: id, Category: category,
		Field: field, Value: value, Message: msg, Hint: hint})
}

// processLinks decides what each link needs; it returns the records of each
// side that belong to no link, for matching.
func (r *run) processLinks(ctx context.Context) ([2][]*rec, error) {
	// The links that need nothing are set aside first, in any order; the
	// others are done in order of left id, with their bases loaded.
	var work []*store.Link
	for _, l := range r.links {
		cur := [2]*rec{r.sides[sideL].recs[l.LeftID], r.sides[sideR].recs[l.RightID]}
		gone := r.sides[sideL].tomb[l.LeftID] || r.sides[sideR].tomb[l.RightID]
		if !gone && cur[sideL] == nil && cur[sideR] == nil && !r.hasErrors(l) {
			// Neither record read (or only as a settled echo) nor gone, and
			// no retry due: nothing happened to it. All links are loaded
			// when the reads return many records; a lazy run would not have
			// loaded this one, and its base need not be.
			if r.echoSettled(l) {
				r.report.Left.Unchanged++
				r.report.Right.Unchanged++
			}
			continue
		}
		if !gone && r.unchanged(l, cur) {
			r.report.Left.Unchanged++
			r.report.Right.Unchanged++
			continue
		}
		work = append(work, l)
	}
	// The links of settled echoes the run did not load need nothing either.
	n := r.settledLinks()
	r.report.Left.Unchanged += n
	r.report.Right.Unchanged += n
	slices.SortFunc(work, func(a, b *store.Link) int { return strings.Compare(a.LeftID, b.LeftID) })
	if err := r.fillBases(ctx, work); err != nil {
		return [2][]*rec{}, err
	}
	for _, l := range work {
		cur := [2]*rec{r.sides[sideL].recs[l.LeftID], r.sides[sideR].recs[l.RightID]}
		del := [2]bool{r.sides[sideL].tomb[l.LeftID], r.sides[sideR].tomb[l.RightID]}
		var thin [2]*rec
		for s, x := range cur {
			if x != nil && x.narrow {
				// Read without its values (see readBoth): unchanged since
				// the last sync, so, as for a record not read, the base
				// stands for it; but for fresh mappings (run.fresh).
				if r.fresh {
					thin[s] = x
				}
				cur[s] = nil
			}
		}
		// Bases are loaded encoded: only the links merged here are decoded,
		// and folded back after planning (see item.raw).
		raw := l.RawBase
		if err := l.DecodeBase(); err != nil {
			return [2][]*rec{}, err
		}
		if l.State == store.LinkLeftDeleted || l.State == store.LinkRightDeleted {
			gone := sideL
			if l.State == store.LinkRightDeleted {
				gone = sideR
			}
			keep := other(gone)
			switch {
			case del[keep]:
				r.dropLink(l)
			case r.def.Deletes == syncdef.DeletesPropagate && cur[keep] != nil && r.changedSinceBase(l, keep, cur[keep]):
				// The delete failed, refused as the survivor had changed
				// (sdk.Op.IfVersion; a change a sliced run reads after the
				// delete, say): modify beats delete, as below.
				r.unlink(l, keep)
				survives(cur[keep])
			case r.def.Deletes == syncdef.DeletesPropagate && len(r.errs[[2]string{sideNames[keep], linkID(l, keep)}]) > 0 &&
				r.due(sideNames[keep], linkID(l, keep)):
				r.planDelete(l, gone, cur[keep])
			}
			continue
		}
		if del[sideL] && del[sideR] {
			r.dropLink(l)
			continue
		}
		if del[sideL] || del[sideR] {
			gone := sideL
			if del[sideR] {
				gone = sideR
			}
			keep := other(gone)
			if cur[keep] != nil && r.changedSinceBase(l, keep, cur[keep]) {
				// Modify beats delete: the survivor changed since the last
				// sync, so it lives on and is treated as new.
				r.unlink(l, keep)
				survives(cur[keep])
				continue
			}
			if cur[keep] == nil && r.opts.changed.has(sideNames[keep], linkID(l, keep), linkVersion(l, keep)) {
				// The survivor changed too, read by an earlier slice of
				// this run: as if one slice had read both, it lives on. It
				// is looked up to be treated as new (a run slices only if
				// both connectors look records up by id, see readBoth);
				// one the connector declines is left unlinked (and kept).
				if _, err := r.lookUpAgain(ctx, r.sides[keep], []string{linkID(l, keep)}); err != nil {
					return [2][]*rec{}, err
				}
				r.dropLink(l)
				continue
			}
			policy := r.def.Deletes
			if l.State == store.LinkExcluded {
				// An excluded pair stopped syncing: its deletes go nowhere.
				policy = syncdef.DeletesIgnore
			}
			switch policy {
			case syncdef.DeletesPropagate:
				r.planDelete(l, gone, cur[keep])
			case syncdef.DeletesQueue:
				r.pre.QueueDeletes = append(r.pre.QueueDeletes, store.QueuedDelete{Side: sideNames[keep],
					RecordID: linkID(l, keep), OtherID: linkID(l, gone)})
				r.report.side(keep).Queued++
				fallthrough
			default:
				l.State = store.LinkLeftDeleted
				if gone == sideR {
					l.State = store.LinkRightDeleted
				}
				r.pre.PutLinks = append(r.pre.PutLinks, *l)
				// Nothing syncs on this link any more: its pending work goes.
				r.forget(sideL, l.LeftID)
				r.forget(sideR, l.RightID)
			}
			continue
		}
		active := false
		for s, c := range cur {
			active = active || c != nil && (c.read && !c.held || c.due) || thin[s] != nil
		}
		if !active {
			foldBase(l, raw)
			continue
		}
		if r.cut() && r.opts.changed != nil && r.def.Deletes == syncdef.DeletesPropagate {
			// A later slice may read the partner's delete (see
			// Options.changed).
			for i, c := range cur {
				if c != nil && c.read && r.changedSinceBase(l, i, c) {
					r.opts.changed.add(sideNames[i], c.id, c.version)
				}
			}
		}
		nl := *l
		it := &item{kind: itemLink, link: &nl, orig: l, cur: cur, thin: thin}
		r.items = append(r.items, it)
		r.planLink(it)
		if raw != "" {
			foldBase(it.link, raw)
			foldBase(l, raw)
			it.raw = raw
		}
	}
	var out [2][]*rec
	for i, s := range r.sides {
		for _, x := range s.recs {
			if r.linked(i, x.id) || !(x.read && !x.held || x.pending && x.due) {
				continue
			}
			out[i] = append(out[i], x)
		}
		sort.Slice(out[i], func(a, b int) bool { return out[i][a].id < out[i][b].id })
	}
	return out, nil
}

// survives readies record x, which changed while its partner was deleted,
// to be matched as new this run (the link and its retry state are dropped):
// a retry it was waiting for, held back or not due, was of a write to the
// record now gone.
func survives(x *rec) { x.held, x.due = false, true }

// foldBase puts link l's decoded base back as raw, its encoded form ("":
// it was not loaded encoded, and stays as it is).
func foldBase(l *store.Link, raw string) {
	if raw != "" {
		l.Base, l.RawBase = nil, raw
	}
}

// unfoldBase decodes the base of a planned link again, for finalizeLink;
// the stored link (orig) shares it until finalizeLink lets it go.
func (it *item) unfoldBase() error {
	if it.raw == "" {
		return nil
	}
	b, err := store.DecodeBase(it.raw)
	if err != nil {
		return fmt.Errorf("base of link %s↔%s: %w", it.link.LeftID, it.link.RightID, err)
	}
	it.link.Base, it.link.RawBase = b, ""
	it.orig.Base = b
	return nil
}

// fillBases loads the bases that loadAllLinks left out of links.
func (r *run) fillBases(ctx context.Context, links []*store.Link) error {
	var omitted []*store.Link
	for _, l := range links {
		if l.BaseOmitted {
			omitted = append(omitted, l)
		}
	}
	if len(omitted) == 0 {
		return nil
	}
	return r.e.store.FillBases(ctx, r.def.Name, omitted)
}

// unchanged reports whether a syncing link needs nothing at all: at least
// one of its records was read this run, each one read carries the version
// it was last synced at (an echo of the engine's own write, or a record no
// one touched: versions change on every write), and none has pending work,
// errors or conflicts. The merge would find nothing to do; a no-change run
// skips it per link. Only while the definition is the one the last complete
// run synced with, or one with fewer mappings: a new mapping must look at
// every record again, and new filters at every record's verdict.
func (r *run) unchanged(l *store.Link, cur [2]*rec) bool {
	if cur[sideL] == nil && cur[sideR] == nil {
		return false
	}
	for s, x := range cur {
		if x != nil && (!r.atLinkedVersion(l, s, x) || !r.stillPasses(s, x)) {
			return false
		}
	}
	return r.settledLink(l)
}

// atLinkedVersion reports whether record x (on side s), read this run, is
// at the version link l holds for it and has no pending work or errors.
func (r *run) atLinkedVersion(l *store.Link, s int, x *rec) bool {
	if !x.read || x.version == "" || x.version != linkVersion(l, s) {
		return false
	}
	if len(r.errs) == 0 && len(r.pending) == 0 {
		return true // the common case, without hashing the key twice
	}
	k := [2]string{sideNames[s], x.id}
	if len(r.errs[k]) > 0 {
		return false
	}
	_, ok := r.pending[k]
	return !ok
}

// inStep reports whether a link syncs, with no conflict, and versions are
// trusted: all settledLink asks but of its base. It only reads the run.
func (r *run) inStep(l *store.Link) bool {
	if !r.trustVersions || l.State != store.LinkSyncing {
		return false
	}
	if len(r.confl) > 0 {
		for _, fm := range r.maps {
			if _, ok := r.confl[[2]string{l.LeftID, fm.key}]; ok {
				return false
			}
		}
	}
	return true
}

// baseHolds reports whether link l's base holds each of keys, some or all
// of the run's mapping keys, decoded or not. It only reads l.
func baseHolds(l *store.Link, keys []string) bool {
	switch {
	case l.BaseOmitted:
		return true // it holds exactly the run's mapping keys
	case l.Base == nil:
		return store.BaseCovers(l.RawBase, keys)
	}
	for _, k := range keys {
		if _, ok := l.Base.Get(k); !ok {
			return false
		}
	}
	return true
}

// settledLink reports whether a link, with its records at its versions,
// needs nothing: versions are trusted, it syncs, has no conflicts, and its
// base covers every mapping.
func (r *run) settledLink(l *store.Link) bool {
	if !r.inStep(l) || r.fresh {
		return false // fresh mappings: every link is merged for them
	}
	if l.BaseOmitted {
		return true // left out because its keys are exactly the mappings' (store.RunLinks)
	}
	if l.Base == nil {
		// Still encoded: asked once or twice per link of a large run.
		c, ok := r.covers[l]
		if !ok {
			c = store.BaseCovers(l.RawBase, r.mapKeys)
			r.covers[l] = c
		}
		return c
	}
	for i, fm := range r.maps {
		// A mapping without a base (a link settled from the journal, a
		// mapping added since) is merged as a first match: the merge must run.
		if i >= len(l.Base) || l.Base[i].Key != fm.key {
			if _, ok := l.Base.Get(fm.key); !ok {
				return false
			}
		}
	}
	return true
}

// hasErrors reports whether either record of link l has errors on record
// (a failed delete on a deleted pair's survivor is retried from them).
func (r *run) hasErrors(l *store.Link) bool {
	if len(r.errs) == 0 {
		return false
	}
	return len(r.errs[[2]string{sideNames[sideL], l.LeftID}]) > 0 || len(r.errs[[2]string{sideNames[sideR], l.RightID}]) > 0
}

func (r *run) linked(s int, id string) bool {
	if s == sideL {
		return r.links[id] != nil
	}
	return r.byRight[id] != nil
}

// dropLink forgets a link before anything is written, so its ids are free
// to be linked again in this run.
func (r *run) dropLink(l *store.Link) { r.unlink(l, -1) }

// unlink drops link l as dropLink does, but for the pending snapshot of the
// record on side survivor (-1: none), which lives on to be matched as new
// (survives). It is not read again: should the run stop before its create
// is written, the snapshot is what brings it to the next run; the create,
// written or failed, settles or puts the snapshot (finalizeCreate).
func (r *run) unlink(l *store.Link, survivor int) {
	delete(r.links, l.LeftID)
	delete(r.byRight, l.RightID)
	r.pre.DeleteLinks = append(r.pre.DeleteLinks, l.LeftID)
	// A deletion runs before the batch's puts: drop any put of this link.
	puts := r.pre.PutLinks[:0]
	for _, p := range r.pre.PutLinks {
		if p.LeftID != l.LeftID {
			puts = append(puts, p)
		}
	}
	r.pre.PutLinks = puts
	for s := range sideNames {
		k := [2]string{sideNames[s], linkID(l, s)}
		if _, ok := r.pending[k]; ok && s != survivor {
			r.pre.DropPending = append(r.pre.DropPending, store.RecordKey{Side: k[0], RecordID: k[1]})
		}
		if len(r.errs[k]) > 0 {
			r.pre.ClearErrors = append(r.pre.ClearErrors, store.RecordKey{Side: k[0], RecordID: k[1]})
		}
	}
	for _, fm := range r.maps {
		if _, ok := r.confl[[2]string{l.LeftID, fm.key}]; ok {
			r.pre.DropConflict = append(r.pre.DropConflict, store.ConflictKey{LeftID: l.LeftID, Field: fm.key})
		}
	}
}

// changedSinceBase reports whether x (on side s) differs from the link's base
// in any mapped field.
func (r *run) changedSinceBase(l *store.Link, s int, x *rec) bool {
	for _, fm := range r.maps {
		b, ok := l.Base.Get(fm.key)
		if !ok {
			continue
		}
		if !r.sameSide(fm, s, x.vals[fm.idx[s]], pairSide(b, s)) {
			return true
		}
	}
	return false
}

func pairSide(b store.BasePair, s int) sdk.Value {
	if s == sideL {
		return b.Left
	}
	return b.Right
}

func (r *run) sameSide(fm fmap, s int, a, b sdk.Value) bool {
	t := fm.field[s].Type
	return mapping.Normalize(a, t) == mapping.Normalize(b, t)
}

// convert turns a value of side from into the value written to the other side.
func convert(fm fmap, from int, v sdk.Value) (sdk.Value, error) {
	if from == sideL {
		return fm.m.ToRight(v, fm.field[sideR])
	}
	return fm.m.ToLeft(v, fm.field[sideL])
}

// cross reports whether a left and a right value are the same across the
// mapping (compared normalized, after conversion).
func (r *run) cross(fm fmap, lv, rv sdk.Value) bool {
	if x, err := convert(fm, sideL, lv); err == nil {
		return mapping.Normalize(x, fm.field[sideR].Type) == mapping.Normalize(rv, fm.field[sideR].Type)
	}
	if x, err := convert(fm, sideR, rv); err == nil {
		return mapping.Normalize(x, fm.field[sideL].Type) == mapping.Normalize(lv, fm.field[sideL].Type)
	}
	return false
}

// value is a side's current value of a mapped field: as read, or the base
// when the record was not read (it has not changed since).
func (r *run) value(it *item, s int, fm fmap) (sdk.Value, bool) {
	if x := it.cur[s]; x != nil {
		return x.vals[fm.idx[s]], true
	}
	if x := it.thin[s]; x != nil && fm.fresh {
		return x.vals[fm.thin[s]], true
	}
	if b, ok := it.link.Base.Get(fm.key); ok {
		return pairSide(b, s), true
	}
	return sdk.Null, false
}

// val is mapping i's value on side s as the merge saw it (see value). Asked
// again where needed, not kept: an item held both sides' values of every
// mapping, ~1.8 KB, and an incremental run holds all its items until they
// are written. Only the item's base changes after planning, one mapping at
// a time and after that mapping's values were asked for.
func (r *run) val(it *item, s, i int) sdk.Value {
	v, _ := r.value(it, s, r.maps[i])
	return v
}

// verdict is a side's filter verdict for a link: evaluated when the record is
// known, else the one stored with the link.
func (r *run) verdict(it *item, s int) bool {
	if x := it.cur[s]; x != nil {
		ok, err := r.passes(r.sides[s], x)
		if err != nil {
			r.fail(it, s, x.id, "filter", "", "", err.Error(), "")
			return false
		}
		return ok
	}
	by := it.link.ExcludedBy
	return !(by == "both" || by == sideNames[s])
}

// planLink merges a link field by field and builds the patches.
func (r *run) planLink(it *item) {
	pass := [2]bool{r.verdict(it, sideL), r.verdict(it, sideR)}
	if !pass[sideL] || !pass[sideR] {
		switch {
		case !pass[sideL] && !pass[sideR]:
			it.excludedBy = "both"
		case !pass[sideL]:
			it.excludedBy = syncdef.Left
		default:
			it.excludedBy = syncdef.Right
		}
		for s := range sideNames {
			if !pass[s] {
				r.report.side(s).Excluded++
			}
		}
		return
	}
	it.dec = make([]decision, len(r.maps))
	var patch [2][]int
	for i, fm := range r.maps {
		lv, okL := r.value(it, sideL, fm)
		rv, okR := r.value(it, sideR, fm)
		if !okL || !okR {
			it.dec[i] = decSkip
			continue
		}
		b, has := it.link.Base.Get(fm.key)
		st := fieldState{
			HasBase:       has,
			Same:          r.cross(fm, lv, rv),
			LeftEmpty:     lv.IsEmpty(),
			RightEmpty:    rv.IsEmpty(),
			ToRight:       fm.flow[sideR],
			ToLeft:        fm.flow[sideL],
			Rule:          fm.rule,
			SkewWindow:    timeDuration(r.def.SkewWindow),
			SourceOfTruth: r.def.SourceOfTruth,
		}
		if has {
			st.LeftChanged = !r.sameSide(fm, sideL, lv, b.Left)
			st.RightChanged = !r.sameSide(fm, sideR, rv, b.Right)
		}
		st.LeftModified, st.RightModified = it.modified(sideL), it.modified(sideR)
		it.dec[i] = decide(st)
		switch it.dec[i] {
		case decToRight:
			patch[sideR] = append(patch[sideR], i)
		case decToLeft:
			patch[sideL] = append(patch[sideL], i)
		case decConflict:
			it.conflicts = append(it.conflicts, i)
		}
	}
	for t := range sideNames {
		if len(patch[t]) == 0 {
			continue
		}
		src := other(t)
		op := &sdk.Op{Kind: sdk.OpUpdate, ID: linkID(it.link, t), IfVersion: r.knownVersion(it, t)}
		ok := true
		for _, i := range patch[t] {
			fm := r.maps[i]
			v, err := convert(fm, src, r.val(it, src, i))
			if err != nil {
				r.failConversion(it, src, fm, r.val(it, src, i), err)
				ok = false
				continue
			}
			op.Fields = append(op.Fields, fm.field[t].Name)
			op.Values = append(op.Values, v)
			it.opMaps[t] = append(it.opMaps[t], i)
		}
		if ok && r.validate(it, t, op, false) {
			it.ops[t] = op
			if r.posts[t] != nil {
				// Only match keys are asked for (keyValue): an update of
				// other fields keeps no map (one of ten values was ~900
				// bytes an item).
				var post map[int]sdk.Value
				for j, i := range it.opMaps[t] {
					if idx := r.maps[i].idx[t]; r.isKey(t, idx) {
						if post == nil {
							post = map[int]sdk.Value{}
						}
						post[idx] = op.Values[j]
					}
				}
				if post != nil {
					r.posts[t][op.ID] = post
				}
			}
		} else {
			it.opMaps[t] = nil
		}
	}
}

// modified is when the item's record on side s last changed, as read
// (zero when not read).
func (it *item) modified(s int) time.Time {
	if x := it.cur[s]; x != nil {
		return x.mod
	}
	if x := it.thin[s]; x != nil {
		return x.mod
	}
	return time.Time{}
}

func (r *run) knownVersion(it *item, s int) string {
	if x := it.cur[s]; x != nil {
		return x.version
	}
	return linkVersion(it.link, s)
}

// sourceID is the id of the record on side src whose data an item writes.
func sourceID(it *item, src int) string {
	if it.link != nil {
		return linkID(it.link, src)
	}
	return it.cur[src].id
}

func (r *run) failConversion(it *item, src int, fm fmap, v sdk.Value, err error) {
	t := other(src)
	ve, _ := err.(*mapping.ValidationError)
	hint := ""
	if ve != nil {
		hint = ve.Hint
	}
	r.fail(it, src, sourceID(it, src), "validation", fm.field[src].Name, v.Text(),
		fmt.Sprintf("%s.%s: %v", sideNames[t], fm.field[t].Name, err), hint)
}

// validate checks an op against the destination's schema; failures are
// reported on the source record, named by its own field.
func (r *run) validate(it *item, t int, op *sdk.Op, create bool) bool {
	verrs := r.sides[t].valid.Record(op.Fields, op.Values, create)
	if len(verrs) == 0 {
		return true
	}
	src := other(t)
	for _, ve := range verrs {
		field := ve.Field
		for _, fm := range r.maps {
			if fm.field[t].Name == ve.Field {
				field = fm.field[src].Name
			}
		}
		msg := fmt.Sprintf("%s.%s: %s", sideNames[t], ve.Field, ve.Message)
		if ve.Rule != "" {
			msg = fmt.Sprintf("%s (%s)", msg, ve.Rule)
		}
		r.fail(it, src, sourceID(it, src), "validation", field, ve.Value, msg, ve.Hint)
	}
	return false
}

// planCreate plans the create of record x (on side src) on the other side.
// Its op is built with its batch (buildCreate): a run holding an op per
// record of a large first fill held every value twice.
func (r *run) planCreate(src int, x *rec) {
	it := &item{kind: itemCreate, src: src, unbuilt: true}
	it.cur[src] = x
	r.items = append(r.items, it)
}

// buildCreate converts and validates the create of an item planned by
// planCreate; a record that can't be created gets its errors instead.
func (r *run) buildCreate(it *item) {
	if !it.unbuilt {
		return
	}
	it.unbuilt = false
	src := it.src
	x := it.cur[src]
	t := other(src)
	ts := r.sides[t]
	op := &sdk.Op{Kind: sdk.OpCreate, CorrelationID: store.NewID(),
		Fields: make([]string, 0, len(r.maps)+1), Values: make([]sdk.Value, 0, len(r.maps)+1)}
	it.opMaps[t] = make([]int, 0, len(r.maps)+1)
	ok := r.createValues(src, x, op, &it.opMaps[t], func(fm fmap, v sdk.Value, err error) {
		r.failConversion(it, src, fm, v, err)
	})
	if ext := ts.obj.ExternalIDField; ext != "" && !r.mappedOn(t, ext) {
		if f, ok := ts.obj.Field(ext); ok && !f.ReadOnly {
			op.Fields = append(op.Fields, ext)
			op.Values = append(op.Values, sdk.String(op.CorrelationID))
			it.opMaps[t] = append(it.opMaps[t], -1)
		}
	}
	if ok && r.validate(it, t, op, true) {
		it.ops[t] = op
	} else {
		it.opMaps[t] = nil
	}
}

// createValues appends to op what a create of record x, of side src,
// writes on the other side: each mapping's field there and the converted
// value, skipping read-only fields and empty values, and the mapping's
// index to opMaps. A value that does not convert goes to fail; it reports
// whether none failed.
func (r *run) createValues(src int, x *rec, op *sdk.Op, opMaps *[]int, fail func(fmap, sdk.Value, error)) bool {
	t := other(src)
	ok := true
	for i, fm := range r.maps {
		if fm.field[t].ReadOnly {
			continue
		}
		v := x.vals[fm.idx[src]]
		if v.IsEmpty() {
			continue
		}
		w, err := convert(fm, src, v)
		if err != nil {
			fail(fm, v, err)
			ok = false
			continue
		}
		op.Fields = append(op.Fields, fm.field[t].Name)
		op.Values = append(op.Values, w)
		*opMaps = append(*opMaps, i)
	}
	return ok
}

// planDelete propagates the delete of a link's record on side gone.
func (r *run) planDelete(l *store.Link, gone int, keep *rec) {
	t := other(gone)
	nl := *l
	it := &item{kind: itemDelete, link: &nl, src: gone}
	it.cur[t] = keep
	version := linkVersion(l, t)
	if keep != nil && keep.read {
		version = keep.version
	}
	it.ops[t] = &sdk.Op{Kind: sdk.OpDelete, ID: linkID(l, t), IfVersion: version}
	r.deleting[t][linkID(l, t)] = true
	r.items = append(r.items, it)
}

// report reports a record that cannot be matched safely.
func (r *run) reportRecord(src int, x *rec, category, field, value, msg string) {
	it := &item{kind: itemReport, src: src}
	it.cur[src] = x
	r.fail(it, src, x.id, category, field, value, msg, "")
	r.items = append(r.items, it)
}

func joinIDs(ids []string) string { return strings.Join(ids, ", ") }
