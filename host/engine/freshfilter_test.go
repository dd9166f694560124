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
// and only those records are kept from it. It comes to what a run merging
// every record whole comes to.
func TestChangedFilterSettlesRecordsFromNarrowReads(t *testing.T) {
	do := func(whole bool) (string, [2][2]map[int]int) {
		e := newEnv(t, nil)
		p := e.linkedPairs(12, 4)
		for _, id := range p.left[:3] {
			e.update(e.left, id, map[string]sdk.Value{"lifecycle_stage": s("lead")})
		}
		e.run(Options{})
		e.run(Options{}) // the echoes
		ws := [2]*wrapped{{Conn: e.conns["crm"]}, {Conn: e.conns["news"]}}
		e.conns["crm"], e.conns["news"] = ws[0], ws[1]
		e.eng.noFresh = whole
		var widths [2][2]map[int]int
		var out string
		for i, filter := range []string{`lifecycle_stage != "lead"`, ""} {
			e.def.FilterLeft = filter
			for s, w := range ws {
				w.byWidth = map[int]int{}
				widths[i][s] = w.byWidth
			}
			out += outcome(e, e.run(Options{})) + linkStates(e)
		}
		e.quiet()
		return out, widths
	}
	narrow, widths := do(false)
	whole, _ := do(true)
	if narrow != whole {
		t.Fatalf("filters changed, settled from narrow reads:\n%s\nevery record merged whole:\n%s", narrow, whole)
	}
	// 16 records a side; narrow: the key, and the left's filter field;
	// wide: the mapped fields (a filter adds only the fields it reads).
	// Set: the leads' partners on the right are settled (they pass), so
	// the right is not read again. Removed: the three excluded pairs are
	// merged, both sides read again.
	want := [2][2]map[int]int{{{2: 16, 8: 16}, {1: 16}}, {{1: 16, 8: 16}, {1: 16, 8: 16}}}
	if fmt.Sprint(widths) != fmt.Sprint(want) {
		t.Errorf("records read, by fields asked for, per run and side: %v; want %v", widths, want)
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
