package sdk

import (
	"context"
	"fmt"
)

// Digest sums the records of one bucket of a digest read
// (ReadRequest.DigestBuckets): how many, and the sum of their DigestOf.
// Two sets of (id, version) pairs with equal digests are the same set but
// with a chance of about 2^-64.
type Digest struct {
	Count uint64
	Sum   uint64
}

// DigestOf is one record's share of a digest: a 64-bit hash of its id and
// version. Host and SDK must agree on it, so it is fixed here (test
// vectors in digest_test.go): FNV-1a over the id, a zero byte and the
// version, then splitmix64's finalizer to spread the bits. (An MD5, which a
// database could compute in a query, was tried: PostgreSQL's md5() made such
// a query slower than reading the ids and versions into the plugin.)
func DigestOf(id, version string) uint64 {
	h := fnvString(fnvOffset, id) * fnvPrime // and a zero byte: "ab"+"c" is not "a"+"bc"
	return mix64(fnvString(h, version))
}

// DigestBucket is the bucket of n that a record with this id falls in.
func DigestBucket(id string, n int) int {
	if n <= 1 {
		return 0
	}
	return int(mix64(fnvString(fnvOffset, id)) % uint64(n))
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// maxDigestBuckets bounds what a host may ask for.
const maxDigestBuckets = 1 << 20

// ReadDigest runs a full read of conn and sums its records into
// req.DigestBuckets buckets instead of handing them over; it returns the
// sums and the read's last cursor. The SDK's server answers digest reads
// with it, so every connector has them; a host running a connection in its
// own process (tests) wraps it with Local for the same.
func ReadDigest(ctx context.Context, conn Conn, req ReadRequest) ([]Digest, string, error) {
	if req.Cursor != "" {
		return nil, "", Errorf(CategoryPermanent, "read %s: a digest read is a full read, but a cursor was given", req.Object)
	}
	if req.DigestBuckets <= 0 || req.DigestBuckets > maxDigestBuckets {
		return nil, "", Errorf(CategoryPermanent, "read %s: %d digest buckets: ask for 1 to %d", req.Object, req.DigestBuckets, maxDigestBuckets)
	}
	k := &digester{d: make([]Digest, req.DigestBuckets)}
	req.DigestBuckets, req.Digests, req.VersionsOnly = 0, nil, true
	if err := conn.Read(ctx, req, k); err != nil {
		return nil, "", err
	}
	return k.d, k.cursor, nil
}

type digester struct {
	d      []Digest
	cursor string
}

func (k *digester) Records(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if r.Deleted {
			continue // a full read has none; a tombstone is no record
		}
		if r.ID == "" || r.Version == "" {
			return fmt.Errorf("digest: record %q has no id or no version", r.ID)
		}
		b := &k.d[DigestBucket(r.ID, len(k.d))]
		b.Count++
		b.Sum += DigestOf(r.ID, r.Version)
	}
	return nil
}

func (k *digester) Checkpoint(cursor string) error {
	k.cursor = cursor
	return nil
}

// Local wraps a connection the host runs in its own process (tests, the
// engine's property tests) so that it answers digest reads as a plugin
// built on this SDK does.
func Local(c Conn) Conn { return localConn{c} }

type localConn struct{ Conn }

func (c localConn) Read(ctx context.Context, req ReadRequest, sink RecordSink) error {
	if req.DigestBuckets == 0 {
		return c.Conn.Read(ctx, req, sink)
	}
	if len(req.Buckets) > 0 {
		req, sink := bucketRead(req, sink)
		return c.Conn.Read(ctx, req, sink)
	}
	d, cursor, err := ReadDigest(ctx, c.Conn, req)
	if err != nil {
		return err
	}
	if req.Digests == nil {
		return Errorf(CategoryPermanent, "read %s: a digest read without ReadRequest.Digests", req.Object)
	}
	if err := req.Digests(d); err != nil {
		return err
	}
	if cursor != "" {
		return sink.Checkpoint(cursor)
	}
	return nil
}

// bucketRead is the plain full read to run for a read of some digest
// buckets (ReadRequest.Buckets), and the sink that keeps their records.
func bucketRead(req ReadRequest, sink RecordSink) (ReadRequest, RecordSink) {
	k := BucketSink(sink, req.DigestBuckets, req.Buckets)
	req.Cursor, req.Skip, req.DigestBuckets, req.Digests, req.Buckets = "", nil, 0, nil, nil
	return req, k
}

// BucketSink passes on the records whose id falls in one of buckets (of n,
// DigestBucket), and every checkpoint: what a read filtered by bucket hands
// over. The SDK's server filters with it; a host may too, behind a plugin
// that does not.
func BucketSink(sink RecordSink, n int, buckets []int) RecordSink {
	in := make(map[int]bool, len(buckets))
	for _, b := range buckets {
		in[b] = true
	}
	return &bucketSink{RecordSink: sink, n: n, in: in}
}

type bucketSink struct {
	RecordSink
	n    int
	in   map[int]bool
	kept []Record
}

func (k *bucketSink) Records(recs []Record) error {
	k.kept = k.kept[:0]
	for _, r := range recs {
		if k.in[DigestBucket(r.ID, k.n)] {
			k.kept = append(k.kept, r)
		}
	}
	if len(k.kept) == 0 {
		return nil
	}
	return k.RecordSink.Records(k.kept)
}

func wireBuckets(b []int) []uint32 {
	if len(b) == 0 {
		return nil
	}
	out := make([]uint32, len(b))
	for i, x := range b {
		out[i] = uint32(x)
	}
	return out
}

func intBuckets(b []uint32) []int {
	out := make([]int, len(b))
	for i, x := range b {
		out[i] = int(x)
	}
	return out
}
