//go:build linux && cgo

package cmalloc

import (
	"testing"

	"github.com/datasync-io/datasync/sdk/internal/smaps"
)

// The heap block set up at load asks for huge pages: some mapping of the
// C heap carries the "hg" (MADV_HUGEPAGE) flag.
func TestHeapAsksForHugePages(t *testing.T) {
	n, err := smaps.HugePageBytes(func(name string) bool { return name == "[heap]" })
	if err != nil {
		t.Skip(err)
	}
	if n == 0 {
		t.Fatal("no C heap mapping asks for huge pages (VmFlags hg)")
	}
}
