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
// pending and one match key, each record of the larger side (p) is matched
// against the other side (b, read whole first) as it is read, then written
// with its batch and let go. What stays in memory is b's records, the key
// values of p (from a narrow read, for its own duplicates), and the few p
// records that b's leftovers might pair with. A first fill of a million
// records so holds the batches in flight and 24 bytes a key, not every
// record (~260 MB, where it took 3 GB), and writing starts while reading
// goes on. It matches exactly as match does.
type stream struct {
	p, b int
	// counts: how many p records hold each key norm (by a 128-bit hash:
	// 24 bytes a record, where the norms took ~90), from the narrow read; a
	// norm whose record was matched or created is set to -1, so one that
	// turns up again (changed between the two reads) is not created twice.
	counts map[normHash]int32
	seeds  [2]maphash.Seed
	index  map[string][]*rec // b's records by key norm
	byNorm map[string][]*rec // p's records under a norm b holds (matched ones by id only)
	dups   map[string][]*rec // p's records that share their norm, reported at the end
	dupIDs map[string][]string
	// filterErrs: streamed right records whose filter failed, reported
	// after the left's leftovers unless one of them took the record.
	filterErrs []filterErr
	matched    map[*rec]bool
	read       int
}

// canStream reports whether the run can be streamed (see stream).
func (r *run) canStream() bool {
	if r.opts.dry || r.e.noStream || r.hasLinks || len(r.links) > 0 || len(r.keys) != 1 ||
		len(r.pending) > 0 || len(r.confl) > 0 || !r.sides[sideL].full || !r.sides[sideR].full {
		return false
	}
	for k := range r.errs {
		if k[1] != "" {
			return false
		}
	}
	return true
}

// normHash identifies a key norm by a 128-bit hash: two of a million norms
// share one with a chance of ~1e-27 (their records would then be reported
// as duplicates, not mixed up).
type normHash [2]uint64

func (st *stream) hash(n string) normHash {
	return normHash{maphash.String(st.seeds[0], n), maphash.String(st.seeds[1], n)}
}

// countSink counts a narrow read's key norms.
type countSink struct {
	r      *run
	s      int
	st     *stream
	counts map[normHash]int32
}

func (k *countSink) Records(recs []sdk.Record) error {
	for _, x := range recs {
		if x.Deleted {
			continue
		}
		if len(x.Values) != 1 {
			return fmt.Errorf("record %s has %d values for 1 field", x.ID, len(x.Values))
		}
		if n := k.r.keyNorm(k.s, 0, x.Values[0]); n != "" {
			k.counts[k.st.hash(n)]++
		}
	}
	return nil
}

func (k *countSink) Checkpoint(string) error { return nil }

// startStream counts both sides' keys, picks the side to stream (the one
// with more records), and reads the other whole.
func (r *run) startStream(ctx context.Context) error {
	var counts [2]map[normHash]int32
	st := &stream{p: sideL, b: sideR, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		index: map[string][]*rec{}, byNorm: map[string][]*rec{},
		dups: map[string][]*rec{}, dupIDs: map[string][]string{}, matched: map[*rec]bool{}}
	var n [2]int
	var errs [2]error
	done := make(chan struct{})
	for i, s := range r.sides {
		counts[i] = map[normHash]int32{}
		go func() {
			defer func() { done <- struct{}{} }()
			k := &countSink{r: r, s: i, st: st, counts: counts[i]}
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
	bs := r.sides[st.b]
	if err := r.read(ctx, bs, r.cursors[bs.name], false); err != nil {
		return err
	}
	r.afterRead(bs)
	for _, id := range slices.Sorted(maps.Keys(bs.recs)) {
		x := bs.recs[id]
		if n := r.keyNorm(st.b, 0, x.vals[r.keys[0][st.b]]); n != "" {
			st.index[n] = append(st.index[n], x)
		}
	}
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
	s   *side
	ctx context.Context
	out chan<- []*rec
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
	k.s.cursor, k.s.hasCurs = cursor, true
	return nil
}

// executeStream reads the streamed side, matching and writing its records
// a batch at a time, then plans what is left of the other side.
func (r *run) executeStream(ctx context.Context, p *pipeline) error {
	st := r.stream
	ps := r.sides[st.p]
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.opts.Stop:
			cancel()
		case <-sctx.Done():
		}
	}()
	ch := make(chan []*rec, 2)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		err := ps.conn.Read(sctx, sdk.ReadRequest{Object: ps.obj.Name, Fields: ps.fields}, &streamSink{s: ps, ctx: sctx, out: ch})
		if err != nil {
			err = &RunError{Side: ps.name, Connection: ps.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", ps.obj.Name, err)}
		}
		errc <- err
	}()
	// stop ends the read and waits for it: a run never returns with a
	// goroutine still reading.
	stop := func(err error) error {
		cancel()
		for range ch {
		}
		return err
	}
	var pend []*item
	for batch := range ch {
		for _, x := range batch {
			r.streamRecord(x)
		}
		pend = append(pend, r.items...)
		r.items = nil
		var err error
		if pend, err = p.send(ctx, pend, false); err != nil {
			return stop(err)
		}
	}
	if err := <-errc; err != nil {
		if r.stopped() {
			return ErrStopped
		}
		return err
	}
	r.report.side(st.p).Read = st.read
	r.streamLeftovers()
	_, err := p.send(ctx, append(pend, r.items...), true)
	r.items = nil
	return err
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
	var c int32
	if n != "" {
		h = st.hash(n)
		if c = st.counts[h]; c > 1 {
			n = strings.Clone(n) // a map key too: assigning to a string key stores the new key
			st.dupIDs[n] = append(st.dupIDs[n], strings.Clone(x.id))
			st.keep(n, &rec{id: strings.Clone(x.id)})
		}
	}
	pass, err := r.passes(r.sides[src], x)
	if err != nil {
		if n != "" && c <= 1 {
			st.counts[h] = -1
			st.keep(n, x) // as in match, still a candidate for b's records
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
			st.dups[n] = append(st.dups[n], x) // reported with every id that shares n, at the end
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
	st.counts[h] = -1
	cand := st.index[n]
	dupMsg, found := "", (*rec)(nil)
	switch {
	case len(cand) > 1:
		dupMsg = r.shareMsg(t, 0, recIDs(cand), n)
	case len(cand) == 1 && st.matched[cand[0]]:
		st.keep(n, x)
		dupMsg = r.takenMsg(t, cand[0].id, n)
	case len(cand) == 1:
		found = cand[0]
		id := &rec{id: strings.Clone(x.id)} // not x: the map would keep it
		st.keep(n, id)
		st.matched[id], st.matched[found] = true, true
	}
	r.place(src, x, pass, true, dupMsg, found)
}

// filterErr is a streamed record whose filter failed, with the failure.
type filterErr struct {
	x   *rec
	err error
}

// keep remembers a streamed record under norm n when the held side has
// records with that norm: its leftovers are matched against them.
func (st *stream) keep(n string, x *rec) {
	if n != "" && len(st.index[n]) > 0 {
		n = strings.Clone(n) // not x's wire bytes (see streamRecord)
		st.byNorm[n] = append(st.byNorm[n], x)
	}
}

// streamLeftovers reports the streamed side's duplicates, then matches the
// held side's records that no streamed record took, as match would.
func (r *run) streamLeftovers() {
	st := r.stream
	src, t := st.b, st.p
	key := r.keys[0]
	for _, n := range slices.Sorted(maps.Keys(st.dups)) {
		ids := slices.Sorted(slices.Values(st.dupIDs[n]))
		for _, x := range st.dups[n] {
			r.reportRecord(t, x, "duplicate_identifier", "", "", r.shareMsg(t, 0, ids, n))
		}
	}
	for _, cand := range st.byNorm {
		sort.Slice(cand, func(i, j int) bool { return cand[i].id < cand[j].id })
	}
	bs := r.sides[src]
	for _, id := range slices.Sorted(maps.Keys(bs.recs)) {
		x := bs.recs[id]
		// match does the left first: a left record's filter is looked at
		// even when a right record took it; a right one taken is done.
		if src == sideR && st.matched[x] {
			continue
		}
		pass, err := r.passes(bs, x)
		if err != nil {
			r.reportRecord(src, x, "filter", "", "", err.Error())
			continue
		}
		if st.matched[x] {
			continue
		}
		n := r.keyNorm(src, 0, x.vals[key[src]])
		dupMsg, found := "", (*rec)(nil)
		if n != "" {
			own, cand := st.index[n], st.byNorm[n]
			switch {
			case len(own) > 1:
				dupMsg = r.shareMsg(src, 0, recIDs(own), n)
			case len(cand) > 1:
				dupMsg = r.shareMsg(t, 0, recIDs(cand), n)
			case len(cand) == 1 && st.matched[cand[0]]:
				dupMsg = r.takenMsg(t, cand[0].id, n)
			case len(cand) == 1:
				found = cand[0]
				st.matched[x], st.matched[found] = true, true
			}
		}
		r.place(src, x, pass, n != "", dupMsg, found)
	}
	for _, f := range st.filterErrs {
		if !st.matched[f.x] {
			r.reportRecord(t, f.x, "filter", "", "", f.err.Error())
		}
	}
}
