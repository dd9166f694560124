package engine

import (
	"context"
	"hash/maphash"
	"slices"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// echoes settles a side's echoes as its read comes in, when the last run
// wrote there more than a lazy run looks up one by one and the connector
// did not mark them (see side.mark): each read batch's links are looked up
// in the store, and a record at its linked version, whose link needs
// nothing, is kept only as a hash of its id and version. The run so holds
// neither those records nor their links (every link of a million was
// ~400 bytes, and each record read ~150).
//
// Unlike a narrow record that settles (run.settles), an echo settles even
// if the other side's read finds its partner deleted. A record at its
// linked version is what its base says, which is all that a delete,
// propagated or not, looks at; and should it be matched anew, it is looked
// up with its values, as any record not read (lookupCandidates: no side of
// such a run is read completely).
type echoes struct {
	r *run
	s *side
	// seen: records settled, by id hash, with their version's hash. A
	// colliding id only makes a record look unsettled (read again, merged:
	// more work, not less); being taken for settled needs its version's
	// hash to collide too.
	seen map[uint64]uint64
	// links: of each record settled, its id hash and its link's left id
	// hash, to count the links they leave unchanged (see settledLinks).
	links [][2]uint64
	// open: records are settled as they come (the run's first read of the
	// side); after it, the records settled are left out of a second read.
	open bool
}

// newEchoes starts settling side s's echoes.
func newEchoes(r *run, s *side) *echoes {
	return &echoes{r: r, s: s, seen: map[uint64]uint64{}, open: true}
}

// echoHash hashes an id or a version of an echo. Both sides hash with the
// run's seed, so that their settled links can be counted together.
func (r *run) echoHash(s string) uint64 { return maphash.String(r.echoSeed, s) }

// settled reports whether the record is one settled at that version.
func (e *echoes) settled(id, version string) bool {
	v, ok := e.seen[e.r.echoHash(id)]
	return ok && v == e.r.echoHash(version)
}

// unsettle takes a record out of the settled ones: a tombstone or a later
// version of it came.
func (e *echoes) unsettle(id string) { delete(e.seen, e.r.echoHash(id)) }

// settledCount counts the side's settled records (none without echoes).
func (s *side) settledCount() int {
	if s.echo == nil {
		return 0
	}
	return len(s.echo.seen)
}

// has reports whether a record of the side is settled, at any version.
func (e *echoes) has(id string) bool {
	_, ok := e.seen[e.r.echoHash(id)]
	return ok
}

// lookup looks up the links of a read batch's live records: by id, with
// the bases left out that hold exactly the run's mappings (settling needs
// no more).
func (e *echoes) lookup(ctx context.Context, recs []sdk.Record) (map[string]*store.Link, error) {
	ids := make([]string, 0, len(recs))
	for i := range recs {
		if !recs[i].Deleted {
			ids = append(ids, recs[i].ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	ls, err := e.r.e.store.RunLinksFor(ctx, e.r.def.Name, e.s.name, ids, e.r.mapKeys)
	if err != nil {
		return nil, err
	}
	by := make(map[string]*store.Link, len(ls))
	for i := range ls {
		by[linkID(&ls[i], e.s.i)] = &ls[i]
	}
	return by, nil
}

// settle reports whether record x, linked by l, settles now, and keeps it
// as settled if so: at its linked version, with no pending work or errors,
// its link syncing with a base of the run's mappings, or more (a mapping
// removed since: see run.trusts), and no conflict (run.settles, but for
// its partner: see echoes). The two sides' reads settle at once: nothing
// here writes to the run (settledLink's cache of bases is not asked).
func (e *echoes) settle(l *store.Link, x *sdk.Record) bool {
	r := e.r
	if l == nil || !r.inStep(l) || !baseHolds(l, r.mapKeys) ||
		!r.atLinkedVersion(l, e.s.i, &rec{id: x.ID, version: x.Version, read: true}) {
		return false
	}
	h := e.r.echoHash(x.ID)
	e.seen[h] = e.r.echoHash(x.Version)
	e.links = append(e.links, [2]uint64{h, e.r.echoHash(l.LeftID)})
	return true
}

// echoSettled reports whether a record of link l was settled as an echo.
func (r *run) echoSettled(l *store.Link) bool {
	for s, x := range r.sides {
		if x.echo != nil && x.echo.has(linkID(l, s)) {
			return true
		}
	}
	return false
}

// settledLinks counts the links that both sides' settled records leave
// unchanged: those of a settled record, once each, but for the links the
// run loaded (one of their records did not settle, or its partner is gone:
// the run looks at them itself).
func (r *run) settledLinks() int {
	var lefts []uint64
	for _, s := range r.sides {
		if e := s.echo; e != nil {
			for _, p := range e.links {
				if _, ok := e.seen[p[0]]; ok {
					lefts = append(lefts, p[1])
				}
			}
		}
	}
	if len(lefts) == 0 {
		return 0
	}
	loaded := make(map[uint64]bool, len(r.links))
	for id := range r.links {
		loaded[r.echoHash(id)] = true
	}
	slices.Sort(lefts)
	n := 0
	for _, h := range slices.Compact(lefts) {
		if !loaded[h] {
			n++
		}
	}
	return n
}
