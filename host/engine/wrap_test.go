package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// The engine consumes sides through Conn; every sdk.Conn is one.
var _ Conn = sdk.Conn(nil)

// wrapped changes what a memory connection advertises, to try the engine
// against apps without tombstones, incremental reads or Lookup.
type wrapped struct {
	Conn
	noTombstones bool
	noIncrement  bool
	noLookup     bool
	lookups      int
	fullReads    int
	afterRead    func(req sdk.ReadRequest) // called as each read returns
	beforeLookup func()                    // called as each lookup starts
	// byWidth: the records reads handed over, by how many fields they
	// asked for (narrow reads ask for a few).
	byWidth map[int]int
}

// widthSink counts a read's records into wrapped.byWidth.
type widthSink struct {
	sdk.RecordSink
	w     *wrapped
	width int
}

func (k widthSink) Records(recs []sdk.Record) error {
	k.w.byWidth[k.width] += len(recs)
	return k.RecordSink.Records(recs)
}

func (w *wrapped) Schema(ctx context.Context) (sdk.Schema, error) {
	s, err := w.Conn.Schema(ctx)
	for i := range s.Objects {
		s.Objects[i].Tombstones = s.Objects[i].Tombstones && !w.noTombstones
		s.Objects[i].Incremental = s.Objects[i].Incremental && !w.noIncrement
	}
	return s, err
}

type dropTombstones struct{ sdk.RecordSink }

func (d dropTombstones) Records(recs []sdk.Record) error {
	var live []sdk.Record
	for _, r := range recs {
		if !r.Deleted {
			live = append(live, r)
		}
	}
	return d.RecordSink.Records(live)
}

func (w *wrapped) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if w.noIncrement {
		req.Cursor = ""
	}
	if req.Cursor == "" && (req.DigestBuckets == 0 || len(req.Buckets) > 0) {
		w.fullReads++ // of records, whole or of some buckets: a digest read hands over none
	}
	if w.noTombstones {
		sink = dropTombstones{sink}
	}
	if w.byWidth != nil {
		sink = widthSink{RecordSink: sink, w: w, width: len(req.Fields)}
	}
	err := w.Conn.Read(ctx, req, sink)
	if w.afterRead != nil {
		w.afterRead(req)
	}
	return err
}

func (w *wrapped) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	w.lookups++
	if w.beforeLookup != nil {
		w.beforeLookup()
	}
	if w.noLookup {
		return nil, sdk.Errorf(sdk.CategoryPermanent, "lookup is not implemented")
	}
	return w.Conn.Lookup(ctx, req)
}

func TestDeletesWithoutTombstonesNeedFullRead(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) { d.Deletes = syncdef.DeletesPropagate })
	w := &wrapped{Conn: e.conns["crm"], noTombstones: true}
	e.conns["crm"] = w
	var ids []string
	for _, m := range []string{"a", "b", "c"} {
		ids = append(ids, e.create(e.left, map[string]sdk.Value{"email": s(m + "@x.io")}))
	}
	e.run(Options{})
	if err := e.left.Delete(obj, ids[0]); err != nil {
		t.Fatal(err)
	}
	before := w.fullReads
	rep := e.run(Options{})
	if w.fullReads != before+1 {
		t.Fatal("a side without tombstones was not read in full while deletes propagate")
	}
	if rep.Right.Deleted != 1 || len(e.right.Snapshot(obj)) != 2 {
		t.Fatalf("delete absent from the full read not propagated: %+v", rep.Right)
	}
	e.quiet()
}

func TestMatchFindsUnchangedRecordsByLookup(t *testing.T) {
	for _, noLookup := range []bool{false, true} {
		t.Run(map[bool]string{false: "lookup", true: "full-read-fallback"}[noLookup], func(t *testing.T) {
			e := newEnv(t, func(d *syncdef.Definition) { d.CreateIn = syncdef.CreateNone })
			w := &wrapped{Conn: e.conns["news"], noLookup: noLookup}
			e.conns["news"] = w
			e.create(e.right, map[string]sdk.Value{"email": s("b@x.io"), "first_name": s("Bea")})
			e.run(Options{})
			e.quiet()
			// The right record is unchanged, so the incremental read skips it;
			// a new left record with its key must still pair with it.
			id := e.create(e.left, map[string]sdk.Value{"email": s("B@x.io"), "last_name": s("Bee")})
			lookups, full := w.lookups, w.fullReads
			rep := e.run(Options{})
			if w.lookups == lookups {
				t.Fatal("no lookup on the side read incrementally")
			}
			if noLookup && w.fullReads != full+1 {
				t.Fatal("no full read after Lookup failed")
			}
			links := e.links()
			if len(links) != 1 || links[0].LeftID != id {
				t.Fatalf("not paired: %+v (report %+v)", links, rep)
			}
			got, _ := e.left.Get(obj, id)
			if got.Fields["first_name"].Str != "Bea" {
				t.Fatalf("first match did not merge: %+v", got.Fields)
			}
			e.quiet()
		})
	}
}

func TestValueMapAndTransformsRoundTrip(t *testing.T) {
	e := newEnv(t, func(d *syncdef.Definition) {
		for i := range d.Mappings {
			switch d.Mappings[i].Left {
			case "lifecycle_stage":
				d.Mappings[i].ValueMap = map[string]string{"lead": "other", "customer": "customer", "other": "lead"}
			case "company":
				d.Mappings[i].Transforms = []mapping.Transform{mapping.TransformUpper}
			}
		}
	})
	id := e.create(e.left, map[string]sdk.Value{"email": s("a@x.io"), "lifecycle_stage": s("lead"), "company": s("Acme")})
	e.run(Options{})
	r := byEmail(e.right)["a@x.io"]
	if r.Fields["lifecycle_stage"].Str != "other" || r.Fields["company"].Str != "ACME" {
		t.Fatalf("value map / transform not applied: %+v", r.Fields)
	}
	e.quiet()
	e.update(e.right, r.ID, map[string]sdk.Value{"lifecycle_stage": s("lead"), "company": s("Foo")})
	e.run(Options{})
	l, _ := e.left.Get(obj, id)
	if l.Fields["lifecycle_stage"].Str != "other" || l.Fields["company"].Str != "FOO" {
		t.Fatalf("inverse value map / transform not applied: %+v", l.Fields)
	}
	e.quiet()
}

func TestReadFailureIsOneRunError(t *testing.T) {
	e := newEnv(t, nil)
	e.create(e.left, map[string]sdk.Value{"email": s("a@x.io")})
	e.left.SetFailer(func(op string) error {
		if op == "read" {
			return sdk.Errorf(sdk.CategoryUnreachable, "connection refused")
		}
		return nil
	})
	_, err := e.eng.Run(e.ctx, e.def, Options{})
	var re *RunError
	if !errors.As(err, &re) || re.Category != sdk.CategoryUnreachable || re.Side != "left" || re.Connection != "crm" {
		t.Fatalf("want an unreachable RunError on the left, got %v", err)
	}
	if errs := e.storedErrors(""); len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	if c, _ := e.st.Cursors(e.ctx, e.def.Name); len(c) != 0 {
		t.Fatalf("cursor moved by a failed run: %+v", c)
	}
	e.left.SetFailer(nil)
	e.run(Options{})
	if errs := e.storedErrors(""); len(errs) != 0 {
		t.Fatalf("run error not cleared after recovery: %v", errs)
	}
}
