package pluginhost

import (
	"os/exec"
	"syscall"
)

// setDeathSignal asks Linux to SIGKILL the plugin when the host dies, even
// by SIGKILL. The signal is tied to the OS thread that started the plugin:
// Go only ends a thread when a goroutine locked to it exits, which the host
// never does while launching, so the thread lives as long as the process.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
