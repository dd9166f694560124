package engine

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// A complete run reads no side whose records a digest shows exactly as the
// links know them, and reads in full every side where something changed,
// appeared or went: what it then does is what a complete read does.
func TestFullRunsSpareSidesADigestShowsUnchanged(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) {
		d.Deletes = syncdef.DeletesPropagate
		d.FilterRight = `!email.startsWith("hidden")`
	})
	for i := range 5 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))})
	}
	for i := range 3 {
		e.create(e.right, map[string]sdk.Value{"email": s(fmt.Sprintf("r%d@x.io", i))})
	}
	e.run(Options{})

	type want struct{ readL, readR, verL, verR int }
	check := func(what string, rep Report, w want) {
		t.Helper()
		got := want{rep.Left.Read, rep.Right.Read, rep.Left.Verified, rep.Right.Verified}
		if got != w {
			t.Fatalf("%s: read %d/%d, verified %d/%d; want read %d/%d, verified %d/%d",
				what, got.readL, got.readR, got.verL, got.verR, w.readL, w.readR, w.verL, w.verR)
		}
	}
	rep := e.run(Options{Full: true})
	check("no change", rep, want{0, 0, 8, 8})
	if rep.Writes() != 0 {
		t.Fatalf("no change: wrote %d", rep.Writes())
	}

	// The digest's cursor is a real one: an incremental run after it
	// reads what changed since, and only that.
	var lid, rid string
	for id, it := range e.left.Snapshot(obj) {
		if it.Fields["email"].Str == "l1@x.io" {
			lid = id
		}
	}
	for id, it := range e.right.Snapshot(obj) {
		if it.Fields["email"].Str == "r2@x.io" {
			rid = id
		}
	}
	e.update(e.right, rid, map[string]sdk.Value{"company": s("Initech")})
	if rep := e.run(Options{}); rep.Right.Read != 1 || rep.Left.Updated != 1 {
		t.Fatalf("incremental run after a verified one: read %d on the right, %d updated on the left", rep.Right.Read, rep.Left.Updated)
	}

	// A change on the left: the left is read, the right is not.
	e.update(e.left, lid, map[string]sdk.Value{"company": s("Globex")})
	rep = e.run(Options{Full: true})
	check("a left change", rep, want{8, 0, 0, 8})
	if rep.Right.Updated != 1 {
		t.Fatalf("a left change: %d updated on the right", rep.Right.Updated)
	}

	// A delete on the right is found by the right's complete read.
	if err := e.right.Delete(obj, rid); err != nil {
		t.Fatal(err)
	}
	rep = e.run(Options{Full: true})
	check("a right delete", rep, want{0, 7, 8, 0})
	if rep.Left.Deleted != 1 || len(e.left.Snapshot(obj)) != 7 {
		t.Fatalf("a right delete: %d deleted on the left, %d left", rep.Left.Deleted, len(e.left.Snapshot(obj)))
	}

	// A record no link names (its side's filter keeps it out) keeps its
	// side from ever agreeing: it is read in full every time.
	e.create(e.right, map[string]sdk.Value{"email": s("hidden@x.io")})
	e.run(Options{})
	for range 2 {
		rep = e.run(Options{Full: true})
		check("an unlinked record on the right", rep, want{0, 8, 7, 0})
		if rep.Writes() != 0 {
			t.Fatalf("an unlinked record on the right: wrote %d", rep.Writes())
		}
	}
}
