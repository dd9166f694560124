package sdk

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// fakeConn is a table of records in a slice: just enough connector to check
// that everything crosses the wire intact and in batches.
type fakeConn struct {
	recs     []Record
	writes   [][]Op // ops per Write call, as the connector saw them
	checkErr error
}

type fakeConnector struct{ conn *fakeConn }

func (f *fakeConnector) Describe(context.Context) (Description, error) {
	return Description{Name: "fake", Version: "0.0.1", Auth: AuthSpec{Fields: []ConfigField{{Name: "token", Secret: true, Required: true}}}}, nil
}
func (f *fakeConnector) Open(context.Context, Config) (Conn, error) { return f.conn, nil }

var fakeFields = []Field{{Name: "s", Type: TypeString}, {Name: "i", Type: TypeInteger}, {Name: "d", Type: TypeDecimal},
	{Name: "b", Type: TypeBoolean}, {Name: "dt", Type: TypeDate}, {Name: "ts", Type: TypeDateTime}, {Name: "l", Type: TypeStringList}}

func (c *fakeConn) Check(context.Context) (Account, error) {
	if c.checkErr != nil {
		return Account{}, c.checkErr
	}
	return Account{Fingerprint: "fp", Label: "fake"}, nil
}
func (c *fakeConn) Schema(context.Context) (Schema, error) {
	return Schema{Objects: []ObjectType{{Name: "things", Fields: fakeFields, Incremental: true}}}, nil
}
func (c *fakeConn) Read(_ context.Context, req ReadRequest, sink RecordSink) error {
	if err := sink.Records(c.recs); err != nil {
		return err
	}
	return sink.Checkpoint("end")
}
func (c *fakeConn) Write(_ context.Context, req WriteRequest) ([]WriteResult, error) {
	c.writes = append(c.writes, req.Ops)
	out := make([]WriteResult, len(req.Ops))
	for i, op := range req.Ops {
		if v, ok := op.Value("s"); ok && v.Str == "bad" {
			out[i] = WriteResult{CorrelationID: op.CorrelationID, Err: FieldError("s", "bad value")}
			continue
		}
		stored := append([]Value(nil), op.Values...)
		if v, ok := op.Value("s"); ok && strings.HasPrefix(v.Str, "normalize") {
			stored[0] = String(strings.ToUpper(v.Str)) // the app changed what it stored
		}
		out[i] = WriteResult{CorrelationID: op.CorrelationID, ID: fmt.Sprint("id-", op.CorrelationID), Version: "v1", Values: stored}
		if len(op.Fields) != len(req.Fields) {
			out[i].Values = nil
		}
	}
	return out, nil
}
func (c *fakeConn) Lookup(_ context.Context, req LookupRequest) ([]Record, error) {
	var out []Record
	for _, r := range c.recs {
		for _, v := range req.Values {
			if r.Values[0].Equal(v) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
func (c *fakeConn) Close() error { return nil }

func sampleValues(i int) []Value {
	d, _ := Decimal(fmt.Sprintf("%d.25", i))
	return []Value{String(fmt.Sprintf("héllo %d ✓", i)), Int(int64(-i)), d, Bool(i%2 == 0),
		Date(time.Date(2024, 3, 1+i%28, 0, 0, 0, 0, time.UTC)), DateTime(time.Date(2024, 3, 1, 12, 0, 0, i*1000, time.UTC)),
		StringList("a", fmt.Sprint(i))}
}

func dialFake(t *testing.T, fc *fakeConn) Conn {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &grpcPlugin{impl: &fakeConnector{conn: fc}}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := raw.(*RemoteConnector).Open(context.Background(), Config{Secrets: map[string]string{"token": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

type collect struct {
	batches []int
	recs    []Record
	cursor  string
}

func (c *collect) Records(r []Record) error {
	c.batches = append(c.batches, len(r))
	c.recs = append(c.recs, r...)
	return nil
}
func (c *collect) Checkpoint(cur string) error { c.cursor = cur; return nil }

func TestReadCrossesWireInBatches(t *testing.T) {
	fc := &fakeConn{}
	const n = 4500
	for i := 0; i < n; i++ {
		fc.recs = append(fc.recs, Record{ID: fmt.Sprint(i), Version: "v", ModifiedAt: time.UnixMicro(int64(i + 1)).UTC(), Values: sampleValues(i)})
	}
	fc.recs = append(fc.recs, Record{ID: "nulls", Values: make([]Value, len(fakeFields))}, Record{ID: "gone", Deleted: true})
	conn := dialFake(t, fc)
	var got collect
	if err := conn.Read(context.Background(), ReadRequest{Object: "things"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.recs) != n+2 || got.cursor != "end" {
		t.Fatalf("got %d records, cursor %q; want %d, end", len(got.recs), got.cursor, n+2)
	}
	for _, b := range got.batches {
		if b > BatchRecords {
			t.Errorf("batch of %d records exceeds %d", b, BatchRecords)
		}
	}
	if len(got.batches) < 3 {
		t.Errorf("%d records came in %d batches; want them split", n, len(got.batches))
	}
	for i := 0; i < n; i++ {
		want := sampleValues(i)
		r := got.recs[i]
		if r.ID != fmt.Sprint(i) || !r.ModifiedAt.Equal(time.UnixMicro(int64(i+1))) {
			t.Fatalf("record %d: id %s modified %v", i, r.ID, r.ModifiedAt)
		}
		for j := range want {
			if !r.Values[j].Equal(want[j]) {
				t.Fatalf("record %d field %s: got %#v want %#v", i, fakeFields[j].Name, r.Values[j], want[j])
			}
		}
	}
	for _, v := range got.recs[n].Values {
		if !v.IsNull() {
			t.Errorf("null came back as %#v", v)
		}
	}
	if !got.recs[n+1].Deleted {
		t.Error("tombstone lost its deleted flag")
	}
}

func TestWriteResultsPerOpInOrder(t *testing.T) {
	fc := &fakeConn{}
	conn := dialFake(t, fc)
	fields := []string{"s", "i", "d", "b", "dt", "ts", "l"}
	var ops []Op
	for i := 0; i < 5000; i++ {
		op := Op{Kind: OpCreate, CorrelationID: fmt.Sprint(i), Fields: fields, Values: sampleValues(i)}
		if i%1000 == 7 {
			op.Values[0] = String("bad")
		}
		if i%1000 == 11 {
			op.Values[0] = String(fmt.Sprint("normalize me ", i))
		}
		if i%1000 == 9 { // a patch of one field
			op = Op{Kind: OpUpdate, ID: "x", CorrelationID: fmt.Sprint(i), Fields: []string{"i"}, Values: []Value{Int(42)}}
		}
		ops = append(ops, op)
	}
	ops = append(ops, Op{Kind: OpCreate, CorrelationID: "unknown-field", Fields: []string{"nope"}, Values: []Value{Int(1)}})
	res, err := conn.Write(context.Background(), WriteRequest{Object: "things", Fields: fields, Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ops) {
		t.Fatalf("%d results for %d ops", len(res), len(ops))
	}
	for i, r := range res[:5000] {
		if r.CorrelationID != fmt.Sprint(i) {
			t.Fatalf("result %d has correlation id %s", i, r.CorrelationID)
		}
		switch i % 1000 {
		case 7:
			if r.Err == nil || r.Err.Category != CategoryValidation || r.Err.Field != "s" {
				t.Fatalf("result %d: want validation error on s, got %v", i, r.Err)
			}
		case 9:
			if r.Err != nil || r.Values != nil {
				t.Fatalf("patch result %d: %v %v", i, r.Err, r.Values)
			}
		case 11: // stored differently from what was sent: the stored values come back
			if r.Err != nil || len(r.Values) != len(fields) || r.Values[0].Str != strings.ToUpper(fmt.Sprint("normalize me ", i)) || !r.Values[1].Equal(Int(int64(-i))) {
				t.Fatalf("result %d: want the stored values back, got %+v", i, r)
			}
		default: // stored as sent: the wire leaves the values out
			if r.Err != nil || r.ID != "id-"+fmt.Sprint(i) || r.Values != nil {
				t.Fatalf("result %d: %+v", i, r)
			}
		}
	}
	if e := res[5000].Err; e == nil || e.Field != "nope" {
		t.Fatalf("op naming an unknown field: want a refusal naming it, got %v", e)
	}
	total := 0
	for _, w := range fc.writes {
		if len(w) > BatchRecords {
			t.Errorf("connector got a batch of %d ops", len(w))
		}
		total += len(w)
	}
	if total != 5000 {
		t.Errorf("connector saw %d ops, want 5000 (the refused one never sent)", total)
	}
	patch := fc.writes[0][9]
	if len(patch.Fields) != 1 || patch.Fields[0] != "i" || !patch.Values[0].Equal(Int(42)) {
		t.Errorf("patch arrived as %v %v", patch.Fields, patch.Values)
	}
}

func TestErrorsKeepTheirCategory(t *testing.T) {
	fc := &fakeConn{checkErr: &Error{Category: CategoryAuth, Message: "token refused"}}
	conn := dialFake(t, fc)
	_, err := conn.Check(context.Background())
	if e := AsError(err); e.Category != CategoryAuth || !strings.Contains(e.Message, "token refused") {
		t.Fatalf("check error: %v", err)
	}
	fc.recs = []Record{{ID: "short", Values: []Value{String("only one")}}}
	err = conn.Read(context.Background(), ReadRequest{Object: "things"}, &collect{})
	if e := AsError(err); e.Category != CategoryPermanent || !strings.Contains(e.Message, "short") {
		t.Fatalf("a malformed record must fail the read loudly, got %v", err)
	}
	err = conn.Read(context.Background(), ReadRequest{Object: "nope"}, &collect{})
	if CategoryOf(err) != CategoryNotFound {
		t.Fatalf("unknown object: %v", err)
	}
}

func TestLookupRoundTrip(t *testing.T) {
	fc := &fakeConn{}
	for i := 0; i < 10; i++ {
		fc.recs = append(fc.recs, Record{ID: fmt.Sprint(i), Values: sampleValues(i)})
	}
	conn := dialFake(t, fc)
	got, err := conn.Lookup(context.Background(), LookupRequest{Object: "things", Field: "s", Values: []Value{sampleValues(3)[0], String("none")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "3" || !got[0].Values[2].Equal(sampleValues(3)[2]) {
		t.Fatalf("lookup: %+v", got)
	}
}

func TestMissingRequiredSettingNamesIt(t *testing.T) {
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &grpcPlugin{impl: &fakeConnector{conn: &fakeConn{}}}})
	defer client.Close()
	raw, _ := client.Dispense(PluginName)
	conn, _ := raw.(*RemoteConnector).Open(context.Background(), Config{})
	_, err := conn.Check(context.Background())
	if e := AsError(err); e.Category != CategoryValidation || e.Field != "token" {
		t.Fatalf("want validation error on token, got %v", err)
	}
}
