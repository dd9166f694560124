package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unsafe"

	"github.com/datasync-io/datasync/sdk"
)

// LinkDigests sums each side's (id, version) pairs as the links know them
// into buckets by id (sdk.DigestOf, sdk.DigestBucket): what a digest read
// of that side returns when none of its records changed, appeared or went.
// A record gone from its side (left_deleted, right_deleted) is left out of
// that side's sums. One pass over the links, holding none of them.
func (s *Store) LinkDigests(ctx context.Context, sync string, buckets int) (left, right []sdk.Digest, err error) {
	// One column a row, the five joined by NUL bytes: each column costs the
	// driver three cgo calls and a copy, and these are most of the scan. An
	// id holding a NUL would be split wrongly: its sums then disagree with
	// the plugin's, and the side is read in full, which is only slower.
	q := `SELECT left_id || x'00' || left_version || x'00' || right_id || x'00' ||
		right_version || x'00' || state FROM links WHERE sync_name = ?`
	if s.pg { // text holds no NUL there: \x01, as unlikely in an id
		q = `SELECT left_id || E'\x01' || left_version || E'\x01' || right_id || E'\x01' ||
		right_version || E'\x01' || state FROM links WHERE sync_name = ?`
	}
	rows, err := s.db.QueryContext(ctx, q, sync)
	if err != nil {
		return nil, nil, fmt.Errorf("sum links of %s: %w", sync, err)
	}
	defer rows.Close()
	left, right = make([]sdk.Digest, buckets), make([]sdk.Digest, buckets)
	add := func(d []sdk.Digest, id, ver string) {
		b := &d[sdk.DigestBucket(id, buckets)]
		b.Count++
		b.Sum += sdk.DigestOf(id, ver)
	}
	sep := "\x00"
	if s.pg {
		sep = "\x01"
	}
	var row sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&row); err != nil {
			return nil, nil, fmt.Errorf("sum links of %s: %w", sync, err)
		}
		// A view of the row's bytes, not a copy: it is hashed, not kept.
		var f [5]string
		rest, ok := view(row), true
		for i := range 4 {
			if f[i], rest, ok = strings.Cut(rest, sep); !ok {
				return nil, nil, fmt.Errorf("sum links of %s: a link row without its five parts", sync)
			}
		}
		f[4] = rest
		if f[4] != LinkLeftDeleted {
			add(left, f[0], f[1])
		}
		if f[4] != LinkRightDeleted {
			add(right, f[2], f[3])
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

// LinkIDsInBuckets returns the ids on side ("left" or "right") of the
// links whose record there falls in one of buckets (of n, DigestBucket)
// and is not gone from it: what a read of just those buckets must return,
// the rest being deletes.
func (s *Store) LinkIDsInBuckets(ctx context.Context, sync, side string, n int, buckets []int) ([]string, error) {
	col, gone := "left_id", LinkLeftDeleted
	if side == "right" {
		col, gone = "right_id", LinkRightDeleted
	}
	in := make(map[int]bool, len(buckets))
	for _, b := range buckets {
		in[b] = true
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+col+` FROM links WHERE sync_name = ? AND state <> ?`, sync, gone)
	if err != nil {
		return nil, fmt.Errorf("find links of %s by bucket: %w", sync, err)
	}
	defer rows.Close()
	var out []string
	var id sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find links of %s by bucket: %w", sync, err)
		}
		if in[sdk.DigestBucket(view(id), n)] {
			out = append(out, string(id))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find links of %s by bucket: %w", sync, err)
	}
	return out, nil
}
