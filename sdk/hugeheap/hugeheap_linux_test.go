//go:build linux

package hugeheap

import (
	"testing"

	"github.com/datasync-io/datasync/sdk/internal/smaps"
)

// The Go heap has a range marked for huge pages, at least Size less the
// alignment to 2 MiB at both ends. (Its address is random since Go 1.26,
// and this binary has no C heap marked: every anonymous mapping is looked
// at.)
func TestGoHeapAsksForHugePages(t *testing.T) {
	n, err := smaps.HugePageBytes(func(name string) bool { return name == "" })
	if err != nil {
		t.Skip(err)
	}
	if n < Size-4<<20 {
		t.Fatalf("%d bytes of the Go heap are marked for huge pages (VmFlags hg), want at least %d", n, Size-4<<20)
	}
}
