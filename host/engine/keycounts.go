package engine

import (
	"cmp"
	"slices"
)

// keyCounts tells how many records of a side hold each key norm, by its
// 128-bit hash: the hashes sorted, a state byte each (1, 2 for two or more,
// -1 once taken), and a directory by the hashes' top 16 bits. ~17 bytes a
// key, where a map of the same took ~53: at a million records that is
// most of a streamed first run's memory. Built once from add's hashes by
// seal; set on a hash not counted (a record whose key changed between the
// two reads) goes to a small map.
type keyCounts struct {
	hs    []normHash
	state []int8
	dir   []uint32 // dir[t]: the first index whose hash has top bits >= t
	extra map[normHash]int8
}

const keyDirBits = 16

func (k *keyCounts) add(h normHash) { k.hs = append(k.hs, h) }

// seal sorts what add collected and folds repeats into counts.
func (k *keyCounts) seal() {
	slices.SortFunc(k.hs, compareHash)
	k.state = make([]int8, len(k.hs))
	w := 0
	for i, h := range k.hs {
		if i > 0 && h == k.hs[w-1] {
			k.state[w-1] = 2
			continue
		}
		k.hs[w], k.state[w] = h, 1
		w++
	}
	k.hs, k.state = slices.Clip(k.hs[:w]), slices.Clip(k.state[:w])
	k.dir = hashDir(len(k.hs), func(i int) normHash { return k.hs[i] })
}

// hashDir is the directory of n hashes sorted by compareHash, hashAt(i)
// the i-th: dir[t] is the first index whose hash has top bits >= t, so
// the hashes that share h's top bits are those dirRange gives.
func hashDir(n int, hashAt func(int) normHash) []uint32 {
	dir := make([]uint32, 1<<keyDirBits+1)
	i := 0
	for t := range dir {
		for i < n && hashAt(i)[0]>>(64-keyDirBits) < uint64(t) {
			i++
		}
		dir[t] = uint32(i)
	}
	return dir
}

// dirRange returns the indexes [lo, hi) whose hashes share h's top bits.
func dirRange(dir []uint32, h normHash) (lo, hi int) {
	t := h[0] >> (64 - keyDirBits)
	return int(dir[t]), int(dir[t+1])
}

func compareHash(a, b normHash) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}

// find returns h's index, or -1.
func (k *keyCounts) find(h normHash) int {
	if k.dir == nil {
		return -1
	}
	lo, hi := dirRange(k.dir, h)
	i, ok := slices.BinarySearchFunc(k.hs[lo:hi], h, compareHash)
	if !ok {
		return -1
	}
	return lo + i
}

// get returns h's state: 0 if not counted.
func (k *keyCounts) get(h normHash) int8 {
	if i := k.find(h); i >= 0 {
		return k.state[i]
	}
	return k.extra[h]
}

func (k *keyCounts) set(h normHash, v int8) {
	if i := k.find(h); i >= 0 {
		k.state[i] = v
		return
	}
	if k.extra == nil {
		k.extra = map[normHash]int8{}
	}
	k.extra[h] = v
}
