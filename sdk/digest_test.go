package sdk

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// A digest read sums the plugin's records by bucket inside the plugin: the
// host gets the same sums a local computation gives, and no records.
func TestDigestReadCrossesTheWireAsSums(t *testing.T) {
	fc := &fakeConn{}
	const n, buckets = 5000, 7
	want := make([]Digest, buckets)
	for i := range n {
		id, ver := fmt.Sprint("id-", i), fmt.Sprint("v", i%13)
		fc.recs = append(fc.recs, Record{ID: id, Version: ver, Values: sampleValues(i)})
		b := &want[DigestBucket(id, buckets)]
		b.Count++
		b.Sum += DigestOf(id, ver)
	}
	fc.recs = append(fc.recs, Record{ID: "gone", Deleted: true}) // not a record of a full read
	for name, conn := range map[string]Conn{"over the wire": dialFake(t, fc), "local": Local(fc)} {
		var got collect
		var d []Digest
		req := ReadRequest{Object: "things", DigestBuckets: buckets, Digests: func(x []Digest) error { d = x; return nil }}
		if err := conn.Read(context.Background(), req, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.recs) != 0 || got.cursor != "end" {
			t.Fatalf("%s: %d records, cursor %q; want none and the read's cursor", name, len(got.recs), got.cursor)
		}
		if !reflect.DeepEqual(d, want) {
			t.Fatalf("%s: digests %v, want %v", name, d, want)
		}
	}
	if err := Local(fc).Read(context.Background(), ReadRequest{Object: "things", Cursor: "c", DigestBuckets: 1, Digests: func([]Digest) error { return nil }}, &collect{}); err == nil {
		t.Fatal("a digest read from a cursor succeeded")
	}
}

// The digest of a set does not depend on order, and any change of an id or
// a version in it changes it.
func TestDigestOfTellsSetsApart(t *testing.T) {
	sum := func(pairs ...[2]string) (d Digest) {
		for _, p := range pairs {
			d.Count++
			d.Sum += DigestOf(p[0], p[1])
		}
		return d
	}
	base := sum([2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"c", "3"})
	if got := sum([2]string{"c", "3"}, [2]string{"a", "1"}, [2]string{"b", "2"}); got != base {
		t.Fatal("order changed the digest")
	}
	for name, other := range map[string]Digest{
		"a version changed":  sum([2]string{"a", "1"}, [2]string{"b", "4"}, [2]string{"c", "3"}),
		"an id changed":      sum([2]string{"a", "1"}, [2]string{"x", "2"}, [2]string{"c", "3"}),
		"versions swapped":   sum([2]string{"a", "2"}, [2]string{"b", "1"}, [2]string{"c", "3"}),
		"split moved":        sum([2]string{"a1", ""}, [2]string{"b", "2"}, [2]string{"c", "3"}),
		"a record missing":   sum([2]string{"a", "1"}, [2]string{"b", "2"}),
		"a record added":     sum([2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"c", "3"}, [2]string{"d", "4"}),
		"one in for one out": sum([2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"d", "3"}),
	} {
		if other == base {
			t.Errorf("%s: same digest", name)
		}
	}
}

// DigestOf and DigestBucket are a contract between hosts and plugins of
// other releases: these values (computed apart, in Python) must never change.
func TestDigestDefinitionIsFixed(t *testing.T) {
	for _, c := range []struct {
		id, version string
		want        uint64
	}{
		{"42", "7", 12750840561040322700},
		{"rec-1", "12345", 197736532096768285},
		{"", "", 2737183428366584608},
		{"héllo", "v", 7728797914376476787}, // bytes, not runes
	} {
		if got := DigestOf(c.id, c.version); got != c.want {
			t.Errorf("DigestOf(%q, %q) = %d, want %d", c.id, c.version, got, c.want)
		}
	}
	if got := DigestBucket("42", 7); got != 5 {
		t.Errorf("DigestBucket(42, 7) = %d, want 5", got)
	}
}

// A read filtered by bucket hands over exactly the records of those
// buckets, and the read's cursor, over the wire as in the host's process.
func TestBucketReadKeepsOnlyItsBuckets(t *testing.T) {
	fc := &fakeConn{}
	const n, buckets = 3000, 16
	want := map[string]bool{}
	for i := range n {
		id := fmt.Sprint("id-", i)
		fc.recs = append(fc.recs, Record{ID: id, Version: "v", Values: sampleValues(i)})
		if b := DigestBucket(id, buckets); b == 3 || b == 11 {
			want[id] = true
		}
	}
	for name, conn := range map[string]Conn{"over the wire": dialFake(t, fc), "local": Local(fc)} {
		var got collect
		if err := conn.Read(context.Background(), ReadRequest{Object: "things", DigestBuckets: buckets, Buckets: []int{11, 3}}, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.recs) != len(want) || got.cursor != "end" {
			t.Fatalf("%s: %d records, cursor %q; want %d and the read's cursor", name, len(got.recs), got.cursor, len(want))
		}
		for _, r := range got.recs {
			if !want[r.ID] || len(r.Values) != len(fakeFields) {
				t.Fatalf("%s: record %s (%d values) is not of buckets 3 and 11", name, r.ID, len(r.Values))
			}
		}
	}
}
