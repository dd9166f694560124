package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// A run keeps the marks of its writes with each side's cursor; the next
// incremental read passes them, and the connector leaves those echoes out.
// A later change to a record the run wrote is still read, and a run that
// wrote nothing leaves no marks behind.
func TestEchoesOfMarkedWritesAreNotRead(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 5 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))})
	}
	for i := range 3 {
		e.create(e.right, map[string]sdk.Value{"email": s(fmt.Sprintf("r%d@x.io", i))})
	}
	if rep := e.run(Options{}); rep.Right.Created != 5 || rep.Left.Created != 3 {
		t.Fatalf("first run: %+v / %+v", rep.Left, rep.Right)
	}
	skips := func() map[string]int {
		cs, err := e.st.Cursors(e.ctx, e.def.Name)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]int{"left": len(cs["left"].Skip), "right": len(cs["right"].Skip)}
	}
	if k := skips(); k["left"] == 0 || k["right"] == 0 {
		t.Fatalf("after writing both sides: marks per side %v, want some on each", k)
	}

	rep := e.run(Options{})
	if rep.Writes() != 0 || rep.Left.Read != 0 || rep.Right.Read != 0 {
		t.Fatalf("run after the first: read %d/%d, wrote %d; want the 8 echoes left out and nothing written",
			rep.Left.Read, rep.Right.Read, rep.Writes())
	}
	if k := skips(); k["left"] != 0 || k["right"] != 0 {
		t.Fatalf("after a run that wrote nothing: marks per side %v, want none", k)
	}

	// A record the first run created, changed by someone else since.
	var id string
	for rid, it := range e.right.Snapshot(obj) {
		if it.Fields["email"].Str == "l2@x.io" {
			id = rid
		}
	}
	e.update(e.right, id, map[string]sdk.Value{"company": s("Globex")})
	rep = e.run(Options{})
	if rep.Right.Read != 1 || rep.Left.Updated != 1 {
		t.Fatalf("after a change to an echo: read %d on the right, %d updated on the left; want 1 and 1", rep.Right.Read, rep.Left.Updated)
	}
	for _, it := range e.left.Snapshot(obj) {
		if it.Fields["email"].Str == "l2@x.io" && it.Fields["company"].Str != "Globex" {
			t.Fatalf("left l2: company %#v, want Globex", it.Fields["company"])
		}
	}
	if k := skips(); k["left"] == 0 || k["right"] != 0 {
		t.Fatalf("after writing the left only: marks per side %v", k)
	}
}

// unmarked is a connection whose writes carry no marks: its echoes come
// back. It records the fields of its incremental reads, and fails its
// schema while fail is set (a run that fails before writing).
type unmarked struct {
	Conn
	fail   bool
	narrow []bool // per incremental read: only the match key asked for
}

func (u *unmarked) Schema(ctx context.Context) (sdk.Schema, error) {
	if u.fail {
		return sdk.Schema{}, sdk.Errorf(sdk.CategoryTransient, "down")
	}
	return u.Conn.Schema(ctx)
}

func (u *unmarked) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if req.Cursor != "" {
		u.narrow = append(u.narrow, len(req.Fields) == 1)
	}
	return u.Conn.Read(ctx, req, sink)
}

func (u *unmarked) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	res, err := u.Conn.Write(ctx, req)
	for i := range res {
		res[i].Mark = ""
	}
	return res, err
}

// The echoes of a run that wrote many records are read narrow (ids,
// versions, keys) and settled by their links, with no values read, even
// after a run that failed before writing: it left the cursors where they
// were, so the echoes still come.
func TestEchoesAfterAFailedRunAreReadNarrow(t *testing.T) {
	e := newEnv(t, nil)
	e.eng.lazyMax = 2
	u := &unmarked{Conn: e.conns["news"]}
	e.conns["news"] = u
	for i := range 10 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))})
	}
	if rep := e.run(Options{}); rep.Right.Created != 10 {
		t.Fatalf("first run: %+v", rep.Right)
	}
	u.fail = true
	if _, err := e.eng.Run(e.ctx, e.def, Options{}); err == nil {
		t.Fatal("the run with the right side down did not fail")
	}
	u.fail, u.narrow = false, nil
	rep := e.run(Options{})
	if rep.Writes() != 0 || rep.Right.Unchanged != 10 {
		t.Fatalf("run after: wrote %d, %d unchanged on the right; want 0 and the 10 echoes", rep.Writes(), rep.Right.Unchanged)
	}
	if len(u.narrow) != 1 || !u.narrow[0] {
		t.Fatalf("reads of the right (narrow or not): %v; want one narrow read, the echoes settled by it", u.narrow)
	}
}

// A side keeps at most maxMarks marks of at most maxMarkBytes in all: past
// either, it keeps none (the echoes are read and settled by version).
func TestMarksAreBounded(t *testing.T) {
	big := strings.Repeat("x", maxMarkBytes/4)
	tests := []struct {
		name    string
		marks   func(yield func(string))
		keep    int
		tooMany bool
	}{
		{"a few, one twice", func(y func(string)) { y("a"); y("b"); y("a") }, 2, false},
		{"as many as kept", func(y func(string)) {
			for i := range maxMarks {
				y(fmt.Sprint(i))
			}
		}, maxMarks, false},
		{"one more than kept", func(y func(string)) {
			for i := range maxMarks + 1 {
				y(fmt.Sprint(i))
			}
		}, 0, true},
		{"large ones, within the bytes", func(y func(string)) {
			for i := range 3 {
				y(fmt.Sprint(i, big))
			}
		}, 3, false},
		{"large ones, past the bytes", func(y func(string)) {
			for i := range 5 {
				y(fmt.Sprint(i, big))
			}
		}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &side{}
			tt.marks(s.mark)
			if len(s.marks) != tt.keep || s.tooMany != tt.tooMany {
				t.Errorf("kept %d marks, too many %v; want %d, %v", len(s.marks), s.tooMany, tt.keep, tt.tooMany)
			}
			if !s.tooMany && overMarks(s.marks) {
				t.Errorf("overMarks of the marks kept")
			}
		})
	}
	if !overMarks([]string{big, big, big, big, big}) || overMarks([]string{big}) {
		t.Error("overMarks does not count bytes")
	}
}

// basesCounted counts the links whose bases the engine asks the store for.
type basesCounted struct {
	Store
	n int
}

func (b *basesCounted) FillBases(ctx context.Context, sync string, links []*store.Link) error {
	b.n += len(links)
	return b.Store.FillBases(ctx, sync, links)
}

// When a run's reads return many echoes, they are settled by version, and
// no base is loaded: neither theirs nor those of the links untouched.
func TestUntouchedLinksLoadNoBases(t *testing.T) {
	e := newEnv(t, nil)
	u := &unmarked{Conn: e.conns["news"]}
	e.conns["news"] = u
	var ids []string
	for i := range 20 {
		ids = append(ids, e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))}))
	}
	e.run(Options{})
	e.run(Options{}) // the 20 echoes, settled
	for _, id := range ids[:6] {
		e.update(e.left, id, map[string]sdk.Value{"company": s("Globex")})
	}
	if rep := e.run(Options{}); rep.Right.Updated != 6 {
		t.Fatalf("run after 6 changes: %+v", rep.Right)
	}
	st := &basesCounted{Store: e.st}
	e.eng = New(st, e.dial, WithClock(e.now))
	e.eng.lazyMax = 2 // 6 echoes are many
	rep := e.run(Options{})
	if rep.Writes() != 0 || rep.Right.Unchanged != 6 {
		t.Fatalf("run reading the 6 echoes: wrote %d, %d unchanged; want 0 and 6", rep.Writes(), rep.Right.Unchanged)
	}
	if st.n != 0 {
		t.Fatalf("bases of %d links loaded; want none (14 links untouched, 6 settled by version)", st.n)
	}
}

// wholeLinks counts the engine's loads of every link of a sync, and the ids
// it looks links up for.
type wholeLinks struct {
	Store
	whole, ids int
}

func (w *wholeLinks) RunLinks(ctx context.Context, sync string, keys []string) ([]store.Link, error) {
	w.whole++
	return w.Store.RunLinks(ctx, sync, keys)
}

func (w *wholeLinks) EncodedLinks(ctx context.Context, sync string) ([]store.Link, error) {
	w.whole++
	return w.Store.EncodedLinks(ctx, sync)
}

func (w *wholeLinks) RunLinksFor(ctx context.Context, sync, side string, ids []string, keys []string) ([]store.Link, error) {
	w.ids += len(ids)
	return w.Store.RunLinksFor(ctx, sync, side, ids, keys)
}

// Many unmarked echoes are settled as they are read, against their links
// looked up a read batch at a time: the run loads no link whole and looks
// up the echoes' links alone (that it keeps none of them is
// TestFirstReadKeepsNoSettledEcho's to show).
func TestEchoesSettleAsRead(t *testing.T) {
	e := newEnv(t, nil)
	e.conns["news"] = &unmarked{Conn: e.conns["news"]}
	for i := range 20 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))})
	}
	if rep := e.run(Options{}); rep.Right.Created != 20 {
		t.Fatalf("first run: %+v", rep.Right)
	}
	st := &wholeLinks{Store: e.st}
	e.eng = New(st, e.dial, WithClock(e.now))
	e.eng.lazyMax = 2
	rep := e.run(Options{})
	if rep.Writes() != 0 || rep.Right.Read != 20 || rep.Right.Unchanged != 20 || rep.Left.Unchanged != 20 {
		t.Fatalf("run reading the 20 echoes: wrote %d, read %d, unchanged %d/%d; want 0, 20, 20/20",
			rep.Writes(), rep.Right.Read, rep.Left.Unchanged, rep.Right.Unchanged)
	}
	if st.whole != 0 || st.ids != 20 {
		t.Fatalf("links loaded whole %d times, looked up for %d ids; want 0 and the 20 echoes", st.whole, st.ids)
	}
}

// Echoes settled as they are read (many, unmarked: lazyMax 2) and echoes
// looked at after the read (lazyMax past them) come to the same run: the
// same counts and the same records on both sides, whatever happened to
// the echoes or their partners since they were written. A run after it
// writes nothing.
func TestEchoesSettledAsReadOrAfter(t *testing.T) {
	tests := append(settlingChanges(),
		settlingChange{"echoes only", nil, func(*env, pairs) {}},
		settlingChange{"echoes changed since", nil, func(e *env, p pairs) {
			for _, id := range p.right[:3] {
				e.update(e.right, id, map[string]sdk.Value{"company": s("Hooli")})
			}
		}},
		settlingChange{"most echoes changed since", nil, func(e *env, p pairs) {
			// More than a quarter of the links: the run loads them all.
			for _, id := range p.right[4:] {
				e.update(e.right, id, map[string]sdk.Value{"company": s("Hooli")})
			}
		}},
		settlingChange{"an echo deleted", propagateDeletes, func(e *env, p pairs) {
			e.delete(e.right, p.right[6])
		}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do := func(lazyMax int) string {
				e := newEnv(t, tt.edit)
				e.conns["crm"] = &unmarked{Conn: e.conns["crm"]}
				e.conns["news"] = &unmarked{Conn: e.conns["news"]}
				tt.change(e, e.linkedPairs(12, 4))
				e.eng.lazyMax = lazyMax
				rep := e.run(Options{})
				e.quiet()
				return outcome(e, rep)
			}
			sameSettledAsReadOrAfter(t, do)
		})
	}
}

// pairs are the ids of linked records, in left id order.
type pairs struct{ left, right []string }

// linkedPairs creates nl left and nr right contacts, runs once, which links
// them all, and returns the pairs.
func (e *env) linkedPairs(nl, nr int) pairs {
	e.t.Helper()
	for i := range nl {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i)), "company": s("Acme")})
	}
	for i := range nr {
		e.create(e.right, map[string]sdk.Value{"email": s(fmt.Sprintf("r%d@x.io", i)), "phone": s("+1 555 0000")})
	}
	if rep := e.run(Options{}); rep.Right.Created != nl || rep.Left.Created != nr {
		e.t.Fatalf("first run: %+v / %+v", rep.Left, rep.Right)
	}
	var p pairs
	for _, l := range e.links() {
		p.left, p.right = append(p.left, l.LeftID), append(p.right, l.RightID)
	}
	return p
}

// sameSettledAsReadOrAfter fails t unless do, a run's outcome (see
// outcome) for a lazyMax, comes to the same with records settled as they
// are read (lazyMax 2) and looked at after the read (lazyMax past them).
func sameSettledAsReadOrAfter(t *testing.T, do func(lazyMax int) string) {
	t.Helper()
	if asRead, after := do(2), do(1<<20); asRead != after {
		t.Errorf("settled as read:\n%s\nlooked at after the read:\n%s", asRead, after)
	}
}

// settlingChange is something done to linked records (see linkedPairs),
// edit what is changed of the definition, before a run that may settle
// records as it reads them.
type settlingChange struct {
	name   string
	edit   func(*syncdef.Definition)
	change func(e *env, p pairs)
}

func propagateDeletes(d *syncdef.Definition) { d.Deletes = syncdef.DeletesPropagate }

// settlingChanges are the changes both ways of settling must agree on,
// whatever records they settle (echoes, bucket reads).
func settlingChanges() []settlingChange {
	return []settlingChange{
		{"a partner deleted, deletes ignored", nil, func(e *env, p pairs) {
			e.delete(e.left, p.left[3])
		}},
		{"a partner deleted on each side, deletes propagated", propagateDeletes, func(e *env, p pairs) {
			e.delete(e.left, p.left[3])
			e.delete(e.right, p.right[8])
		}},
		{"a partner deleted and its email taken by a new record", nil, func(e *env, p pairs) {
			email := e.left.Snapshot(obj)[p.left[2]].Fields["email"]
			e.delete(e.left, p.left[2])
			e.create(e.left, map[string]sdk.Value{"email": email, "company": s("Initech")})
		}},
		{"partners changed", nil, func(e *env, p pairs) {
			e.update(e.left, p.left[4], map[string]sdk.Value{"company": s("Globex")})
			e.update(e.right, p.right[9], map[string]sdk.Value{"phone": s("+1 555 0100")})
		}},
	}
}

// A side's second read (wide, after a narrow one) leaves out the echoes the
// first settled, at the version it settled them; a later version or a
// tombstone of one is taken as any record is, and it is settled no more.
func TestSecondReadLeavesSettledEchoesOut(t *testing.T) {
	tests := []struct {
		name    string
		rec     sdk.Record
		kept    bool // among the records read
		gone    bool // among the tombstones
		settled bool // still settled after
	}{
		{"the version settled", sdk.Record{ID: "a", Version: "1", Values: []sdk.Value{s("a@x.io")}}, false, false, true},
		{"a later version", sdk.Record{ID: "a", Version: "2", Values: []sdk.Value{s("a@x.io")}}, true, false, false},
		{"a tombstone", sdk.Record{ID: "a", Deleted: true}, false, true, false},
		{"another record", sdk.Record{ID: "b", Version: "1", Values: []sdk.Value{s("b@x.io")}}, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{echoSeed: maphash.MakeSeed()}
			sd := &side{fields: []string{"email"}, recs: map[string]*rec{}, tomb: map[string]bool{}}
			sd.echo = newEchoes(r, sd)
			sd.echo.seen[r.echoHash("a")] = r.echoHash("1") // settled by the first read
			sd.echo.open = false
			if err := (&sink{s: sd}).Records([]sdk.Record{tt.rec}); err != nil {
				t.Fatal(err)
			}
			_, kept := sd.recs[tt.rec.ID]
			if kept != tt.kept || sd.tomb[tt.rec.ID] != tt.gone || sd.echo.settled("a", "1") != tt.settled {
				t.Errorf("kept %v, gone %v, a still settled %v; want %v, %v, %v",
					kept, sd.tomb[tt.rec.ID], sd.echo.settled("a", "1"), tt.kept, tt.gone, tt.settled)
			}
		})
	}
}

// A side's first read keeps none of the echoes it settles, only their
// hashes; a record at another version than its link's, or with no link, is
// kept as any record read.
func TestFirstReadKeepsNoSettledEcho(t *testing.T) {
	e := newEnv(t, nil)
	var left []string
	for i := range 3 {
		left = append(left, e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))}))
	}
	e.run(Options{})
	right := map[string]string{} // left id → right id
	for _, l := range e.links() {
		right[l.LeftID] = l.RightID
	}
	r := &run{e: e.eng, def: e.def, echoSeed: maphash.MakeSeed(), trustVersions: true}
	for _, m := range e.def.Mappings {
		r.mapKeys = append(r.mapKeys, mapKey(m))
	}
	sd := &side{i: sideR, name: "right", fields: []string{"email"}, recs: map[string]*rec{}, tomb: map[string]bool{}}
	sd.echo = newEchoes(r, sd)
	recOf := func(id, version string) sdk.Record {
		return sdk.Record{ID: id, Version: version, Values: []sdk.Value{s("x")}}
	}
	echo, _ := e.right.Get(obj, right[left[0]])
	other, _ := e.right.Get(obj, right[left[1]])
	recs := []sdk.Record{recOf(echo.ID, echo.Version), recOf(other.ID, other.Version+"-later"), recOf("unlinked", "1")}
	if err := (&sink{ctx: e.ctx, s: sd}).Records(recs); err != nil {
		t.Fatal(err)
	}
	if _, kept := sd.recs[echo.ID]; kept || !sd.echo.settled(echo.ID, echo.Version) {
		t.Errorf("the echo: kept %v, settled %v; want it settled, not kept", kept, sd.echo.settled(echo.ID, echo.Version))
	}
	for _, id := range []string{other.ID, "unlinked"} {
		if _, kept := sd.recs[id]; !kept || sd.echo.has(id) {
			t.Errorf("%s: kept %v, settled %v; want it kept, not settled", id, kept, sd.echo.has(id))
		}
	}
}
