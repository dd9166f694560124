package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

func TestHeldSet(t *testing.T) {
	h1, h2 := normHash{1, 1}, normHash{1 << 63, 2}
	type rec struct {
		id      string
		h       normHash
		deleted bool
	}
	tests := []struct {
		name  string
		recs  []rec
		clash bool // every id hashes alike
		live  int
		key   map[normHash][]string // withKey's ids, in order
		find  map[string]bool
	}{
		{
			name: "ids by key, sorted",
			recs: []rec{{"b", h1, false}, {"a", h1, false}, {"c", h2, false}, {"d", normHash{}, false}},
			live: 4,
			key:  map[normHash][]string{h1: {"a", "b"}, h2: {"c"}, {9, 9}: nil, {}: nil},
			find: map[string]bool{"a": true, "d": true, "e": false},
		},
		{
			name: "a later record replaces one with its id",
			recs: []rec{{"a", h1, false}, {"b", h1, false}, {"a", h2, false}},
			live: 2,
			key:  map[normHash][]string{h1: {"b"}, h2: {"a"}},
			find: map[string]bool{"a": true, "b": true},
		},
		{
			name: "a delete removes the record",
			recs: []rec{{"a", h1, false}, {"a", normHash{}, true}, {"b", h2, true}},
			live: 0,
			key:  map[normHash][]string{h1: nil, h2: nil},
			find: map[string]bool{"a": false, "b": false},
		},
		{
			name:  "ids whose hashes clash",
			recs:  []rec{{"a", h1, false}, {"b", h1, false}, {"c", h2, false}, {"b", h2, false}},
			clash: true,
			live:  3,
			key:   map[normHash][]string{h1: {"a"}, h2: {"b", "c"}},
			find:  map[string]bool{"a": true, "b": true, "c": true, "d": false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &heldSet{}
			if tt.clash {
				s.hashID = func(string) uint64 { return 7 }
			}
			for _, r := range tt.recs {
				s.add(r.id, r.h, r.deleted)
			}
			s.seal()
			if s.live != tt.live {
				t.Errorf("live %d, want %d", s.live, tt.live)
			}
			for h, want := range tt.key {
				if got := s.ids(s.withKey(h)); !slices.Equal(got, want) && len(got)+len(want) > 0 {
					t.Errorf("withKey(%v): %v, want %v", h, got, want)
				}
			}
			for id, want := range tt.find {
				if i, ok := s.find(id); ok != want || ok && s.id(i) != id {
					t.Errorf("find(%q): %d %v, want %v", id, i, ok, want)
				}
			}
			// Taken once: a second record with the id is not held.
			for id, want := range tt.find {
				if _, ok := s.take(id); ok != want {
					t.Errorf("take(%q): %v, want %v", id, ok, want)
				}
				if _, ok := s.take(id); ok {
					t.Errorf("take(%q) twice", id)
				}
			}
			// A taken record still holds its key (for own duplicates).
			for h, want := range tt.key {
				if got := len(s.withKey(h)); got != len(want) {
					t.Errorf("after take, withKey(%v) has %d, want %d", h, got, len(want))
				}
			}
		})
	}
}

// TestParkKeepsValues: a parked record comes back with the values it had,
// compact or not.
func TestParkKeepsValues(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, vals := range [][]sdk.Value{
		{sdk.String("a@x.io"), sdk.Null, {Kind: sdk.KindDecimal, Str: "1.50"}, {Kind: sdk.KindDate, Str: "2026-03-01"}},
		{sdk.String("a@x.io"), sdk.Int(7)},
		{sdk.Bool(true)},
		{{Kind: sdk.KindDateTime, Time: at}},
		{{Kind: sdk.KindStringList, List: []string{"x", "y"}}},
		nil,
	} {
		p := park(&rec{id: "1", vals: slices.Clone(vals)})
		got := p.rec().vals
		if len(got) != len(vals) {
			t.Fatalf("%v: came back as %v", vals, got)
		}
		for i := range vals {
			if !got[i].Equal(vals[i]) || got[i].Kind != vals[i].Kind {
				t.Errorf("%v: value %d came back as %v", vals, i, got[i])
			}
		}
	}
}
