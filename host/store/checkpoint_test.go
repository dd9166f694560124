package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"
)

// walState reads the WAL index (the -shm file, https://sqlite.org/walformat.html):
// the frames in the WAL (mxFrame) and those copied into the database
// (nBackfill).
func walState(t *testing.T, path string) (frames, backfilled uint32) {
	t.Helper()
	b, err := os.ReadFile(path + "-shm")
	if err != nil || len(b) < 100 {
		t.Fatalf("read the WAL index: %v (%d bytes)", err, len(b))
	}
	return binary.NativeEndian.Uint32(b[16:20]), binary.NativeEndian.Uint32(b[96:100])
}

// A commit's WAL frames are copied into the database soon after, without a
// further commit or Close: the checkpoint runs in the background.
func TestCommitsAreCheckpointedInTheBackground(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	withSync(t, s, "a")
	b := &Batch{Sync: "a"}
	for i := range 200 {
		b.PutLinks = append(b.PutLinks, Link{LeftID: fmt.Sprint("l", i), RightID: fmt.Sprint("r", i), LeftVersion: "1", RightVersion: "1"})
	}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		frames, done := walState(t, path)
		if frames > 0 && done == frames {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL of %d frames, %d copied into the database 5 s after the commit", frames, done)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close leaves the WAL, with the commits not yet copied, for the next Open:
// no checkpoint and its fsyncs as the process exits. Nothing is lost.
func TestCloseKeepsTheWAL(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	withSync(t, s, "a")
	if err := s.Commit(ctx, &Batch{Sync: "a", PutLinks: []Link{{LeftID: "l", RightID: "r", LeftVersion: "1", RightVersion: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("after Close, the WAL is gone or empty (%v): Close checkpointed it", err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	links, err := s.LinksFor(ctx, "a", "left", []string{"l"})
	if err != nil || len(links) != 1 || links[0].RightID != "r" {
		t.Fatalf("after reopening: links %+v, %v; want l-r", links, err)
	}
}
