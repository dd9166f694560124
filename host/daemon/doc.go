// Package daemon runs syncs on their schedules for `datasync serve`: one run
// per sync at a time, a small bound across syncs, held connections, and stops.
package daemon
