package sdk

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Digest sums the records of one bucket of a digest read
// (ReadRequest.DigestBuckets): how many, and the sum of their DigestOf.
// Two sets of (id, version) pairs with equal digests are the same set but
// with a chance of about 2^-64.
type Digest struct {
	Count uint64
	Sum   uint64
}

// DigestOf is one record's share of a digest: the first 8 bytes, read
// big-endian, of the MD5 of the id's length in bytes (decimal), a colon,
// the id and the version. Host, SDK and connectors must agree on it, so it
// is fixed here; MD5 because databases compute it themselves (PostgreSQL:
// md5(octet_length(id) || ':' || id || version)), the length so that no
// split between id and version reads as another.
func DigestOf(id, version string) uint64 {
	var buf [96]byte
	b := strconv.AppendInt(buf[:0], int64(len(id)), 10)
	b = append(append(append(b, ':'), id...), version...)
	sum := md5.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// DigestBucket is the bucket of n that a record with this id falls in: the
// first 8 bytes of MD5(id), read big-endian, modulo n.
func DigestBucket(id string, n int) int {
	if n <= 1 {
		return 0
	}
	sum := md5.Sum([]byte(id))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}

// Digester is implemented by a connection that answers a digest read in its
// source (one query summing DigestOf) instead of reading every record into
// the plugin. Its sums and cursor must be those of a full read at that
// moment: the conformance suite (Read/Digest) compares them.
type Digester interface {
	Digest(ctx context.Context, req ReadRequest) ([]Digest, string, error)
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
	if dg, ok := conn.(Digester); ok {
		d, cursor, err := dg.Digest(ctx, req)
		if err == nil && len(d) != req.DigestBuckets {
			err = Errorf(CategoryPermanent, "read %s: %d digests for %d buckets", req.Object, len(d), req.DigestBuckets)
		}
		return d, cursor, err
	}
	k := &digester{d: make([]Digest, req.DigestBuckets)}
	req.DigestBuckets, req.Digests = 0, nil
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
