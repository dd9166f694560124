package engine

import (
	"context"
	"errors"
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

// TestDigestAfterAFailedRun: a run that failed because a side was down
// leaves a run-level error, not a record's: the complete run after it
// still spares both sides by digest.
func TestDigestAfterAFailedRun(t *testing.T) {
	e := newEnv(t, nil)
	u := &unmarked{Conn: e.conns["news"]}
	e.conns["news"] = u
	for i := range 5 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("l%d@x.io", i))})
	}
	e.run(Options{})
	u.fail = true
	if _, err := e.eng.Run(e.ctx, e.def, Options{Full: true}); err == nil {
		t.Fatal("the run with the right side down did not fail")
	}
	u.fail = false
	rep := e.run(Options{Full: true})
	if rep.Left.Read != 0 || rep.Right.Read != 0 || rep.Left.Verified != 5 || rep.Right.Verified != 5 || rep.Writes() != 0 {
		t.Fatalf("complete run after a failed one: read %d/%d, verified %d/%d, wrote %d; want 0/0, 5/5, 0",
			rep.Left.Read, rep.Right.Read, rep.Left.Verified, rep.Right.Verified, rep.Writes())
	}
	if errs := e.storedErrors(""); len(errs) != 0 {
		t.Fatalf("errors left after a good run: %v", errs)
	}
}

// With many records in many buckets, a complete run after a few changes
// reads only the buckets where the digest disagreed, and still finds a
// delete there, a change, and a new record (matched on the other side).
func TestFullRunsReadOnlyTheBucketsThatDisagree(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) { d.Deletes = syncdef.DeletesPropagate })
	e.eng.digestBuckets = 64
	for i := range 200 {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("p%d@x.io", i))})
	}
	e.run(Options{})
	left := map[string]string{} // email → id
	for id, it := range e.left.Snapshot(obj) {
		left[it.Fields["email"].Str] = id
	}
	right := map[string]string{}
	for id, it := range e.right.Snapshot(obj) {
		right[it.Fields["email"].Str] = id
	}
	e.update(e.left, left["p7@x.io"], map[string]sdk.Value{"company": s("Globex")})
	if err := e.left.Delete(obj, left["p8@x.io"]); err != nil {
		t.Fatal(err)
	}
	e.create(e.right, map[string]sdk.Value{"email": s("new@x.io")})

	rep := e.run(Options{Full: true})
	// The left read two buckets at most (of the update and the delete),
	// the right one (of the new record).
	bucketSize := func(ids map[string]string, which ...string) int {
		in := map[int]bool{}
		for _, w := range which {
			in[sdk.DigestBucket(ids[w], 64)] = true
		}
		n := 0
		for email, id := range ids {
			if in[sdk.DigestBucket(id, 64)] && email != "p8@x.io" {
				n++
			}
		}
		return n
	}
	if want := bucketSize(left, "p7@x.io", "p8@x.io"); rep.Left.Read != want || rep.Left.Verified != 199-want {
		t.Fatalf("left: read %d, verified %d; want %d read (the buckets of the change and the delete), %d verified", rep.Left.Read, rep.Left.Verified, want, 199-want)
	}
	if rep.Right.Read >= 200 || rep.Right.Verified == 0 {
		t.Fatalf("right: read %d, verified %d; want only the new record's bucket read", rep.Right.Read, rep.Right.Verified)
	}
	if rep.Right.Updated != 1 || rep.Right.Deleted != 1 || rep.Left.Created != 1 {
		t.Fatalf("left %+v / right %+v; want the change and the delete on the right, the new record on the left", rep.Left, rep.Right)
	}
	if it := e.right.Snapshot(obj)[right["p7@x.io"]]; it.Fields["company"].Str != "Globex" {
		t.Fatalf("right p7: company %#v", it.Fields["company"])
	}
	if _, ok := e.right.Snapshot(obj)[right["p8@x.io"]]; ok {
		t.Fatal("right p8 survived its partner's delete")
	}
	if rep := e.run(Options{Full: true}); rep.Writes() != 0 || rep.Left.Read+rep.Right.Read != 0 || rep.Left.Verified != 200 || rep.Right.Verified != 200 {
		t.Fatalf("complete run after: left %+v / right %+v; want everything verified, nothing read or written", rep.Left, rep.Right)
	}
}

// A read of the buckets that disagree that comes back empty is an outage,
// as an empty complete read is: the run stops rather than delete.
func TestBucketReadsKeepTheMassDeleteGuard(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) { d.Deletes = syncdef.DeletesPropagate })
	e.eng.digestBuckets = 64
	ids := e.contacts(e.left, "p", 200)
	e.run(Options{})
	e.update(e.left, ids[3], map[string]sdk.Value{"company": s("Globex")})
	e.conns["crm"] = &emptyBuckets{Conn: e.conns["crm"]}
	if _, err := e.eng.Run(e.ctx, e.def, Options{Full: true}); !errors.Is(err, ErrMassDelete) {
		t.Fatalf("an empty read of the disagreeing buckets: %v, want a safety stop", err)
	}
	if n := len(e.right.Snapshot(obj)); n != 200 {
		t.Fatalf("%d right records left, want 200", n)
	}
}

// emptyBuckets answers reads filtered by bucket with nothing.
type emptyBuckets struct{ Conn }

func (c *emptyBuckets) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if len(req.Buckets) > 0 {
		return sink.Checkpoint("")
	}
	return c.Conn.Read(ctx, req, sink)
}

// The records of the buckets a complete run reads because their digest
// disagreed are mostly unchanged: when many, they are settled as they are
// read, as echoes are (lazyMax 2), and the run comes to what one that
// looks at them after the read (lazyMax past them) comes to, whatever
// changed in those buckets. A run after it writes nothing.
func TestBucketReadsSettledAsReadOrAfter(t *testing.T) {
	tests := append(settlingChanges(),
		settlingChange{"a linked record's email changed", nil, func(e *env, p pairs) {
			e.update(e.left, p.left[6], map[string]sdk.Value{"email": s("moved@x.io")})
		}},
		settlingChange{"new records on both sides with one email", nil, func(e *env, p pairs) {
			e.create(e.left, map[string]sdk.Value{"email": s("both@x.io"), "company": s("Initech")})
			e.create(e.right, map[string]sdk.Value{"email": s("both@x.io"), "phone": s("+1 555 0199")})
		}},
		settlingChange{"most records changed", nil, func(e *env, p pairs) {
			for _, id := range p.right[10:] {
				e.update(e.right, id, map[string]sdk.Value{"company": s("Hooli")})
			}
		}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do := func(lazyMax int) string {
				e := newEnv(t, tt.edit)
				e.eng.digestBuckets = 16
				tt.change(e, e.linkedPairs(60, 20))
				e.eng.lazyMax = lazyMax
				rep := e.run(Options{Full: true})
				if rep := e.run(Options{Full: true}); rep.Writes() != 0 {
					t.Fatalf("complete run after: wrote %d", rep.Writes())
				}
				return outcome(e, rep)
			}
			sameSettledAsReadOrAfter(t, do)
		})
	}
}

// A bucket read settles its unchanged records against their links looked up
// a read batch at a time: no link is loaded whole, and only the records of
// the buckets read are looked up.
func TestBucketReadsSettleAsRead(t *testing.T) {
	e := newEnv(t, nil)
	e.eng.digestBuckets = 16
	ids := e.contacts(e.left, "l", 200)
	e.run(Options{})
	e.update(e.left, ids[7], map[string]sdk.Value{"company": s("Globex")})
	inBucket := 0
	for _, id := range ids {
		if sdk.DigestBucket(id, 16) == sdk.DigestBucket(ids[7], 16) {
			inBucket++
		}
	}
	st := &wholeLinks{Store: e.st}
	e.eng = New(st, e.dial, WithClock(e.now))
	e.eng.digestBuckets, e.eng.lazyMax = 16, 2
	rep := e.run(Options{Full: true})
	if rep.Right.Updated != 1 || rep.Writes() != 1 || rep.Left.Read != inBucket || rep.Left.Verified != 200-inBucket {
		t.Fatalf("left %+v / right %+v; want %d read, %d verified and the one change written", rep.Left, rep.Right, inBucket, 200-inBucket)
	}
	if st.whole != 0 || st.ids != inBucket {
		t.Fatalf("links loaded whole %d times, looked up for %d ids; want 0 and the bucket's %d", st.whole, st.ids, inBucket)
	}
	if it := byEmail(e.right)["l7@x.io"]; it.Fields["company"].Str != "Globex" {
		t.Fatalf("right l7: company %#v, want Globex", it.Fields["company"])
	}
}
