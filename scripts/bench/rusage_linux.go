package main

import (
	"os/exec"
	"syscall"
)

// rusageMaxRSS is the exited command's peak RSS in bytes, from wait4.
func rusageMaxRSS(c *exec.Cmd) (int64, bool) {
	ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
