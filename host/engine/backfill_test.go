package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

// advertiseByID wraps both apps' connections as connections whose connector
// advertises lookups by id (as a plugin's says), so that runs backfill fresh
// mappings (see backfill.go); it returns the wrappers, which count reads.
func (e *env) advertiseByID() [2]*wrapped {
	var out [2]*wrapped
	for i, name := range []string{"crm", "news"} {
		w := &wrapped{Conn: e.conns[name]}
		e.conns[name] = advertising{w, true}
		out[i] = w
	}
	return out
}

// stateOf is outcome without the run's counts: a backfill reads and counts
// otherwise than a complete read (lookups, a pair merged twice), to the same
// end.
func stateOf(e *env) string {
	out := outcome(e, Report{})
	return out[:strings.LastIndex(out, "\nleft {")]
}

// prepareFresh sets up a case of freshCases up to its edited definition,
// for a run that merges the fresh mappings the way how says: "backfill", or
// "whole" (noFresh); it returns the env and the wrappers of its
// connections.
func prepareFresh(t *testing.T, before, after func(*syncdef.Definition), change func(*env, pairs), how string) (*env, [2]*wrapped) {
	e := newEnv(t, before, WithBatchSize(3))
	e.eng.backfillMax = 3 // pages of a few links
	ws := e.advertiseByID()
	if how != "backfill" {
		for i, name := range []string{"crm", "news"} {
			e.conns[name] = ws[i] // cannot say: not asked
		}
	}
	p := e.linkedPairs(12, 4)
	e.run(Options{}) // the echoes
	full := baseDef()
	if after != nil {
		full = e.def
		after(&full)
	}
	change(e, p)
	e.def = full
	e.eng.noFresh = how == "whole"
	return e, ws
}

// A run backfilling fresh mappings (incremental reads, then pages of links
// looked up by id) comes to what a run merging every record whole comes to,
// reads neither side completely, and leaves every link's base with every
// mapping: the run after it writes nothing and reads nothing but digests
// with --full.
func TestBackfillMergesAsAWholeMergeWould(t *testing.T) {
	for _, tt := range freshCases() {
		t.Run(tt.name, func(t *testing.T) {
			e, ws := prepareFresh(t, tt.before, tt.after, tt.change, "backfill")
			full := [2]int{ws[0].fullReads, ws[1].fullReads}
			e.run(Options{})
			if ws[0].fullReads != full[0] || ws[1].fullReads != full[1] {
				t.Errorf("a side was read completely: %d, %d complete reads", ws[0].fullReads-full[0], ws[1].fullReads-full[1])
			}
			if ws[0].lookups == 0 || ws[1].lookups == 0 {
				t.Errorf("no lookups by id (%d, %d): not backfilled", ws[0].lookups, ws[1].lookups)
			}
			e.quiet()
			got := stateOf(e)
			w, _ := prepareFresh(t, tt.before, tt.after, tt.change, "whole")
			w.run(Options{})
			w.quiet()
			if want := stateOf(w); got != want {
				t.Errorf("backfilled:\n%s\nevery record merged whole:\n%s", got, want)
			}
			checkBasesCover(t, e)
			rep := e.run(Options{Full: true})
			if rep.Writes() != 0 || rep.Left.Read != 0 || rep.Right.Read != 0 {
				t.Errorf("full run after the backfill: wrote %d, read %d/%d; want nothing beyond digests", rep.Writes(), rep.Left.Read, rep.Right.Read)
			}
		})
	}
}

// checkBasesCover fails unless every link's base holds every mapping and
// the cursors carry the definition's fingerprint.
func checkBasesCover(t *testing.T, e *env) {
	t.Helper()
	var keys []string
	for _, m := range e.def.Mappings {
		keys = append(keys, mapKey(m))
	}
	for _, l := range e.links() {
		for _, k := range keys {
			if _, ok := l.Base.Get(k); !ok && l.State == store.LinkSyncing {
				t.Errorf("link %s↔%s: no base for %s", l.LeftID, l.RightID, k)
			}
		}
	}
	cs, err := e.st.Cursors(e.ctx, e.def.Name)
	if err != nil {
		t.Fatal(err)
	}
	for side, c := range cs {
		if c.Fingerprint != fingerprint(e.def) {
			t.Errorf("%s cursor's fingerprint %q, want the definition's", side, c.Fingerprint)
		}
	}
}

// A record changed after the run's incremental read, before the backfill
// looks it up, is merged with its partner as a complete read would merge
// it: left to the next incremental read, it would be merged with its
// partner unknown, and the fresh mapping skipped for good.
func TestBackfillMergesRecordsChangedSinceTheRead(t *testing.T) {
	do := func(how string) string {
		e, ws := prepareFresh(t, func(d *syncdef.Definition) { *d = without(*d, "company") }, nil, func(e *env, p pairs) {
			e.update(e.right, p.right[3], map[string]sdk.Value{"company": s("Globex")})
		}, how)
		changed := false
		change := func() {
			if !changed {
				changed = true
				links := e.links()
				e.update(e.left, links[5].LeftID, map[string]sdk.Value{"company": s("Hooli"), "phone": s("+1 555 0199")})
			}
		}
		if how == "backfill" {
			ws[0].beforeLookup = change
		} else {
			change()
		}
		e.run(Options{})
		e.run(Options{})
		e.quiet()
		return stateOf(e)
	}
	if got, want := do("backfill"), do("whole"); got != want {
		t.Errorf("backfilled:\n%s\nevery record merged whole:\n%s", got, want)
	}
}

// A run stopped, or failing, in the middle of its backfill leaves the
// cursors with their old fingerprint: the next run backfills again and
// comes to what an uninterrupted one comes to.
func TestBackfillInterrupted(t *testing.T) {
	before := func(d *syncdef.Definition) { *d = without(*d, "company") }
	change := func(e *env, p pairs) {
		for i := 0; i < 16; i += 2 {
			e.update([2]*memory.Connector{e.left, e.right}[i%4/2], [2][]string{p.left, p.right}[i%4/2][i], map[string]sdk.Value{"company": s(fmt.Sprint("Co ", i))})
		}
	}
	ref, _ := prepareFresh(t, before, nil, change, "backfill")
	ref.run(Options{})
	ref.quiet()
	want := stateOf(ref)
	for _, how := range []string{"stop", "fail"} {
		for nth := 1; nth <= 4; nth++ {
			t.Run(fmt.Sprintf("%s-%d", how, nth), func(t *testing.T) {
				e, ws := prepareFresh(t, before, nil, change, "backfill")
				stop := make(chan struct{})
				hits := 0
				ws[0].beforeLookup = func() {
					if hits++; hits == nth && how == "stop" {
						close(stop)
					}
				}
				if how == "fail" {
					e.eng.fail = func(step string) error {
						if step == "committed" && hits >= nth {
							return errors.New("killed")
						}
						return nil
					}
				}
				_, err := e.eng.Run(e.ctx, e.def, Options{Stop: stop})
				if err == nil {
					t.Fatalf("the run was not interrupted (%d lookups)", hits)
				}
				cs, cerr := e.st.Cursors(e.ctx, e.def.Name)
				if cerr != nil {
					t.Fatal(cerr)
				}
				for side, c := range cs {
					if c.Fingerprint == fingerprint(e.def) {
						t.Fatalf("%s cursor stored with the new fingerprint by a run interrupted in its backfill", side)
					}
				}
				e.eng.fail = nil
				ws[0].beforeLookup = nil
				lookups := ws[0].lookups
				e.run(Options{})
				if ws[0].lookups == lookups {
					t.Fatal("the next run did not backfill")
				}
				e.quiet()
				if got := stateOf(e); got != want {
					t.Errorf("after an interrupted backfill:\n%s\nuninterrupted:\n%s", got, want)
				}
				checkBasesCover(t, e)
			})
		}
	}
}

// A connection whose connector does not advertise lookups by id, or cannot
// say (in process), is not asked for them: the fresh mapping is merged
// from complete reads, as before backfills.
func TestNoBackfillUnlessAdvertised(t *testing.T) {
	for _, says := range []bool{false, true} {
		e := newEnv(t, func(d *syncdef.Definition) { *d = without(*d, "company") })
		var ws [2]*wrapped
		for i, name := range []string{"crm", "news"} {
			ws[i] = &wrapped{Conn: e.conns[name]}
			e.conns[name] = ws[i]
			if says {
				e.conns[name] = advertising{ws[i], i == 0} // one side only
			}
		}
		e.linkedPairs(6, 2)
		e.run(Options{})
		e.def = baseDef()
		full := ws[0].fullReads + ws[1].fullReads
		e.run(Options{})
		if ws[0].lookups+ws[1].lookups != 0 || ws[0].fullReads+ws[1].fullReads != full+2 {
			t.Errorf("says %v: %d lookups, %d complete reads; want none and both sides", says, ws[0].lookups+ws[1].lookups, ws[0].fullReads+ws[1].fullReads-full)
		}
		e.quiet()
		checkBasesCover(t, e)
	}
}

// A record whose write fails in a backfilling run (its one try, merged with
// its partner looked up), or failed before it (merged by the backfill, held
// back as a complete read holds it), ends as in a run merging every record
// whole, and neither side is read completely.
func TestBackfillWithFailingRecords(t *testing.T) {
	stages := func(d *syncdef.Definition) {
		mappingOf(d, "lifecycle_stage").ValueMap = map[string]string{"lead": "lead", "customer": "Kunde"}
	}
	before := func(d *syncdef.Definition) { stages(d); *d = without(*d, "company") }
	after := func(d *syncdef.Definition) { *d = baseDef(); stages(d) }
	for _, failingBefore := range []bool{false, true} {
		// do returns the state the runs come to, and how many complete
		// reads the run of the edited definition made.
		do := func(how string) (string, int) {
			e, ws := prepareFresh(t, before, after, func(e *env, p pairs) {
				e.update(e.left, p.left[2], map[string]sdk.Value{"lifecycle_stage": s("customer")})
				e.update(e.right, p.right[2], map[string]sdk.Value{"company": s("Globex")})
				e.update(e.right, p.right[4], map[string]sdk.Value{"company": s("Initech")})
			}, how)
			if failingBefore {
				full := e.def
				e.def = without(full, "company")
				e.run(Options{}) // the failure, before the mapping is added
				e.def = full
			}
			reads := ws[0].fullReads + ws[1].fullReads
			rep := e.run(Options{})
			reads = ws[0].fullReads + ws[1].fullReads - reads
			e.run(Options{})
			// Each record is tried once a run: the backfill leaves alone
			// those that failed in the run before it (run.tried).
			return fmt.Sprintf("%s\nerrors of the run: %+v", stateOf(e), rep.Errors), reads
		}
		want, _ := do("whole")
		got, reads := do("backfill")
		if got != want {
			t.Errorf("failing before %v: backfilled:\n%s\nevery record merged whole:\n%s", failingBefore, got, want)
		}
		if !strings.Contains(got, "validation") {
			t.Errorf("failing before %v: no validation error:\n%s", failingBefore, got)
		}
		if reads != 0 {
			t.Errorf("failing before %v: %d complete reads", failingBefore, reads)
		}
	}
}

// A record failing without a link (no key to match it by, the most common
// failure) is no pair to backfill: the run after a mapping is added still
// backfills, reading neither side completely, and comes to what a whole
// merge comes to.
func TestBackfillWithUnlinkedFailingRecords(t *testing.T) {
	before := func(d *syncdef.Definition) { *d = without(*d, "company") }
	do := func(how string) (string, int) {
		e, ws := prepareFresh(t, before, nil, func(e *env, p pairs) {
			e.update(e.right, p.right[2], map[string]sdk.Value{"company": s("Globex")})
		}, how)
		full := e.def
		e.def = without(full, "company")
		e.create(e.left, map[string]sdk.Value{"first_name": s("No Mail"), "company": s("Acme")})
		e.run(Options{}) // its failure, before the mapping is added
		e.def = full
		reads := ws[0].fullReads + ws[1].fullReads
		e.run(Options{})
		reads = ws[0].fullReads + ws[1].fullReads - reads
		e.run(Options{})
		return stateOf(e), reads
	}
	want, _ := do("whole")
	got, reads := do("backfill")
	if got != want {
		t.Errorf("backfilled:\n%s\nevery record merged whole:\n%s", got, want)
	}
	if !strings.Contains(got, "missing_identifier") {
		t.Errorf("no missing_identifier error:\n%s", got)
	}
	if reads != 0 {
		t.Errorf("%d complete reads: the unlinked failing record kept the backfill off", reads)
	}
}

// A pair whose two records both failed before the run, neither due for a
// retry, is held back by the backfill as by a complete read (holdFailing):
// left alone, not written early.
func TestBackfillHoldsPairsFailingOnBothSides(t *testing.T) {
	before := func(d *syncdef.Definition) { *d = without(*d, "company") }
	do := func(how string) (string, int) {
		e, ws := prepareFresh(t, before, nil, func(e *env, p pairs) {
			e.update(e.left, p.left[3], map[string]sdk.Value{"first_name": s("Ann")})
			e.update(e.right, p.right[3], map[string]sdk.Value{"last_name": s("Lee")})
		}, how)
		full := e.def
		e.def = without(full, "company")
		if rep := e.runRefusingUpdates(sideL, sideR); rep.Left.Failed != 1 || rep.Right.Failed != 1 {
			t.Fatalf("%s: the run before: left %+v right %+v, want a failed update each", how, rep.Left, rep.Right)
		}
		e.def = full
		reads := ws[0].fullReads + ws[1].fullReads
		e.run(Options{})
		reads = ws[0].fullReads + ws[1].fullReads - reads
		return stateOf(e), reads
	}
	backfillsAsAWholeMergeWould(t, do)
}

// A record that failed before a mapping was added has a pending snapshot
// without the mapping's field. A backfilling run reads incrementally,
// where such a snapshot would stand for the record with that field empty,
// and a partner's older value would win: it looks the record up instead
// (TestPropertyFreshMappings found it).
func TestBackfillLooksUpSnapshotsTakenWithoutTheFreshField(t *testing.T) {
	do := func(how string) string {
		e, _ := prepareFresh(t, func(d *syncdef.Definition) { *d = without(*d, "first_name") }, nil, func(e *env, p pairs) {
			e.update(e.right, p.right[1], map[string]sdk.Value{"first_name": s("Bob")})
			e.update(e.left, p.left[1], map[string]sdk.Value{"first_name": s("Ann"), "phone": s("+1 555 0100")})
			full := e.def
			e.def = without(full, "first_name")
			// The phone, written to the right, is refused: the left record
			// is pending, its snapshot taken without first_name.
			if rep := e.runRefusingUpdates(sideR); rep.Right.Failed != 1 {
				t.Fatalf("the right's update was not refused: %+v", rep.Right)
			}
			e.def = full
		}, how)
		e.run(Options{RetryAll: true})
		return stateOf(e)
	}
	got, want := do("backfill"), do("whole")
	if got != want {
		t.Fatalf("backfilled:\n%s\nevery record merged whole:\n%s", got, want)
	}
	if pair := "first_name=Ann,phone=+1 555 0100"; strings.Count(got, pair) != 4 || strings.Contains(got, "first_name=Bob") {
		t.Fatalf("the left's later first name and its phone did not win on both sides:\n%s", got)
	}
}

// Creates an interrupted run journaled (written, not yet linked) do not
// keep a run with a fresh mapping from backfilling: they are settled into
// links first, and merged with the rest.
func TestBackfillAfterCreatesOfAnInterruptedRun(t *testing.T) {
	before := func(d *syncdef.Definition) { *d = without(*d, "company") }
	do := func(how string) (string, int) {
		e, ws := prepareFresh(t, before, nil, func(e *env, p pairs) {
			e.update(e.right, p.right[3], map[string]sdk.Value{"company": s("Globex")})
		}, how)
		full := e.def
		e.def = without(full, "company")
		for i := range 3 {
			e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("new%d@x.io", i)), "company": s("Hooli")})
		}
		e.eng.fail = func(step string) error {
			if step == "written" {
				return errors.New("killed")
			}
			return nil
		}
		if _, err := e.eng.Run(e.ctx, e.def, Options{}); err == nil {
			t.Fatalf("%s: the run was not interrupted", how)
		}
		e.eng.fail = nil
		if j, err := e.st.Journal(e.ctx, e.def.Name); err != nil || len(j) != 3 {
			t.Fatalf("%s: journal %v, %v; want the three creates", how, j, err)
		}
		e.def = full
		reads := ws[0].fullReads + ws[1].fullReads
		rep := e.run(Options{})
		reads = ws[0].fullReads + ws[1].fullReads - reads
		if rep.Settled != 3 {
			t.Errorf("%s: %d creates settled, want 3", how, rep.Settled)
		}
		e.run(Options{})
		return stateOf(e), reads
	}
	backfillsAsAWholeMergeWould(t, do)
}

// A mapping added back whose field changed on both sides meanwhile opens a
// conflict (the manual rule). The left record, at its linked version, is
// merged from a narrow read; the right, changed since, whole. Both stay
// pending with their values, so the conflict stays open the runs after, as
// after a whole merge, and the left's value is not taken for the base's
// and overwritten (TestPropertyFreshMappings found it, seed
// 8197689171921383405).
func TestFreshMappingConflictKeepsTheRecordsPending(t *testing.T) {
	manual := func(d *syncdef.Definition) { d.Conflict = mapping.RuleManual }
	do := func(how string) string {
		e, _ := prepareFresh(t, manual, manual, func(e *env, p pairs) {
			full := e.def
			e.def = without(full, "company")
			e.update(e.left, p.left[2], map[string]sdk.Value{"company": s("Bob")})
			e.run(Options{}) // company unmapped: the link takes the left's new version
			e.update(e.right, p.right[2], map[string]sdk.Value{"company": s("Ann")})
		}, how)
		e.run(Options{})
		out := stateOf(e)
		e.run(Options{})
		e.run(Options{})
		confl, err := e.st.Conflicts(e.ctx, e.def.Name)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s\nthen\n%s\nconflicts open: %d", out, stateOf(e), len(confl))
	}
	want := do("whole")
	if !strings.Contains(want, "company=Bob") || !strings.Contains(want, "conflicts open: 1") {
		t.Fatalf("whole merge: want the conflict open, Bob kept:\n%s", want)
	}
	for _, how := range []string{"narrow", "backfill"} {
		if got := do(how); got != want {
			t.Errorf("%s:\n%s\nevery record merged whole:\n%s", how, got, want)
		}
	}
}

// Conflicts open when a mapping is added back do not force a complete read:
// the run backfills, merging the conflicted pairs whole (not in step), and
// comes to what a whole merge comes to. One conflict is on a field mapped
// all along, another opens on the fresh mapping itself, and a third pair is
// in conflict on one field and changed on the fresh one.
func TestBackfillWithConflictsOpen(t *testing.T) {
	manual := func(d *syncdef.Definition) { d.Conflict = mapping.RuleManual }
	do := func(how string) (string, int) {
		var full syncdef.Definition
		e, ws := prepareFresh(t, manual, manual, func(e *env, p pairs) {
			full = e.def
			e.def = without(full, "company")
			e.update(e.left, p.left[1], map[string]sdk.Value{"phone": s("+1 555 0101")})
			e.update(e.right, p.right[1], map[string]sdk.Value{"phone": s("+1 555 0202")})
			e.update(e.left, p.left[5], map[string]sdk.Value{"phone": s("+1 555 0505")})
			e.update(e.right, p.right[5], map[string]sdk.Value{"phone": s("+1 555 0606")})
			e.run(Options{}) // phone in conflict on pairs 1 and 5
			e.update(e.left, p.left[3], map[string]sdk.Value{"company": s("Bob")})
			e.run(Options{}) // company unmapped: the link takes the left's new version
			e.update(e.right, p.right[3], map[string]sdk.Value{"company": s("Ann")})
			e.update(e.left, p.left[5], map[string]sdk.Value{"company": s("Carol")})
			if c, err := e.st.Conflicts(e.ctx, e.def.Name); err != nil || len(c) != 2 {
				t.Fatalf("%s: conflicts %v, %v; want phone's two open", how, c, err)
			}
		}, how)
		e.def = full
		reads := ws[0].fullReads + ws[1].fullReads
		e.run(Options{})
		reads = ws[0].fullReads + ws[1].fullReads - reads
		out := stateOf(e)
		e.run(Options{})
		confl, err := e.st.Conflicts(e.ctx, e.def.Name)
		if err != nil {
			t.Fatal(err)
		}
		fields := []string{}
		for _, c := range confl {
			fields = append(fields, c.Field)
		}
		slices.Sort(fields)
		return fmt.Sprintf("%s\nthen\n%s\nconflicts open on %v", out, stateOf(e), fields), reads
	}
	want, _ := do("whole")
	if !strings.Contains(want, "conflicts open on [company=company phone=phone phone=phone]") {
		t.Fatalf("whole merge: want phone's two conflicts and company's open:\n%s", want)
	}
	backfillsAsAWholeMergeWould(t, do)
}

// backfillsAsAWholeMergeWould fails t unless do, a case run the way how
// says (see prepareFresh) returning its state and the complete reads of
// the run with the fresh mapping, comes to the same state backfilled as
// merged whole, and the backfill made no complete read.
func backfillsAsAWholeMergeWould(t *testing.T, do func(how string) (string, int)) {
	t.Helper()
	want, _ := do("whole")
	got, reads := do("backfill")
	if got != want {
		t.Errorf("backfilled:\n%s\nevery record merged whole:\n%s", got, want)
	}
	if reads != 0 {
		t.Errorf("%d complete reads, want a backfill", reads)
	}
}

// A conflict open on a mapping whose rule then changes to most-recent is
// settled by the last change someone made on each side. The record this
// sync wrote while the conflict stayed open (its company, here) is merged
// by a backfill from its pending snapshot, which keeps the time of the
// change before that write; merged whole, it is read from the app, which
// says when it was last written, by this sync too, and takes the
// snapshot's time (run.holdBack). The right's phone, changed last, wins.
func TestFreshConflictSettlesByTheLastChangeSomeoneMade(t *testing.T) {
	manual := func(d *syncdef.Definition) { d.Conflict = mapping.RuleManual }
	mostRecentPhone := func(d *syncdef.Definition) {
		d.Mappings = slices.Clone(d.Mappings) // the definition before keeps its own
		for i := range d.Mappings {
			if d.Mappings[i].Left == "phone" {
				d.Mappings[i].Rule = mapping.RuleMostRecent
			}
		}
	}
	do := func(how string) (string, int) {
		e, ws := prepareFresh(t, manual, mostRecentPhone, func(e *env, p pairs) {
			e.update(e.left, p.left[1], map[string]sdk.Value{"phone": s("+1 555 0101")})
			e.update(e.right, p.right[1], map[string]sdk.Value{"phone": s("+1 555 0202"), "company": s("Later")})
			rep := e.run(Options{})
			if c, err := e.st.Conflicts(e.ctx, e.def.Name); err != nil || len(c) != 1 || rep.Left.Updated != 1 {
				t.Fatalf("%s: left %+v, conflicts %v, %v; want company written, phone in conflict", how, rep.Left, c, err)
			}
		}, how)
		reads := ws[0].fullReads + ws[1].fullReads
		e.run(Options{})
		reads = ws[0].fullReads + ws[1].fullReads - reads
		return stateOf(e), reads
	}
	want, _ := do("whole")
	if strings.Contains(want, "0101") || !strings.Contains(want, "phone=+1 555 0202") {
		t.Fatalf("merged whole: want the right's phone on both sides:\n%s", want)
	}
	backfillsAsAWholeMergeWould(t, do)
}
