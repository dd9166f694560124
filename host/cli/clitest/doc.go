// Package clitest drives the real datasync binary and real plugin binaries
// end to end: plugins, connections, secrets at rest.
package clitest
