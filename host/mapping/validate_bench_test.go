package mapping

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// BenchmarkValidatorRecord validates the create of a contact of ten text
// fields (an email and a phone among them), as a first fill does for every
// record.
func BenchmarkValidatorRecord(b *testing.B) {
	obj := sdk.ObjectType{Name: "contacts", Fields: []sdk.Field{{Name: "id", ReadOnly: true}}}
	var fields []string
	var values []sdk.Value
	for i, name := range []string{"email", "first_name", "last_name", "phone", "company", "city", "country", "lifecycle_stage", "owner", "source"} {
		f := sdk.Field{Name: name, Type: sdk.TypeString, MaxLength: 255}
		switch name {
		case "email":
			f.Type, f.Required = sdk.TypeEmail, true
		case "phone":
			f.Type = sdk.TypePhone
		}
		obj.Fields = append(obj.Fields, f)
		fields = append(fields, name)
		v := sdk.String(fmt.Sprintf("value %d", i))
		switch name {
		case "email":
			v = sdk.String("ann.smith@example.com")
		case "phone":
			v = sdk.String("+1 555 0100")
		}
		values = append(values, v)
	}
	x := NewValidator(obj)
	for b.Loop() {
		if errs := x.Record(fields, values, true); len(errs) != 0 {
			b.Fatal(errs[0])
		}
	}
}
