package engine

import (
	"cmp"
	"hash/maphash"
	"slices"
)

// heldSet is the held side of a streamed first run (see stream): for each
// record its id, in one arena, and its key norm's hash. ~45 bytes a record,
// where a rec in the run's maps, with its decoded value and the key index,
// took ~450: at 500,000 records a side that was most of a two-way first
// run's memory. Records are added as the narrow read hands them over, then
// seal builds the two ways in: by key hash (sorted, with a directory by the
// top bits, hashDir, as keyCounts) and by id (the ids' hashes, sorted: 12
// bytes a record, where a map of them took 35).
type heldSet struct {
	arena []byte // the ids, as add appends them; seal makes them strs
	strs  string // record i's id is strs[ends[i-1]:ends[i]]
	ends  []uint32
	hash  []normHash
	flags []uint8 // heldDead, heldMatched
	live  int

	// Built by seal.
	order []int32  // live records with a key, by hash, then id
	dir   []uint32 // dir[t]: the first index of order whose hash has top bits >= t
	seed  maphash.Seed
	// idHash[k] is the hash of record idIdx[k]'s id, ascending; records
	// whose ids share a hash (~1e-8 at a million) sit side by side.
	idHash []uint64
	idIdx  []int32
	// hashID overrides the ids' hash (tests force clashes with it).
	hashID func(string) uint64
}

const (
	// heldDead: replaced by a later record with its id, deleted, or read
	// again (see take).
	heldDead uint8 = 1 << iota
	heldMatched
)

// add appends a record read; h is the zero hash when it has no key.
func (s *heldSet) add(id string, h normHash, deleted bool) {
	s.arena = append(s.arena, id...)
	s.ends = append(s.ends, uint32(len(s.arena)))
	s.hash = append(s.hash, h)
	f := uint8(0)
	if deleted {
		f = heldDead
	}
	s.flags = append(s.flags, f)
}

func (s *heldSet) id(i int32) string {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.strs[start:s.ends[i]]
}

// seal settles what add collected: a record replaces an earlier one with
// its id (a deleted one removes it, as the run's sink does), and the
// indexes are built.
func (s *heldSet) seal() {
	s.strs, s.arena = string(s.arena), nil
	s.seed = maphash.MakeSeed()
	byID := make([]int32, len(s.ends))
	hs := make([]uint64, len(s.ends))
	for i := range byID {
		byID[i] = int32(i)
		hs[i] = s.idHashOf(s.id(int32(i)))
	}
	// By hash, then id, then the order read: of the records with one id,
	// the last read is the one held (a deleted one removes it).
	slices.SortFunc(byID, func(a, b int32) int {
		if c := cmp.Compare(hs[a], hs[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(s.id(a), s.id(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for k := 0; k+1 < len(byID); k++ {
		if a, b := byID[k], byID[k+1]; hs[a] == hs[b] && s.id(a) == s.id(b) {
			s.flags[a] |= heldDead
		}
	}
	for _, i := range byID {
		if s.flags[i]&heldDead == 0 {
			s.idIdx = append(s.idIdx, i)
			s.idHash = append(s.idHash, hs[i])
		}
	}
	for i, f := range s.flags {
		if f&heldDead != 0 {
			continue
		}
		s.live++
		if s.hash[i] != (normHash{}) {
			s.order = append(s.order, int32(i))
		}
	}
	slices.SortFunc(s.order, func(a, b int32) int {
		if c := compareHash(s.hash[a], s.hash[b]); c != 0 {
			return c
		}
		return cmp.Compare(s.id(a), s.id(b))
	})
	s.dir = hashDir(len(s.order), func(i int) normHash { return s.hash[s.order[i]] })
}

func (s *heldSet) idHashOf(id string) uint64 {
	if s.hashID != nil {
		return s.hashID(id)
	}
	return maphash.String(s.seed, id)
}

// find returns the live record with id.
func (s *heldSet) find(id string) (int32, bool) {
	h := s.idHashOf(id)
	k, _ := slices.BinarySearch(s.idHash, h)
	for ; k < len(s.idHash) && s.idHash[k] == h; k++ {
		if i := s.idIdx[k]; s.flags[i]&heldDead == 0 && s.id(i) == id {
			return i, true
		}
	}
	return 0, false
}

// take finds the live record with id and marks it read again: a second
// record with that id in the same read is not one the set held.
func (s *heldSet) take(id string) (int32, bool) {
	i, ok := s.find(id)
	if ok {
		s.flags[i] |= heldDead
	}
	return i, ok
}

func (s *heldSet) matched(i int32) bool { return s.flags[i]&heldMatched != 0 }

func (s *heldSet) match(i int32) { s.flags[i] |= heldMatched }

// withKey returns the records whose key norm has hash h, by id, as a
// range of order.
func (s *heldSet) withKey(h normHash) []int32 {
	if s.dir == nil || h == (normHash{}) {
		return nil
	}
	lo, hi := dirRange(s.dir, h)
	i, ok := slices.BinarySearchFunc(s.order[lo:hi], h, func(x int32, h normHash) int { return compareHash(s.hash[x], h) })
	if !ok {
		return nil
	}
	j := lo + i
	k := j + 1
	for k < hi && s.hash[s.order[k]] == h {
		k++
	}
	return s.order[j:k]
}

// ids returns the ids of records xs.
func (s *heldSet) ids(xs []int32) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = s.id(x)
	}
	return out
}
