//go:build linux && cgo

package cmalloc

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// The heap block set up at load asks for huge pages: some mapping of the
// C heap carries the "hg" (MADV_HUGEPAGE) flag.
func TestHeapAsksForHugePages(t *testing.T) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	heap := false
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			heap = strings.HasSuffix(line, "[heap]")
			continue
		}
		if heap && strings.HasPrefix(line, "VmFlags:") && strings.Contains(line, " hg") {
			return
		}
	}
	t.Fatal("no C heap mapping asks for huge pages (VmFlags hg)")
}
