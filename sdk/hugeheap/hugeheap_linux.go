//go:build linux

package hugeheap

import (
	"runtime"
	"syscall"
	"unsafe"
)

// Size is how much of the Go heap is asked to fault in 2 MiB pages.
const Size = 32 << 20

// madvHugepage is MADV_HUGEPAGE, which package syscall does not name.
const madvHugepage = 14

// init runs before anything else allocates much. In a virtual machine a
// page fault costs tens of microseconds, and a short process (a sync run
// that writes a few thousand records, a plugin serving it) faulted its
// young heap in 4 KiB at a time: ~10,000 faults, a third of an incremental
// run's host CPU. The runtime maps heap memory without asking for huge
// pages, and the kernel grants them only on request (enabled=madvise, the
// common default). So a block is allocated, which makes the runtime map
// that much heap, the block's range is marked MADV_HUGEPAGE, and the block
// is freed at once: the runtime hands out the lowest free pages first, so
// the marked range is where the first 32 MiB of objects live. Untouched,
// it costs no memory; touched, it faults 2 MiB at a time.
func init() {
	const huge = 2 << 20
	b := make([]byte, Size)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := (p + huge - 1) &^ (huge - 1)
	end := (p + Size) &^ (huge - 1)
	if end > start {
		// Best effort: an older kernel, or THP turned off, refuses it and
		// the heap faults as before.
		_ = syscall.Madvise(b[start-p:end-p], madvHugepage)
	}
	runtime.KeepAlive(b)
	b = nil
	runtime.GC() // free the block now, before the program's objects need pages
}
