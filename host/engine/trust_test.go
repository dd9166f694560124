package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// without returns d with the mapping of left field f removed.
func without(d syncdef.Definition, f string) syncdef.Definition {
	d.Mappings = slices.DeleteFunc(slices.Clone(d.Mappings), func(m mapping.FieldMap) bool { return m.Left == f })
	return d
}

// A cursor is trusted by a run of its own definition, of the definition
// less some mappings, and in the form stores kept before mappings were
// hashed apart; not after a mapping was added or changed, or the sides,
// keys or filters changed.
func TestTrustsCursorsOfTheDefinitionOrMore(t *testing.T) {
	def := baseDef()
	tests := []struct {
		name  string
		read  string // the fingerprint the cursor was stored with
		run   syncdef.Definition
		trust bool
	}{
		{"the same definition", fingerprint(def), def, true},
		{"the same, stored in the old form", legacyFingerprint(def), def, true},
		{"a mapping removed since", fingerprint(def), without(def, "company"), true},
		{"two mappings removed since", fingerprint(def), without(without(def, "company"), "phone"), true},
		{"a mapping added since", fingerprint(without(def, "company")), def, false},
		{"a mapping changed since", fingerprint(def), func() syncdef.Definition {
			d := def
			d.Mappings = slices.Clone(d.Mappings)
			d.Mappings[2].Direction = mapping.DirLeftToRight
			return d
		}(), false},
		{"a filter set since", fingerprint(def), func() syncdef.Definition {
			d := def
			d.FilterLeft = `email != ""`
			return d
		}(), false},
		{"a mapping removed since, stored in the old form", legacyFingerprint(def), without(def, "company"), false},
		{"no cursor", "", def, false},
		{"not a fingerprint", "2:zz", def, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &run{fp: fingerprint(tt.run), legacyFP: legacyFingerprint(tt.run)}
			if got := r.trusts(tt.read); got != tt.trust {
				t.Errorf("trusts(%q) from a run of fingerprint %q = %v, want %v", tt.read, r.fp, got, tt.trust)
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
