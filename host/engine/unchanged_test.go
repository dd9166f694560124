package engine

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// A no-change run skips records still at their linked version, but only
// while the definition is the one last synced: a mapping or a filter added
// later applies to every linked pair though no record changed.
func TestDefinitionChangeMergesUnchangedRecords(t *testing.T) {
	var company mapping.FieldMap
	e := newEnv(t, func(d *syncdef.Definition) {
		var keep []mapping.FieldMap
		for _, m := range d.Mappings {
			if m.Left == "company" {
				company = m
				continue
			}
			keep = append(keep, m)
		}
		d.Mappings = keep
	})
	for i := 0; i < 5; i++ {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("u%d@x.io", i)), "company": s("Acme")})
	}
	if rep := e.run(Options{}); rep.Right.Created != 5 {
		t.Fatalf("first run: %+v", rep.Right)
	}
	if rep := e.run(Options{Full: true}); rep.Writes() != 0 || rep.Left.Unchanged+rep.Left.Verified != 5 {
		t.Fatalf("no-change run: %+v / %+v", rep.Left, rep.Right)
	}
	e.def.Mappings = append(e.def.Mappings, company)
	e.save()
	if rep := e.run(Options{}); rep.Right.Updated != 5 {
		t.Fatalf("after adding the company mapping: %+v", rep.Right)
	}
	for _, it := range e.right.Snapshot(obj) {
		if it.Fields["company"].Str != "Acme" {
			t.Fatalf("right record %s: company %#v", it.ID, it.Fields["company"])
		}
	}
	e.quiet()
	// A filter added later: the pairs it refuses stop syncing, though no
	// record changed.
	e.def.FilterLeft = `company != "Acme"`
	e.save()
	if rep := e.run(Options{}); rep.Left.Excluded != 5 {
		t.Fatalf("after adding a filter: %+v", rep.Left)
	}
	for _, l := range e.links() {
		if l.State != store.LinkExcluded {
			t.Fatalf("link %+v not excluded", l)
		}
	}
}
