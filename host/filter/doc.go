// Package filter compiles a sync's inclusion filters: CEL expressions over a record's
// fields (lifecycle_stage == "customer"), checked once against the schema and matched per record.
package filter
