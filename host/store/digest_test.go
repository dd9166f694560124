package store

import (
	"context"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// LinkDigests sums each side's live records as their links know them: a
// side's gone record is left out of that side only, other syncs' links
// not at all, and ids of any bytes (non-ASCII, empty version) are summed
// as the plugin sums them.
func TestLinkDigestsSumWhatEachSideHolds(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	withSync(t, s, "a")
	withSync(t, s, "b")
	links := []Link{
		{LeftID: "l1", RightID: "r1", LeftVersion: "1", RightVersion: "9", State: LinkSyncing},
		{LeftID: "l2", RightID: "r2", LeftVersion: "2", RightVersion: "", State: LinkExcluded, ExcludedBy: "left"},
		{LeftID: "lé3", RightID: "r3", LeftVersion: "3", RightVersion: "7", State: LinkFailing},
		{LeftID: "l4", RightID: "r4", LeftVersion: "4", RightVersion: "6", State: LinkLeftDeleted},
		{LeftID: "l5", RightID: "r5", LeftVersion: "5", RightVersion: "5", State: LinkRightDeleted},
	}
	if err := s.Commit(ctx, &Batch{Sync: "a", AddLinks: links}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Sync: "b", AddLinks: []Link{{LeftID: "l1", RightID: "other", LeftVersion: "x", State: LinkSyncing}}}); err != nil {
		t.Fatal(err)
	}
	for side, gone := range map[string]string{"left": LinkLeftDeleted, "right": LinkRightDeleted} {
		want := map[string]bool{}
		for _, l := range links {
			id := l.LeftID
			if side == "right" {
				id = l.RightID
			}
			if b := sdk.DigestBucket(id, 3); l.State != gone && (b == 0 || b == 2) {
				want[id] = true
			}
		}
		ids, err := s.LinkIDsInBuckets(ctx, "a", side, 3, []int{2, 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(want) {
			t.Fatalf("%s ids in buckets 0 and 2: %v, want %v", side, ids, want)
		}
		for _, id := range ids {
			if !want[id] {
				t.Fatalf("%s ids in buckets 0 and 2: %v, want %v", side, ids, want)
			}
		}
	}
	for _, buckets := range []int{1, 4} {
		want := [2][]sdk.Digest{make([]sdk.Digest, buckets), make([]sdk.Digest, buckets)}
		add := func(side int, id, ver string) {
			d := &want[side][sdk.DigestBucket(id, buckets)]
			d.Count++
			d.Sum += sdk.DigestOf(id, ver)
		}
		for _, l := range links {
			if l.State != LinkLeftDeleted {
				add(0, l.LeftID, l.LeftVersion)
			}
			if l.State != LinkRightDeleted {
				add(1, l.RightID, l.RightVersion)
			}
		}
		left, right, err := s.LinkDigests(ctx, "a", buckets)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range [2][]sdk.Digest{left, right} {
			for b := range got {
				if got[b] != want[i][b] {
					t.Fatalf("%d buckets, side %d, bucket %d: %+v, want %+v", buckets, i, b, got[b], want[i][b])
				}
			}
		}
	}
}
