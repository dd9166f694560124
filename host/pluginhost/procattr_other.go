//go:build !linux

package pluginhost

import "os/exec"

// setDeathSignal has no equivalent here: Kill on Close and
// plugin.CleanupClients at exit are what stop plugins.
func setDeathSignal(*exec.Cmd) {}
