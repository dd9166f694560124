// Package memorytest holds the memory connector's conformance harness, shared
// by its in-process test and the plugin binary's test.
package memorytest
