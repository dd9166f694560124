package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/datasync-io/datasync/sdk"
)

// verifyByDigest spares the complete read of a side whose records are
// exactly what its links say: the same ids at the same versions, none new,
// none gone. The plugin sums its side's (id, version) pairs per bucket of
// ids (a digest read: the records stay in the plugin) while the store sums
// the links'. Where every bucket agrees, the side is not read and counts
// as an incremental read that found nothing, with the digest read's
// cursor. Where some disagree, only their records are read (a partial
// read: those of the buckets' linked records it does not return are
// gone), settled as they are read when many (see echoes): a partial read
// of every bucket holds less than a complete read, which holds every link
// and every record, and at a few percent changed is faster too (at 200k
// with 3 % changed: 3.3 s and 106 MB against 5.3 s and 352 MB; with 10 %,
// 6.6 s and 192 MB against 5.4 s and 339 MB). Versions must be trusted
// (trustVersions): a record's version changes with every change. Records
// no link names (filtered out, failing) make their buckets disagree; a
// plugin that answers with records (an SDK without digests) has its side
// read in full.
func (r *run) verifyByDigest(ctx context.Context) error {
	n, err := r.digestBuckets(ctx)
	if err != nil {
		return err
	}
	var (
		links   [2][]sdk.Digest
		got     [2][]sdk.Digest
		cursors [2]string
		errs    [3]error
	)
	done := make(chan struct{}, 3)
	waits := 1
	go func() {
		links[sideL], links[sideR], errs[2] = r.e.store.LinkDigests(ctx, r.def.Name, n)
		done <- struct{}{}
	}()
	for i, s := range r.sides {
		if !s.full {
			continue
		}
		waits++
		go func() {
			defer func() { done <- struct{}{} }()
			k := &digestSink{}
			req := sdk.ReadRequest{Object: s.obj.Name, Fields: r.digestFields(s), DigestBuckets: n,
				Digests: func(d []sdk.Digest) error { got[i] = d; return nil }}
			err := s.conn.Read(ctx, req, k)
			switch {
			case errors.Is(err, errNoDigest):
				got[i] = nil // the plugin sent records: not supported
			case err != nil:
				errs[i] = &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("digest of %s: %w", s.obj.Name, err)}
			default:
				cursors[i] = k.cursor
			}
		}()
	}
	for range waits {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i, s := range r.sides {
		if !s.full || len(got[i]) != n {
			continue
		}
		var differ []int
		verified := 0
		for b := range got[i] {
			if got[i][b] != links[i][b] {
				differ = append(differ, b)
			} else {
				verified += int(got[i][b].Count)
			}
		}
		if len(differ) > 0 {
			expect, err := r.e.store.LinkIDsInBuckets(ctx, r.def.Name, s.name, n, differ)
			if err != nil {
				return err
			}
			s.partial, s.nbuckets, s.expect = differ, n, expect
		}
		s.full, s.digested = false, len(differ) == 0
		s.cursor, s.hasCurs = cursors[i], cursors[i] != ""
		r.report.side(i).Verified = verified
	}
	return nil
}

// digestBuckets is how many buckets a digest sums into: about 16 links a
// bucket, at most 65,536 (a digest message of ~700 KB). Changes to 1 % of
// a side's records then leave ~85 % of its buckets agreeing, and a complete
// run reads the other ~15 %.
func (r *run) digestBuckets(ctx context.Context) (int, error) {
	if r.e.digestBuckets > 0 {
		return r.e.digestBuckets, nil // tests
	}
	n, err := r.countLinks(ctx)
	return min(max(n/16, 1), 1<<16), err
}

// digestFields is what a digest read asks for: the fewest fields a
// connector must read anyway (ids and versions come with every record).
func (r *run) digestFields(s *side) []string {
	if len(r.keys) > 0 {
		return []string{s.fields[r.keys[0][s.i]]}
	}
	return s.fields[:min(1, len(s.fields))]
}

// errNoDigest: a digest read returned records, from a plugin that does not
// know digest reads.
var errNoDigest = errors.New("the connector answered a digest read with records")

// digestSink takes a digest read's cursor and refuses records.
type digestSink struct{ cursor string }

func (k *digestSink) Records(recs []sdk.Record) error {
	if len(recs) > 0 {
		return errNoDigest
	}
	return nil
}

func (k *digestSink) Checkpoint(cursor string) error {
	k.cursor = cursor
	return nil
}

// readBuckets reads the records of a side's partial buckets (see
// verifyByDigest), completely: their linked records it does not return are
// gone. The side keeps the digest read's cursor, taken before: what
// changed since in the other buckets is read next time.
func (r *run) readBuckets(ctx context.Context, s *side, narrow bool) error {
	req := sdk.ReadRequest{Object: s.obj.Name, Fields: s.fields, DigestBuckets: s.nbuckets, Buckets: s.partial}
	if narrow {
		req.Fields = s.narrow
	}
	// Filtered here too: a plugin without bucket reads sends every record.
	k := sdk.BucketSink(&sink{ctx: ctx, s: s, narrow: narrow, keepCursor: true}, s.nbuckets, s.partial)
	if err := s.conn.Read(ctx, req, k); err != nil {
		return &RunError{Side: s.name, Connection: s.def.Connection, Category: sdk.CategoryOf(err), Err: fmt.Errorf("read %s: %w", s.obj.Name, err)}
	}
	for _, id := range s.expect {
		// A settled record came, at its linked version (see echoes). Its
		// id's hash alone says so: a deleted record whose id collides with
		// a settled one's (~1 in 10^7 at a million) stays for the next run.
		if s.recs[id] == nil && (s.echo == nil || !s.echo.has(id)) {
			s.tomb[id] = true
		}
	}
	return nil
}
