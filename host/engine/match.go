package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// keyNorm is the form match keys are compared in: normalized by type and
// case-folded, so " Bob@X.io" finds "bob@x.io"; "" means no key.
func (r *run) keyNorm(s, k int, v sdk.Value) string {
	f := r.sides[s].flds[r.keys[k][s]]
	return strings.ToLower(mapping.Normalize(v, f.Type))
}

// match pairs the unlinked records of both sides by their keys, reports the
// ones that can't be paired safely, and plans the creates.
func (r *run) match(ctx context.Context, unlinked [2][]*rec) error {
	if len(unlinked[sideL])+len(unlinked[sideR]) == 0 {
		r.posts = [2]map[string]map[int]sdk.Value{} // nothing to pair: no key index to build
		return nil
	}
	for t := range sideNames {
		if err := r.lookupCandidates(ctx, t, unlinked[other(t)]); err != nil {
			return err
		}
	}
	// index[s][k][norm] → known records of side s with that key value.
	var index [2][]map[string][]*rec
	for s, sd := range r.sides {
		index[s] = make([]map[string][]*rec, len(r.keys))
		for k := range r.keys {
			index[s][k] = map[string][]*rec{}
		}
		for _, id := range slices.Sorted(maps.Keys(sd.recs)) {
			x := sd.recs[id]
			if r.deleting[s][id] {
				continue // about to go: its key is free for a newcomer
			}
			for k := range r.keys {
				if n := r.keyNorm(s, k, r.keyValue(s, x, k)); n != "" {
					index[s][k][n] = append(index[s][k][n], x)
				}
			}
		}
	}
	// The index holds the keys as planned writes leave them; the pairs
	// planned from here on are not indexed again.
	r.posts = [2]map[string]map[int]sdk.Value{}
	matched := map[*rec]bool{}
	for src := range sideNames {
		t := other(src)
		for _, x := range unlinked[src] {
			if matched[x] {
				continue
			}
			pass, err := r.passes(r.sides[src], x)
			if err != nil {
				r.reportRecord(src, x, "filter", "", "", err.Error())
				continue
			}
			anyKey, found, dupMsg := false, (*rec)(nil), ""
			for k := range r.keys {
				n := r.keyNorm(src, k, x.vals[r.keys[k][src]])
				if n == "" {
					continue
				}
				anyKey = true
				if own := index[src][k][n]; len(own) > 1 {
					dupMsg = r.shareMsg(src, k, recIDs(own), n)
					break
				}
				cand := index[t][k][n]
				if len(cand) > 1 {
					dupMsg = r.shareMsg(t, k, recIDs(cand), n)
					break
				}
				if len(cand) == 1 {
					c := cand[0]
					if l := r.linkOf(t, c.id); l != nil && (l.State == store.LinkLeftDeleted || l.State == store.LinkRightDeleted) {
						// The survivor of a delete that was not propagated
						// belongs to no one: it pairs with the newcomer.
						r.dropLink(l)
					}
					if r.linked(t, c.id) {
						partner := r.partner(t, c.id)
						dupMsg = fmt.Sprintf("%s %q already belongs to %s record %s (linked to %s record %s)",
							r.sides[t].fields[r.keys[k][t]], n, r.sides[t].name, c.id, r.sides[src].name, partner)
					} else if matched[c] {
						dupMsg = r.takenMsg(t, c.id, n)
					} else {
						found = c
					}
					break
				}
			}
			if found != nil {
				matched[x], matched[found] = true, true
			}
			r.place(src, x, pass, anyKey, dupMsg, found)
		}
	}
	return nil
}

// place acts on what matching found for unlinked record x of side src
// (pass: its filter's verdict; anyKey: it has a key value): a shared key
// (dupMsg) is reported, a match (found) paired; else x is created on the
// other side, if the sync creates there.
func (r *run) place(src int, x *rec, pass, anyKey bool, dupMsg string, found *rec) {
	t := other(src)
	switch {
	case dupMsg != "":
		if pass {
			r.reportRecord(src, x, "duplicate_identifier", "", "", dupMsg)
		}
	case found != nil:
		r.pair(src, x, found)
	case !pass:
		r.report.side(src).Excluded++
		r.forget(src, x.id) // an old snapshot must not sync it later
	case !anyKey:
		names := make([]string, len(r.keys))
		for k := range r.keys {
			names[k] = r.sides[src].fields[r.keys[k][src]]
		}
		r.reportRecord(src, x, "missing_identifier", names[0], "",
			fmt.Sprintf("%s record %s has no value in %s, so it cannot be matched", r.sides[src].name, x.id, strings.Join(names, " or ")))
	case r.def.CreatesIn(r.sides[t].name) && !r.sides[t].obj.ReadOnly:
		r.planCreate(src, x)
	default:
		r.forget(src, x.id)
	}
}

// shareMsg says that records ids of side s share the value n of key k.
func (r *run) shareMsg(s, k int, ids []string, n string) string {
	return fmt.Sprintf("%s records %s share %s %q", r.sides[s].name, joinIDs(ids), r.sides[s].fields[r.keys[k][s]], n)
}

// takenMsg says that record id of side s, whose key value is n, is already
// matched to another record.
func (r *run) takenMsg(s int, id, n string) string {
	return fmt.Sprintf("%s record %s is already matched to another record by %q", r.sides[s].name, id, n)
}

// pair links record x of side src with record y of the other side, newly
// matched, and plans the merge.
func (r *run) pair(src int, x, y *rec) {
	l := &store.Link{State: store.LinkSyncing}
	it := &item{kind: itemLink, link: l, isNew: true}
	it.cur[src], it.cur[other(src)] = x, y
	if src == sideL {
		l.LeftID, l.RightID = x.id, y.id
	} else {
		l.LeftID, l.RightID = y.id, x.id
	}
	r.items = append(r.items, it)
	r.planLink(it)
}

func recIDs(xs []*rec) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.id
	}
	return out
}

func (r *run) linkOf(s int, id string) *store.Link {
	if s == sideL {
		return r.links[id]
	}
	return r.byRight[id]
}

func (r *run) partner(s int, id string) string {
	if s == sideL {
		return r.links[id].RightID
	}
	return r.byRight[id].LeftID
}

// lookupCandidates finds, on side t (read incrementally), the records that
// the unlinked records of the other side may match: they did not change, so
// the read did not return them. A connector without Lookup is read in full.
func (r *run) lookupCandidates(ctx context.Context, t int, from []*rec) error {
	ts := r.sides[t]
	if ts.full || len(from) == 0 {
		return nil
	}
	src := other(t)
	for k, key := range r.keys {
		seen := map[string]bool{}
		var vals []sdk.Value
		for _, x := range from {
			v := x.vals[key[src]]
			if r.keyNorm(src, k, v) == "" {
				continue
			}
			for _, txt := range []string{strings.TrimSpace(v.Text()), r.keyNorm(src, k, v)} {
				if !seen[txt] {
					seen[txt] = true
					vals = append(vals, sdk.String(txt))
				}
			}
		}
		for start := 0; start < len(vals); start += 500 {
			batch := vals[start:min(len(vals), start+500)]
			recs, err := ts.conn.Lookup(ctx, sdk.LookupRequest{Object: ts.obj.Name, Field: ts.fields[key[t]], Values: batch, Fields: ts.fields})
			if err != nil {
				cat := sdk.CategoryOf(err)
				if lookupFatal(ctx, cat) {
					return &RunError{Side: ts.name, Connection: ts.def.Connection, Category: cat, Err: fmt.Errorf("lookup: %w", err)}
				}
				return r.readCandidates(ctx, ts)
			}
			ids := make([]string, 0, len(recs))
			for _, x := range recs {
				r.addCandidate(ts, x)
				ids = append(ids, x.ID)
			}
			if err := r.ensureLinks(ctx, t, ids); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookupFatal reports whether a failed Lookup (of category cat) stops the
// run: the connection or the run failed, where a connector that declines
// the lookup is done without (read instead, or waited for).
func lookupFatal(ctx context.Context, cat sdk.Category) bool {
	return cat == sdk.CategoryAuth || cat == sdk.CategoryUnreachable || cat == sdk.CategoryForbidden || cat.Retryable() || ctx.Err() != nil
}

func (r *run) addCandidate(ts *side, x sdk.Record) {
	if x.Deleted || ts.tomb[x.ID] || len(x.Values) != len(ts.fields) {
		return
	}
	if _, ok := ts.recs[x.ID]; ok {
		return
	}
	ts.recs[x.ID] = &rec{id: x.ID, version: x.Version, mod: x.ModifiedAt, vals: x.Values, lookup: true}
}

// candSink adds a full read's records as match candidates only.
type candSink struct {
	r  *run
	ts *side
}

func (c candSink) Records(recs []sdk.Record) error {
	for _, x := range recs {
		c.r.addCandidate(c.ts, x)
	}
	return nil
}

func (c candSink) Checkpoint(string) error { return nil }

func (r *run) readCandidates(ctx context.Context, ts *side) error {
	if err := ts.conn.Read(ctx, sdk.ReadRequest{Object: ts.obj.Name, Fields: ts.fields}, candSink{r, ts}); err != nil {
		return &RunError{Side: ts.name, Connection: ts.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", ts.obj.Name, err)}
	}
	ids := make([]string, 0, len(ts.recs))
	for id := range ts.recs {
		ids = append(ids, id)
	}
	return r.ensureLinks(ctx, ts.i, ids)
}
