// Package conformance is the test suite every connector runs from its own
// tests (conformance.Run), plus small helpers for reading and writing in tests.
package conformance
