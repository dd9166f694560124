package engine

import (
	"math/rand/v2"
	"testing"
)

// keyCounts answers as the map it replaces would, for hashes counted once,
// several times, not at all, and set after sealing.
func TestKeyCountsAgreesWithAMap(t *testing.T) {
	for _, n := range []int{0, 1, 2, 1000, 70000} {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		var k keyCounts
		want := map[normHash]int{}
		var seen []normHash
		for range n {
			h := normHash{rng.Uint64(), rng.Uint64()}
			if len(seen) > 0 && rng.IntN(5) == 0 {
				h = seen[rng.IntN(len(seen))] // a repeat
			}
			if rng.IntN(7) == 0 {
				h[0] &= 0xffff // crowd the first directory bucket
			}
			seen = append(seen, h)
			want[h]++
			k.add(h)
		}
		k.seal()
		if len(k.hs) != len(want) {
			t.Fatalf("n=%d: %d distinct hashes kept, want %d", n, len(k.hs), len(want))
		}
		for h, c := range want {
			if got := k.get(h); int(got) != min(c, 2) {
				t.Fatalf("n=%d: hash %x counted %d times reads %d", n, h, c, got)
			}
		}
		for range 100 {
			if h := (normHash{rng.Uint64(), rng.Uint64()}); want[h] == 0 && k.get(h) != 0 {
				t.Fatalf("n=%d: hash %x never counted reads %d", n, h, k.get(h))
			}
		}
		// Taken, counted or not.
		stranger := normHash{1, 2}
		k.set(stranger, -1)
		if got := k.get(stranger); got != -1 {
			t.Fatalf("n=%d: an uncounted hash set to -1 reads %d", n, got)
		}
		for h := range want {
			k.set(h, -1)
			if got := k.get(h); got != -1 {
				t.Fatalf("n=%d: hash %x set to -1 reads %d", n, h, got)
			}
			break
		}
	}
}
