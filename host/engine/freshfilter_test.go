package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"pgregory.net/rapid"
)

// A filter set on a synced pair, then removed: each run reads every record
// narrow (ids, versions, the key and the filter's field) and settles those
// still passing at their linked versions; only a side with records whose
// verdict changed (or whose partner's did) is read again with all values,
// and only those records are kept from it, or, when its connector looks
// records up by id and they are few, they are looked up instead. It comes
// to what a run merging every record whole comes to.
func TestChangedFilterSettlesRecordsFromNarrowReads(t *testing.T) {
	// do returns the runs' outcome, and per run and side the records read
	// by fields asked for, and the lookups by id.
	do := func(whole, byID bool) (string, [2][2]map[int]int, [2][2]int) {
		e := newEnv(t, nil)
		p := e.linkedPairs(12, 4)
		for _, id := range p.left[:3] {
			e.update(e.left, id, map[string]sdk.Value{"lifecycle_stage": s("lead")})
		}
		e.run(Options{})
		e.run(Options{}) // the echoes
		ws := [2]*wrapped{{Conn: e.conns["crm"]}, {Conn: e.conns["news"]}}
		e.conns["crm"], e.conns["news"] = ws[0], ws[1]
		if byID {
			ws = e.advertiseByID()
		}
		e.eng.noFresh = whole
		var widths [2][2]map[int]int
		var lookups [2][2]int
		var out string
		for i, filter := range []string{`lifecycle_stage != "lead"`, ""} {
			e.def.FilterLeft = filter
			for s, w := range ws {
				w.byWidth, w.lookups = map[int]int{}, 0
				widths[i][s] = w.byWidth
			}
			out += outcome(e, e.run(Options{})) + linkStates(e)
			lookups[i] = [2]int{ws[0].lookups, ws[1].lookups}
		}
		e.quiet()
		return out, widths, lookups
	}
	whole, _, _ := do(true, false)
	// 16 records a side; narrow: the key, and the left's filter field;
	// wide: the mapped fields (a filter adds only the fields it reads).
	// Set: the leads' partners on the right are settled (they pass), so
	// the right is not read again. Removed: the three excluded pairs are
	// merged, both sides read again, or their records looked up.
	for _, tt := range []struct {
		byID    bool
		widths  [2][2]map[int]int
		lookups [2][2]int
	}{
		{false, [2][2]map[int]int{{{2: 16, 8: 16}, {1: 16}}, {{1: 16, 8: 16}, {1: 16, 8: 16}}}, [2][2]int{}},
		{true, [2][2]map[int]int{{{2: 16}, {1: 16}}, {{1: 16}, {1: 16}}}, [2][2]int{{1, 0}, {1, 1}}},
	} {
		narrow, widths, lookups := do(false, tt.byID)
		if narrow != whole {
			t.Fatalf("lookups by id %v: filters changed, settled from narrow reads:\n%s\nevery record merged whole:\n%s", tt.byID, narrow, whole)
		}
		if fmt.Sprint(widths) != fmt.Sprint(tt.widths) || lookups != tt.lookups {
			t.Errorf("lookups by id %v: records read, by fields asked for, per run and side: %v, lookups %v; want %v, %v",
				tt.byID, widths, lookups, tt.widths, tt.lookups)
		}
	}
}

// On random records, changes, and filters set, changed or removed on
// either side, a run settling the records at their linked versions by
// their verdict under the new filters, read narrow, comes to what a run
// merging every record whole comes to: records, links (with their
// states), errors and counts, then and after one more run.
func TestPropertyFreshFilters(t *testing.T) {
	filters := []string{"", `lifecycle_stage != "lead"`, `lifecycle_stage == "customer"`, `phone != ""`,
		`first_name.startsWith("A") || company == "Bob"`, `email.endsWith("1@x.io")`}
	rapid.Check(t, func(rt *rapid.T) {
		recs := drawContacts(rt)
		var before, after [2]string
		for i := range 2 {
			before[i] = rapid.SampledFrom(filters).Draw(rt, fmt.Sprintf("filter-before-%d", i))
			after[i] = rapid.SampledFrom(filters).Draw(rt, fmt.Sprintf("filter-after-%d", i))
		}
		syncDir := rapid.SampledFrom([]mapping.Direction{mapping.DirTwoWay, mapping.DirLeftToRight}).Draw(rt, "sync-direction")
		removed := rapid.Bool().Draw(rt, "mapping-removed-too")
		between, later := drawEdits(rt, recs, "between"), drawEdits(rt, recs, "after")
		readBatch := rapid.IntRange(1, 4).Draw(rt, "read-batch")
		failSide := rapid.IntRange(-1, 1).Draw(rt, "fail-side")
		// Records a narrow read did not settle are looked up by id, not
		// read again, when the connectors can.
		byID := rapid.Bool().Draw(rt, "lookup-by-id")
		dir, err := os.MkdirTemp("", "engine-filters-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		var got [2]string
		for i, whole := range []bool{false, true} {
			sub := filepath.Join(dir, fmt.Sprint(i))
			if err := os.Mkdir(sub, 0o700); err != nil {
				rt.Fatal(err)
			}
			e, closeFn := newEnvAt(rt, sub, func(d *syncdef.Definition) {
				d.Direction = syncDir
				d.FilterLeft, d.FilterRight = before[0], before[1]
			})
			defer closeFn()
			e.readBatch(readBatch)
			if byID {
				e.advertiseByID()
			}
			apply := e.createAll(recs)
			e.run(Options{})
			e.run(Options{})
			apply(between)
			// Linked records that fail, held back until a retry is due.
			e.runRefusingUpdates(failSide)
			e.def.FilterLeft, e.def.FilterRight = after[0], after[1]
			if removed {
				e.def = without(e.def, "company")
			}
			apply(later)
			e.eng.noFresh = whole
			got[i] = outcome(e, e.run(Options{})) + linkStates(e)
			e.run(Options{})
			got[i] += "then\n" + stateOf(e) + linkStates(e)
		}
		if got[0] != got[1] {
			rt.Fatalf("filters changed, settled from narrow reads:\n%s\nevery record merged whole:\n%s", got[0], got[1])
		}
	})
}

// linkStates lists the links' states, in left id order.
func linkStates(e *env) string {
	out := "states"
	for _, l := range e.links() {
		if l.State != store.LinkSyncing {
			out += fmt.Sprintf(" %s/%s", l.State, l.ExcludedBy)
		} else {
			out += " syncing"
		}
	}
	return out + "\n"
}

// A record its narrow read did not settle, deleted before it is looked up
// by id, is gone, as it is when the side is read again whole.
func TestRecordDeletedBeforeItIsLookedUpAgain(t *testing.T) {
	do := func(byID bool) string {
		e := newEnv(t, func(d *syncdef.Definition) { d.Deletes = syncdef.DeletesPropagate })
		p := e.linkedPairs(12, 4)
		for _, id := range p.left[:3] {
			e.update(e.left, id, map[string]sdk.Value{"lifecycle_stage": s("lead")})
		}
		e.run(Options{})
		e.run(Options{}) // the echoes
		w := &wrapped{Conn: e.conns["crm"]}
		e.conns["crm"] = w
		if byID {
			w = e.advertiseByID()[0]
		}
		w.afterRead = func(req sdk.ReadRequest) {
			if len(req.Fields) == 2 { // the narrow read: the key and the filter's field
				e.delete(e.left, p.left[0])
			}
		}
		e.def.FilterLeft = `lifecycle_stage != "lead"`
		rep := e.run(Options{})
		return outcome(e, rep) + linkStates(e)
	}
	if got, want := do(true), do(false); got != want {
		t.Fatalf("looked up by id:\n%s\nread again whole:\n%s", got, want)
	}
}
