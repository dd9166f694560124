package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/datasync-io/datasync/host/filter"
	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

const (
	sideL = 0
	sideR = 1
)

var sideNames = [2]string{syncdef.Left, syncdef.Right}

func other(s int) int { return 1 - s }

// rec is one record as known this run.
type rec struct {
	id      string
	version string
	mod     time.Time
	vals    []sdk.Value // aligned with side.fields
	read    bool        // read this run (else: a pending snapshot or a lookup hit)
	pending bool        // came from a pending snapshot
	due     bool        // pending snapshot due for a retry
	held    bool        // read, but unchanged since it failed and not due: left alone
	lookup  bool        // found by Lookup, only a match candidate
	// narrow: read by a narrow read, vals holds only its match keys, in the
	// order of run.keys. One readBoth keeps is settled: at its linked
	// version, needing nothing.
	narrow bool
	passed *bool // filter verdict, computed once
}

// isKey reports whether field i of side s is a match key.
func (r *run) isKey(s, i int) bool {
	for _, k := range r.keys {
		if k[s] == i {
			return true
		}
	}
	return false
}

// keyValue is record x's value of match key k (on side s) as it will be
// after this run's planned writes.
func (r *run) keyValue(s int, x *rec, k int) sdk.Value {
	i := r.keys[k][s]
	if v, ok := r.posts[s][x.id][i]; ok {
		return v
	}
	if x.narrow {
		return x.vals[k]
	}
	return x.vals[i]
}

// side is one end of the sync during a run.
type side struct {
	i       int
	name    string
	def     syncdef.Side
	conn    Conn
	obj     sdk.ObjectType
	fields  []string    // the fields read, in schema order
	flds    []sdk.Field // their schema, aligned with fields
	idx     map[string]int
	filter  *filter.Program
	valid   *mapping.Validator
	recs    map[string]*rec
	tomb    map[string]bool // deleted this run (tombstone, or absent from a full read)
	full    bool            // this run read the side completely
	narrow  []string        // a narrow read's fields: the match keys, in the order of run.keys
	cursor  string
	hasCurs bool
	// marks: of this run's writes to the side (sdk.WriteResult.Mark), for
	// its next incremental read to skip; marked, their set.
	marks     []string
	marked    map[string]bool
	markBytes int
	tooMany   bool // more than maxMarks (or maxMarkBytes): none are kept, the echoes are read
	// digested: a complete read was spared, as a digest showed every record
	// at its linked version (see verifyByDigest); the side is not read.
	digested bool
	// partial: the buckets (of nbuckets) where the digest disagreed, the
	// only ones read; expect: the ids of their linked records, those the
	// read does not return being gone.
	partial  []int
	nbuckets int
	expect   []string
	// echo: this run settles the side's echoes as they are read (see echoes).
	echo *echoes
	// cut: the read stopped at a checkpoint once it had taken in sliceMax
	// records (see Engine.Run); cursor is that checkpoint's.
	cut bool
}

// maxMarks bounds the marks kept for a side: a connector marking every
// record (one transaction each) would otherwise hand its next read a list
// as long as the run's writes. maxMarkBytes bounds their size: one mark may
// name many records (SQLite's set marks, a few bytes a row), and the list
// is stored with the cursor and sent with every read.
const (
	maxMarks     = 20000
	maxMarkBytes = 4 << 20
)

// overMarks reports whether marks are more than a side keeps.
func overMarks(marks []string) bool {
	n := 0
	for _, m := range marks {
		n += len(m)
	}
	return len(marks) > maxMarks || n > maxMarkBytes
}

// mark notes a write's mark. A mark is a slice of the write response's
// bytes: it is kept as a copy, not to pin them.
func (s *side) mark(m string) {
	if s.tooMany || s.marked[m] {
		return
	}
	if len(s.marks) == maxMarks || s.markBytes+len(m) > maxMarkBytes {
		s.tooMany, s.marks, s.marked = true, nil, nil
		return
	}
	s.markBytes += len(m)
	if s.marked == nil {
		s.marked = map[string]bool{}
	}
	m = strings.Clone(m)
	s.marked[m] = true
	s.marks = append(s.marks, m)
}

// fmap is one mapping resolved against the schemas.
type fmap struct {
	m     mapping.FieldMap
	key   string
	field [2]sdk.Field
	idx   [2]int
	flow  [2]bool // flow[R]: left→right changes may be written to the right
	rule  mapping.Rule
	// fresh: the mapping is new to the cursors (added or changed since the
	// last complete run, see trusts); thin: where a narrow read puts its
	// field in a record's values, per side.
	fresh bool
	thin  [2]int
}

func mapKey(m mapping.FieldMap) string { return m.Left + "=" + m.Right }

// run is the state of one run (or plan) of one sync.
type run struct {
	e       *Engine
	ctx     context.Context
	def     syncdef.Definition
	opts    Options
	id      string
	now     time.Time // when the run began, its first slice: retries are due by it (Options.started)
	sides   [2]*side
	maps    []fmap
	keys    [][2]int // match keys as field indexes per side
	mapKeys []string // maps' keys, in order

	links   map[string]*store.Link // by left id
	byRight map[string]*store.Link
	pending map[[2]string]store.Pending // (side, id)
	errs    map[[2]string][]store.RecordError
	confl   map[[2]string]store.Conflict // (left id, mapping key)
	fp      string                       // fingerprint of the definition, stored with the cursors
	// fp2, legacyFP: the fingerprint in the forms stores kept before fp's
	// (see fingerprint2, legacyFingerprint), trusted as fp is.
	fp2, legacyFP string

	// posts: side → id → field index → value about to be written, for
	// match's key index; nil once it is built (or in a streamed run, which
	// has none): what is planned after it is not looked at again.
	posts    [2]map[string]map[int]sdk.Value
	deleting [2]map[string]bool // records this run is about to delete
	pre      store.Batch        // link removals and state changes that need no write
	issues   []store.RecordError
	// failedWrites: the run's failed writes, for a run of several slices
	// to count only those whose error outlives it (see Engine.Run).
	failedWrites []failedWrite
	items        []*item
	report       Report
	scratch      store.Base // reused by finalizeCreate
	// journaled: the creates an interrupted run left in the journal, as
	// loadLinks found them, for settleJournal.
	journaled []store.JournalEntry
	enc       []byte // reused to encode bases and history
	// createKeys: store.BaseKeys of every mapping's key, which is that of
	// the base of every link a create makes (createBase).
	createKeys string
	// createMaps: a digest of the mappings, journaled with each create, so
	// that a recovered create's base is worked out again only under the
	// mappings it was created with (recoveredBase).
	createMaps string

	// lazy: only the links of records this run deals with are loaded (both
	// sides read incrementally), through ensureLinks; else all of them.
	lazy bool
	// trustVersions: the last complete run synced this definition, or one
	// with more mappings (see trusts), so a record still at its linked
	// version needs nothing (see unchanged).
	trustVersions bool
	// backfill: the fresh mappings are merged after the sides are read
	// incrementally, a page of links at a time (see backfill.go), rather
	// than from a complete read of both.
	backfill bool
	// fresh: some mappings are new to the cursors (fmap.fresh), which are
	// trusted for the others: every record is read, those at their linked
	// versions narrow with the fresh mappings' fields, and every link is
	// merged for the fresh mappings, the base standing for the others.
	fresh       bool
	trustedKeys []string // the keys of the mappings not fresh
	// freshFilters: a filter changed since the cursors were read, which are
	// trusted otherwise: both sides are read completely, those at their
	// linked versions narrow with the filters' fields, and a record of a
	// link that syncs needs nothing if it still passes (see settles,
	// unchanged); a changed verdict is merged, as any record not settled.
	freshFilters bool
	hasLinks     bool
	allLinks     bool    // every link is to be loaded, and is not yet (see loadLinks)
	nlinks       int     // how many links, once countLinks counted them (-1 before)
	wrote        [2]int  // records the previous run wrote to each side (see lastWrites; incremental runs only)
	stream       *stream // a streamed first run (see stream.go)
	cursors      map[string]store.Cursor
	queried      [2]map[string]bool   // ids whose links were looked up
	loaded       map[string]bool      // left ids of links loaded: a dropped one is not loaded again
	echoSeed     maphash.Seed         // of the sides' echoes (see echoes)
	covers       map[*store.Link]bool // whether an encoded base covers every mapping (see settledLink)
	// slicing: the sides' reads stop at a checkpoint past Engine.sliceMax
	// records (see Engine.Run, sink.Checkpoint).
	slicing bool
	// tried: the records (side, id) that failed in this run, its earlier
	// slices' (Options.tried) and this one's, which a backfill leaves alone
	// (see backfillAll).
	tried map[[2]string]bool
}

// cut reports whether a side's read stopped short (see side.cut): the run
// goes on with another slice.
func (r *run) cut() bool { return r.sides[sideL].cut || r.sides[sideR].cut }

// errSliceCut is what a sink returns from Checkpoint to stop a read at the
// end of a slice; read takes it as a clean stop.
var errSliceCut = errors.New("read stopped at a slice's end")

func (e *Engine) prepare(ctx context.Context, def syncdef.Definition, opts Options, runID string) (*run, error) {
	def = def.WithDefaults()
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", def.Name, err)
	}
	r := e.newRun(ctx, def, opts, runID)
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	if err := r.loadLinks(ctx); err != nil {
		return nil, err
	}
	if err := r.settleJournal(ctx); err != nil {
		return nil, err
	}
	if r.canStream() {
		return r, r.startStream(ctx)
	}
	if err := r.readBoth(ctx); err != nil {
		return nil, err
	}
	r.addPending()
	if err := r.refreshSnapshots(ctx); err != nil {
		return nil, err
	}
	if err := r.safetyCheck(); err != nil {
		return nil, err
	}
	if r.backfill || r.cut() {
		if err := r.lookupPartners(ctx); err != nil {
			return nil, err
		}
	}
	unlinked, err := r.processLinks(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.match(ctx, unlinked); err != nil {
		return nil, err
	}
	return r, nil
}

// newRun returns the state of a run (or plan, or admin action) of def,
// before anything is opened or read.
func (e *Engine) newRun(ctx context.Context, def syncdef.Definition, opts Options, runID string) *run {
	now := opts.started
	if now.IsZero() {
		now = e.now()
	}
	r := &run{e: e, ctx: ctx, def: def, opts: opts, id: runID, now: now,
		links: map[string]*store.Link{}, byRight: map[string]*store.Link{},
		pending: map[[2]string]store.Pending{}, errs: map[[2]string][]store.RecordError{},
		confl: map[[2]string]store.Conflict{}, posts: [2]map[string]map[int]sdk.Value{{}, {}},
		deleting: [2]map[string]bool{{}, {}}, covers: map[*store.Link]bool{}, nlinks: -1}
	r.pre.Sync = def.Name
	r.report.Sync = def.Name
	return r
}

// open dials both sides, loads their schemas and resolves the mappings.
func (r *run) open(ctx context.Context) error {
	openSide := func(i int, sd syncdef.Side) error {
		s := r.sides[i]
		conn, err := r.e.dial(ctx, sd.Connection)
		if err != nil {
			return &RunError{Side: s.name, Connection: sd.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("connect: %w", err)}
		}
		s.conn = conn
		schema, err := conn.Schema(ctx)
		if err != nil {
			return &RunError{Side: s.name, Connection: sd.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("schema: %w", err)}
		}
		obj, ok := schema.Object(sd.Object)
		if !ok {
			return &RunError{Side: s.name, Connection: sd.Connection, Category: sdk.CategoryPermanent,
				Err: fmt.Errorf("object %q not found (the connection has %v)", sd.Object, schema.ObjectNames())}
		}
		s.obj = obj
		s.valid = mapping.NewValidator(obj)
		return nil
	}
	defs := [2]syncdef.Side{r.def.Left, r.def.Right}
	for i, sd := range defs {
		r.sides[i] = &side{i: i, name: sideNames[i], def: sd, recs: map[string]*rec{}, tomb: map[string]bool{}, idx: map[string]int{}}
	}
	// Two connections are opened at once (two plugin launches, two schema
	// calls): the fixed cost of every run, small ones above all.
	var errs [2]error
	if defs[sideL].Connection == defs[sideR].Connection {
		errs[sideL] = openSide(sideL, defs[sideL])
		if errs[sideL] == nil {
			errs[sideR] = openSide(sideR, defs[sideR])
		}
	} else {
		done := make(chan struct{})
		go func() {
			defer close(done)
			errs[sideR] = openSide(sideR, defs[sideR])
		}()
		errs[sideL] = openSide(sideL, defs[sideL])
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	ls, rs := r.sides[sideL], r.sides[sideR]
	if err := r.def.CheckSchemas(ls.obj, rs.obj); err != nil {
		return &RunError{Category: sdk.CategoryPermanent, Err: fmt.Errorf("sync %s does not fit the schemas: %w", r.def.Name, err)}
	}
	for i, expr := range [2]string{r.def.FilterLeft, r.def.FilterRight} {
		if expr == "" {
			continue
		}
		p, err := filter.Compile(expr, r.sides[i].obj.Fields)
		if err != nil {
			return &RunError{Side: sideNames[i], Category: sdk.CategoryPermanent, Err: fmt.Errorf("filter: %w", err)}
		}
		r.sides[i].filter = p
	}
	// Read only the fields the sync uses, its filters' included: records
	// of wide tables stay small in memory.
	for i, s := range r.sides {
		need := map[string]bool{s.obj.ExternalIDField: true}
		for _, m := range r.def.Mappings {
			need[[2]string{m.Left, m.Right}[i]] = true
		}
		for _, k := range r.def.Match {
			need[[2]string{k.Left, k.Right}[i]] = true
		}
		if s.filter != nil {
			for _, f := range s.filter.Fields() {
				need[f] = true
			}
		}
		for _, f := range s.obj.Fields {
			if need[f.Name] {
				s.idx[f.Name] = len(s.fields)
				s.fields = append(s.fields, f.Name)
				s.flds = append(s.flds, f)
			}
		}
	}
	for _, m := range r.def.Mappings {
		fm := fmap{m: m, key: mapKey(m), rule: r.def.MappingRule(m)}
		fm.field[sideL], _ = ls.obj.Field(m.Left)
		fm.field[sideR], _ = rs.obj.Field(m.Right)
		fm.idx = [2]int{ls.idx[m.Left], rs.idx[m.Right]}
		dir := r.def.MappingDirection(m)
		fm.flow[sideR] = dir != mapping.DirRightToLeft && !fm.field[sideR].ReadOnly && !rs.obj.ReadOnly
		fm.flow[sideL] = dir != mapping.DirLeftToRight && !fm.field[sideL].ReadOnly && !ls.obj.ReadOnly
		r.maps = append(r.maps, fm)
	}
	for _, k := range r.def.Match {
		r.keys = append(r.keys, [2]int{ls.idx[k.Left], rs.idx[k.Right]})
	}
	for _, fm := range r.maps {
		r.mapKeys = append(r.mapKeys, fm.key)
	}
	r.createKeys = store.BaseKeys(r.mapKeys)
	r.createMaps = fpHash(slices.Sorted(slices.Values(mappingHashes(r.def))))
	r.fp, r.fp2, r.legacyFP = fingerprint(r.def), fingerprint2(r.def), legacyFingerprint(r.def)
	return nil
}

// fingerprint identifies what cursors were read for: the sides and keys,
// the filters, and each mapping apart ("3:" then hex hashes, the mappings'
// sorted), so that a run can tell a filter changed or mappings removed
// since (see trusts).
func fingerprint(d syncdef.Definition) string {
	maps := slices.Sorted(slices.Values(mappingHashes(d)))
	return fpPrefix + fpHash([]any{d.Left, d.Right, d.Match}) + ":" + fpHash([]string{d.FilterLeft, d.FilterRight}) +
		":" + strings.Join(maps, ",")
}

// fingerprint2 is the form fingerprints took before filters were hashed
// apart ("2:", the filters in the first hash), still trusted as fingerprint.
func fingerprint2(d syncdef.Definition) string {
	maps := slices.Sorted(slices.Values(mappingHashes(d)))
	return fp2Prefix + fpHash([]any{d.Left, d.Right, d.Match, d.FilterLeft, d.FilterRight}) + ":" + strings.Join(maps, ",")
}

const (
	fpPrefix  = "3:"
	fp2Prefix = "2:"
)

func fpHash(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// mappingHashes are the fingerprint's hashes of d's mappings, in d's order.
func mappingHashes(d syncdef.Definition) []string {
	maps := make([]string, len(d.Mappings))
	for i, m := range d.Mappings {
		maps[i] = fpHash(m)
	}
	return maps
}

// legacyFingerprint is the fingerprint cursors were stored with before
// mappings were hashed apart: one hash of the whole.
func legacyFingerprint(d syncdef.Definition) string {
	return fpHash([]any{d.Left, d.Right, d.Match, d.Mappings, d.FilterLeft, d.FilterRight})
}

// trust is what a run may take from a side's cursor (see trusts).
type trust struct {
	ok bool // the cursor was read for the run's sides and keys
	// fresh: the run's mappings (indexes into run.maps) it was not read
	// for; filters: it was read under other filters.
	fresh   []int
	filters bool
}

// trusts says what a cursor stored with fingerprint old was read for: the
// same sides and keys as this run, or not (then nothing of it is trusted),
// under the same filters or not, and which of the run's mappings it was
// not read for: the fresh ones. A record in step for a set of mappings is
// in step for any of them, so removing a mapping (~7 GB and 79 s of
// re-merging a million records) keeps the versions trusted; a mapping
// added or changed is fresh, and only it needs every record's values (see
// run.fresh); changed filters need every record's verdict (see
// run.freshFilters).
func (r *run) trusts(old string) trust {
	if old == r.fp || old == r.fp2 || old == r.legacyFP {
		return trust{ok: true}
	}
	var t trust
	var oldMaps string
	switch {
	case strings.HasPrefix(old, fpPrefix):
		parts := strings.SplitN(strings.TrimPrefix(old, fpPrefix), ":", 3)
		now := strings.SplitN(strings.TrimPrefix(r.fp, fpPrefix), ":", 3)
		if len(parts) != 3 || parts[0] != now[0] {
			return trust{}
		}
		t.filters, oldMaps = parts[1] != now[1], parts[2]
	case strings.HasPrefix(old, fp2Prefix):
		// The filters are in the first hash: a change to them cannot be
		// told from one to the sides or keys.
		oldBase, maps, ok := strings.Cut(strings.TrimPrefix(old, fp2Prefix), ":")
		base, _, _ := strings.Cut(strings.TrimPrefix(r.fp2, fp2Prefix), ":")
		if !ok || oldBase != base {
			return trust{}
		}
		oldMaps = maps
	default:
		return trust{}
	}
	t.ok = true
	had := strings.Split(oldMaps, ",")
	for i, m := range mappingHashes(r.def) {
		if !slices.Contains(had, m) {
			t.fresh = append(t.fresh, i)
		}
	}
	return t
}

// loadLinks decides how each side is read and loads the links the run
// needs: all of them when a side is read completely (its missing records
// are deletes), else only those of the records the run deals with, as it
// meets them (ensureLinks): an incremental run of a few changes does not
// load a million links.
func (r *run) loadLinks(ctx context.Context) error {
	cursors, err := r.e.store.Cursors(ctx, r.def.Name)
	if err != nil {
		return err
	}
	has, err := r.e.store.HasLinks(ctx, r.def.Name)
	if err != nil {
		return err
	}
	r.cursors, r.hasLinks = cursors, has
	// Creates an interrupted run journaled are settled before the reads
	// (settleJournal), into links no digest below would have summed.
	if r.journaled, err = r.e.store.Journal(ctx, r.def.Name); err != nil {
		return err
	}
	// Per side: whether its cursor is trusted, and for which mappings and
	// filters not.
	var t [2]trust
	for _, s := range r.sides {
		t[s.i] = r.trusts(cursors[s.name].Fingerprint)
	}
	r.trustVersions = t[sideL].ok && t[sideR].ok
	filters := t[sideL].filters || t[sideR].filters
	if r.trustVersions && !r.e.noFresh {
		for _, i := range append(t[sideL].fresh, t[sideR].fresh...) {
			r.maps[i].fresh, r.fresh = true, true
		}
		for _, fm := range r.maps {
			if !fm.fresh {
				r.trustedKeys = append(r.trustedKeys, fm.key)
			}
		}
		r.freshFilters = filters
	} else if len(t[sideL].fresh)+len(t[sideR].fresh) > 0 || filters {
		r.trustVersions = false // tests: every record merged again, as before fresh mappings and filters
	}
	// New filters are evaluated on every record: both sides are read
	// completely, nothing is backfilled.
	r.backfill = r.fresh && !r.freshFilters && r.canBackfill()
	anyFull := false
	for _, s := range r.sides {
		c := cursors[s.name]
		s.full = r.opts.Full || c.Cursor == "" || !t[s.i].ok || len(t[s.i].fresh) > 0 && !r.backfill || filters ||
			!s.obj.Incremental || (!s.obj.Tombstones && r.def.Deletes != syncdef.DeletesIgnore && has)
		anyFull = anyFull || s.full
	}
	if anyFull && has && r.trustVersions && !r.fresh && !r.freshFilters && len(r.pending) == 0 && !r.recordErrors() &&
		len(r.journaled) == 0 && !r.e.noDigest {
		if err := r.verifyByDigest(ctx); err != nil {
			return err
		}
		anyFull = r.sides[sideL].full || r.sides[sideR].full
	}
	if anyFull && has {
		r.report.Complete = r.whyComplete(t)
	}
	if !anyFull && has && r.trustVersions {
		// The previous run's writes come back as echoes: if they are many,
		// they are settled as they are read, against their links looked up
		// a read batch at a time (see echoes).
		// A later slice of a run (see Engine.Run) reads the echoes of the
		// slice before, at most about a slice's worth: as any changes,
		// counted towards its own slice, not first read narrow (see
		// readBoth), which would not slice.
		if r.opts.slice <= 1 {
			if r.wrote, err = r.lastWrites(ctx); err != nil {
				return err
			}
		}
		r.echoSeed = maphash.MakeSeed()
		for _, s := range r.sides {
			if len(cursors[s.name].Skip) > 0 {
				r.wrote[s.i] = 0 // its echoes are marked: the connector leaves them out
			}
			// A read of the buckets where a digest disagreed returns their
			// unchanged records too, as echoes: settled the same way.
			if r.wrote[s.i] > r.e.lazyMax || len(s.expect) > r.e.lazyMax {
				s.echo = newEchoes(r, s)
			}
		}
	}
	if anyFull || !has {
		// All of them, while the sides are read (readBoth), unless the
		// journal needs them first.
		r.allLinks = has
		links := 0
		if has {
			if links, err = r.countLinks(ctx); err != nil {
				return err
			}
		}
		// A side read completely returns about a record per link, the
		// echoes of the previous run about what it wrote there: their maps
		// are sized for that once (growing one to a million entries
		// rehashed it twenty times).
		for _, s := range r.sides {
			want := r.wrote[s.i]
			if s.full {
				want = links
			}
			if want > 0 {
				s.recs = make(map[string]*rec, want)
			}
		}
		return nil
	}
	r.lazy = true
	r.queried = [2]map[string]bool{{}, {}}
	r.loaded = map[string]bool{}
	var ids [2][]string
	for k := range r.pending {
		ids[sideIndex(k[0])] = append(ids[sideIndex(k[0])], k[1])
	}
	for k := range r.errs {
		if k[1] != "" {
			ids[sideIndex(k[0])] = append(ids[sideIndex(k[0])], k[1])
		}
	}
	for s := range ids {
		if err := r.ensureLinks(ctx, s, ids[s]); err != nil {
			return err
		}
	}
	return nil
}

// whyComplete says why a side is read completely in a run with links,
// from what the cursors were trusted for (t), the first reason that holds.
func (r *run) whyComplete(t [2]trust) string {
	for _, s := range r.sides {
		if !s.full {
			continue
		}
		c := r.cursors[s.name]
		switch {
		case r.opts.Full:
			return "--full, and the digests of some records disagreed"
		case c.Cursor == "" && c.Fingerprint == "":
			return fmt.Sprintf("the %s side was never read to the end (a first run interrupted)", s.name)
		case !t[s.i].ok:
			return "the sides or match keys changed since the last complete run"
		case t[sideL].filters || t[sideR].filters:
			return "the filters changed since the last complete run"
		case len(t[s.i].fresh) > 0:
			return "a mapping was added or changed, and cannot be backfilled a page of links at a time " +
				"(a connector does not look records up by id)"
		case !s.obj.Incremental:
			return fmt.Sprintf("the %s connector cannot read only what changed", s.name)
		case !s.obj.Tombstones:
			return fmt.Sprintf("deletes sync, and the %s connector reports them only by their absence", s.name)
		}
	}
	return ""
}

func sideIndex(name string) int {
	if name == syncdef.Right {
		return sideR
	}
	return sideL
}

// recordErrors reports whether records failed in earlier runs (their
// records are read again); a run-level error (a side that was down) is
// not one of a record.
func (r *run) recordErrors() bool {
	for k := range r.errs {
		if k[1] != "" {
			return true
		}
	}
	return false
}

// countLinks returns how many links the sync has, counted once a run: it
// only sizes maps and picks between loading all links or some.
func (r *run) countLinks(ctx context.Context) (int, error) {
	if r.nlinks < 0 {
		n, err := r.e.store.LinkCount(ctx, r.def.Name)
		if err != nil {
			return 0, err
		}
		r.nlinks = n
	}
	return r.nlinks, nil
}

// loadAllLinks loads every link; after it, the run is no longer lazy. Links
// a lazy run loaded (or dropped) before stay as they are.
func (r *run) loadAllLinks(ctx context.Context) error {
	r.allLinks = false
	var links []store.Link
	var err error
	if r.trustVersions {
		// Most links will need nothing: their bases are left out, and
		// loaded for those merged (fillBases).
		links, err = r.e.store.RunLinks(ctx, r.def.Name, r.mapKeys)
	} else {
		links, err = r.e.store.EncodedLinks(ctx, r.def.Name)
	}
	if err != nil {
		return err
	}
	if len(r.links) == 0 {
		// Sized once: growing two maps of a million links cost seconds.
		r.links, r.byRight = make(map[string]*store.Link, len(links)), make(map[string]*store.Link, len(links))
	}
	for i := range links {
		l := &links[i]
		if r.lazy && r.loaded[l.LeftID] {
			continue
		}
		r.links[l.LeftID], r.byRight[l.RightID] = l, l
	}
	if r.lazy {
		r.lazy = false
	}
	return nil
}

// ensureLinks loads, in a lazy run, the links of records ids of side s not
// looked up yet.
func (r *run) ensureLinks(ctx context.Context, s int, ids []string) error {
	if !r.lazy {
		return nil
	}
	var want []string
	for _, id := range ids {
		if !r.queried[s][id] {
			r.queried[s][id] = true
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return nil
	}
	links, err := r.e.store.LinksFor(ctx, r.def.Name, sideNames[s], want)
	if err != nil {
		return err
	}
	for i := range links {
		l := &links[i]
		if r.loaded[l.LeftID] {
			continue
		}
		r.loaded[l.LeftID] = true
		r.queried[sideL][l.LeftID], r.queried[sideR][l.RightID] = true, true
		r.links[l.LeftID], r.byRight[l.RightID] = l, l
	}
	return nil
}

// load reads the sync's pending records, errors and conflicts.
func (r *run) load(ctx context.Context) error {
	name := r.def.Name
	pend, err := r.e.store.Pending(ctx, name)
	if err != nil {
		return err
	}
	for _, p := range pend {
		r.pending[[2]string{p.Side, p.RecordID}] = p
	}
	errs, err := r.e.store.Errors(ctx, name, "")
	if err != nil {
		return err
	}
	for _, e := range errs {
		k := [2]string{e.Side, e.RecordID}
		r.errs[k] = append(r.errs[k], e)
	}
	confl, err := r.e.store.Conflicts(ctx, name)
	if err != nil {
		return err
	}
	for _, c := range confl {
		r.confl[[2]string{c.LeftID, c.Field}] = c
	}
	return nil
}

// due reports whether a failing record should be retried now.
func (r *run) due(sideName, id string) bool {
	if r.opts.RetryAll || slices.Contains(r.opts.Retry, id) {
		return true
	}
	for _, e := range r.errs[[2]string{sideName, id}] {
		if e.NextRetry.After(r.now) {
			return false
		}
	}
	return true
}

// sink collects a read's records. A narrow sink's records carry only the
// match keys (side.narrow); a second, wide read of a side keeps the records
// that the narrow one settled as they are when they come back unchanged.
// A side's echoes are settled as they come (see echoes), and only counted.
type sink struct {
	ctx        context.Context // for the lookups of echoes
	s          *side
	narrow     bool
	keepCursor bool // the side's cursor is another read's
	// sliceMax, when not zero, stops the read at the first checkpoint after
	// that many records were taken in, unless it is still at from, the
	// cursor the read started from (a slice must move on); taken counts them.
	sliceMax int
	from     string
	taken    int
}

func (k *sink) Records(recs []sdk.Record) error {
	want := len(k.s.fields)
	if k.narrow {
		want = len(k.s.narrow)
	}
	k.taken += len(recs)
	e := k.s.echo
	var links map[string]*store.Link
	if e != nil && e.open {
		var err error
		if links, err = e.lookup(k.ctx, recs); err != nil {
			return err
		}
	}
	// kept: the batch's records kept; skipped: whether some were not.
	var kept []*rec
	skipped := false
	for _, x := range recs {
		if x.Deleted {
			k.s.tomb[x.ID] = true
			delete(k.s.recs, x.ID)
			if e != nil {
				e.unsettle(x.ID)
			}
			continue
		}
		if len(x.Values) != want {
			return fmt.Errorf("record %s has %d values for %d fields", x.ID, len(x.Values), want)
		}
		if e != nil {
			switch {
			case e.open && e.settle(links[x.ID], &x):
				delete(k.s.tomb, x.ID)
				delete(k.s.recs, x.ID)
				skipped = true
				continue
			case !e.open && e.settled(x.ID, x.Version):
				skipped = true
				continue // the second read: settled by the first
			}
			e.unsettle(x.ID) // a later version of it, say
		}
		delete(k.s.tomb, x.ID)
		if old := k.s.recs[x.ID]; old != nil && old.narrow && old.version == x.Version {
			skipped = true
			continue
		}
		// Kept as handed over: a connector does not change values it has
		// given a sink (sdk.RecordSink).
		nx := &rec{id: x.ID, version: x.Version, mod: x.ModifiedAt, vals: x.Values, read: true, narrow: k.narrow}
		k.s.recs[x.ID] = nx
		kept = append(kept, nx)
	}
	if skipped {
		// A batch's values share slabs (sdk's decoder): a few records kept
		// of many would keep all their values, a whole side's over a read
		// that settles most (~120 MB at 200,000 records of ten fields).
		for _, x := range kept {
			x.vals = slices.Clone(x.vals)
		}
	}
	return nil
}

func (k *sink) Checkpoint(cursor string) error {
	if !k.keepCursor {
		k.s.cursor, k.s.hasCurs = cursor, true
	}
	if k.sliceMax > 0 && k.taken >= k.sliceMax && cursor != k.from {
		k.s.cut = true
		return errSliceCut
	}
	return nil
}

// readBoth reads both sides at the same time, then takes in what was read.
//
// When the last complete run's versions can be trusted and there are links,
// the records of a side read completely, or the echoes of a previous run
// that wrote many, are mostly where that run left them, so such a side is
// first read narrow: ids, versions and match keys only. A record at its
// linked version, with no pending work, is settled by that alone; only if
// some records are not is the side read again with every field, and the
// settled ones that come back at the same version are left as they are. A
// no-change run so moves and holds a few bytes per record instead of all
// its values.
func (r *run) readBoth(ctx context.Context) error {
	var narrow [2]bool
	if r.trustVersions && len(r.keys) > 0 && r.hasLinks && !r.e.noNarrow {
		// A side read incrementally returns what changed since the last
		// run: mostly echoes only if that run wrote many records there.
		// Else the narrow read would only double the read.
		for i, s := range r.sides {
			narrow[i] = s.full || r.wrote[i] > r.e.lazyMax || s.echo != nil
		}
		if !r.setNarrow() {
			narrow = [2]bool{} // two keys on one field: vals could not be indexed by key
		}
	}
	// An incremental run reads in slices (see Engine.Run), unless a side is
	// read completely (it is held whole anyway, and would be read again for
	// each slice) or in two passes (which would have to stop alike), or its
	// connector cannot look records up by id: a slice looks up what an
	// earlier one read past a later one's cut (the survivor of a delete,
	// refreshSnapshots), and without lookups it would leave such a record
	// unlinked or merge stale values. Such a run holds all its changes.
	r.slicing = r.e.sliceMax > 0 && !r.opts.dry && !narrow[sideL] && !narrow[sideR]
	for _, s := range r.sides {
		r.slicing = r.slicing && !s.full && s.partial == nil && !s.digested && lookupsByID(s.conn)
	}
	if err := r.readPass(ctx, [2]bool{true, true}, narrow); err != nil {
		return err
	}
	for _, s := range r.sides {
		if s.echo != nil {
			s.echo.open = false // a second read keeps what this one settled
		}
	}
	if narrow[sideL] || narrow[sideR] {
		// Decided for both sides before anything is dropped: a record is
		// settled only while its partner is not gone.
		var drop [2][]string
		for i, s := range r.sides {
			if !narrow[i] {
				continue
			}
			for id, x := range s.recs {
				if !r.settles(i, x) {
					drop[i] = append(drop[i], id)
				}
			}
		}
		var again [2]bool
		for i, s := range r.sides {
			for _, id := range drop[i] {
				delete(s.recs, id) // read again, with its values
			}
			again[i] = len(drop[i]) > 0
			if again[i] && lookupsByID(s.conn) && 4*len(drop[i]) <= len(s.recs)+len(drop[i]) {
				// A few of many: looked up by id rather than read again.
				found, err := r.lookUpAgain(ctx, s, drop[i])
				if err != nil {
					return err
				}
				again[i] = !found
			}
		}
		if err := r.readPass(ctx, again, [2]bool{}); err != nil {
			return err
		}
	}
	for _, s := range r.sides {
		r.afterRead(s)
	}
	return nil
}

// lookUpAgain looks up by id, with all their values, the records of side s
// its narrow read did not settle, in place of a second read of the side.
// A record not found was deleted since: gone, after a complete read (an
// incremental one brings its tombstone next time). It reports false, with
// nothing taken in, when the connector declined the lookup: the side is
// read again instead.
func (r *run) lookUpAgain(ctx context.Context, s *side, ids []string) (bool, error) {
	out := make(map[string]*rec, len(ids))
	if err := r.lookupByID(ctx, s, ids, s.fields, false, out); err != nil {
		if lookupFatal(ctx, sdk.CategoryOf(err)) {
			return false, err
		}
		return false, nil
	}
	for _, id := range ids {
		if x := out[id]; x != nil {
			s.recs[id] = x
		} else if s.full || s.partial != nil {
			s.tomb[id] = true
		}
	}
	return true, nil
}

// setNarrow sets the fields of the sides' narrow reads (side.narrow): the
// match keys, in the order of run.keys, then the fresh mappings' fields
// (fmap.thin). It reports whether the keys are on distinct fields: else a
// narrow record's values could not be indexed by key (run.keyValue).
func (r *run) setNarrow() bool {
	distinct := true
	for _, s := range r.sides {
		s.narrow = s.narrow[:0]
		for k := range r.keys {
			if f := s.fields[r.keys[k][s.i]]; !slices.Contains(s.narrow, f) {
				s.narrow = append(s.narrow, f)
			}
		}
		distinct = distinct && len(s.narrow) == len(r.keys)
		for i := range r.maps {
			fm := &r.maps[i]
			if !fm.fresh {
				continue
			}
			f := s.fields[fm.idx[s.i]]
			if fm.thin[s.i] = slices.Index(s.narrow, f); fm.thin[s.i] < 0 {
				fm.thin[s.i] = len(s.narrow)
				s.narrow = append(s.narrow, f)
			}
		}
		if (r.fresh || r.freshFilters) && s.filter != nil {
			// The filters' fields too: a record merged from a narrow read
			// may be kept pending (thinRecord), its verdict taken again.
			for _, f := range s.filter.Fields() {
				if !slices.Contains(s.narrow, f) {
					s.narrow = append(s.narrow, f)
				}
			}
		}
	}
	return distinct
}

// stillPasses reports, in a run with fresh filters, whether record x of side
// s passes its side's filter, read narrow (with the filter's fields, see
// setNarrow) or not. A record whose filter fails to evaluate does not: it
// is merged, which reports the error.
func (r *run) stillPasses(s int, x *rec) bool {
	sd := r.sides[s]
	if !r.freshFilters || sd.filter == nil {
		return true
	}
	if !x.narrow {
		ok, err := r.passes(sd, x)
		return err == nil && ok
	}
	if x.passed == nil {
		// Asked by settles, then by unchanged: evaluated once.
		ok, err := sd.filter.Match(sd.narrow, x.vals)
		ok = ok && err == nil
		x.passed = &ok
	}
	return *x.passed
}

// lastWrites returns how many records the sync wrote to each side since
// its cursors last moved: in its last complete run, and in the failed runs
// after it, which leave the cursors where they were (zeros when there is
// none). A run that failed at connect wrote nothing: the echoes of the one
// before still come.
func (r *run) lastWrites(ctx context.Context) ([2]int, error) {
	runs, err := r.e.store.Runs(ctx, r.def.Name, 20)
	if err != nil {
		return [2]int{}, err
	}
	var n [2]int
	for _, x := range runs {
		if x.ID == r.id {
			continue // this one
		}
		var c runCounts
		if json.Unmarshal(x.Counts, &c) == nil {
			n[sideL] += c.Left.Created + c.Left.Updated + c.Left.Deleted
			n[sideR] += c.Right.Created + c.Right.Updated + c.Right.Deleted
		}
		if x.Status == store.RunOK {
			break
		}
	}
	return n, nil
}

// settles reports whether a record of side s read narrow needs no values:
// it is at its linked version, its link needs nothing, and its partner was
// not deleted (a survivor may be written, or matched anew).
func (r *run) settles(s int, x *rec) bool {
	l := r.linkOf(s, x.id)
	if l == nil || !r.atLinkedVersion(l, s, x) || !r.stillPasses(s, x) {
		return false
	}
	if r.fresh {
		// Merged for the fresh mappings from its narrow values, the base
		// standing for the others, which it must hold.
		if !r.inStep(l) || !baseHolds(l, r.trustedKeys) {
			return false
		}
	} else if !r.settledLink(l) {
		return false
	}
	o := r.sides[other(s)]
	pid := linkID(l, o.i)
	return !o.tomb[pid] && (!o.full || o.recs[pid] != nil)
}

// readPass reads the sides marked in which, at the same time (each into its
// own side), then loads the links of what was read, left first.
func (r *run) readPass(ctx context.Context, which, narrow [2]bool) error {
	cursors := r.cursors
	var errs [2]error
	var linkErr error
	done := make(chan int, 3)
	n := 0
	if r.allLinks {
		// Loaded while the sides are read: the sinks do not look at links.
		n++
		go func() {
			linkErr = r.loadAllLinks(ctx)
			done <- -1
		}()
	}
	for i, s := range r.sides {
		if !which[i] {
			continue
		}
		n++
		go func() {
			errs[i] = r.read(ctx, s, cursors[s.name], narrow[i])
			done <- i
		}()
	}
	for range n {
		<-done
	}
	if linkErr != nil {
		return linkErr
	}
	for i, s := range r.sides {
		if !which[i] {
			continue
		}
		if errs[i] != nil {
			return errs[i]
		}
		if r.lazy && len(s.recs)+len(s.tomb) > r.e.lazyMax {
			// Many records read (echoes of a large run, say): one scan of
			// every link beats this many lookups by id.
			n, err := r.countLinks(ctx)
			if err != nil {
				return err
			}
			if 4*(len(s.recs)+len(s.tomb)) > n {
				if err := r.loadAllLinks(ctx); err != nil {
					return err
				}
			}
		}
		if r.lazy {
			ids := make([]string, 0, len(s.recs)+len(s.tomb))
			for id := range s.recs {
				ids = append(ids, id)
			}
			for id := range s.tomb {
				ids = append(ids, id)
			}
			if err := r.ensureLinks(ctx, i, ids); err != nil {
				return err
			}
		}
	}
	return nil
}

// read reads one side, incrementally from its cursor unless loadLinks chose
// a complete read; narrow: only the match keys (side.narrow). It touches
// nothing but s.
func (r *run) read(ctx context.Context, s *side, c store.Cursor, narrow bool) error {
	if s.digested {
		return nil // nothing changed there (verifyByDigest)
	}
	if s.partial != nil {
		return r.readBuckets(ctx, s, narrow)
	}
	req := sdk.ReadRequest{Object: s.obj.Name, Fields: s.fields}
	if narrow {
		req.Fields = s.narrow
	}
	if !s.full {
		req.Cursor, req.Skip = c.Cursor, c.Skip
	}
	k := &sink{ctx: ctx, s: s, narrow: narrow}
	if r.slicing {
		k.sliceMax, k.from = r.e.sliceMax, req.Cursor
	}
	if err := s.conn.Read(ctx, req, k); err != nil {
		if s.cut && errors.Is(err, errSliceCut) {
			return nil // the slice ends here; the next reads on from s.cursor
		}
		return &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", s.obj.Name, err)}
	}
	return nil
}

// afterRead takes in a side's read: its deletes, and, after a complete
// read, the linked records it did not return.
func (r *run) afterRead(s *side) {
	r.report.side(s.i).Read = len(s.recs) + s.settledCount()
	for id := range s.tomb {
		if !r.linked(s.i, id) {
			r.forget(s.i, id)
		}
	}
	if s.full {
		// Absent from a complete read: deleted on this side.
		for _, l := range r.links {
			id := linkID(l, s.i)
			if _, ok := s.recs[id]; !ok {
				s.tomb[id] = true
			}
		}
	}
}

func linkID(l *store.Link, s int) string {
	if s == sideL {
		return l.LeftID
	}
	return l.RightID
}

func linkVersion(l *store.Link, s int) string {
	if s == sideL {
		return l.LeftVersion
	}
	return l.RightVersion
}

// addPending adds the pending snapshots of records not read this run, and
// holds back the failing records a complete read returned unchanged (same
// version as their snapshot) until their retry is due: backoff holds on
// full reads as on incremental ones, and a changed record is tried at once.
func (r *run) addPending() {
	keys := make([][2]string, 0, len(r.pending))
	for k := range r.pending {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		p := r.pending[k]
		s := r.sides[sideL]
		if p.Side == syncdef.Right {
			s = r.sides[sideR]
		}
		if x, ok := s.recs[p.RecordID]; ok {
			r.holdBack(k, x)
			continue
		}
		if s.tomb[p.RecordID] || s.full {
			// Gone: a complete read would have returned it.
			r.forget(s.i, p.RecordID)
			continue
		}
		if r.backfill && !snapshotHolds(p, s.fields) {
			// Taken before a fresh mapping's field was read: it would stand
			// for the record with that field empty. Looked up instead, with
			// its partner's changes (lookupPartners) or by the backfill.
			continue
		}
		vals := make([]sdk.Value, len(s.fields))
		for i, f := range s.fields {
			vals[i] = p.Values[f]
		}
		// While a side's read stops short (a slice, see side.cut), the
		// record may have changed past the cut, and its snapshot would
		// stand for it with older values, written to its partner and kept
		// there by a fill-only mapping: it is not retried on its own until
		// the last slice, which reads both sides to their end (see also
		// survives).
		s.recs[p.RecordID] = &rec{id: p.RecordID, version: p.Version, mod: p.ModifiedAt, vals: vals,
			pending: true, due: r.due(p.Side, p.RecordID) && !r.cut()}
	}
}

// refreshSnapshots looks up by id, in a slice before the last (while a
// side's read stops short, see side.cut), the records standing as pending
// snapshots whose partner the slice read, before the pair merges. Such a
// record may have changed past the cut, and its snapshot would send the
// values it failed with to its partner, where a fill-only mapping keeps
// them. Looked up, it merges as read; one not found (deleted past the cut)
// keeps its snapshot, as does every record of a connector that declines.
// (A run slices only if both connectors look records up by id.)
func (r *run) refreshSnapshots(ctx context.Context) error {
	if !r.cut() {
		return nil
	}
	for i, s := range r.sides {
		o := r.sides[other(i)]
		var ids []string
		for id, x := range s.recs {
			if !x.pending || x.read {
				continue
			}
			if l := r.linkOf(i, id); l != nil {
				if y := o.recs[linkID(l, o.i)]; y != nil && y.read {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 {
			continue
		}
		sort.Strings(ids)
		out := make(map[string]*rec, len(ids))
		if err := r.lookupByID(ctx, s, ids, s.fields, false, out); err != nil {
			if lookupFatal(ctx, sdk.CategoryOf(err)) {
				return err
			}
			continue
		}
		for id, x := range out {
			r.holdBack([2]string{s.name, id}, x)
			s.recs[id] = x
		}
	}
	return nil
}

// snapshotHolds reports whether pending snapshot p has a value (null or not)
// for each of fields.
func snapshotHolds(p store.Pending, fields []string) bool {
	for _, f := range fields {
		if _, ok := p.Values[f]; !ok {
			return false
		}
	}
	return true
}

// holdBack looks at record x, read, against its pending snapshot k. Where it
// is at the snapshot's version (where it failed), it is held back until its
// retry is due, and takes the snapshot's modification time: the last change
// someone made, which the snapshot keeps (see finalizeLink), where the app
// says when the record was last written, by this sync too. Merged from the
// snapshot, unread, the record must merge the same.
func (r *run) holdBack(k [2]string, x *rec) {
	p, ok := r.pending[k]
	if !ok || !x.read || x.version == "" || x.version != p.Version {
		return
	}
	x.held = x.held || len(r.errs[k]) > 0 && !r.due(k[0], k[1])
	if !p.ModifiedAt.IsZero() {
		x.mod = p.ModifiedAt
	}
}

// forget drops the pending snapshot and errors of a record that is gone.
func (r *run) forget(s int, id string) {
	k := [2]string{sideNames[s], id}
	if _, ok := r.pending[k]; ok {
		r.pre.DropPending = append(r.pre.DropPending, store.RecordKey{Side: k[0], RecordID: id})
		delete(r.pending, k)
	}
	if len(r.errs[k]) > 0 {
		r.pre.ClearErrors = append(r.pre.ClearErrors, store.RecordKey{Side: k[0], RecordID: id})
		delete(r.errs, k)
	}
}

// safetyCheck stops the run when a complete read lost most linked records.
func (r *run) safetyCheck() error {
	if r.opts.Force {
		return nil
	}
	for _, s := range r.sides {
		linked, gone := 0, 0
		switch {
		case s.full:
			for _, l := range r.links {
				if l.State == store.LinkLeftDeleted && s.i == sideL || l.State == store.LinkRightDeleted && s.i == sideR {
					continue
				}
				linked++
				if s.tomb[linkID(l, s.i)] {
					gone++
				}
			}
		case s.partial != nil:
			// A complete read of some buckets (verifyByDigest): the same
			// rule, over their linked records.
			for _, id := range s.expect {
				linked++
				if s.tomb[id] {
					gone++
				}
			}
		}
		if linked == 0 || gone == 0 {
			continue
		}
		if len(s.recs)+s.settledCount() == 0 || gone*2 > linked {
			return &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryPermanent,
				Err: fmt.Errorf("%w: %d of %d linked records are missing from a complete read of %s; "+
					"if they really were deleted, run again with --force-deletes", ErrMassDelete, gone, linked, s.def)}
		}
	}
	return nil
}

// passes evaluates a side's filter on a record (once).
func (r *run) passes(s *side, x *rec) (bool, error) {
	if x.passed != nil {
		return *x.passed, nil
	}
	ok := true
	if s.filter != nil {
		var err error
		if ok, err = s.filter.Match(s.fields, x.vals); err != nil {
			return false, err
		}
	}
	x.passed = &ok
	return ok, nil
}
