//go:build unix

package main

import (
	"fmt"
	"io/fs"
	"syscall"
)

// fileIdentity names the file itself (device and inode), not its path.
func fileIdentity(st fs.FileInfo) string {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", sys.Dev, sys.Ino)
	}
	return ""
}
