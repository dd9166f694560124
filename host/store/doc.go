// Package store keeps datasync's state — connections, syncs, cursors, links,
// journal, errors, runs, conflicts, history — in SQLite, behind one Store type.
package store
