package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
)

// TestIncrementalPastSearchWindow: 10,500 changed records, more than the
// search API pages to (the window; 1,000 here to keep it fast, and the
// faithful 10,000), sharing few modification times — some shared by more
// records than a page holds. One incremental read hands over each exactly
// once without the server ever refusing a page, and the cursor it ends with
// moves past them all.
func TestIncrementalPastSearchWindow(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		window int
		groups []int // records per shared modification time
	}{
		{"window 1000, 7 instants of 1500", 1000, []int{1500, 1500, 1500, 1500, 1500, 1500, 1500}},
		{"window 1000, mixed instants", 1000, append(repeat(150, 60), 1200, 300, 1, 1, 1, 97)},
		{"window 10000, 105 instants of 100", 0, repeat(100, 105)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := open(t, hubspottest.Options{SearchWindow: tc.window, Now: func() time.Time { return base.Add(time.Hour) }})
			start := readAll(t, c, "contacts", "", "email") // empty account: the cursor starts at the epoch
			want := map[string]bool{}
			n := 0
			for g, size := range tc.groups {
				at := base.Add(time.Duration(g) * time.Second)
				for range size {
					id := srv.Seed("contacts", map[string]string{"email": fmt.Sprintf("w%d@example.com", n)}, at)
					want[id] = true
					n++
				}
			}
			if n < 10_500 && tc.window == 1000 {
				t.Fatalf("test setup: %d records", n)
			}
			inc := readAll(t, c, "contacts", start.Cursor, "email")
			got := distinct(t, inc.All)
			if len(got) != len(want) {
				t.Errorf("incremental read: %d records, want %d", len(got), len(want))
			}
			for id := range want {
				if _, ok := got[id]; !ok {
					t.Errorf("record %s missing", id)
					break
				}
			}
			st := srv.Stats()
			if st.WindowErrors != 0 || st.MaxSearchAfter >= srv.SearchWindow() {
				t.Errorf("the server refused %d searches for paging past the window (largest after %d)", st.WindowErrors, st.MaxSearchAfter)
			}
			// Keyset paging re-reads at most the records sharing the boundary
			// instant: about twice the minimum number of pages, not more.
			searches := st.ByRoute["POST /crm/v3/objects/contacts/search"]
			if minimum := (n + searchPage - 1) / searchPage; searches > 2*minimum+2*len(tc.groups)+2 {
				t.Errorf("%d searches for %d records (a page is %d)", searches, n, searchPage)
			}
			t.Logf("%d records, %d searches", n, searches)
			// Nothing more since: nothing comes back; one touched record comes alone.
			again := readAll(t, c, "contacts", inc.Cursor, "email")
			if len(again.All) != 0 {
				t.Fatalf("read from the final cursor: %d records, want none", len(again.All))
			}
			var one string
			for id := range want {
				one = id
				break
			}
			srv.Touch("contacts", one, map[string]string{"firstname": "Touched"})
			last := readAll(t, c, "contacts", again.Cursor, "email", "firstname")
			if len(last.All) != 1 || last.All[0].ID != one || last.All[0].Values[1].Str != "Touched" {
				t.Errorf("after touching %s: got %d records %v", one, len(last.All), last.All)
			}
		})
	}
}

func repeat(size, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = size
	}
	return out
}

// TestIncrementalSameMillisecond: records written in the millisecond the
// last read ended at are not lost (the cursor keeps the ids it handed over
// at that instant instead of moving strictly past it).
func TestIncrementalSameMillisecond(t *testing.T) {
	frozen := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, c := open(t, hubspottest.Options{Now: func() time.Time { return frozen }})
	start := readAll(t, c, "contacts", "", "email")
	res := write(t, c, "contacts", createOp("a@example.com"), createOp("b@example.com"))
	first := readAll(t, c, "contacts", start.Cursor, "email")
	if len(first.All) != 2 {
		t.Fatalf("first read: %d records, want 2", len(first.All))
	}
	if res[0].Version != res[1].Version {
		t.Fatalf("test setup: the two creates got different times %s, %s", res[0].Version, res[1].Version)
	}
	// Same clock reading: the new record shares the last one's timestamp.
	res2 := write(t, c, "contacts", createOp("c@example.com"))
	if res2[0].Version != res[0].Version {
		t.Fatalf("test setup: third create at %s, want %s", res2[0].Version, res[0].Version)
	}
	second := readAll(t, c, "contacts", first.Cursor, "email")
	if len(second.All) != 1 || second.All[0].ID != res2[0].ID {
		t.Fatalf("read after a same-millisecond create: %v, want only %s", second.All, res2[0].ID)
	}
	if n := srv.Count("contacts"); n != 3 {
		t.Errorf("server holds %d contacts", n)
	}
}
