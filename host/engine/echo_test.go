package engine

import (
	"fmt"
	"testing"

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
