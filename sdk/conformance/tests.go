package conformance

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

func (s *suite) testDescribe(t *testing.T, ctx context.Context) {
	d, err := s.h.Connector.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if d.Name == "" || d.Version == "" {
		t.Errorf("describe: name %q, version %q: both are required", d.Name, d.Version)
	}
	// In process nobody fills ProtocolMajor but the connector; sdk.Serve
	// always does, so a plugin reports 1.
	if d.ProtocolMajor != sdk.ProtocolMajor && !(d.ProtocolMajor == 0 && !isRemote(s.h.Connector)) {
		t.Errorf("describe: protocol major %d, want %d", d.ProtocolMajor, sdk.ProtocolMajor)
	}
	seen := map[string]bool{}
	for _, f := range d.AllFields() {
		if f.Name == "" || seen[f.Name] {
			t.Errorf("describe: config field name %q is empty or declared twice", f.Name)
		}
		seen[f.Name] = true
	}
	if slices.Contains(d.Capabilities, "") {
		t.Errorf("describe: an empty capability in %q", d.Capabilities)
	}
	if err := d.Validate(s.h.Config); err != nil {
		t.Errorf("describe: the harness's Config does not satisfy the declared fields: %v", err)
	}
	d2, err := s.h.Connector.Describe(ctx)
	if err != nil || d2.Name != d.Name || d2.Version != d.Version {
		t.Errorf("describe again: %q %q, %v; want the same %q %q", d2.Name, d2.Version, err, d.Name, d.Version)
	}
}

func (s *suite) testCheckGood(t *testing.T, ctx context.Context) {
	a1, err := s.conn.Check(ctx)
	if err != nil {
		t.Fatalf("check with Config: %v", err)
	}
	if a1.Fingerprint == "" {
		t.Fatal("check: empty account fingerprint")
	}
	a2, err := s.conn.Check(ctx)
	if err != nil || a2.Fingerprint != a1.Fingerprint {
		t.Errorf("check again: fingerprint %q, %v; want the same %q", a2.Fingerprint, err, a1.Fingerprint)
	}
	c2, err := s.h.Connector.Open(ctx, s.h.Config)
	if err != nil {
		t.Fatalf("open again: %v", err)
	}
	defer c2.Close()
	a3, err := c2.Check(ctx)
	if err != nil || a3.Fingerprint != a1.Fingerprint {
		t.Errorf("check on a new connection: fingerprint %q, %v; want the same %q", a3.Fingerprint, err, a1.Fingerprint)
	}
}

func (s *suite) testCheckBad(t *testing.T, ctx context.Context) {
	if s.h.BadConfig == nil {
		t.Skip("harness gives no BadConfig (connector without credentials)")
	}
	c, err := s.h.Connector.Open(ctx, *s.h.BadConfig)
	if err == nil {
		defer c.Close()
		var a sdk.Account
		a, err = c.Check(ctx)
		if err == nil {
			t.Fatalf("check with BadConfig succeeded (account %q), want a %s error", a.Fingerprint, s.h.BadCategory)
		}
	}
	if got := sdk.CategoryOf(err); got != s.h.BadCategory {
		t.Errorf("check with BadConfig: %v (category %s), want category %s", err, got, s.h.BadCategory)
	}
}

func (s *suite) testSchema(t *testing.T, ctx context.Context) {
	sch, err := s.conn.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := sch.Object(s.h.Object)
	if !ok {
		t.Fatalf("object %q missing from a second Schema call", s.h.Object)
	}
	if obj.ReadOnly {
		t.Fatalf("object %q is read-only: the suite needs a writable object", obj.Name)
	}
	if len(obj.Fields) == 0 {
		t.Fatalf("object %q has no fields", obj.Name)
	}
	byName := map[string]sdk.Field{}
	for _, f := range obj.Fields {
		if f.Name == "" || byName[f.Name].Name != "" {
			t.Errorf("field name %q is empty or listed twice", f.Name)
		}
		byName[f.Name] = f
		if f.Type == sdk.TypeUnspecified || f.Type.String() != typeName(f.Type) {
			t.Errorf("field %s: type %v is not a protocol type", f.Name, f.Type)
		}
		if f.Type == sdk.TypeEnum && len(f.EnumOptions) == 0 {
			t.Errorf("field %s: an enum without options", f.Name)
		}
		if f.MaxLength < 0 {
			t.Errorf("field %s: max length %d", f.Name, f.MaxLength)
		}
	}
	if obj.Tombstones && !obj.Incremental {
		t.Errorf("object %s has Tombstones but is not Incremental", obj.Name)
	}
	for _, f := range append(slices.Clone(obj.UpsertFields), obj.ExternalIDField) {
		if _, ok := byName[f]; f != "" && !ok {
			t.Errorf("object %s names field %q (upsert / external id) that it does not have", obj.Name, f)
		}
	}
	// The harness must fit the schema, or later failures mislead.
	i := s.nextI()
	checkValues := func(what string, m map[string]sdk.Value) {
		for name, v := range m {
			f, ok := byName[name]
			switch {
			case !ok:
				t.Errorf("harness %s sets %q, not a field of %s", what, name, obj.Name)
			case f.ReadOnly:
				t.Errorf("harness %s sets read-only field %q", what, name)
			case !v.IsNull() && v.Kind != f.Type.ValueKind():
				t.Errorf("harness %s sets %s field %q to a %s value", what, f.Type, name, v.Kind)
			}
		}
	}
	checkValues("NewRecord", s.h.NewRecord(i))
	checkValues("Update", s.h.Update(i))
	for what, names := range map[string][]string{"UnicodeFields": s.h.UnicodeFields, "EmptyFields": s.h.EmptyFields,
		"NullFields": s.h.NullFields, "LookupField": {s.h.LookupField}, "InvalidField": {s.h.InvalidField}} {
		for _, n := range names {
			if _, ok := byName[n]; n != "" && !ok {
				t.Errorf("harness %s names %q, not a field of %s", what, n, obj.Name)
			}
		}
	}
	for _, n := range s.h.UnicodeFields {
		if f := byName[n]; f.Type.ValueKind() != sdk.KindString {
			t.Errorf("harness UnicodeFields names %s field %q: text fields only", f.Type, n)
		}
	}
}

func typeName(t sdk.FieldType) string {
	for n := sdk.TypeString; n <= sdk.TypeStringList; n++ {
		if n == t {
			return n.String()
		}
	}
	return ""
}

func (s *suite) testReadFull(t *testing.T, ctx context.Context) {
	recs := s.createN(t, ctx, 3)
	m, _ := s.readFull(t, ctx)
	for _, c := range recs {
		r, ok := m[c.id]
		if !ok {
			t.Errorf("full read: created record %s missing", c.id)
			continue
		}
		if r.Version != c.version {
			t.Errorf("full read: record %s version %q, the create returned %q", c.id, r.Version, c.version)
		}
		s.assertSent(t, "full read of "+c.id, c.sent, AsMap(s.fields, r))
	}
	// Values come in the order asked for, whatever it is.
	fields := reversed(s.fields)
	if len(fields) > 1 {
		fields = fields[:len(fields)-1]
	}
	c := s.read(t, ctx, "", fields)
	sub, err := ByID(c.All)
	if err != nil {
		t.Fatalf("read of some fields: %v", err)
	}
	for _, cr := range recs {
		r, ok := sub[cr.id]
		if !ok {
			t.Errorf("read of some fields: record %s missing", cr.id)
			continue
		}
		got := AsMap(fields, r)
		want := AsMap(s.fields, m[cr.id])
		for _, f := range fields {
			if !got[f].Equal(want[f]) {
				t.Errorf("read of fields %v: record %s field %s = %#v; reading all fields gave %#v", fields, cr.id, f, got[f], want[f])
			}
		}
	}
}

func (s *suite) testReadIncremental(t *testing.T, ctx context.Context) {
	if !s.obj.Incremental {
		t.Skipf("object %s is not Incremental", s.obj.Name)
	}
	recs := s.createN(t, ctx, 3)
	a, b, d := recs[0], recs[1], recs[2]
	_, c0 := s.readFull(t, ctx)
	time.Sleep(s.h.ChangeDelay)

	c := s.createN(t, ctx, 1)[0]
	patch := s.h.Update(a.i)
	s.writeOK(t, ctx, UpdateOp(a.id, "", patch))
	s.writeOK(t, ctx, DeleteOp(b.id, ""))

	inc := s.read(t, ctx, c0.Cursor, s.fields)
	got, err := ByID(inc.All)
	if err != nil {
		t.Errorf("read from cursor: %v", err)
	}
	want := []string{a.id, c.id}
	if s.obj.Tombstones {
		want = append(want, b.id)
	}
	slices.Sort(want)
	if ids := sortedIDs(got); !slices.Equal(ids, want) {
		t.Fatalf("read from cursor %q: got records %v, want exactly %v (updated %s, created %s, deleted %s; untouched %s)",
			c0.Cursor, ids, want, a.id, c.id, b.id, d.id)
	}
	if got[a.id].Deleted || got[c.id].Deleted {
		t.Errorf("read from cursor: a live record came as a tombstone")
	}
	s.assertSent(t, "incremental read of updated "+a.id, patch, AsMap(s.fields, got[a.id]))
	s.assertSent(t, "incremental read of created "+c.id, c.sent, AsMap(s.fields, got[c.id]))
	if s.obj.Tombstones && !got[b.id].Deleted {
		t.Errorf("read from cursor: deleted record %s is not a tombstone", b.id)
	}

	// Nothing changed since: nothing comes back.
	again := s.read(t, ctx, inc.Cursor, s.fields)
	if len(again.All) != 0 {
		t.Errorf("read from the latest cursor with no changes: got %d records, want none", len(again.All))
	}
	// A record changed later comes again, alone.
	time.Sleep(s.h.ChangeDelay)
	s.writeOK(t, ctx, UpdateOp(d.id, "", s.h.Update(d.i)))
	last := s.read(t, ctx, again.Cursor, s.fields)
	if len(last.All) != 1 || last.All[0].ID != d.id {
		t.Errorf("read after updating %s: got %v, want exactly that record", d.id, idsOf(last.All))
	}
}

// testSkipMarks: an incremental read given the marks of a write leaves out
// that write's records, but not a later change to another record (another
// write, another mark), and its cursor moves past them all. Skipped when
// the connector marks nothing.
func (s *suite) testSkipMarks(t *testing.T, ctx context.Context) {
	if !s.obj.Incremental {
		t.Skipf("object %s is not Incremental", s.obj.Name)
	}
	recs := s.createN(t, ctx, 3)
	a, b := recs[0], recs[1]
	_, c0 := s.readFull(t, ctx)
	time.Sleep(s.h.ChangeDelay)

	n := s.nextI()
	res := s.write(t, ctx, CreateOp(s.h.NewRecord(n)), UpdateOp(a.id, "", s.h.Update(a.i)))
	var marks []string
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("write op %d: %v", i, r.Err)
		}
		if r.Mark != "" && !slices.Contains(marks, r.Mark) {
			marks = append(marks, r.Mark)
		}
	}
	if len(marks) == 0 {
		t.Skip("the connector sets no write marks")
	}
	c := res[0].ID
	t.Cleanup(func() { s.cleanup(t, []string{c}) })
	other := s.writeOK(t, ctx, UpdateOp(b.id, "", s.h.Update(b.i)))
	if slices.Contains(marks, other.Mark) && other.Mark != "" {
		t.Fatalf("two writes share the mark %q: a read skipping the first would lose the second", other.Mark)
	}

	plain := s.read(t, ctx, c0.Cursor, s.fields)
	if ids := sortedIDs(mustByID(t, plain.All)); !slices.Equal(ids, sorted(a.id, b.id, c)) {
		t.Fatalf("read from cursor without marks: got %v, want %v", ids, sorted(a.id, b.id, c))
	}
	for _, skip := range [][]string{{"not-a-mark"}, {"", "x:1-2"}} {
		got := sortedIDs(mustByID(t, s.readSkipping(t, ctx, c0.Cursor, skip).All))
		if !slices.Equal(got, sorted(a.id, b.id, c)) {
			t.Errorf("read skipping foreign marks %q: got %v, want every change %v", skip, got, sorted(a.id, b.id, c))
		}
	}
	skipped := s.readSkipping(t, ctx, c0.Cursor, marks)
	if got := sortedIDs(mustByID(t, skipped.All)); !slices.Equal(got, []string{b.id}) {
		t.Fatalf("read skipping marks %q of the write that created %s and updated %s: got %v, want only %s (changed by a later write)",
			marks, c, a.id, got, b.id)
	}
	if again := s.read(t, ctx, skipped.Cursor, s.fields); len(again.All) != 0 {
		t.Errorf("read from the cursor of the skipping read: got %v, want nothing (the cursor must move past skipped records)", idsOf(again.All))
	}
}

// testDigest: a digest read (sdk.ReadDigest, as the SDK answers the host)
// sums exactly the (id, version) pairs a full read returns, per bucket, and
// its cursor resumes after them: a connector's full reads must be
// repeatable and their cursors complete.
func (s *suite) testDigest(t *testing.T, ctx context.Context) {
	recs := s.createN(t, ctx, 5)
	all, _ := s.readFull(t, ctx)
	for _, buckets := range []int{1, 3} {
		want := make([]sdk.Digest, buckets)
		for _, r := range all {
			b := &want[sdk.DigestBucket(r.ID, buckets)]
			b.Count++
			b.Sum += sdk.DigestOf(r.ID, r.Version)
		}
		got, cursor, err := sdk.ReadDigest(ctx, s.conn, sdk.ReadRequest{Object: s.h.Object, Fields: s.fields[:1], DigestBuckets: buckets})
		if err != nil {
			t.Fatalf("digest read, %d buckets: %v", buckets, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("digest read, %d buckets: %v; the full read's %d records sum to %v", buckets, got, len(all), want)
		}
		if s.obj.Incremental {
			if cursor == "" {
				t.Fatalf("digest read, %d buckets: no cursor", buckets)
			}
			if again := s.read(t, ctx, cursor, s.fields); len(again.All) != 0 {
				t.Fatalf("read from the digest read's cursor: got %v, want nothing", idsOf(again.All))
			}
		}
	}
	// A change moves the sum.
	time.Sleep(s.h.ChangeDelay)
	s.writeOK(t, ctx, UpdateOp(recs[0].id, "", s.h.Update(recs[0].i)))
	after, _, err := sdk.ReadDigest(ctx, s.conn, sdk.ReadRequest{Object: s.h.Object, Fields: s.fields[:1], DigestBuckets: 1})
	if err != nil {
		t.Fatal(err)
	}
	all, _ = s.readFull(t, ctx)
	var sum uint64
	for _, r := range all {
		sum += sdk.DigestOf(r.ID, r.Version)
	}
	if after[0].Sum != sum || after[0].Count != uint64(len(all)) {
		t.Fatalf("digest after an update: %v, want count %d sum %d", after[0], len(all), sum)
	}
}

// readSkipping is read with skip marks.
func (s *suite) readSkipping(t *testing.T, ctx context.Context, cursor string, skip []string) *Collector {
	t.Helper()
	c, err := ReadAll(ctx, s.conn, sdk.ReadRequest{Object: s.h.Object, Cursor: cursor, Fields: s.fields, Skip: skip})
	if err != nil {
		t.Fatal(err)
	}
	if s.obj.Incremental && c.Cursor == "" {
		t.Fatalf("read from %q skipping %q: no checkpoint with a cursor", cursor, skip)
	}
	return c
}

func mustByID(t *testing.T, recs []sdk.Record) map[string]sdk.Record {
	t.Helper()
	m, err := ByID(recs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func idsOf(recs []sdk.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func (s *suite) testCreate(t *testing.T, ctx context.Context) {
	i1, i2 := s.nextI(), s.nextI()
	sent := []map[string]sdk.Value{s.h.NewRecord(i1), s.h.NewRecord(i2)}
	ops := []sdk.Op{CreateOp(sent[0]), CreateOp(sent[1])}
	ops[0].CorrelationID, ops[1].CorrelationID = "corr-a", "corr-b"
	res := s.write(t, ctx, ops...)
	var ids []string
	for k, r := range res {
		if r.Err != nil {
			t.Fatalf("create %v: %v", sent[k], r.Err)
		}
		ids = append(ids, r.ID)
	}
	t.Cleanup(func() { s.cleanup(t, ids) })
	fields := unionFields(ops)
	for k, r := range res {
		if r.CorrelationID != ops[k].CorrelationID {
			t.Errorf("result %d: correlation id %q, want %q", k, r.CorrelationID, ops[k].CorrelationID)
		}
		if r.ID == "" || r.Version == "" {
			t.Errorf("result %d: id %q, version %q: both required", k, r.ID, r.Version)
		}
		if r.Values != nil {
			if len(r.Values) != len(fields) {
				t.Errorf("result %d: %d stored values for %d fields", k, len(r.Values), len(fields))
			} else {
				s.assertSent(t, "create result", sent[k], AsMap(fields, sdk.Record{Values: r.Values}))
			}
		}
	}
	if res[0].ID == res[1].ID {
		t.Fatalf("two creates got the same id %q", res[0].ID)
	}
	m, _ := s.readFull(t, ctx)
	for k, r := range res {
		got, ok := m[r.ID]
		if !ok {
			t.Errorf("created record %s missing from a full read", r.ID)
			continue
		}
		if got.Version != r.Version {
			t.Errorf("record %s: read version %q, create returned %q", r.ID, got.Version, r.Version)
		}
		s.assertSent(t, "read after create", sent[k], AsMap(s.fields, got))
	}
}

// unionFields is the field list WriteOps sends for ops.
func unionFields(ops []sdk.Op) []string {
	var out []string
	for _, op := range ops {
		for _, f := range op.Fields {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func (s *suite) testUpdate(t *testing.T, ctx context.Context) {
	c := s.createN(t, ctx, 1)[0]
	before := s.get(t, ctx, c.id)
	patch := s.h.Update(c.i)
	changes, untouched := 0, 0
	for f := range c.sent {
		if _, ok := patch[f]; !ok {
			untouched++
		}
	}
	for f, v := range patch {
		if !s.h.Equal(f, v, before[f]) {
			changes++
		}
	}
	if changes == 0 || untouched == 0 {
		t.Fatalf("harness: Update(i) must change at least one field (%d do) and leave one of NewRecord(i) alone (%d do)", changes, untouched)
	}
	op := UpdateOp(c.id, "", patch)
	r := s.writeOK(t, ctx, op)
	if r.ID != c.id {
		t.Errorf("update result id %q, want %q", r.ID, c.id)
	}
	if r.Version == "" || r.Version == c.version {
		t.Errorf("update result version %q: must be set and differ from the create's %q", r.Version, c.version)
	}
	if r.Values != nil {
		s.assertSent(t, "update result", patch, AsMap(op.Fields, sdk.Record{Values: r.Values}))
	}
	m, _ := s.readFull(t, ctx)
	rec, ok := m[c.id]
	if !ok {
		t.Fatalf("updated record %s missing from a full read", c.id)
	}
	if rec.Version != r.Version {
		t.Errorf("read version %q, update returned %q", rec.Version, r.Version)
	}
	after := AsMap(s.fields, rec)
	s.assertSent(t, "read after update", patch, after)
	for _, f := range s.obj.Fields {
		if _, patched := patch[f.Name]; patched || f.ReadOnly {
			continue
		}
		if !after[f.Name].Equal(before[f.Name]) {
			t.Errorf("field %s, not in the patch, changed from %#v to %#v", f.Name, before[f.Name], after[f.Name])
		}
	}
}

func (s *suite) testDelete(t *testing.T, ctx context.Context) {
	recs := s.createN(t, ctx, 2)
	x, y := recs[0], recs[1]
	r := s.writeOK(t, ctx, DeleteOp(x.id, ""))
	if r.ID != x.id {
		t.Errorf("delete result id %q, want %q", r.ID, x.id)
	}
	m, _ := s.readFull(t, ctx)
	if _, ok := m[x.id]; ok {
		t.Errorf("deleted record %s still in a full read", x.id)
	}
	if _, ok := m[y.id]; !ok {
		t.Errorf("record %s missing after deleting another one", y.id)
	}
	wantErr(t, "delete again", s.write(t, ctx, DeleteOp(x.id, ""))[0], sdk.CategoryNotFound)
	wantErr(t, "update a deleted record", s.write(t, ctx, UpdateOp(x.id, "", s.h.Update(x.i)))[0], sdk.CategoryNotFound)
	if s.hasLookup() {
		got, err := s.conn.Lookup(ctx, sdk.LookupRequest{Object: s.h.Object, Field: s.h.LookupField,
			Values: []sdk.Value{x.sent[s.h.LookupField]}, Fields: s.fields})
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("lookup of deleted record %s by %s found %v", x.id, s.h.LookupField, idsOf(got))
		}
	}
}

func (s *suite) testStaleVersion(t *testing.T, ctx context.Context) {
	c := s.createN(t, ctx, 1)[0]
	patch := s.h.Update(c.i)
	v1 := s.writeOK(t, ctx, UpdateOp(c.id, c.version, patch)).Version
	if v1 == c.version {
		t.Fatalf("update kept version %q", v1)
	}
	before := s.get(t, ctx, c.id)
	wantErr(t, "update with a stale version", s.write(t, ctx, UpdateOp(c.id, c.version, c.sent))[0], sdk.CategoryConflict)
	wantErr(t, "delete with a stale version", s.write(t, ctx, DeleteOp(c.id, c.version))[0], sdk.CategoryConflict)
	m, _ := s.readFull(t, ctx)
	rec, ok := m[c.id]
	if !ok {
		t.Fatalf("record %s gone after a refused delete", c.id)
	}
	if rec.Version != v1 {
		t.Errorf("after refused writes the version is %q, want %q", rec.Version, v1)
	}
	after := AsMap(s.fields, rec)
	for _, f := range s.fields {
		if !after[f].Equal(before[f]) {
			t.Errorf("refused update changed %s from %#v to %#v", f, before[f], after[f])
		}
	}
	s.writeOK(t, ctx, DeleteOp(c.id, v1))
}

func (s *suite) uniqueField() string {
	sample := s.h.NewRecord(0)
	for _, f := range s.obj.Fields {
		if _, set := sample[f.Name]; set && f.Unique && !f.ReadOnly {
			return f.Name
		}
	}
	return ""
}

func (s *suite) testDuplicate(t *testing.T, ctx context.Context) {
	u := s.uniqueField()
	if u == "" {
		t.Skip("NewRecord sets no unique field")
	}
	c := s.createN(t, ctx, 1)[0]
	count := len(s.read(t, ctx, "", s.fields).All)
	dup := s.h.NewRecord(s.nextI())
	dup[u] = c.sent[u]
	r := s.write(t, ctx, CreateOp(dup))[0]
	if r.Err == nil {
		s.cleanup(t, []string{r.ID})
	}
	wantErr(t, "create with the "+u+" of "+c.id, r, sdk.CategoryDuplicate)
	if r.Err != nil && r.Err.Field != u {
		t.Errorf("duplicate error names field %q, want %q", r.Err.Field, u)
	}
	if n := len(s.read(t, ctx, "", s.fields).All); n != count {
		t.Errorf("a refused duplicate changed the record count from %d to %d", count, n)
	}
}

func (s *suite) testMixedBatch(t *testing.T, ctx context.Context) {
	recs := s.createN(t, ctx, 2)
	existing, gone := recs[0], recs[1]
	s.writeOK(t, ctx, DeleteOp(gone.id, ""))
	before, _ := s.readFull(t, ctx)

	g1, g2 := s.h.NewRecord(s.nextI()), s.h.NewRecord(s.nextI())
	patch := s.h.Update(existing.i)
	type want struct {
		name string
		op   sdk.Op
		err  sdk.Category // unspecified: must succeed
	}
	wants := []want{
		{"good create", CreateOp(g1), 0},
		{"update of a deleted record", UpdateOp(gone.id, "", patch), sdk.CategoryNotFound},
		{"good update", UpdateOp(existing.id, "", patch), 0},
	}
	if s.h.Invalid != nil {
		wants = append(wants, want{"invalid create", CreateOp(s.h.Invalid), sdk.CategoryValidation})
	} else {
		t.Log("harness gives no Invalid record: the batch mixes in only a not_found update")
	}
	wants = append(wants, want{"second good create", CreateOp(g2), 0})
	ops := make([]sdk.Op, len(wants))
	for k, w := range wants {
		ops[k] = w.op
	}
	res := s.write(t, ctx, ops...)
	var made []string
	for k, w := range wants {
		if w.op.Kind == sdk.OpCreate && res[k].Err == nil {
			made = append(made, res[k].ID)
		}
		if w.err == 0 {
			if res[k].Err != nil {
				t.Errorf("%s (op %d): %v", w.name, k, res[k].Err)
			}
			continue
		}
		wantErr(t, w.name, res[k], w.err)
		if w.err == sdk.CategoryValidation && s.h.InvalidField != "" && res[k].Err != nil && res[k].Err.Field != s.h.InvalidField {
			t.Errorf("%s: error names field %q, want %q", w.name, res[k].Err.Field, s.h.InvalidField)
		}
	}
	t.Cleanup(func() { s.cleanup(t, made) })

	after, _ := s.readFull(t, ctx)
	if len(after) != len(before)+2 {
		t.Errorf("mixed batch: %d records before, %d after; want exactly the 2 good creates more", len(before), len(after))
	}
	for k, sent := range map[int]map[string]sdk.Value{0: g1, len(wants) - 1: g2} {
		if r, ok := after[res[k].ID]; !ok {
			t.Errorf("good create %d (%s) missing after the batch", k, res[k].ID)
		} else {
			s.assertSent(t, "good create in a mixed batch", sent, AsMap(s.fields, r))
		}
	}
	if r, ok := after[existing.id]; !ok {
		t.Errorf("updated record %s missing", existing.id)
	} else {
		s.assertSent(t, "good update in a mixed batch", patch, AsMap(s.fields, r))
	}
	if _, ok := after[gone.id]; ok {
		t.Errorf("deleted record %s came back after a failed update", gone.id)
	}
}

func (s *suite) hasLookup() bool {
	return s.desc.HasCapability(sdk.CapabilityLookup) && s.h.LookupField != ""
}

func (s *suite) testLookup(t *testing.T, ctx context.Context) {
	if !s.desc.HasCapability(sdk.CapabilityLookup) {
		t.Skip("connector does not advertise the lookup capability")
	}
	if s.h.LookupField == "" {
		t.Skip("no LookupField given and NewRecord sets no unique field")
	}
	f := s.h.LookupField
	recs := s.createN(t, ctx, 3)
	unused := s.h.NewRecord(s.nextI())[f]
	fields := reversed(s.fields)
	got, err := s.conn.Lookup(ctx, sdk.LookupRequest{Object: s.h.Object, Field: f,
		Values: []sdk.Value{recs[0].sent[f], recs[2].sent[f], unused}, Fields: fields})
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	m, err := ByID(got)
	if err != nil {
		t.Errorf("lookup: %v", err)
	}
	want := []string{recs[0].id, recs[2].id}
	slices.Sort(want)
	if ids := sortedIDs(m); !slices.Equal(ids, want) {
		t.Fatalf("lookup by %s: got %v, want exactly %v", f, ids, want)
	}
	for _, c := range []created{recs[0], recs[2]} {
		r := m[c.id]
		if len(r.Values) != len(fields) {
			t.Errorf("lookup: record %s has %d values for %d fields", c.id, len(r.Values), len(fields))
			continue
		}
		if r.Version != c.version {
			t.Errorf("lookup: record %s version %q, want %q", c.id, r.Version, c.version)
		}
		s.assertSent(t, "lookup of "+c.id, c.sent, AsMap(fields, r))
	}
	none, err := s.conn.Lookup(ctx, sdk.LookupRequest{Object: s.h.Object, Field: f, Values: []sdk.Value{unused}, Fields: s.fields})
	if err != nil || len(none) != 0 {
		t.Errorf("lookup of an unused value: %v, %v; want nothing", idsOf(none), err)
	}
	// By id (no field), where the connector advertises it: exactly the
	// records asked for.
	if !s.desc.HasCapability(sdk.CapabilityLookupByID) {
		return
	}
	byID, err := s.conn.Lookup(ctx, sdk.LookupRequest{Object: s.h.Object,
		Values: []sdk.Value{sdk.String(recs[1].id), sdk.String(recs[2].id)}, Fields: fields})
	if err != nil {
		t.Fatalf("lookup by id (advertised as %s): %v", sdk.CapabilityLookupByID, err)
	}
	want = []string{recs[1].id, recs[2].id}
	slices.Sort(want)
	if ids := idsOf(byID); !slices.Equal(slices.Sorted(slices.Values(ids)), want) {
		t.Errorf("lookup by id: got %v, want exactly %v", ids, want)
	}
}

func (s *suite) testRoundTrip(t *testing.T, ctx context.Context) {
	if len(s.h.UnicodeFields)+len(s.h.EmptyFields)+len(s.h.NullFields) == 0 {
		t.Skip("harness names no UnicodeFields, EmptyFields or NullFields")
	}
	with := func(set []string, value func(i int, f string) sdk.Value) (int, map[string]sdk.Value) {
		i := s.nextI()
		m := s.h.NewRecord(i)
		for _, f := range set {
			m[f] = value(i, f)
		}
		return i, m
	}
	text := func(i int, f string) sdk.Value { return sdk.String(unicodeText(i, f)) }
	empty := func(int, string) sdk.Value { return sdk.String("") }
	null := func(int, string) sdk.Value { return sdk.Null }

	// Created with such values…
	var sent []map[string]sdk.Value
	for _, set := range []struct {
		fields []string
		value  func(int, string) sdk.Value
	}{{s.h.UnicodeFields, text}, {s.h.EmptyFields, empty}, {s.h.NullFields, null}} {
		if len(set.fields) > 0 {
			_, m := with(set.fields, set.value)
			sent = append(sent, m)
		}
	}
	recs := s.create(t, ctx, sent...)
	m, _ := s.readFull(t, ctx)
	for _, c := range recs {
		r, ok := m[c.id]
		if !ok {
			t.Errorf("record %s missing", c.id)
			continue
		}
		s.assertSent(t, "round trip of a create", c.sent, AsMap(s.fields, r))
	}
	// …and patched to them.
	c := s.createN(t, ctx, 1)[0]
	for _, p := range []struct {
		what   string
		fields []string
		value  func(int, string) sdk.Value
	}{{"unicode", s.h.UnicodeFields, text}, {"empty", s.h.EmptyFields, empty}, {"null", s.h.NullFields, null}} {
		if len(p.fields) == 0 {
			continue
		}
		patch := map[string]sdk.Value{}
		for _, f := range p.fields {
			patch[f] = p.value(c.i+1, f)
		}
		s.writeOK(t, ctx, UpdateOp(c.id, "", patch))
		got := s.get(t, ctx, c.id)
		if got == nil {
			t.Fatalf("record %s missing after a %s patch", c.id, p.what)
		}
		s.assertSent(t, p.what+" patch", patch, got)
	}
}

func (s *suite) testManyRecords(t *testing.T, ctx context.Context) {
	var cursor string
	if s.obj.Incremental {
		_, c0 := s.readFull(t, ctx)
		cursor = c0.Cursor
		time.Sleep(s.h.ChangeDelay)
	}
	recs := s.createN(t, ctx, s.h.BatchSize)
	check := func(what string, c *Collector) {
		t.Helper()
		seen := map[string]int{}
		for _, r := range c.All {
			seen[r.ID]++
		}
		missing, twice := 0, 0
		for _, cr := range recs {
			switch seen[cr.id] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		for id, n := range seen {
			if n > 1 && twice == 0 {
				t.Errorf("%s: record %s came %d times", what, id, n)
			}
		}
		if missing > 0 || twice > 0 {
			t.Errorf("%s of %d created records: %d missing, %d more than once (%d records read)", what, len(recs), missing, twice, len(c.All))
		}
	}
	check("full read", s.read(t, ctx, "", s.fields))
	if s.obj.Incremental {
		inc := s.read(t, ctx, cursor, s.fields)
		check("incremental read", inc)
		if len(inc.All) != len(recs) {
			t.Errorf("incremental read after creating %d records returned %d", len(recs), len(inc.All))
		}
	}
}

func isRemote(c sdk.Connector) bool {
	_, ok := c.(*sdk.RemoteConnector)
	return ok
}

// testWatch: a connector that advertises watch says when it listens, then
// notices a record the suite writes, and ends nil when cancelled. One that
// cannot watch with the harness's config (a setting left out) refuses at
// once, with a permanent error: the test is skipped then.
func (s *suite) testWatch(t *testing.T, ctx context.Context) {
	if !s.desc.HasCapability(sdk.CapabilityWatch) {
		t.Skip("connector does not advertise the watch capability")
	}
	w, ok := s.conn.(sdk.Watcher)
	if !ok {
		t.Fatalf("connector advertises watch, but its connection (%T) is no sdk.Watcher", s.conn)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	notices, done := make(Notices, 100), make(chan error, 1)
	go func() { done <- w.Watch(wctx, []string{s.h.Object}, notices) }()
	wait := func(what string) string {
		t.Helper()
		select {
		case n := <-notices:
			return n
		case err := <-done:
			var se *sdk.Error
			if what == "the ready notice" && errors.As(err, &se) && se.Category == sdk.CategoryPermanent {
				t.Skipf("Watch refused with the harness's config: %v", err)
			}
			t.Fatalf("Watch ended before %s: %v", what, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s within 30s", what)
		}
		return ""
	}
	if n := wait("the ready notice"); n != "" {
		t.Fatalf("first notice names %q; the first must be the ready notice (no object)", n)
	}
	s.createN(t, ctx, 1)
	if n := wait("a notice of the record created"); n != s.h.Object {
		t.Fatalf("notice names %q after a create in %s", n, s.h.Object)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch returned %v once cancelled, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10s of being cancelled")
	}
}
