package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

// sliceScenario syncs ten contacts made on each side, then changes many on
// both sides: left first names (its first change, l0, comes first), right
// last names (the change of l0's partner comes last), creates and a
// delete. Read in slices of three, l0's change is in the left's first slice
// and its partner's in the right's last. It returns the run of the changes.
func sliceScenario(t *testing.T, e *env) Report {
	t.Helper()
	left := e.contacts(e.left, "l", 10)
	right := e.contacts(e.right, "r", 10)
	e.run(Options{})
	e.quiet()
	partner := map[string]string{} // left id → right id
	for _, l := range e.links() {
		partner[l.LeftID] = l.RightID
	}
	for i, id := range left[:6] {
		e.update(e.left, id, map[string]sdk.Value{"first_name": s(fmt.Sprint("L", i))})
	}
	e.create(e.left, map[string]sdk.Value{"email": s("new-left1@x.io"), "company": s("NL1")})
	e.create(e.left, map[string]sdk.Value{"email": s("new-left2@x.io"), "company": s("NL2")})
	e.delete(e.left, left[9])
	for i, id := range right[:4] {
		e.update(e.right, id, map[string]sdk.Value{"last_name": s(fmt.Sprint("R", i))})
	}
	e.create(e.right, map[string]sdk.Value{"email": s("new-right1@x.io"), "company": s("NR1")})
	e.create(e.right, map[string]sdk.Value{"email": s("new-right2@x.io"), "company": s("NR2")})
	e.update(e.right, partner[left[0]], map[string]sdk.Value{"last_name": s("Both")})
	return e.run(Options{})
}

// contents is an app's records by email, without their ids, versions and
// modification times, which differ between runs that sync alike.
func contents(t *testing.T, c *memory.Connector) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, it := range c.Snapshot(obj) {
		f := maps.Clone(it.Fields)
		delete(f, memory.FieldUpdatedAt)
		delete(f, memory.FieldExternalID)
		email := f[memory.FieldEmail].Str
		if _, dup := out[email]; dup {
			t.Fatalf("two records of %s: %+v", email, c.Snapshot(obj))
		}
		out[email] = fmt.Sprint(f)
	}
	return out
}

// A run that reads in slices ends where one unsliced run does: a record
// changed on both sides, its changes in different slices, has both merged,
// nothing is lost or doubled, and the report adds up the slices'.
func TestSlicedRunSyncsAsOneRun(t *testing.T) {
	whole := newEnv(t, nil)
	whole.eng.sliceMax = 0
	whole.advertiseByID()
	want := sliceScenario(t, whole)

	sliced := newEnv(t, nil)
	sliced.eng.sliceMax = 3
	sliced.readBatch(1) // a checkpoint after each record
	refusals := &refusalCounter{Conn: sliced.conns["news"]}
	sliced.conns["news"] = refusals
	sliced.advertiseByID() // a run slices only with lookups by id (see readBoth)
	runs, err := sliced.st.Runs(sliced.ctx, sliced.def.Name, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := sliceScenario(t, sliced)

	for _, side := range []struct {
		name       string
		whole, got *memory.Connector
	}{{"left", whole.left, sliced.left}, {"right", whole.right, sliced.right}} {
		w, g := contents(t, side.whole), contents(t, side.got)
		if !maps.Equal(w, g) {
			t.Errorf("%s side after a sliced run:\n%v\nafter one run:\n%v", side.name, g, w)
		}
	}
	if lw, lg := len(whole.links()), len(sliced.links()); lw != lg {
		t.Errorf("%d links after a sliced run, %d after one run", lg, lw)
	}
	// l0's change is in the left's first slice, its partner's in the right's
	// last: the first slice looks the partner up (lookupPartners) and
	// merges both changes, so no write goes with a version the partner has
	// left behind (refused as stale).
	if refusals.n != 0 {
		t.Errorf("%d writes to the right refused as stale: l0's partner was not looked up", refusals.n)
	}
	// Each changed record is read once, whatever the slices: the echoes of
	// the slices' own writes are skipped, those past a cut too.
	if got.Left != want.Left || got.Right != want.Right {
		t.Errorf("sliced run counts left %+v right %+v; one run: left %+v right %+v", got.Left, got.Right, want.Left, want.Right)
	}
	if len(got.Errors) != 0 {
		t.Errorf("errors of records a later slice synced are reported: %+v", got.Errors)
	}
	if got.Slices < 3 || want.Slices != 0 {
		t.Errorf("the sliced run reports %d slices, the whole one %d", got.Slices, want.Slices)
	}
	if errs := sliced.storedErrors(""); len(errs) != 0 {
		t.Errorf("errors left: %v", errs)
	}
	after, err := sliced.st.Runs(sliced.ctx, sliced.def.Name, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(runs)+3 { // the first, the quiet one, the sliced one
		t.Errorf("%d runs recorded for three, one of them sliced", len(after)-len(runs))
	} else if v := NewRunView(after[0]); v.Left != got.Left || v.Right != got.Right || v.ID != got.RunID {
		t.Errorf("stored run %+v, report %+v", v, got)
	}
	sliced.quiet()
	whole.quiet()
}

// A record whose update failed and that changed again past a slice's cut
// is not retried from its snapshot (the values it failed with) before the
// last slice, nor merged from it with a partner an earlier slice read: it
// is looked up by id first (run.refreshSnapshots). Written to an empty
// partner, the older value would stay there under a fill-only mapping
// (TestPropertyFreshMappings found it, seed 3494496074305138854).
func TestSlicedRunRetriesNoSnapshotPastItsCut(t *testing.T) {
	fillOnly := func(d *syncdef.Definition) {
		for i := range d.Mappings {
			if d.Mappings[i].Left == "first_name" {
				d.Mappings[i].Rule = mapping.RuleFillOnly
			}
		}
	}
	// partnerChanged: l3's partner changes too, read in the first slice.
	do := func(sliceMax int, partnerChanged bool) (map[string]string, Report) {
		e := newEnv(t, fillOnly)
		e.eng.sliceMax = sliceMax
		e.readBatch(1)
		ids := e.contacts(e.left, "l", 4)
		e.run(Options{})
		e.advertiseByID()
		e.update(e.left, ids[3], map[string]sdk.Value{"first_name": s("Bob")})
		if rep := e.runRefusingUpdates(sideR); rep.Right.Failed != 1 {
			t.Fatalf("refused run: right %+v, want the update of l3 failed", rep.Right)
		}
		for i := range 3 {
			e.update(e.left, ids[i], map[string]sdk.Value{"company": s(fmt.Sprint("C", i))})
		}
		if partnerChanged {
			for _, l := range e.links() {
				if l.LeftID == ids[3] {
					e.update(e.right, l.RightID, map[string]sdk.Value{"company": s("R3")})
				}
			}
		}
		e.update(e.left, ids[3], map[string]sdk.Value{"first_name": s("Ann")})
		rep := e.run(Options{})
		e.quiet()
		return contents(t, e.right), rep
	}
	for _, partnerChanged := range []bool{false, true} {
		want, _ := do(0, partnerChanged)
		if !strings.Contains(want["l3@x.io"], `first_name:"Ann"`) {
			t.Fatalf("one run: l3 on the right is %s, want Ann", want["l3@x.io"])
		}
		got, rep := do(2, partnerChanged)
		if rep.Slices < 2 {
			t.Fatalf("%d slices, want l3's change past the first cut", rep.Slices)
		}
		if !maps.Equal(got, want) {
			t.Errorf("partner changed %v: right side after a sliced run:\n%v\nafter one run:\n%v", partnerChanged, got, want)
		}
	}
}

// A slice that merges a changed record with a partner it has not read yet
// looks the partner up first (lookupPartners): the partner may have changed
// past the cut, as here, and merged as at its linked version, a field in
// step with its old value would take that for the base; a later slice
// reading the change would then drop the left's change of a one-way field
// to it. One run sees both changes and writes the left's. So with the
// left's change alone (nothing to write), with another field to write, and
// with that write refused (TestPropertyFreshMappings found this one, seed
// 1317263984716602049; see also finalizeLink's verified).
func TestSlicedRunMergesWithAPartnerChangedPastItsCut(t *testing.T) {
	do := func(sliceMax int, write, refuse bool) map[string]string {
		e := newEnv(t, func(d *syncdef.Definition) { d.Direction = mapping.DirLeftToRight })
		e.eng.sliceMax = sliceMax
		e.readBatch(1)
		e.contacts(e.left, "l", 3)
		e.run(Options{})
		e.advertiseByID()
		partner := map[string]string{} // email → right id
		for id, it := range e.right.Snapshot(obj) {
			partner[it.Fields[memory.FieldEmail].Str] = id
		}
		e.update(e.right, partner["l2@x.io"], map[string]sdk.Value{"company": s("Ann")}) // kept: one-way
		e.run(Options{})
		// The left's change makes l2's company what the right's was; the
		// right's, read in a later slice (after two others), takes it away.
		change := map[string]sdk.Value{"company": s("Ann")}
		if write {
			change["first_name"] = s("Bob")
		}
		for id, it := range e.left.Snapshot(obj) {
			if it.Fields[memory.FieldEmail].Str == "l2@x.io" {
				e.update(e.left, id, change)
			}
		}
		e.update(e.right, partner["l0@x.io"], map[string]sdk.Value{"last_name": s("R0")})
		e.update(e.right, partner["l1@x.io"], map[string]sdk.Value{"last_name": s("R1")})
		e.update(e.right, partner["l2@x.io"], map[string]sdk.Value{"company": sdk.Null})
		if refuse {
			if rep := e.runRefusingUpdates(sideR); rep.Right.Failed == 0 {
				t.Fatalf("refused run: right %+v, want l2's update failed", rep.Right)
			}
		}
		rep := e.run(Options{})
		if sliceMax > 0 && !refuse && rep.Slices < 2 {
			t.Fatalf("%d slices, want the right's change of l2 past the first cut", rep.Slices)
		}
		e.quiet()
		return contents(t, e.right)
	}
	for _, c := range []struct{ write, refuse bool }{{false, false}, {true, false}, {true, true}} {
		want := do(0, c.write, c.refuse)
		if !strings.Contains(want["l2@x.io"], `company:"Ann"`) {
			t.Fatalf("one run: l2 on the right is %s, want the left's company, Ann", want["l2@x.io"])
		}
		if got := do(2, c.write, c.refuse); !maps.Equal(got, want) {
			t.Errorf("%+v: right side after sliced runs:\n%v\nafter whole runs:\n%v", c, got, want)
		}
	}
}

// A record whose change an earlier slice took in (a left-to-right field of
// a right-to-left sync: nothing to write, the link takes its version) is
// not deleted by its partner's delete that a later slice reads: to one run
// the two are concurrent, and modify beats delete, as in one slice: the
// survivor is looked up by id and created anew. A connector that cannot
// look records up is read in one slice, to the same end.
func TestSlicedRunKeepsASurvivorChangedInAnEarlierSlice(t *testing.T) {
	def := func(d *syncdef.Definition) {
		d.Direction, d.Deletes = mapping.DirRightToLeft, syncdef.DeletesPropagate
	}
	do := func(sliceMax int, byID bool) (map[string]string, map[string]string, Report) {
		e := newEnv(t, def)
		e.eng.sliceMax = sliceMax
		e.readBatch(1)
		rights := e.contacts(e.right, "r", 4)
		e.run(Options{})
		if byID {
			e.advertiseByID()
		}
		l3 := byEmail(e.left)["r3@x.io"].ID
		e.update(e.left, l3, map[string]sdk.Value{"company": s("Mine")}) // read in the first slice
		e.update(e.right, rights[0], map[string]sdk.Value{"company": s("R0")})
		e.update(e.right, rights[1], map[string]sdk.Value{"company": s("R1")})
		e.delete(e.right, rights[3]) // read in the third
		rep := e.run(Options{})
		return contents(t, e.left), contents(t, e.right), rep
	}
	wantL, wantR, _ := do(0, false)
	if !strings.Contains(wantL["r3@x.io"], `company:"Mine"`) || wantR["r3@x.io"] == "" {
		t.Fatalf("one run: left %v right %v; want r3 kept with its change and created anew on the right", wantL, wantR)
	}
	for _, byID := range []bool{true, false} {
		gotL, gotR, rep := do(1, byID)
		if byID && rep.Slices < 3 {
			t.Fatalf("%d slices, want the delete read after l3's change", rep.Slices)
		}
		if !byID && rep.Slices != 0 {
			t.Errorf("no lookups by id: %d slices, want one read", rep.Slices)
		}
		if !maps.Equal(gotL, wantL) || !maps.Equal(gotR, wantR) {
			t.Errorf("sliced, lookups by id %v: left %v right %v; one run: left %v right %v", byID, gotL, gotR, wantL, wantR)
		}
	}
}

// Options.Stop stops a sliced run between slices; the next run goes on
// from the cut and loses nothing.
func TestSlicedRunStopsBetweenSlices(t *testing.T) {
	stop := make(chan struct{})
	stopAfter := -1 // slices to let finish before stopping (-1: never)
	e := newEnv(t, nil, WithFailpoint(func(step string) error {
		if step == "cursors" && stopAfter >= 0 {
			if stopAfter--; stopAfter < 0 {
				close(stop)
			}
		}
		return nil
	}))
	e.eng.sliceMax = 2
	e.readBatch(1)
	e.advertiseByID()
	ids := e.contacts(e.left, "l", 8)
	e.run(Options{})
	for i, id := range ids {
		e.update(e.left, id, map[string]sdk.Value{"company": s(fmt.Sprint("C", i))})
	}
	stopAfter = 0
	rep, err := e.eng.Run(e.ctx, e.def, Options{Stop: stop})
	if !errors.Is(err, ErrStopped) || rep.Right.Updated != 2 {
		t.Fatalf("stopped run: %v, right %+v; want ErrStopped after one slice of 2 updates", err, rep.Right)
	}
	rep = e.run(Options{})
	if rep.Right.Updated != 6 {
		t.Fatalf("the run after updated %d records, want the 6 left", rep.Right.Updated)
	}
	for email, it := range byEmail(e.right) {
		if it.Fields["company"].Str == "" {
			t.Errorf("%s not synced", email)
		}
	}
	e.quiet()
}

// fiveChangedInSlicesOfOne syncs five contacts, then changes each on the
// left, with slices of one record read a record a batch.
func fiveChangedInSlicesOfOne(t *testing.T) *env {
	e := newEnv(t, nil)
	e.eng.sliceMax = 1
	e.readBatch(1)
	ids := e.contacts(e.left, "l", 5)
	e.run(Options{})
	for _, id := range ids {
		e.update(e.left, id, map[string]sdk.Value{"company": s("X")})
	}
	return e
}

// A dry run and a complete run read everything at once.
func TestPlanAndFullRunDoNotSlice(t *testing.T) {
	e := fiveChangedInSlicesOfOne(t)
	p, err := e.eng.Plan(e.ctx, e.def, Options{})
	if err != nil || len(p.Right.Update) != 5 {
		t.Fatalf("plan: %v, %d updates, want 5", err, len(p.Right.Update))
	}
	before, err := e.st.Runs(e.ctx, e.def.Name, 100)
	if err != nil {
		t.Fatal(err)
	}
	if rep := e.run(Options{Full: true}); rep.Right.Updated != 5 || rep.Left.Read != 5 {
		t.Fatalf("full run: left %+v right %+v", rep.Left, rep.Right)
	}
	if after, _ := e.st.Runs(e.ctx, e.def.Name, 100); len(after) != len(before)+1 {
		t.Fatalf("%d runs recorded for one", len(after)-len(before))
	}
	e.quiet()
}

// stuckConn's reads checkpoint where they started: a connector may, as
// reading again from there loses nothing (sdk.RecordSink.Checkpoint).
type stuckConn struct {
	Conn
	reads *int
}

func (c stuckConn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if *c.reads++; *c.reads > 50 {
		return errors.New("read again and again")
	}
	return c.Conn.Read(ctx, req, stuckSink{sink, req.Cursor})
}

type stuckSink struct {
	sdk.RecordSink
	cursor string
}

func (s stuckSink) Checkpoint(string) error { return s.RecordSink.Checkpoint(s.cursor) }

// A read is not cut at the cursor it started from: the next slice would
// read the same again, for ever.
func TestSliceNotCutAtTheStartingCursor(t *testing.T) {
	e := fiveChangedInSlicesOfOne(t)
	reads := 0
	e.conns["crm"] = stuckConn{e.conns["crm"], &reads}
	if rep := e.run(Options{}); rep.Right.Updated != 5 {
		t.Fatalf("right %+v, want 5 updates", rep.Right)
	}
}

// refusalCounter counts the writes a connection refused as stale
// (sdk.CategoryConflict: the record changed since the version sent).
type refusalCounter struct {
	Conn
	n int
}

func (c *refusalCounter) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	res, err := c.Conn.Write(ctx, req)
	for _, x := range res {
		if x.Err != nil && x.Err.Category == sdk.CategoryConflict {
			c.n++
		}
	}
	return res, err
}

// staleEnv is an env holding one linked contact, a0 (lid on the left, rid
// on the right), whose runs call *meanwhile once, after their reads (at
// the journal): a change made there comes after the read, and the run's
// write to that record is refused as stale.
func staleEnv(t *testing.T, edit func(*syncdef.Definition)) (e *env, meanwhile *func(), lid, rid string) {
	t.Helper()
	meanwhile = new(func())
	e = newEnv(t, edit, WithFailpoint(func(step string) error {
		if step == "journaled" && *meanwhile != nil {
			(*meanwhile)()
			*meanwhile = nil
		}
		return nil
	}))
	lid = e.contacts(e.left, "a", 1)[0]
	e.run(Options{})
	return e, meanwhile, lid, e.links()[0].RightID
}

// A write refused because its record changed after the run read it is a
// stale write, not a conflict to settle by hand: its error says it is
// merged again, and the next run merges both changes.
func TestStaleWriteIsMergedAgain(t *testing.T) {
	e, meanwhile, lid, rid := staleEnv(t, nil)
	e.update(e.left, lid, map[string]sdk.Value{"first_name": s("Ann")})
	*meanwhile = func() { e.update(e.right, rid, map[string]sdk.Value{"last_name": s("Lee")}) }
	rep := e.run(Options{})
	g := findGroup(rep, categoryStale)
	if g == nil || g.Count != 1 || !strings.Contains(g.Hint, "merged again") {
		t.Fatalf("errors of a write refused as stale: %+v", rep.Errors)
	}
	if errs := e.storedErrors("conflict"); len(errs) != 0 {
		t.Errorf("a stale write stored as a conflict to settle: %v", errs)
	}
	e.run(Options{})
	for _, c := range []*memory.Connector{e.left, e.right} {
		got := byEmail(c)["a0@x.io"].Fields
		if got["first_name"].Str != "Ann" || got["last_name"].Str != "Lee" {
			t.Errorf("after the next run: %+v", got)
		}
	}
	if errs := e.storedErrors(""); len(errs) != 0 {
		t.Errorf("errors left: %v", errs)
	}
	e.quiet()
}

// A stale write leaves the base of the fields it found in step as it was
// (finalizeLink's verified): the partner, not read but taken as at its
// linked version, changed meanwhile, so what the run saw in step was not.
// Here the left makes a one-way field what the right's was, and the right
// empties it during the run: the next run writes the left's change, as a
// run reading both changes would, where a base taken from the right's old
// value made the left's change look old and the right's empty field stay.
func TestStaleWriteKeepsTheBaseOfFieldsItFoundInStep(t *testing.T) {
	e, meanwhile, lid, rid := staleEnv(t, func(d *syncdef.Definition) { d.Direction = mapping.DirLeftToRight })
	e.update(e.right, rid, map[string]sdk.Value{"company": s("Ann")}) // kept: one-way
	e.run(Options{})
	e.update(e.left, lid, map[string]sdk.Value{"company": s("Ann"), "first_name": s("Bob")})
	*meanwhile = func() { e.update(e.right, rid, map[string]sdk.Value{"company": sdk.Null}) }
	if rep := e.run(Options{}); findGroup(rep, categoryStale) == nil {
		t.Fatalf("the run's write was not refused as stale: %+v", rep.Errors)
	}
	e.run(Options{})
	got := byEmail(e.right)["a0@x.io"].Fields
	if got["company"].Str != "Ann" || got["first_name"].Str != "Bob" {
		t.Errorf("the right after the next run: %+v, want the left's company (Ann) and first name (Bob)", got)
	}
	e.quiet()
}

// A run decides which failed records are due a retry by when it began, in
// every slice: a retry that comes due while the slices go (each write here
// ticks the apps' clock a minute) is left to the next run, as in a run of
// one slice. The slices of one run are one run to its records.
func TestSlicedRunDecidesRetriesByItsStart(t *testing.T) {
	do := func(sliceMax int) (map[string]string, Report) {
		e := newEnv(t, nil)
		e.readBatch(1)
		e.advertiseByID()
		ids := e.contacts(e.left, "l", 4)
		e.run(Options{})
		e.update(e.left, ids[0], map[string]sdk.Value{"company": s("Failing")})
		// Refused in three runs of one slice, its next retry is four
		// minutes after the third began: a minute after the last run
		// begins, and before it ends.
		for range 3 {
			e.right.SetFailer(func(op string) error {
				if op == "write.update" {
					return sdk.Errorf(sdk.CategoryValidation, "refused")
				}
				return nil
			})
			rep := e.run(Options{RetryAll: true})
			e.right.SetFailer(nil)
			if rep.Right.Failed != 1 {
				t.Fatalf("refused run: right %+v, want the update of l0 failed", rep.Right)
			}
		}
		for i := 1; i < 4; i++ {
			e.update(e.left, ids[i], map[string]sdk.Value{"company": s(fmt.Sprint("C", i))})
		}
		e.eng.sliceMax = sliceMax
		rep := e.run(Options{})
		return contents(t, e.right), rep
	}
	want, wantRep := do(0)
	if strings.Contains(want["l0@x.io"], "Failing") || wantRep.Right.Updated != 3 {
		t.Fatalf("one run: l0 on the right is %s, %d updated; want l0 not retried yet, the other three updated",
			want["l0@x.io"], wantRep.Right.Updated)
	}
	got, rep := do(1)
	if rep.Slices < 3 {
		t.Fatalf("%d slices, want one a change", rep.Slices)
	}
	if !maps.Equal(got, want) || rep.Right.Updated != wantRep.Right.Updated {
		t.Errorf("right side after a sliced run (%d updated):\n%v\nafter one run (%d updated):\n%v", rep.Right.Updated, got,
			wantRep.Right.Updated, want)
	}
}
