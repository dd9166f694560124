// Package syncdef is the definition of a sync: its two sides, match keys,
// field mappings, direction, rules and schedule, with JSON form and validation.
package syncdef
