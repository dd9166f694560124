package engine

import (
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

func TestFirstRunCreatesBothWaysThenQuiet(t *testing.T) {
	e := newEnv(t, nil)
	e.create(e.left, map[string]sdk.Value{"email": s("ann@x.io"), "first_name": s("Ann"), "tags": sdk.StringList("a", "b")})
	e.create(e.right, map[string]sdk.Value{"email": s("bob@x.io"), "last_name": s("Builder"), "lifecycle_stage": s("lead")})
	rep := e.run(Options{})
	if rep.Right.Created != 1 || rep.Left.Created != 1 {
		t.Fatalf("want one create each way: %+v %+v %+v", rep.Left, rep.Right, rep.Errors)
	}
	l, r := byEmail(e.left), byEmail(e.right)
	if got := r["ann@x.io"].Fields["first_name"]; got.Str != "Ann" {
		t.Fatalf("right ann first_name = %#v", got)
	}
	if got := r["ann@x.io"].Fields["tags"]; len(got.List) != 2 {
		t.Fatalf("right ann tags = %#v", got)
	}
	if got := l["bob@x.io"].Fields["lifecycle_stage"]; got.Str != "lead" {
		t.Fatalf("left bob lifecycle = %#v", got)
	}
	if n := len(e.links()); n != 2 {
		t.Fatalf("%d links, want 2", n)
	}
	e.quiet()
	e.quiet()
}

func TestOneSidedUpdateFlowsAndEcho(t *testing.T) {
	e := newEnv(t, nil)
	id := e.create(e.left, map[string]sdk.Value{"email": s("ann@x.io"), "first_name": s("Ann")})
	e.run(Options{})
	e.update(e.left, id, map[string]sdk.Value{"first_name": s("Anne"), "company": s("Acme")})
	rep := e.run(Options{})
	if rep.Right.Updated != 1 || rep.Writes() != 1 {
		t.Fatalf("want one update on the right: %+v %+v", rep.Left, rep.Right)
	}
	r := byEmail(e.right)["ann@x.io"]
	if r.Fields["first_name"].Str != "Anne" || r.Fields["company"].Str != "Acme" {
		t.Fatalf("right = %+v", r.Fields)
	}
	e.quiet()
	// Clearing a field later is a change like any other.
	e.update(e.right, r.ID, map[string]sdk.Value{"company": sdk.Null})
	e.run(Options{})
	if got, _ := e.left.Get(obj, id); !got.Fields["company"].IsNull() {
		t.Fatalf("clearing did not flow: %+v", got.Fields)
	}
	e.quiet()
}

var _ = memory.FieldEmail
