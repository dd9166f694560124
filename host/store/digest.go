package store

import (
	"context"
	"database/sql"
	"fmt"
	"unsafe"

	"github.com/datasync-io/datasync/sdk"
)

// LinkDigests sums each side's (id, version) pairs as the links know them
// into buckets by id (sdk.DigestOf, sdk.DigestBucket): what a digest read
// of that side returns when none of its records changed, appeared or went.
// A record gone from its side (left_deleted, right_deleted) is left out of
// that side's sums. One pass over the links, holding none of them.
func (s *Store) LinkDigests(ctx context.Context, sync string, buckets int) (left, right []sdk.Digest, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT left_id, left_version, right_id, right_version, state FROM links WHERE sync_name = ?`, sync)
	if err != nil {
		return nil, nil, fmt.Errorf("sum links of %s: %w", sync, err)
	}
	defer rows.Close()
	left, right = make([]sdk.Digest, buckets), make([]sdk.Digest, buckets)
	var lid, lver, rid, rver, state sql.RawBytes
	add := func(d []sdk.Digest, id, ver sql.RawBytes) {
		// Views of the row's bytes, not copies: they are hashed, not kept.
		i, v := view(id), view(ver)
		b := &d[sdk.DigestBucket(i, buckets)]
		b.Count++
		b.Sum += sdk.DigestOf(i, v)
	}
	for rows.Next() {
		if err := rows.Scan(&lid, &lver, &rid, &rver, &state); err != nil {
			return nil, nil, fmt.Errorf("sum links of %s: %w", sync, err)
		}
		if st := view(state); st != LinkLeftDeleted {
			add(left, lid, lver)
		}
		if st := view(state); st != LinkRightDeleted {
			add(right, rid, rver)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("sum links of %s: %w", sync, err)
	}
	return left, right, nil
}

func view(b sql.RawBytes) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
