package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/datasync-io/datasync/sdk"
)

// verifyByDigest spares the complete read of a side whose records are
// exactly what its links say: the same ids at the same versions, none new,
// none gone. The plugin sums its side's (id, version) pairs (a digest read:
// the records stay in the plugin) while the store sums the links'; where
// the two agree, the side is not read and counts as an incremental read
// that found nothing, with the digest read's cursor. Versions must be
// trusted (trustVersions): a record's version changes with every change.
// A side holding records no link names (filtered out, failing) never
// agrees, and is read as before; so is a connector whose plugin answers
// with records (an SDK without digests).
func (r *run) verifyByDigest(ctx context.Context) error {
	var (
		links   [2][]sdk.Digest
		got     [2][]sdk.Digest
		cursors [2]string
		errs    [3]error
	)
	done := make(chan struct{}, 3)
	n := 1
	go func() {
		links[sideL], links[sideR], errs[2] = r.e.store.LinkDigests(ctx, r.def.Name, 1)
		done <- struct{}{}
	}()
	for i, s := range r.sides {
		if !s.full {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			k := &digestSink{}
			req := sdk.ReadRequest{Object: s.obj.Name, Fields: r.digestFields(s), DigestBuckets: 1,
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
	for range n {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i, s := range r.sides {
		if s.full && got[i] != nil && slices.Equal(got[i], links[i]) {
			s.full, s.digested = false, true
			s.cursor, s.hasCurs = cursors[i], cursors[i] != ""
			for _, d := range got[i] {
				r.report.side(i).Verified += int(d.Count)
			}
		}
	}
	return nil
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
