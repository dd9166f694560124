//go:build linux

package smaps

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// HugePageBytes returns how many bytes of this process's mappings carry the
// "hg" (MADV_HUGEPAGE) flag, counting only the mappings whose name (a path,
// "[heap]", or "" for anonymous memory) keep accepts.
func HugePageBytes(keep func(name string) bool) (uint64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read the mappings: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var size, total uint64
	kept := false
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") {
			// A mapping's header: "lo-hi perms offset dev inode [name]".
			lo, hi, _ := strings.Cut(fields[0], "-")
			a, _ := strconv.ParseUint(lo, 16, 64)
			b, _ := strconv.ParseUint(hi, 16, 64)
			size = b - a
			kept = keep(strings.Join(fields[5:], " "))
			continue
		}
		if kept && strings.HasPrefix(line, "VmFlags:") && strings.Contains(line+" ", " hg ") {
			total += size
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read the mappings: %w", err)
	}
	return total, nil
}
