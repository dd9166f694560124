package memorytest

import (
	"fmt"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// Harness exercises the "contacts" object of a memory connector c (in
// process or a plugin) opened with settings (nil: defaults) and token "secret".
func Harness(c sdk.Connector, settings map[string]string) conformance.Harness {
	good := sdk.Config{Settings: settings, Secrets: map[string]string{"token": "secret"}}
	bad := sdk.Config{Settings: settings, Secrets: map[string]string{"token": "wrong"}}
	return conformance.Harness{
		Connector: c,
		Config:    good,
		BadConfig: &bad,
		Object:    "contacts",
		NewRecord: NewRecord,
		Update: func(i int) map[string]sdk.Value {
			return map[string]sdk.Value{
				"first_name":      sdk.String(fmt.Sprintf("Changed%d", i)),
				"lifecycle_stage": sdk.String("customer"),
				"tags":            sdk.StringList("c"),
			}
		},
		Invalid:       map[string]sdk.Value{"email": sdk.String("not an email"), "first_name": sdk.String("X")},
		InvalidField:  "email",
		UnicodeFields: []string{"first_name", "last_name", "company"},
		EmptyFields:   []string{"email", "first_name", "last_name", "phone", "company", "external_id"},
		NullFields:    []string{"email", "first_name", "last_name", "phone", "company", "lifecycle_stage", "tags", "external_id"},
	}
}

// NewRecord returns a valid contact whose email and external_id are unique to i.
func NewRecord(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"email":           sdk.String(fmt.Sprintf("person%d@example.com", i)),
		"first_name":      sdk.String(fmt.Sprintf("First%d", i)),
		"last_name":       sdk.String("Last"),
		"phone":           sdk.String(fmt.Sprintf("+1 555 %07d", i%10_000_000)),
		"company":         sdk.String("Acme"),
		"lifecycle_stage": sdk.String("lead"),
		"tags":            sdk.StringList("a", "b"),
		"external_id":     sdk.String(fmt.Sprintf("ext-%d", i)),
	}
}
