package engine

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
	"pgregory.net/rapid"
)

// TestStreamedFirstRunMatchesPlanned runs the same first sync streamed (see
// stream.go) and planned whole, on random records whose keys collide
// within and across sides, and wants the same outcome: the same records on
// both sides, the same pairs linked, the same errors, the same counts.
func TestStreamedFirstRunMatchesPlanned(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "engine-stream-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		dirn := rapid.SampledFrom([]mapping.Direction{mapping.DirTwoWay, mapping.DirLeftToRight, mapping.DirRightToLeft}).Draw(rt, "direction")
		// A filter on either side; int(last_name) fails to evaluate for
		// some records: such errors must come out the same too.
		filter := rapid.SampledFrom([]string{"", `lifecycle_stage != "lead"`, `int(last_name) > 1`}).Draw(rt, "filter")
		filterRight := rapid.Bool().Draw(rt, "filter-right")
		edit := func(d *syncdef.Definition) {
			d.Direction = dirn
			// Phones, unlike emails, may repeat within an app: duplicates.
			d.Match = []syncdef.MatchKey{{Left: memory.FieldPhone, Right: memory.FieldPhone}}
			if filterRight {
				d.FilterRight = filter
			} else {
				d.FilterLeft = filter
			}
		}
		pool := []string{"", "+1 555 0100", "+1 555 0101", "+1 555 0102", "+1 555 0103", "+1 555 0104", "+1 555 0105"}
		var recs [2][]map[string]sdk.Value
		for s := range recs {
			n := rapid.IntRange(0, 8).Draw(rt, fmt.Sprintf("n%d", s))
			for i := range n {
				f := map[string]sdk.Value{memory.FieldFirstName: sdk.String(fmt.Sprintf("p%d-%d", s, i))}
				if p := rapid.SampledFrom(pool).Draw(rt, "phone"); p != "" {
					f[memory.FieldPhone] = sdk.String(p)
				}
				if rapid.Bool().Draw(rt, "lead") {
					f[memory.FieldLifecycleStage] = sdk.String("lead")
				}
				if ln := rapid.SampledFrom([]string{"", "1", "2", "x"}).Draw(rt, "last-name"); ln != "" {
					f[memory.FieldLastName] = sdk.String(ln)
				}
				recs[s] = append(recs[s], f)
			}
		}
		// Matches past parkMax are looked up by id at once, not parked.
		parkMax := rapid.SampledFrom([]int{0, 1, 10000}).Draw(rt, "park-max")
		var got [2]string
		for i, noStream := range []bool{true, false} {
			sub := fmt.Sprintf("%s/%d", dir, i)
			if err := os.Mkdir(sub, 0o700); err != nil {
				rt.Fatal(err)
			}
			e, closeFn := newEnvAt(rt, sub, edit)
			e.eng.noStream = noStream
			e.eng.parkMax = parkMax
			for s, c := range [2]*memory.Connector{e.left, e.right} {
				for _, f := range recs[s] {
					e.create(c, f)
				}
			}
			rep := e.run(Options{})
			got[i] = outcome(e, rep)
			closeFn()
		}
		if got[0] != got[1] {
			rt.Fatalf("planned whole:\n%s\nstreamed:\n%s", got[0], got[1])
		}
	})
}

// outcome describes a run's result without the ids the targets gave to the
// records it created (their order differs between the two ways).
func outcome(e *env, rep Report) string {
	content := func(c *memory.Connector) (map[string]string, []string) {
		byID := map[string]string{}
		var all []string
		for id, it := range c.Snapshot(obj) {
			var kv []string
			for k, v := range it.Fields {
				if k != memory.FieldUpdatedAt && k != memory.FieldExternalID {
					kv = append(kv, k+"="+v.Text())
				}
			}
			sort.Strings(kv)
			byID[id] = strings.Join(kv, ",")
			all = append(all, byID[id])
		}
		sort.Strings(all)
		return byID, all
	}
	lc, la := content(e.left)
	rc, ra := content(e.right)
	var links []string
	for _, l := range e.links() {
		links = append(links, lc[l.LeftID]+" ↔ "+rc[l.RightID])
	}
	sort.Strings(links)
	errs, err := e.st.Errors(e.ctx, e.def.Name, "")
	if err != nil {
		e.t.Fatal(err)
	}
	var es []string
	for _, x := range errs {
		id := x.RecordID
		if c := [2]map[string]string{lc, rc}[sideIndex(x.Side)]; c[id] != "" {
			id = c[id]
		}
		es = append(es, fmt.Sprintf("%s %s %s %s", x.Side, id, x.Category, x.Message))
	}
	slices.Sort(es)
	return fmt.Sprintf("left %v\nright %v\nlinks %v\nerrors %v\nleft %+v\nright %+v\n", la, ra, links, es,
		rep.Left, rep.Right)
}

// TestFirstFillReadsTheEmptySideOnce: a streamed first run into an empty
// side reads it once, to count its keys and find nothing; reading it again
// for its values would return only what the run itself created there.
func TestFirstFillReadsTheEmptySideOnce(t *testing.T) {
	e := newEnv(t, nil)
	w := &wrapped{Conn: e.conns["news"]}
	e.conns["news"] = w
	for i := range 30 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("p%d@x.io", i))})
	}
	rep := e.run(Options{})
	if rep.Right.Created != 30 {
		t.Fatalf("created %d of 30: %+v", rep.Right.Created, rep)
	}
	if w.fullReads != 1 {
		t.Fatalf("the empty side was read %d times, want once", w.fullReads)
	}
	e.quiet()
	// With a record there, it is counted and held by one narrow read, read
	// again for its values and paired.
	e2 := newEnv(t, nil)
	w2 := &wrapped{Conn: e2.conns["news"]}
	e2.conns["news"] = w2
	e2.create(e2.left, map[string]sdk.Value{"email": s("a@x.io"), "first_name": s("Ann")})
	e2.create(e2.right, map[string]sdk.Value{"email": s("a@x.io"), "last_name": s("Lee")})
	e2.run(Options{})
	if w2.fullReads != 2 || len(e2.links()) != 1 {
		t.Fatalf("held side read %d times, links %+v", w2.fullReads, e2.links())
	}
	if got := byEmail(e2.right)["a@x.io"]; got.Fields["first_name"].Str != "Ann" || got.Fields["last_name"].Str != "Lee" {
		t.Fatalf("not merged: %+v", got.Fields)
	}
	e2.quiet()
}

// TestHeldKeyTakenBetweenReads: a held record whose key changed, between
// the narrow read and the read of its values, to one a streamed record has
// already taken is reported as a duplicate naming that record, not synced
// as new (the paired record's norm is kept by hash, stream.taken).
func TestHeldKeyTakenBetweenReads(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) {
		d.Match = []syncdef.MatchKey{{Left: memory.FieldPhone, Right: memory.FieldPhone}}
	})
	w := &wrapped{Conn: e.conns["news"]}
	e.conns["news"] = w
	phone := func(p string) map[string]sdk.Value { return map[string]sdk.Value{memory.FieldPhone: s(p)} }
	taker := e.create(e.left, phone("+1 555 0100"))
	for i := range 3 { // the left side streams: it has more records
		e.create(e.left, phone(fmt.Sprintf("+1 555 02%02d", i)))
	}
	e.create(e.right, phone("+1 555 0100"))
	moved := e.create(e.right, phone("+1 555 0199"))
	w.afterRead = func(req sdk.ReadRequest) {
		if len(req.Fields) == 1 { // the narrow read: then the key moves
			if _, err := e.right.Update(obj, moved, phone("+1 555 0100")); err != nil {
				t.Error(err)
			}
			w.afterRead = nil
		}
	}
	e.run(Options{})
	errs, err := e.st.Errors(e.ctx, e.def.Name, "duplicate_identifier")
	if err != nil || len(errs) != 1 || errs[0].RecordID != moved || !strings.Contains(errs[0].Message, "record "+taker+" is already matched") {
		t.Fatalf("duplicate errors %+v (%v): want one for right record %s naming left record %s", errs, err, moved, taker)
	}
	if n := len(e.left.Snapshot(obj)); n != 4 {
		t.Errorf("left has %d records, want its 4 (the moved record not created there)", n)
	}
}

// TestCreateStoresItsBaseAndHistory: a created record's link holds, for
// every mapping, the source value and what the target stored (null where
// nothing was written), and its history the values written; the base is
// the one journaled before the write (encoded once for both).
func TestCreateStoresItsBaseAndHistory(t *testing.T) {
	e := newEnv(t, nil)
	e.create(e.left, map[string]sdk.Value{"email": s("a@x.io"), "first_name": s("Ann")})
	e.run(Options{})
	links := e.links()
	if len(links) != 1 {
		t.Fatalf("links %+v", links)
	}
	for _, f := range links[0].Base {
		want := sdk.Null
		switch f.Key {
		case "email=email":
			want = s("a@x.io")
		case "first_name=first_name":
			want = s("Ann")
		}
		if !f.Left.Equal(want) || !f.Right.Equal(want) {
			t.Errorf("base of %s: %v / %v, want %v on both sides", f.Key, f.Left, f.Right, want)
		}
	}
	if len(links[0].Base) != len(e.def.Mappings) {
		t.Errorf("base has %d fields for %d mappings", len(links[0].Base), len(e.def.Mappings))
	}
	hs, err := e.st.History(e.ctx, store.HistoryQuery{Sync: e.def.Name, Op: store.OpCreate})
	if err != nil || len(hs) != 1 {
		t.Fatalf("history %v %+v", err, hs)
	}
	got := map[string]string{}
	for _, c := range hs[0].Changes {
		if !c.Old.IsNull() {
			t.Errorf("create of %s: old value %v", c.Field, c.Old)
		}
		got[c.Field] = c.New.Str
	}
	if len(got) != 2 || got["email"] != "a@x.io" || got["first_name"] != "Ann" {
		t.Errorf("history of the create: %v, want the two values written", got)
	}
}

// advertising says whether its connector answers lookups by id.
type advertising struct {
	*wrapped
	byID bool
}

func (a advertising) Capable(c string) bool { return c != sdk.CapabilityLookupByID || a.byID }

// TestNoLookupByIDUnlessAdvertised: a streamed first run asks a connection
// for lookups by id if its connector advertises them, or if the connection
// cannot say (in process); else the matches wait for the held side's
// second read, with the same outcome.
func TestNoLookupByIDUnlessAdvertised(t *testing.T) {
	for _, tc := range []struct {
		name       string
		says, byID bool
	}{{"cannot say", false, false}, {"advertised", true, true}, {"not advertised", true, false}} {
		e := newEnv(t, nil)
		e.eng.parkMax = 0
		w := &wrapped{Conn: e.conns["news"]}
		e.conns["news"] = w
		if tc.says {
			e.conns["news"] = advertising{w, tc.byID}
		}
		for i := range 10 {
			e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("p%d@x.io", i)), "first_name": s("Ann")})
			email := fmt.Sprintf("q%d@x.io", i)
			if i < 5 {
				email = fmt.Sprintf("p%d@x.io", i)
			}
			e.create(e.right, map[string]sdk.Value{"email": s(email), "last_name": s("Lee")})
		}
		rep := e.run(Options{})
		if rep.Left.Created != 5 || rep.Right.Created != 5 || len(e.links()) != 15 {
			t.Fatalf("%s: created %d/%d, %d links; want 5/5 and 15", tc.name, rep.Left.Created, rep.Right.Created, len(e.links()))
		}
		if asked := !tc.says || tc.byID; (w.lookups > 0) != asked {
			t.Errorf("%s: %d lookups", tc.name, w.lookups)
		}
		merged := 0
		for _, it := range e.right.Snapshot(obj) {
			if it.Fields["first_name"].Str == "Ann" && it.Fields["last_name"].Str == "Lee" {
				merged++
			}
		}
		if merged != 5 {
			t.Errorf("%s: %d pairs merged on the right, want 5", tc.name, merged)
		}
	}
}
