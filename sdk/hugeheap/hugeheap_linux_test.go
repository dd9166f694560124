//go:build linux

package hugeheap

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The Go heap has a range marked for huge pages, at least Size less the
// alignment to 2 MiB at both ends. (Its address is random since Go 1.26,
// and this binary has no C heap marked: every anonymous mapping is looked
// at.)
func TestGoHeapAsksForHugePages(t *testing.T) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lo, hi, marked uint64
	anon := false
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			a, b, _ := strings.Cut(fields[0], "-")
			lo, _ = strconv.ParseUint(a, 16, 64)
			hi, _ = strconv.ParseUint(b, 16, 64)
			anon = len(fields) == 5 // no path, nor [heap] or [stack]
			continue
		}
		if anon && strings.HasPrefix(line, "VmFlags:") && strings.Contains(line, " hg") {
			marked += hi - lo
		}
	}
	if marked < Size-4<<20 {
		t.Fatalf("%d bytes of the Go heap are marked for huge pages (VmFlags hg), want at least %d", marked, Size-4<<20)
	}
}
