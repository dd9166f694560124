//go:build linux && cgo

package store

/*
#include <malloc.h>
*/
import "C"

// keepCHeap stops glibc from handing freed C heap back to the kernel at
// every free: SQLite frees and reallocates its page cache all through a
// run, and each round trip cost a madvise, a TLB shootdown and page faults,
// which made the store 5x slower (BenchmarkCommitCreates, 400 → 80 µs per
// record). The heap is still bounded by SQLite's cache sizes.
func keepCHeap() {
	C.mallopt(C.M_TRIM_THRESHOLD, 64<<20)
	C.mallopt(C.M_MMAP_THRESHOLD, 4<<20)
}
