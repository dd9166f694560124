package sdk

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// The hand-written encoders must produce what proto.Marshal produces for the
// generated types, and the decoders read what the generated types would.

var codecFields = []string{"s", "i", "d", "b", "dt", "ts", "l"}

func codecRecords() []Record {
	var recs []Record
	for i := range 50 {
		r := Record{ID: fmt.Sprint("id-", i), Version: fmt.Sprint(i * 7), Values: sampleValues(i)}
		if i%3 == 0 {
			r.ModifiedAt = time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC()
		}
		recs = append(recs, r)
	}
	edge := []Value{String(""), Int(0), {Kind: KindDecimal, Str: "0"}, Bool(false), {Kind: KindDate},
		{Kind: KindDateTime, Time: time.UnixMicro(0).UTC()}, StringList()}
	recs = append(recs, Record{ID: "edge", Values: edge},
		Record{ID: "negative", Values: []Value{String("ü"), Int(-1 << 62), Null, Bool(true), Null,
			DateTime(time.Date(1901, 1, 1, 0, 0, 0, 0, time.UTC)), StringList("", "x")}},
		Record{ID: "nulls", Values: make([]Value, len(codecFields))},
		Record{ID: "gone", Version: "v9", Deleted: true},
		Record{Values: make([]Value, len(codecFields))})
	return recs
}

func TestReadEncodingMatchesGenerated(t *testing.T) {
	recs := codecRecords()
	var got [][]byte
	sink := &readSink{fields: codecFields, send: func(b []byte) error { got = append(got, b); return nil }}
	if err := sink.Records(recs); err != nil {
		t.Fatal(err)
	}
	if err := sink.Checkpoint("cur-1"); err != nil {
		t.Fatal(err)
	}
	if err := sink.Checkpoint("cur-2"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	want := []*pb.ReadResponse{{Fields: codecFields, Records: recordsToPB(recs), Cursor: "cur-1"}, {Cursor: "cur-2"}}
	for i, w := range want {
		wb, err := proto.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[i], wb) {
			var m pb.ReadResponse
			err := proto.Unmarshal(got[i], &m)
			t.Fatalf("message %d differs from proto.Marshal's (unmarshals: %v, equal: %v)", i, err, proto.Equal(&m, w))
		}
		// And the decoder reads what the generated code would.
		m := &readMsg{}
		if err := m.decodeWire(wb); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.fields, w.Fields) && len(w.Fields) > 0 || m.cursor != w.Cursor {
			t.Fatalf("message %d: fields %v cursor %q", i, m.fields, m.cursor)
		}
		ref := recordsFromPB(w.Records)
		if len(ref) != len(m.recs) {
			t.Fatalf("message %d: %d records, want %d", i, len(m.recs), len(ref))
		}
		for k := range ref {
			sameRecord(t, m.recs[k], ref[k])
		}
	}
}

func sameRecord(t *testing.T, got, want Record) {
	t.Helper()
	if got.ID != want.ID || got.Version != want.Version || !got.ModifiedAt.Equal(want.ModifiedAt) ||
		got.ModifiedAt.Location() != want.ModifiedAt.Location() || got.Deleted != want.Deleted || len(got.Values) != len(want.Values) {
		t.Fatalf("record %+v, want %+v", got, want)
	}
	sameValues(t, got.Values, want.Values)
}

func sameValues(t *testing.T, got, want []Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for j := range want {
		if !reflect.DeepEqual(got[j], want[j]) {
			t.Fatalf("value %d: %#v, want %#v", j, got[j], want[j])
		}
	}
}

func TestWriteEncodingMatchesGenerated(t *testing.T) {
	index := map[string]uint32{}
	for i, f := range codecFields {
		index[f] = uint32(i)
	}
	var ops []Op
	for i, r := range codecRecords() {
		op := Op{Kind: OpKind(1 + i%3), CorrelationID: fmt.Sprint(i), ID: r.ID, IfVersion: r.Version, Fields: codecFields, Values: r.Values}
		switch i % 5 {
		case 1:
			op.Fields, op.Values = []string{"ts", "s"}, []Value{r.Values[5], r.Values[0]}
		case 2:
			if op.Kind == OpDelete {
				op.Fields, op.Values = nil, nil
			}
		}
		if op.Kind == OpDelete {
			op.Values = nil
		}
		if len(op.Values) != len(op.Fields) && op.Kind != OpDelete {
			op.Values = make([]Value, len(op.Fields))
		}
		ops = append(ops, op)
	}
	batches, refused := splitOps(ops, index)
	if len(batches) != 1 || len(refused) != 0 {
		t.Fatalf("%d batches, %d refused", len(batches), len(refused))
	}
	want, err := proto.Marshal(&pb.WriteRequest{Msg: &pb.WriteRequest_Batch{Batch: opsToPB(ops, index)}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(batches[0].msg, want) {
		t.Fatal("write batch differs from proto.Marshal's")
	}
	h := &pb.WriteHeader{Object: "things", Fields: codecFields}
	var pm pb.WriteRequest
	if err := proto.Unmarshal(want, &pm); err != nil {
		t.Fatal(err)
	}
	ref, err := opsFromPB(h, pm.GetBatch())
	if err != nil {
		t.Fatal(err)
	}
	m := &writeReqMsg{req: WriteRequest{Object: h.Object, Fields: h.Fields}}
	if err := m.decodeWire(want); err != nil || m.bad != nil || !m.batch {
		t.Fatal(err, m.bad, m.batch)
	}
	for i := range ref.Ops {
		g, w := m.req.Ops[i], ref.Ops[i]
		if g.Kind != w.Kind || g.CorrelationID != w.CorrelationID || g.ID != w.ID || g.IfVersion != w.IfVersion || !reflect.DeepEqual(g.Fields, w.Fields) {
			t.Fatalf("op %d: %+v, want %+v", i, g, w)
		}
		sameValues(t, g.Values, w.Values)
	}

	// Results: some stored as sent, some not, some failed.
	res := make([]WriteResult, len(ref.Ops))
	for i, op := range ref.Ops {
		res[i] = WriteResult{CorrelationID: op.CorrelationID, ID: "n" + op.ID, Version: "v", Values: op.Values}
		switch i % 4 {
		case 1:
			res[i].Values = append([]Value{String("changed")}, op.Values[min(1, len(op.Values)):]...)
			res[i].ModifiedAt = time.UnixMicro(int64(i)).UTC()
			res[i].Mark = fmt.Sprint("tx", i/8)
		case 2:
			res[i] = WriteResult{CorrelationID: op.CorrelationID, Err: &Error{Category: CategoryRateLimited, Message: "slow", Field: "s", RetryAfter: 1500 * time.Millisecond}}
		}
	}
	wantRes, err := proto.Marshal(resultsToPB(res, ref))
	if err != nil {
		t.Fatal(err)
	}
	if got := encodeResults(res, ref); !bytes.Equal(got, wantRes) {
		t.Fatal("write response differs from proto.Marshal's")
	}
	var pr pb.WriteResponse
	if err := proto.Unmarshal(wantRes, &pr); err != nil {
		t.Fatal(err)
	}
	rm := &writeRespMsg{}
	if err := rm.decodeWire(wantRes); err != nil {
		t.Fatal(err)
	}
	for i, r := range pr.Results {
		g := rm.results[i]
		var vals []Value
		if len(r.Values) > 0 {
			vals = valuesFromPB(r.Values, make([]Value, len(r.Values)))
		}
		if g.CorrelationID != r.CorrelationId || g.ID != r.Id || g.Version != r.Version || g.Mark != r.Mark || !g.ModifiedAt.Equal(microsToTime(r.ModifiedAtUs)) ||
			!reflect.DeepEqual(g.Err, errorFromPB(r.Error)) || (g.Values == nil) != (vals == nil) {
			t.Fatalf("result %d: %+v, want %+v", i, g, r)
		}
		sameValues(t, g.Values, vals)
	}
}

func TestWriteDecodingRefusesBadOps(t *testing.T) {
	for name, op := range map[string]*pb.WriteOp{
		"kind":   {Kind: 9},
		"index":  {Kind: pb.OpKind_OP_KIND_CREATE, FieldIndexes: []uint32{7}, Values: []*pb.Value{{}}},
		"values": {Kind: pb.OpKind_OP_KIND_CREATE, Values: []*pb.Value{{}}},
	} {
		b, _ := proto.Marshal(&pb.WriteRequest{Msg: &pb.WriteRequest_Batch{Batch: &pb.WriteBatch{Ops: []*pb.WriteOp{op}}}})
		m := &writeReqMsg{req: WriteRequest{Fields: []string{"a", "b"}}}
		if err := m.decodeWire(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if CategoryOf(m.bad) != CategoryPermanent {
			t.Errorf("%s: want a permanent error, got %v", name, m.bad)
		}
	}
	m := &writeReqMsg{}
	if err := m.decodeWire([]byte{0x12, 0x05, 0x0a}); err == nil {
		t.Error("truncated batch decoded")
	}
}
