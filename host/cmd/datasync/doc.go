// Command datasync keeps records in step between two apps: the host's CLI
// (plugins, connections, syncs). See `datasync --help`.
package main
