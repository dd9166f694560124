package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Run runs the whole suite against h, one subtest per behaviour of the
// protocol. A subtest the connector cannot take part in (no lookup, no
// incremental reads, no bad credentials given) is skipped with the reason.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Connector == nil || h.Object == "" || h.NewRecord == nil || h.Update == nil {
		t.Fatal("conformance: Harness needs Connector, Object, NewRecord and Update")
	}
	if h.BadCategory == sdk.CategoryUnspecified {
		h.BadCategory = sdk.CategoryAuth
	}
	if h.BatchSize <= 0 {
		h.BatchSize = sdk.BatchRecords + 500
	}
	if h.Equal == nil {
		h.Equal = func(_ string, sent, stored sdk.Value) bool { return sent.Equal(stored) }
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	desc, err := h.Connector.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	conn, err := h.Connector.Open(ctx, h.Config)
	if err != nil {
		t.Fatalf("open with Config: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	sch, err := conn.Schema(ctx)
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	obj, ok := sch.Object(h.Object)
	if !ok {
		t.Fatalf("schema has no object %q; it has %v", h.Object, sch.ObjectNames())
	}
	s := &suite{h: h, desc: desc, conn: conn, obj: obj, fields: obj.FieldNames()}
	s.next.Store(rand.Int64N(1_000_000) * 1000)
	if s.h.LookupField == "" {
		s.h.LookupField = s.defaultLookupField()
	}

	tests := []struct {
		name string
		f    func(t *testing.T, ctx context.Context)
	}{
		{"Describe", s.testDescribe},
		{"Check/Good", s.testCheckGood},
		{"Check/Bad", s.testCheckBad},
		{"Schema", s.testSchema},
		{"Read/Full", s.testReadFull},
		{"Read/Incremental", s.testReadIncremental},
		{"Read/SkipMarks", s.testSkipMarks},
		{"Read/Digest", s.testDigest},
		{"Write/Create", s.testCreate},
		{"Write/Update", s.testUpdate},
		{"Write/Delete", s.testDelete},
		{"Write/StaleVersion", s.testStaleVersion},
		{"Write/Duplicate", s.testDuplicate},
		{"Write/MixedBatch", s.testMixedBatch},
		{"Lookup", s.testLookup},
		{"Values/RoundTrip", s.testRoundTrip},
		{"Read/ManyRecords", s.testManyRecords},
		{"Watch", s.testWatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h.Reset != nil {
				h.Reset(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			tc.f(t, ctx)
		})
	}
}

type suite struct {
	h      Harness
	desc   sdk.Description
	conn   sdk.Conn
	obj    sdk.ObjectType
	fields []string // every field of the object, schema order
	next   atomic.Int64
}

// created is a record the suite made, with what it sent.
type created struct {
	i       int
	id      string
	version string
	sent    map[string]sdk.Value
}

func (s *suite) defaultLookupField() string {
	sample := s.h.NewRecord(0)
	for _, f := range s.obj.Fields {
		if _, set := sample[f.Name]; set && f.Unique {
			return f.Name
		}
	}
	return ""
}

func (s *suite) nextI() int { return int(s.next.Add(1)) }

// ---- helpers that fail the test ----

// create makes one record per fields map, in write batches of at most 500,
// and deletes them when the test ends.
func (s *suite) create(t *testing.T, ctx context.Context, recs ...map[string]sdk.Value) []created {
	t.Helper()
	out := make([]created, 0, len(recs))
	for start := 0; start < len(recs); start += 500 {
		chunk := recs[start:min(start+500, len(recs))]
		ops := make([]sdk.Op, len(chunk))
		for i, r := range chunk {
			ops[i] = CreateOp(r)
			ops[i].CorrelationID = fmt.Sprintf("conformance-%d", start+i)
		}
		res, err := WriteOps(ctx, s.conn, s.h.Object, ops...)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("create %v: %v", chunk[i], r.Err)
			}
			if r.ID == "" || r.Version == "" {
				t.Fatalf("create %v: result without id or version: %+v", chunk[i], r)
			}
			out = append(out, created{id: r.ID, version: r.Version, sent: chunk[i]})
		}
	}
	ids := make([]string, len(out))
	for i, c := range out {
		ids[i] = c.id
	}
	t.Cleanup(func() { s.cleanup(t, ids) })
	return out
}

// createN creates n records from NewRecord.
func (s *suite) createN(t *testing.T, ctx context.Context, n int) []created {
	t.Helper()
	recs := make([]map[string]sdk.Value, n)
	is := make([]int, n)
	for k := range recs {
		is[k] = s.nextI()
		recs[k] = s.h.NewRecord(is[k])
	}
	out := s.create(t, ctx, recs...)
	for k := range out {
		out[k].i = is[k]
	}
	return out
}

// cleanup deletes what a test created; records the test deleted itself
// come back not_found, which is fine.
func (s *suite) cleanup(t *testing.T, ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		ops := make([]sdk.Op, len(chunk))
		for i, id := range chunk {
			ops[i] = DeleteOp(id, "")
		}
		res, err := WriteOps(ctx, s.conn, s.h.Object, ops...)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		for i, r := range res {
			if r.Err != nil && r.Err.Category != sdk.CategoryNotFound {
				t.Errorf("cleanup: delete %s: %v", chunk[i], r.Err)
			}
		}
	}
}

func (s *suite) write(t *testing.T, ctx context.Context, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res, err := WriteOps(ctx, s.conn, s.h.Object, ops...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// writeOK writes one op that must succeed.
func (s *suite) writeOK(t *testing.T, ctx context.Context, op sdk.Op) sdk.WriteResult {
	t.Helper()
	r := s.write(t, ctx, op)[0]
	if r.Err != nil {
		t.Fatalf("%s %s: %v", op.Kind, op.ID, r.Err)
	}
	return r
}

// wantErr checks a result failed with category c.
func wantErr(t *testing.T, what string, r sdk.WriteResult, c sdk.Category) {
	t.Helper()
	if r.Err == nil {
		t.Errorf("%s: succeeded (id %q), want a %s error", what, r.ID, c)
	} else if r.Err.Category != c {
		t.Errorf("%s: got %v, want a %s error", what, r.Err, c)
	}
}

// read runs a read with the fields in the given order and checks the shape of
// what comes back: ids, versions, one value per field, the final checkpoint.
func (s *suite) read(t *testing.T, ctx context.Context, cursor string, fields []string) *Collector {
	t.Helper()
	c, err := ReadAll(ctx, s.conn, sdk.ReadRequest{Object: s.h.Object, Cursor: cursor, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.All {
		switch {
		case r.ID == "":
			t.Errorf("read: a record without id: %+v", r)
		case r.Version == "":
			t.Errorf("read: record %s has no version", r.ID)
		case !r.Deleted && len(r.Values) != len(fields):
			t.Errorf("read: record %s has %d values for %d fields", r.ID, len(r.Values), len(fields))
		case r.Deleted && cursor == "":
			t.Errorf("read: a full read returned tombstone %s", r.ID)
		case r.Deleted && !s.obj.Tombstones:
			t.Errorf("read: tombstone %s from an object without Tombstones", r.ID)
		}
	}
	if s.obj.Incremental {
		if c.Checkpoints == 0 || c.Cursor == "" {
			t.Fatalf("read from %q: incremental object but no checkpoint with a cursor", cursor)
		}
		if c.AtCheckpoint != len(c.All) {
			t.Errorf("read from %q: %d records after the last checkpoint", cursor, len(c.All)-c.AtCheckpoint)
		}
	}
	return c
}

// readFull reads every record, all fields, by id.
func (s *suite) readFull(t *testing.T, ctx context.Context) (map[string]sdk.Record, *Collector) {
	t.Helper()
	c := s.read(t, ctx, "", s.fields)
	m, err := ByID(c.All)
	if err != nil {
		t.Fatalf("full read: %v", err)
	}
	return m, c
}

// get reads one record by id (through a full read); nil when absent.
func (s *suite) get(t *testing.T, ctx context.Context, id string) map[string]sdk.Value {
	t.Helper()
	m, _ := s.readFull(t, ctx)
	r, ok := m[id]
	if !ok {
		return nil
	}
	return AsMap(s.fields, r)
}

// assertSent checks the stored values of the fields sent.
func (s *suite) assertSent(t *testing.T, what string, sent, stored map[string]sdk.Value) {
	t.Helper()
	for f, v := range sent {
		got, ok := stored[f]
		if !ok {
			t.Errorf("%s: field %s missing from what was read", what, f)
		} else if !s.h.Equal(f, v, got) {
			t.Errorf("%s: field %s = %#v, want %#v", what, f, got, v)
		}
	}
}

// sortedIDs lists the ids of recs, sorted.
func sortedIDs[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func reversed(fields []string) []string {
	out := slices.Clone(fields)
	slices.Reverse(out)
	return out
}

func unicodeText(i int, field string) string {
	// Accents, Polish, CJK, an emoji with a skin-tone modifier, a combining
	// accent (not NFC-normalised), Hebrew (right to left), Greek.
	return fmt.Sprintf("Zoë Łódź 北京 👍🏽 e\u0301 שלום Ω %s %d", strings.ToUpper(field[:1]), i)
}
