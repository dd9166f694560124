package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
	"pgregory.net/rapid"
)

// without returns d with the mapping of left field f removed.
func without(d syncdef.Definition, f string) syncdef.Definition {
	d.Mappings = slices.DeleteFunc(slices.Clone(d.Mappings), func(m mapping.FieldMap) bool { return m.Left == f })
	return d
}

// A cursor is trusted by a run of its own definition, of the definition
// less some mappings, and in the forms stores kept before mappings, then
// filters, were hashed apart; under other filters it is trusted but for
// them; not after a mapping was added or changed, or the sides or keys
// changed.
func TestTrustsCursorsOfTheDefinitionOrMore(t *testing.T) {
	def := baseDef()
	filtered := func(d syncdef.Definition) syncdef.Definition {
		d.FilterLeft = `email != ""`
		return d
	}
	rekeyed := def
	rekeyed.Match = []syncdef.MatchKey{{Left: "phone", Right: "phone"}}
	tests := []struct {
		name    string
		read    string // the fingerprint the cursor was stored with
		run     syncdef.Definition
		ok      bool // trusted at all
		fresh   int  // mappings not trusted
		filters bool // read under other filters
	}{
		{"the same definition", fingerprint(def), def, true, 0, false},
		{"the same, stored in the form before filters were hashed apart", fingerprint2(def), def, true, 0, false},
		{"the same, stored in the oldest form", legacyFingerprint(def), def, true, 0, false},
		{"a mapping removed since", fingerprint(def), without(def, "company"), true, 0, false},
		{"a mapping removed since, stored in the form before filters", fingerprint2(def), without(def, "company"), true, 0, false},
		{"two mappings removed since", fingerprint(def), without(without(def, "company"), "phone"), true, 0, false},
		{"a mapping added since", fingerprint(without(def, "company")), def, true, 1, false},
		{"a mapping changed since", fingerprint(def), func() syncdef.Definition {
			d := def
			d.Mappings = slices.Clone(d.Mappings)
			d.Mappings[2].Direction = mapping.DirLeftToRight
			return d
		}(), true, 1, false},
		{"a filter set since", fingerprint(def), filtered(def), true, 0, true},
		{"a filter removed since", fingerprint(filtered(def)), def, true, 0, true},
		{"a filter set and a mapping added since", fingerprint(without(def, "company")), filtered(def), true, 1, true},
		{"a filter set since, stored in the form before filters", fingerprint2(def), filtered(def), false, 0, false},
		{"the keys changed since", fingerprint(def), rekeyed, false, 0, false},
		{"a mapping removed since, stored in the oldest form", legacyFingerprint(def), without(def, "company"), false, 0, false},
		{"no cursor", "", def, false, 0, false},
		{"not a fingerprint", "2:zz", def, false, 0, false},
		{"not a fingerprint of this form", "3:zz", def, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{def: tt.run, fp: fingerprint(tt.run), fp2: fingerprint2(tt.run), legacyFP: legacyFingerprint(tt.run)}
			if got := r.trusts(tt.read); got.ok != tt.ok || len(got.fresh) != tt.fresh || got.filters != tt.filters {
				t.Errorf("trusts(%q) from a run of fingerprint %q = %+v; want ok %v, %d fresh, filters %v",
					tt.read, r.fp, got, tt.ok, tt.fresh, tt.filters)
			}
		})
	}
}

// Removing a mapping keeps the versions trusted: the next run reads
// incrementally and merges nothing again, a change to a field still mapped
// syncs, and one to the field no longer mapped does not. Mapping it again
// merges every record for it.
func TestRemovedMappingKeepsVersionsTrusted(t *testing.T) {
	e := newEnv(t, nil)
	var ids []string
	for i := range 20 {
		ids = append(ids, e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i)), "company": s("Acme")}))
	}
	e.run(Options{})
	e.run(Options{}) // the echoes
	full := e.def
	e.def = without(full, "company")
	if rep := e.run(Options{}); rep.Left.Read+rep.Right.Read != 0 || rep.Writes() != 0 {
		t.Fatalf("run after a mapping was removed: read %d/%d, wrote %d; want nothing read or written",
			rep.Left.Read, rep.Right.Read, rep.Writes())
	}
	e.update(e.left, ids[3], map[string]sdk.Value{"company": s("Globex"), "phone": s("+1 555 0100")})
	if rep := e.run(Options{}); rep.Left.Read != 1 || rep.Right.Updated != 1 {
		t.Fatalf("after a change: left read %d, right updated %d; want 1 and 1", rep.Left.Read, rep.Right.Updated)
	}
	it := byEmail(e.right)["l3@x.io"]
	if it.Fields["phone"].Str != "+1 555 0100" || it.Fields["company"].Str != "Acme" {
		t.Fatalf("right l3: phone %q, company %q; want the phone synced and the company, no longer mapped, left alone",
			it.Fields["phone"].Str, it.Fields["company"].Str)
	}
	e.def = full
	if rep := e.run(Options{}); rep.Left.Read != 20 || rep.Right.Read != 20 || rep.Right.Updated != 1 {
		t.Fatalf("run after the mapping came back: read %d/%d, right updated %d; want every record read and l3's company synced",
			rep.Left.Read, rep.Right.Read, rep.Right.Updated)
	}
	if it := byEmail(e.right)["l3@x.io"]; it.Fields["company"].Str != "Globex" {
		t.Fatalf("right l3: company %q, want Globex", it.Fields["company"].Str)
	}
	e.quiet()
}

// Echoes whose links' bases hold a mapping removed since (more keys than
// the run's) settle as they are read, as those of exactly the run's do.
func TestEchoesSettleOverBasesOfMoreMappings(t *testing.T) {
	e := newEnv(t, nil)
	e.conns["news"] = &unmarked{Conn: e.conns["news"]}
	for i := range 20 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i)), "company": s("Acme")})
	}
	if rep := e.run(Options{}); rep.Right.Created != 20 {
		t.Fatalf("first run: %+v", rep.Right)
	}
	e.def = without(e.def, "company")
	st := &wholeLinks{Store: e.st}
	e.eng = New(st, e.dial, WithClock(e.now))
	e.eng.lazyMax = 2
	rep := e.run(Options{})
	if rep.Writes() != 0 || rep.Right.Read != 20 || rep.Right.Unchanged != 20 {
		t.Fatalf("run reading the 20 echoes: wrote %d, read %d, unchanged %d; want 0, 20, 20", rep.Writes(), rep.Right.Read, rep.Right.Unchanged)
	}
	if st.whole != 0 || st.ids != 20 {
		t.Fatalf("links loaded whole %d times, looked up for %d ids; want 0 and the 20 echoes", st.whole, st.ids)
	}
}

// A mapping added or changed since the last complete run is merged for
// every record, the records still at their linked versions read narrow
// with its fields (run.fresh); the run comes to what one that merges every
// record with all its values comes to (noFresh), whatever changed since.
func TestFreshMappingsMergeAsAWholeMergeWould(t *testing.T) {
	for _, tt := range freshCases() {
		t.Run(tt.name, func(t *testing.T) {
			do := func(noFresh bool) string {
				e := newEnv(t, tt.before)
				p := e.linkedPairs(12, 4)
				e.run(Options{}) // the echoes
				full := baseDef()
				if tt.after != nil {
					full = e.def
					tt.after(&full)
				}
				tt.change(e, p)
				e.def = full
				e.eng.noFresh = noFresh
				rep := e.run(Options{})
				e.quiet()
				return outcome(e, rep)
			}
			if fresh, whole := do(false), do(true); fresh != whole {
				t.Errorf("fresh mappings merged from narrow reads:\n%s\nevery record merged whole:\n%s", fresh, whole)
			}
		})
	}
}

// freshCase is a definition edited after some runs, and changes made
// meanwhile.
type freshCase struct {
	name   string
	before func(d *syncdef.Definition) // the definition of the first runs
	after  func(d *syncdef.Definition) // the edited one
	change func(e *env, p pairs)
}

// freshCases are the cases of TestFreshMappingsMergeAsAWholeMergeWould.
func freshCases() []freshCase {
	return []freshCase{
		{"a mapping added, values apart on both sides", func(d *syncdef.Definition) { *d = without(*d, "company") }, nil,
			func(e *env, p pairs) {
				e.update(e.right, p.right[2], map[string]sdk.Value{"company": s("Globex")})
				e.update(e.right, p.right[13], map[string]sdk.Value{"company": s("Initech")})
			}},
		{"a mapping added, with other changes", func(d *syncdef.Definition) { *d = without(*d, "company") }, nil,
			func(e *env, p pairs) {
				e.update(e.left, p.left[1], map[string]sdk.Value{"phone": s("+1 555 0100"), "company": s("Hooli")})
				e.update(e.right, p.right[5], map[string]sdk.Value{"company": s("Globex")})
				e.delete(e.left, p.left[7])
				e.create(e.left, map[string]sdk.Value{"email": s("new@x.io"), "company": s("Initech")})
				e.create(e.left, map[string]sdk.Value{"email": s("both@x.io"), "company": s("Left Co")})
				e.create(e.right, map[string]sdk.Value{"email": s("both@x.io"), "company": s("Right Co")})
			}},
		{"a mapping's direction changed", nil, func(d *syncdef.Definition) {
			d.Mappings = slices.Clone(d.Mappings)
			for i := range d.Mappings {
				if d.Mappings[i].Left == "company" {
					d.Mappings[i].Direction = mapping.DirRightToLeft
				}
			}
		}, func(e *env, p pairs) {
			e.update(e.right, p.right[4], map[string]sdk.Value{"company": s("Globex")})
			e.update(e.left, p.left[6], map[string]sdk.Value{"company": s("Hooli")})
		}},
		{"two mappings added, nothing else", func(d *syncdef.Definition) { *d = without(without(*d, "company"), "phone") }, nil,
			func(e *env, p pairs) {}},
	}
}

// On random records, changes and edits of one mapping (removed and mapped
// again, or its direction or rule changed), a run merging the fresh
// mapping from narrow reads comes to what a run merging every record
// whole comes to: records, links, errors, conflicts and counts.
func TestPropertyFreshMappings(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dirs := []mapping.Direction{mapping.DirTwoWay, mapping.DirLeftToRight, mapping.DirRightToLeft}
		rules := []mapping.Rule{mapping.RuleMostRecent, mapping.RulePreferLeft, mapping.RulePreferRight, mapping.RuleFillOnly, mapping.RuleManual}
		syncDir := rapid.SampledFrom(dirs).Draw(rt, "sync-direction")
		field := rapid.SampledFrom(contactFieldsDrawn).Draw(rt, "field")
		how := rapid.SampledFrom([]string{"remapped", "direction", "rule"}).Draw(rt, "how")
		newDir := rapid.SampledFrom(dirs).Draw(rt, "new-direction")
		newRule := rapid.SampledFrom(rules).Draw(rt, "new-rule")
		recs := drawContacts(rt)
		if rapid.Bool().Draw(rt, "keyless") {
			// A record without a key fails, unlinked: no pair to backfill,
			// so the backfill goes on (see failingLinked).
			side := rapid.IntRange(0, 1).Draw(rt, "keyless-side")
			recs[side] = append(recs[side], drawValues(rt, "keyless"))
		}
		between, after := drawEdits(rt, recs, "between"), drawEdits(rt, recs, "after")
		// Connectors that look records up by id backfill the fresh mapping
		// a page of links at a time (backfill.go), after incremental reads.
		byID := rapid.Bool().Draw(rt, "lookup-by-id")
		page := rapid.IntRange(1, 4).Draw(rt, "backfill-page")
		// Incremental runs go in slices, a backfilling one too (the
		// backfill follows the last).
		sliceMax := rapid.SampledFrom([]int{0, 1, 2, 5}).Draw(rt, "slice-max")
		readBatch := rapid.IntRange(1, 4).Draw(rt, "read-batch")
		// Updates to one side (or none) refused in the run before the
		// edit: linked records that fail, held back until a retry is due.
		failSide := rapid.IntRange(-1, 1).Draw(rt, "fail-side")
		// A sync whose conflicts wait for a person (manual) may have some
		// open when the mapping is edited, or open one on the fresh mapping.
		syncRule := rapid.SampledFrom([]mapping.Rule{mapping.RuleMostRecent, mapping.RuleManual}).Draw(rt, "sync-rule")
		dir, err := os.MkdirTemp("", "engine-fresh-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		var got [2]string
		for i, noFresh := range []bool{false, true} {
			sub := filepath.Join(dir, fmt.Sprint(i))
			if err := os.Mkdir(sub, 0o700); err != nil {
				rt.Fatal(err)
			}
			// Closed with each check: a store left open per check ran out
			// of file descriptors in a long run.
			e, closeFn := newEnvAt(rt, sub, func(d *syncdef.Definition) { d.Direction, d.Conflict = syncDir, syncRule })
			defer closeFn()
			e.eng.sliceMax = sliceMax
			e.readBatch(readBatch)
			if byID && !noFresh {
				e.advertiseByID()
				e.eng.backfillMax = page
			}
			apply := e.createAll(recs)
			e.run(Options{})
			e.run(Options{})
			full := e.def
			if how == "remapped" {
				e.def = without(full, field)
				e.run(Options{})
			}
			apply(between)
			e.runRefusingUpdates(failSide)
			e.def = full
			if how != "remapped" {
				e.def.Mappings = slices.Clone(full.Mappings)
				for j := range e.def.Mappings {
					if e.def.Mappings[j].Left == field && how == "direction" {
						e.def.Mappings[j].Direction = newDir
					} else if e.def.Mappings[j].Left == field {
						e.def.Mappings[j].Rule = newRule
					}
				}
			}
			apply(after)
			e.eng.noFresh = noFresh
			got[i] = outcome(e, e.run(Options{}))
			if byID {
				// A backfill reads and counts otherwise (lookups, a pair
				// merged twice), to the same records, links and errors,
				// then and after one more run.
				got[i] = stateOf(e)
				e.run(Options{})
				got[i] += "\nthen\n" + stateOf(e)
			}
		}
		if got[0] != got[1] {
			rt.Fatalf("fresh mapping merged from narrow reads:\n%s\nevery record merged whole:\n%s", got[0], got[1])
		}
	})
}

// contactFieldsDrawn are the contact fields property tests draw values of
// (the match key, email, apart), from these pools ("" for null).
var contactFieldsDrawn = []string{"first_name", "last_name", "company", "phone", "lifecycle_stage"}

func contactPool(f string) []string {
	switch f {
	case "phone":
		return phones
	case "lifecycle_stage":
		return stages
	}
	return names
}

// drawValues draws values for some of the contact fields, null for "".
func drawValues(t *rapid.T, label string) map[string]sdk.Value {
	out := map[string]sdk.Value{}
	for _, f := range contactFieldsDrawn {
		if rapid.Bool().Draw(t, label+"-set-"+f) {
			if v := rapid.SampledFrom(contactPool(f)).Draw(t, label+"-"+f); v != "" {
				out[f] = sdk.String(v)
			} else {
				out[f] = sdk.Null
			}
		}
	}
	return out
}

// drawContacts draws up to six contacts a side, their emails among ten.
func drawContacts(t *rapid.T) [2][]map[string]sdk.Value {
	var recs [2][]map[string]sdk.Value
	for side := range recs {
		emails := rapid.SliceOfNDistinct(rapid.IntRange(0, 9), 0, 6, rapid.ID[int]).Draw(t, fmt.Sprintf("emails%d", side))
		for _, n := range emails {
			v := drawValues(t, "rec")
			for f, x := range v {
				if x.Kind == sdk.KindNull {
					delete(v, f)
				}
			}
			v["email"] = s(fmt.Sprintf("p%d@x.io", n))
			recs[side] = append(recs[side], v)
		}
	}
	return recs
}

// contactEdit is new values for record rec of a side.
type contactEdit struct {
	side, rec int
	vals      map[string]sdk.Value
}

// drawEdits draws up to five edits of recs' records.
func drawEdits(t *rapid.T, recs [2][]map[string]sdk.Value, label string) []contactEdit {
	var out []contactEdit
	for range rapid.IntRange(0, 5).Draw(t, label+"-n") {
		side := rapid.IntRange(0, 1).Draw(t, label+"-side")
		if len(recs[side]) == 0 {
			continue
		}
		out = append(out, contactEdit{side, rapid.IntRange(0, len(recs[side])-1).Draw(t, label+"-rec"), drawValues(t, label)})
	}
	return out
}

// createAll creates recs on both sides and returns what applies edits of
// them.
func (e *env) createAll(recs [2][]map[string]sdk.Value) func([]contactEdit) {
	conns := [2]*memory.Connector{e.left, e.right}
	var ids [2][]string
	for s, c := range conns {
		for _, v := range recs[s] {
			ids[s] = append(ids[s], e.create(c, v))
		}
	}
	return func(es []contactEdit) {
		for _, x := range es {
			e.update(conns[x.side], ids[x.side][x.rec], x.vals)
		}
	}
}

// runRefusingUpdates runs with the updates to the sides given refused as
// invalid (retried after a backoff); a side of -1 is none.
func (e *env) runRefusingUpdates(sides ...int) Report {
	conns := [2]*memory.Connector{e.left, e.right}
	for _, s := range sides {
		if s >= 0 {
			conns[s].SetFailer(func(op string) error {
				if op == "write.update" {
					return sdk.Errorf(sdk.CategoryValidation, "refused")
				}
				return nil
			})
		}
	}
	defer e.left.SetFailer(nil)
	defer e.right.SetFailer(nil)
	return e.run(Options{})
}

// A run that reads a side completely where it would read incrementally but
// for an edit or a connector's limits says why (Report.Complete); a first
// run and an incremental one say nothing.
func TestReportSaysWhyASideIsReadInFull(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *env, ws [2]*wrapped) Options
		want string
	}{
		{"nothing", func(e *env, ws [2]*wrapped) Options { return Options{} }, ""},
		{"a filter set", func(e *env, ws [2]*wrapped) Options {
			e.def.FilterLeft = `email != ""`
			return Options{}
		}, "the filters changed"},
		{"a mapping added, no lookups by id", func(e *env, ws [2]*wrapped) Options {
			e.def = baseDef()
			return Options{}
		}, "a mapping was added or changed"},
		{"the keys changed", func(e *env, ws [2]*wrapped) Options {
			e.def.Match = append(e.def.Match, syncdef.MatchKey{Left: "phone", Right: "phone"})
			return Options{}
		}, "match keys changed"},
		// The next three read completely only where digests cannot spare
		// the read (noDigest); a bucket read of a few records says nothing.
		{"--full after a change", func(e *env, ws [2]*wrapped) Options {
			e.update(e.left, e.links()[0].LeftID, map[string]sdk.Value{"phone": s("+1 555 0199")})
			e.eng.noDigest = true
			return Options{Full: true}
		}, "--full"},
		{"--full after a change, verified by digest", func(e *env, ws [2]*wrapped) Options {
			e.update(e.left, e.links()[0].LeftID, map[string]sdk.Value{"phone": s("+1 555 0199")})
			return Options{Full: true}
		}, ""},
		{"a connector without incremental reads", func(e *env, ws [2]*wrapped) Options {
			ws[1].noIncrement = true
			e.eng.noDigest = true
			return Options{}
		}, "the right connector cannot read only what changed"},
		{"deletes without tombstones", func(e *env, ws [2]*wrapped) Options {
			e.def.Deletes = syncdef.DeletesPropagate
			ws[0].noTombstones = true
			e.eng.noDigest = true
			return Options{}
		}, "the left connector reports them only by their absence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(d *syncdef.Definition) { *d = without(*d, "company") })
			ws := [2]*wrapped{{Conn: e.conns["crm"]}, {Conn: e.conns["news"]}}
			e.conns["crm"], e.conns["news"] = ws[0], ws[1]
			if rep := e.linkedReport(); rep.Complete != "" {
				t.Fatalf("first run: %q", rep.Complete)
			}
			rep := e.run(tt.edit(e, ws))
			if tt.want == "" && rep.Complete != "" || !strings.Contains(rep.Complete, tt.want) {
				t.Fatalf("Complete = %q, want %q", rep.Complete, tt.want)
			}
		})
	}
}

// linkedReport creates three contacts a side, runs twice (the second takes
// in the echoes) and returns the first run's report.
func (e *env) linkedReport() Report {
	e.t.Helper()
	for i := range 3 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i)), "phone": s("+1 555 0100")})
		e.create(e.right, map[string]sdk.Value{"email": s(fmt.Sprintf("r%d@x.io", i))})
	}
	rep := e.run(Options{})
	e.run(Options{})
	return rep
}
