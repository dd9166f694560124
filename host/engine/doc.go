// Package engine runs one sync: it reads both sides, matches and merges
// records field by field against the stored base, writes, and commits state.
package engine
