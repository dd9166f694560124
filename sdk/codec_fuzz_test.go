package sdk

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// FuzzReadResponseDecoding: the host's hand-written decoder of a plugin's
// read messages never panics, and where the generated code reads a message
// too, both see the same ids, versions, cursor and digests.
func FuzzReadResponseDecoding(f *testing.F) {
	for _, m := range []*pb.ReadResponse{
		{Fields: []string{"email", "n"}, Records: []*pb.Record{
			{Id: "a", Version: "1", Values: []*pb.Value{{Str: "x@y.z"}, {Int: 3}}},
			{Id: "gone", Version: "2", Deleted: true}}, Cursor: "c1"},
		{Cursor: "end", DigestSums: []uint64{1, 1 << 63, 42}, DigestCounts: []uint64{3, 0, 1 << 40}},
		{DigestSums: []uint64{7}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m readMsg
		if m.decodeWire(b) != nil {
			return
		}
		var ref pb.ReadResponse
		if proto.Unmarshal(b, &ref) != nil {
			return
		}
		if m.cursor != ref.Cursor || len(m.recs) != len(ref.Records) {
			t.Fatalf("cursor %q, %d records; the generated code reads %q, %d", m.cursor, len(m.recs), ref.Cursor, len(ref.Records))
		}
		for i, r := range ref.Records {
			if m.recs[i].ID != r.Id || m.recs[i].Version != r.Version || m.recs[i].Deleted != r.Deleted {
				t.Fatalf("record %d: %+v; the generated code reads %+v", i, m.recs[i], r)
			}
		}
		if len(m.digests) != len(ref.DigestSums) {
			t.Fatalf("%d digests; the generated code reads %d sums", len(m.digests), len(ref.DigestSums))
		}
		for i, d := range m.digests {
			var count uint64
			if i < len(ref.DigestCounts) {
				count = ref.DigestCounts[i]
			}
			if d.Sum != ref.DigestSums[i] || d.Count != count {
				t.Fatalf("digest %d: %+v; the generated code reads sum %d count %d", i, d, ref.DigestSums[i], count)
			}
		}
	})
}

// FuzzWriteResponseDecoding: likewise for a plugin's write results, marks
// included.
func FuzzWriteResponseDecoding(f *testing.F) {
	for _, m := range []*pb.WriteResponse{
		{Results: []*pb.WriteResult{
			{CorrelationId: "c1", Id: "1", Version: "v", Mark: "pgx:42", Values: []*pb.Value{{Str: "a"}}},
			{CorrelationId: "c2", Error: &pb.Error{Message: "bad", Field: "email"}}}},
		{Results: []*pb.WriteResult{{Id: "x", ModifiedAtUs: 12345}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m writeRespMsg
		if m.decodeWire(b) != nil {
			return
		}
		var ref pb.WriteResponse
		if proto.Unmarshal(b, &ref) != nil {
			return
		}
		if len(m.results) != len(ref.Results) {
			t.Fatalf("%d results; the generated code reads %d", len(m.results), len(ref.Results))
		}
		for i, r := range ref.Results {
			g := m.results[i]
			if g.CorrelationID != r.CorrelationId || g.ID != r.Id || g.Version != r.Version || g.Mark != r.Mark || (g.Err != nil) != (r.Error != nil) {
				t.Fatalf("result %d: %+v; the generated code reads %+v", i, g, r)
			}
		}
	})
}
