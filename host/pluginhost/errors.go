package pluginhost

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotInstalled is wrapped by errors about a plugin that is not installed.
var ErrNotInstalled = errors.New("plugin not installed")

// NotPluginError refuses a file that is not a datasync connector plugin.
type NotPluginError struct {
	Path   string
	Reason string
}

func (e *NotPluginError) Error() string {
	return fmt.Sprintf("%s is not a datasync connector plugin: %s", e.Path, e.Reason)
}

// ProtocolError refuses a plugin that speaks another major protocol version.
type ProtocolError struct {
	Path   string
	Plugin int // the plugin's protocol major version
	Host   int // this host's
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("%s speaks connector protocol v%d; this datasync speaks v%d: install a version of the plugin built for v%d",
		e.Path, e.Plugin, e.Host, e.Host)
}

// ChecksumError refuses to launch an installed binary that changed since it
// was installed.
type ChecksumError struct {
	Plugin, Version string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %s %s: binary changed since it was installed (checksum mismatch); reinstall it with `datasync plugin install PATH`",
		e.Plugin, e.Version)
}

// CrashError reports a plugin process that died while the host used it.
// Output is what the plugin wrote to stderr outside its log: the panic and
// its trace when it panicked. Launch the plugin again to restart it.
type CrashError struct {
	Plugin  string
	Version string
	Pid     int
	Output  string
	Err     error // what the call in flight saw
}

// crashLines is how many lines of the panic Error shows.
const crashLines = 6

func (e *CrashError) Error() string {
	var lines []string
	for _, l := range strings.Split(e.Output, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
		if len(lines) == crashLines {
			break
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("plugin %s crashed: the process exited unexpectedly", e.Plugin)
	}
	return fmt.Sprintf("plugin %s crashed: %s", e.Plugin, strings.Join(lines, "\n    "))
}

func (e *CrashError) Unwrap() error { return e.Err }

// PluginCrashed marks the error for callers that must not import this
// package (the engine files it as "plugin_crashed").
func (e *CrashError) PluginCrashed() bool { return true }

// The engine recognizes a crash by this method.
var _ interface{ PluginCrashed() bool } = (*CrashError)(nil)
