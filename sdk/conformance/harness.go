package conformance

import (
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Harness tells the suite how to exercise one connector. The suite only
// asserts about records it creates itself (and deletes them afterwards), so
// it can run against a shared or persistent test account; its incremental
// checks assume nobody else writes Object while it runs.
type Harness struct {
	// Connector under test: in process, or a *sdk.RemoteConnector reaching a
	// plugin binary over go-plugin.
	Connector sdk.Connector
	// Config reaches a test account whose Object the suite may write freely.
	Config sdk.Config
	// BadConfig is Config with credentials the app refuses. Nil skips the
	// bad-credentials test (for connectors without credentials, e.g. SQLite).
	BadConfig *sdk.Config
	// BadCategory is what Open or Check must fail with for BadConfig;
	// default sdk.CategoryAuth.
	BadCategory sdk.Category

	// Object is the object type exercised; it must be writable.
	Object string
	// NewRecord returns the fields of a valid new record whose unique fields
	// hold values no other i gives. i is unique within a Run and never
	// negative; it starts at a random offset, so reruns against a persistent
	// backend do not collide with leftovers.
	NewRecord func(i int) map[string]sdk.Value
	// Update returns a patch for the record NewRecord(i) created: at least
	// one value must differ from NewRecord(i), and at least one field of
	// NewRecord(i) must be left out (the suite checks a patch leaves it alone).
	Update func(i int) map[string]sdk.Value
	// Invalid is a create the connector must refuse with a validation error
	// (a malformed email, a too-long value, an unknown enum option). Nil
	// leaves the invalid op out of the mixed-batch test.
	Invalid map[string]sdk.Value
	// InvalidField, when set, is the field Invalid's error must name.
	InvalidField string
	// LookupField is the field the lookup test searches by; NewRecord must
	// give it unique values. Default: the first unique field of the schema
	// that NewRecord sets.
	LookupField string

	// UnicodeFields are string fields that store any Unicode text as sent.
	UnicodeFields []string
	// EmptyFields are fields that store "" as "" (not as null).
	EmptyFields []string
	// NullFields are fields that store null (created null, or cleared by a
	// patch) and read back null.
	NullFields []string

	// BatchSize is how many records the many-records test creates; default
	// sdk.BatchRecords+500, more than one SDK wire batch.
	BatchSize int
	// Equal compares a value the suite wrote with the value read back, for
	// apps that normalise (lower-case emails, reformatted phones). Default:
	// sdk.Value.Equal. Stored values are always compared exactly with
	// stored values.
	Equal func(field string, sent, stored sdk.Value) bool
	// ChangeDelay is waited after taking a cursor and before changing data,
	// for apps whose change timestamps are coarse (whole seconds).
	ChangeDelay time.Duration
	// Reset, when set, empties Object before each subtest.
	Reset func(t *testing.T)
	// Timeout bounds each subtest; default 2 minutes.
	Timeout time.Duration
}
