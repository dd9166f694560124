package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// stream is how a first run goes when it can: with no links, nothing
// pending and one match key. Both sides are read narrow first (ids and
// keys), to count their keys; the smaller side (b) is held as that read
// found it, compactly (heldSet: its ids and key hashes); each record of the
// larger side (p) is then matched against it as it is read, written with
// its batch and let go; last, b is read again with its values and its
// records are paired with the p records that took them, or matched and
// written like p's, as they come (records this run created in b are
// skipped: b was read narrow before). What stays in memory is b's held
// set (~45 bytes a record), p's key counts (~17 bytes a record, for its own
// duplicates), up to Engine.parkMax p records waiting for their b match
// (past those, a match's b record is looked up by id with its batch and
// the pair made at once), and the batches in flight; writing starts while
// reading goes on. Matching is exactly match's
// (TestStreamedFirstRunMatchesPlanned).
type stream struct {
	p, b int
	// counts: how many p records hold each key norm (by a 128-bit hash,
	// ~17 bytes a record, where the norms took ~90), from the narrow read; a
	// norm whose record was matched or created is set to -1, so one that
	// turns up again (changed between the two reads) is not created twice.
	counts *keyCounts
	seeds  [2]maphash.Seed
	held   *heldSet          // b's records: ids and key hashes
	byNorm map[string][]*rec // p's records under a norm b holds, but those taken
	// taken: the ids of p's records matched to a b record, by their norm's
	// hash (~50 bytes each, where a byNorm entry took ~330).
	taken  map[normHash]string
	dups   map[string][]*rec // p's records that share their norm, reported at the end
	dupIDs map[string][]string
	// filterErrs: streamed right records whose filter failed, reported at
	// the end unless a left record took them (match does the left first).
	filterErrs []filterErr
	matched    map[*rec]bool // p's records matched
	// pairs: p records matched to a b record, by its index in held,
	// waiting for its values (b is read again after p).
	pairs map[int32]parked
	// fetch: p records of the batch at hand matched to a b record, once
	// pairs is full (Engine.parkMax), to pair when the batch's b records
	// are looked up (fetchPairs). One in ten records of scenario 2 of
	// BENCHMARKS.md waits for its match: 50,000 at a million, ~30 MB
	// parked. noLookup: b's connector cannot look its records up by id.
	fetch    []fetchPair
	noLookup bool
	read     int
}

// fetchPair is a streamed record and the index in held of its match.
type fetchPair struct {
	x *rec
	i int32
}

// canStream reports whether the run can be streamed (see stream).
func (r *run) canStream() bool {
	return !r.opts.dry && !r.e.noStream && !r.hasLinks && len(r.links) == 0 && len(r.keys) == 1 &&
		len(r.pending) == 0 && len(r.confl) == 0 && r.sides[sideL].full && r.sides[sideR].full && !r.recordErrors()
}

// normHash identifies a key norm by a 128-bit hash: two of a million norms
// share one with a chance of ~1e-27 (their records would then be reported
// as duplicates, not mixed up).
type normHash [2]uint64

func (st *stream) hash(n string) normHash {
	return normHash{maphash.String(st.seeds[0], n), maphash.String(st.seeds[1], n)}
}

// countSink counts a narrow read's key norms, and holds its records
// compactly for when its side is the one held.
type countSink struct {
	r      *run
	s      int
	st     *stream
	counts *keyCounts
	held   *heldSet
	cursor string
}

func (k *countSink) Records(recs []sdk.Record) error {
	for _, x := range recs {
		if x.Deleted {
			k.held.add(x.ID, normHash{}, true)
			continue
		}
		if len(x.Values) != 1 {
			return fmt.Errorf("record %s has %d values for 1 field", x.ID, len(x.Values))
		}
		var h normHash
		if n := k.r.keyNorm(k.s, 0, x.Values[0]); n != "" {
			h = k.st.hash(n)
			k.counts.add(h)
		}
		k.held.add(x.ID, h, false)
	}
	return nil
}

func (k *countSink) Checkpoint(cursor string) error {
	k.cursor = cursor
	return nil
}

// startStream reads both sides narrow, counting their keys, picks the side
// to stream (the one with more records) and holds the other as read.
func (r *run) startStream(ctx context.Context) error {
	var counts [2]*keyCounts
	st := &stream{p: sideL, b: sideR, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		byNorm: map[string][]*rec{}, taken: map[normHash]string{},
		dups: map[string][]*rec{}, dupIDs: map[string][]string{}, matched: map[*rec]bool{}, pairs: map[int32]parked{}}
	var n [2]int
	var errs [2]error
	var sinks [2]*countSink
	done := make(chan struct{})
	for i, s := range r.sides {
		counts[i] = &keyCounts{}
		sinks[i] = &countSink{r: r, s: i, st: st, counts: counts[i], held: &heldSet{}}
		go func() {
			defer func() { done <- struct{}{} }()
			k := sinks[i]
			f := s.fields[r.keys[0][i]]
			c := &recordCounter{RecordSink: k}
			if err := s.conn.Read(ctx, sdk.ReadRequest{Object: s.obj.Name, Fields: []string{f}}, c); err != nil {
				errs[i] = &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", s.obj.Name, err)}
			}
			n[i] = c.n
		}()
	}
	<-done
	<-done
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if n[sideR] > n[sideL] || n[sideR] == n[sideL] && !r.def.CreatesIn(sideNames[sideR]) {
		st.p, st.b = sideR, sideL
	}
	st.counts = counts[st.p]
	st.counts.seal()
	// Lookups by id only of a connector that says it answers them: one
	// built before them may take the empty field for anything. A
	// connection that cannot say (in process, in tests) is asked.
	if c, ok := r.sides[st.b].conn.(interface{ Capable(string) bool }); ok {
		st.noLookup = !c.Capable(sdk.CapabilityLookupByID)
	}
	// b is held as its count's read found it (ids and key hashes): its
	// values are read again, streamed, once p is done (see executeStream),
	// and its cursor is that read's.
	bs := r.sides[st.b]
	st.held = sinks[st.b].held
	st.held.seal()
	bs.cursor, bs.hasCurs = sinks[st.b].cursor, sinks[st.b].cursor != ""
	r.report.side(st.b).Read = st.held.live
	r.posts = [2]map[string]map[int]sdk.Value{} // no key index to build (see run.posts)
	r.stream = st
	return nil
}

// recordCounter counts the records a read hands over.
type recordCounter struct {
	sdk.RecordSink
	n int
}

func (c *recordCounter) Records(recs []sdk.Record) error {
	c.n += len(recs)
	return c.RecordSink.Records(recs)
}

// streamSink hands a read's records over to the run as they come.
type streamSink struct {
	s      *side
	ctx    context.Context
	out    chan<- []*rec
	cursor bool // its checkpoints are the side's cursor
}

func (k *streamSink) Records(recs []sdk.Record) error {
	batch := make([]*rec, 0, len(recs))
	for _, x := range recs {
		if x.Deleted {
			continue
		}
		if len(x.Values) != len(k.s.fields) {
			return fmt.Errorf("record %s has %d values for %d fields", x.ID, len(x.Values), len(k.s.fields))
		}
		batch = append(batch, &rec{id: x.ID, version: x.Version, mod: x.ModifiedAt, vals: x.Values, read: true})
	}
	select {
	case k.out <- batch:
		return nil
	case <-k.ctx.Done():
		return k.ctx.Err()
	}
}

func (k *streamSink) Checkpoint(cursor string) error {
	if k.cursor {
		k.s.cursor, k.s.hasCurs = cursor, true
	}
	return nil
}

// executeStream reads the streamed side, matching and writing its records
// a batch at a time, then reads the held side's values again, likewise.
func (r *run) executeStream(ctx context.Context, p *pipeline) error {
	st := r.stream
	pend, err := r.streamRead(ctx, p, r.sides[st.p], nil, r.streamRecord, true)
	if err != nil {
		return err
	}
	r.report.side(st.p).Read = st.read
	r.streamDups()
	// The held side's cursor stays its narrow read's: this read may see
	// records this run created there (skipped), and what came after them.
	// When it held nothing (a first fill into an empty side), every record
	// the read would return is one of those: it is not made.
	if st.held.live > 0 {
		if pend, err = r.streamRead(ctx, p, r.sides[st.b], pend, r.streamHeld, false); err != nil {
			return err
		}
	}
	r.streamEnd()
	_, err = p.send(ctx, append(pend, r.items...), true)
	r.items = nil
	return err
}

// streamRead reads side s whole, handing each record to handle and the
// items planned to the pipeline (pend: those short of a batch, returned
// likewise); cursor: the read's checkpoints are the side's cursor.
func (r *run) streamRead(ctx context.Context, p *pipeline, s *side, pend []*item, handle func(*rec), cursor bool) ([]*item, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.opts.Stop:
			cancel()
		case <-sctx.Done():
		}
	}()
	// Unbuffered: the reader decodes the next batch while this one is
	// handled, and holds it until taken; a buffered batch more was ~3 MB
	// live (~6 MB of a two-way first run's peak at a million).
	ch := make(chan []*rec)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		err := s.conn.Read(sctx, sdk.ReadRequest{Object: s.obj.Name, Fields: s.fields}, &streamSink{s: s, ctx: sctx, out: ch, cursor: cursor})
		if err != nil {
			err = &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", s.obj.Name, err)}
		}
		errc <- err
	}()
	for batch := range ch {
		for _, x := range batch {
			handle(x)
		}
		err := r.fetchPairs(ctx)
		pend = append(pend, r.items...)
		r.items = nil
		if err == nil {
			pend, err = p.send(ctx, pend, false)
		}
		if err != nil {
			// The read ends, and is waited for: a run never returns with
			// a goroutine still reading.
			cancel()
			for range ch {
			}
			return nil, err
		}
	}
	if err := <-errc; err != nil {
		if r.stopped() {
			return nil, ErrStopped
		}
		return nil, err
	}
	return append(pend, r.items...), nil
}

// streamRecord matches one record of the streamed side as match would.
func (r *run) streamRecord(x *rec) {
	st := r.stream
	src, t := st.p, st.b
	st.read++
	key := r.keys[0]
	field := r.sides[src].fields[key[src]]
	n := r.keyNorm(src, 0, x.vals[key[src]])
	// What stays past x's batch must not be a slice of x's wire bytes (ids,
	// norms; see keep): it would keep all of them.
	var h normHash
	var c int8
	if n != "" {
		h = st.hash(n)
		if c = st.counts.get(h); c > 1 {
			n = strings.Clone(n) // a map key too: assigning to a string key stores the new key
			st.dupIDs[n] = append(st.dupIDs[n], strings.Clone(x.id))
			st.keep(n, h, &rec{id: strings.Clone(x.id)})
		}
	}
	pass, err := r.passes(r.sides[src], x)
	if err != nil {
		if n != "" && c <= 1 {
			st.counts.set(h, -1)
			st.keep(n, h, x) // as in match, still a candidate for b's records
		}
		if src == sideL {
			r.reportRecord(src, x, "filter", "", "", err.Error())
		} else {
			// match does the left first: it reports this one only if no
			// left record took it as its match (see streamLeftovers).
			st.filterErrs = append(st.filterErrs, filterErr{x, err})
		}
		return
	}
	if n == "" {
		r.place(src, x, pass, false, "", nil)
		return
	}
	switch {
	case c > 1:
		if pass {
			st.dups[n] = append(st.dups[n], x.detach()) // reported with every id that shares n, at the end
		}
		return
	case c < 0:
		// A second record with a key the narrow read saw once: it changed
		// in between. The first one took the key.
		if pass {
			r.reportRecord(src, x, "duplicate_identifier", "", "",
				fmt.Sprintf("%s record %s shares %s %q with a record synced earlier in this run", r.sides[src].name, x.id, field, n))
		}
		return
	}
	st.counts.set(h, -1)
	cand := st.held.withKey(h)
	dupMsg := ""
	switch {
	case len(cand) > 1:
		dupMsg = r.shareMsg(t, 0, st.held.ids(cand), n)
	case len(cand) == 1 && st.held.matched(cand[0]):
		st.keep(n, h, x)
		dupMsg = r.takenMsg(t, st.held.id(cand[0]), n)
	case len(cand) == 1:
		// A norm with one p record (c is 1) has no byNorm entry.
		st.taken[h] = strings.Clone(x.id) // not x's: the map would keep its wire bytes
		st.held.match(cand[0])
		if len(st.pairs) < r.e.parkMax || st.noLookup {
			st.pairs[cand[0]] = park(x) // paired when b's values come
		} else {
			st.fetch = append(st.fetch, fetchPair{x, cand[0]})
		}
		return
	}
	r.place(src, x, pass, true, dupMsg, nil)
}

// detach gives x its own copy of its values: a record kept past its batch
// would else keep the decoder's slab of the batch's values (some forty
// records' worth) with it, and with one record in ten kept, as a two-way
// first run keeps the streamed side's shared records, that was all of them.
// Its strings are slices of its own message's bytes only.
func (x *rec) detach() *rec {
	x.vals = slices.Clone(x.vals)
	return x
}

// parked is a streamed record kept until its held match is read again
// (stream.pairs), in less room: values that are only a kind and a string
// (null, string, decimal, date: most of them) as those, 17 bytes where an
// sdk.Value takes 88. With one record in ten of a 500,000-record side
// waiting, that was 40 MB of a two-way first run's live heap.
type parked struct {
	x     *rec // its vals nil while parked, unless one is of another kind
	kinds []sdk.Kind
	strs  []string
}

func park(x *rec) parked {
	for _, v := range x.vals {
		if v.Int != 0 || v.Bool || !v.Time.IsZero() || v.List != nil {
			return parked{x: x.detach()}
		}
	}
	p := parked{x: x, kinds: make([]sdk.Kind, len(x.vals)), strs: make([]string, len(x.vals))}
	for i, v := range x.vals {
		p.kinds[i], p.strs[i] = v.Kind, v.Str
	}
	x.vals = nil
	return p
}

// rec returns the record with its values.
func (p parked) rec() *rec {
	if p.kinds != nil {
		vals := make([]sdk.Value, len(p.kinds))
		for i := range vals {
			vals[i] = sdk.Value{Kind: p.kinds[i], Str: p.strs[i]}
		}
		p.x.vals = vals
	}
	return p.x
}

// filterErr is a streamed record whose filter failed, with the failure.
type filterErr struct {
	x   *rec
	err error
}

// keep remembers a streamed record under norm n (of hash h) when the held
// side has records with that norm: its leftovers are matched against them.
func (st *stream) keep(n string, h normHash, x *rec) {
	if n != "" && len(st.held.withKey(h)) > 0 {
		n = strings.Clone(n) // not x's wire bytes (see streamRecord)
		st.byNorm[n] = append(st.byNorm[n], x.detach())
	}
}

// streamDups reports the streamed side's records that share their key, now
// that every id is known, and sorts what the held side's records will be
// matched against.
func (r *run) streamDups() {
	st := r.stream
	t := st.p
	for _, n := range slices.Sorted(maps.Keys(st.dups)) {
		ids := slices.Sorted(slices.Values(st.dupIDs[n]))
		for _, x := range st.dups[n] {
			r.reportRecord(t, x, "duplicate_identifier", "", "", r.shareMsg(t, 0, ids, n))
		}
	}
	for _, cand := range st.byNorm {
		sort.Slice(cand, func(i, j int) bool { return cand[i].id < cand[j].id })
	}
}

// streamHeld matches a record of the held side, read again with its values,
// as match would: with the streamed record that took it, or like any other.
func (r *run) streamHeld(y *rec) {
	st := r.stream
	src, t := st.b, st.p
	bs := r.sides[src]
	i, ok := st.held.take(y.id)
	if !ok {
		return // not there when the side was read narrow: created by this run (or since, for the next one)
	}
	if p, ok := st.pairs[i]; ok {
		delete(st.pairs, i)
		r.pairHeld(p.rec(), y)
		return
	}
	pass, err := r.passes(bs, y)
	if err != nil {
		r.reportRecord(src, y, "filter", "", "", err.Error())
		return
	}
	key := r.keys[0]
	n := r.keyNorm(src, 0, y.vals[key[src]])
	dupMsg, found := "", (*rec)(nil)
	if n != "" {
		h := st.hash(n)
		own, cand := st.held.withKey(h), st.byNorm[n]
		taker, taken := st.taken[h]
		switch {
		case len(own) > 1:
			dupMsg = r.shareMsg(src, 0, st.held.ids(own), n)
		case taken:
			dupMsg = r.takenMsg(t, taker, n)
		case len(cand) > 1:
			dupMsg = r.shareMsg(t, 0, recIDs(cand), n)
		case len(cand) == 1 && st.matched[cand[0]]:
			dupMsg = r.takenMsg(t, cand[0].id, n)
		case len(cand) == 1:
			found = cand[0]
			st.held.match(i)
			st.matched[found] = true
		}
	}
	r.place(src, y, pass, n != "", dupMsg, found)
}

// pairHeld pairs held record y with x, the streamed record that took it.
func (r *run) pairHeld(x, y *rec) {
	st := r.stream
	// match does the left first: a left record's filter is looked at even
	// when a right record took it; a right one taken is done.
	if st.b == sideL {
		if _, err := r.passes(r.sides[st.b], y); err != nil {
			r.reportRecord(st.b, y, "filter", "", "", err.Error())
		}
	}
	r.pair(st.p, x, y)
}

// fetchPairs looks up, by id, the held records that the streamed records
// of the batch at hand matched past Engine.parkMax (stream.fetch), and
// pairs them. One whose record is gone waits as the others do: the held
// side's second read pairs it, or streamEnd syncs it alone. So does every
// one when b's connector cannot look records up by id.
func (r *run) fetchPairs(ctx context.Context) error {
	st := r.stream
	if st == nil || len(st.fetch) == 0 {
		return nil
	}
	defer func() { st.fetch = st.fetch[:0] }()
	bs := r.sides[st.b]
	var got map[string]*rec
	if !st.noLookup {
		vals := make([]sdk.Value, len(st.fetch))
		for k, f := range st.fetch {
			vals[k] = sdk.String(st.held.id(f.i))
		}
		recs, err := bs.conn.Lookup(ctx, sdk.LookupRequest{Object: bs.obj.Name, Values: vals, Fields: bs.fields}) // by id
		if err != nil {
			cat := sdk.CategoryOf(err)
			if lookupFatal(ctx, cat) {
				return &RunError{Side: bs.name, Connection: bs.def.Connection, Category: cat, Err: fmt.Errorf("lookup %s by id: %w", bs.obj.Name, err)}
			}
			st.noLookup = true
		}
		got = make(map[string]*rec, len(recs))
		for _, y := range recs {
			if !y.Deleted && len(y.Values) == len(bs.fields) {
				got[y.ID] = &rec{id: y.ID, version: y.Version, mod: y.ModifiedAt, vals: y.Values, read: true}
			}
		}
	}
	for _, f := range st.fetch {
		y := got[st.held.id(f.i)]
		if y == nil {
			st.pairs[f.i] = park(f.x)
			continue
		}
		st.held.take(y.id) // its second read skips it
		r.pairHeld(f.x, y)
	}
	return nil
}

// streamEnd syncs the streamed records whose match was not read again (it
// went in between) as records without one, and reports the filter failures
// left for the end.
func (r *run) streamEnd() {
	st := r.stream
	src := st.p
	left := slices.SortedFunc(maps.Keys(st.pairs), func(a, b int32) int { return strings.Compare(st.held.id(a), st.held.id(b)) })
	for _, i := range left {
		x := st.pairs[i].rec()
		pass, err := r.passes(r.sides[src], x)
		if err == nil {
			r.place(src, x, pass, true, "", nil)
		}
	}
	for _, f := range st.filterErrs {
		if !st.matched[f.x] {
			r.reportRecord(src, f.x, "filter", "", "", f.err.Error())
		}
	}
}
