// Package servetest drives the datasync binary's `serve` end to end: real
// plugins, the HTTP API, metrics, signals, and the dashboard in Chromium.
package servetest
