// Package cmalloc sets up glibc's C heap for programs that use SQLite
// through cgo on Linux; import it for that side effect (nothing elsewhere).
package cmalloc
