//go:build linux && cgo

package cmalloc

/*
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

// datasyncCHeap sets up the C heap, which SQLite uses, for a virtual
// machine, where a page fault or a TLB shootdown costs tens of microseconds.
// It runs as the program loads, before the Go runtime starts a thread:
// arena settings only hold for threads that have not allocated yet.
//   - glibc keeps freed heap instead of handing it back to the kernel at
//     every free: SQLite frees and reallocates its page cache all through a
//     run, and each round trip cost a madvise, a TLB shootdown and page
//     faults (BenchmarkCommitCreates, 400 -> 80 us per record);
//   - one arena for all threads: cgo calls run on any of the runtime's
//     threads, and each thread's first malloc gave it an arena of its own,
//     so SQLite's memory was fresh, faulting memory on every thread;
//   - 24 MiB of that arena (SQLite's caches live there) asks for transparent
//     huge pages, where the kernel grants them on request: it faults in
//     2 MiB at a time. A cold lookup of 900 links faulted ~2,450 pages in
//     60 ms; with one arena and huge pages, ~970 in 29 ms.
__attribute__((constructor)) static void datasyncCHeap(void) {
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20); // the block below comes from the heap
	const size_t n = 24 << 20;
	char *p = malloc(n);
	if (p != NULL) {
		const uintptr_t huge = 2 << 20;
		uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
		uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
		if (e > a) {
			madvise((void *)a, e - a, MADV_HUGEPAGE);
		}
		free(p); // kept by the heap: under M_TRIM_THRESHOLD
	}
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
}
*/
import "C"
