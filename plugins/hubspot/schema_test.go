package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

func TestSchemaMapping(t *testing.T) {
	_, c := open(t, hubspottest.Options{})
	sch, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sch.ObjectNames(); !slices.Equal(got, []string{"companies", "contacts"}) {
		t.Fatalf("objects %v", got)
	}
	contacts, _ := sch.Object("contacts")
	for _, tc := range []struct {
		name     string
		typ      sdk.FieldType
		readOnly bool
		unique   bool
		options  []string
	}{
		{"email", sdk.TypeEmail, false, true, nil},
		{"firstname", sdk.TypeString, false, false, nil},
		{"phone", sdk.TypePhone, false, false, nil},
		{"lifecyclestage", sdk.TypeEnum, false, false, []string{"subscriber", "lead", "marketingqualifiedlead",
			"salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}},
		{"favorite_colors", sdk.TypeStringList, false, false, []string{"red", "green", "blue"}},
		{"newsletter_opt_in", sdk.TypeBoolean, false, false, nil},
		{"birthday", sdk.TypeDate, false, false, nil},
		{"last_meeting", sdk.TypeDateTime, false, false, nil},
		{"score", sdk.TypeDecimal, false, false, nil},
		{"customer_number", sdk.TypeString, false, true, nil},
		{"createdate", sdk.TypeDateTime, true, false, nil},
		{"lastmodifieddate", sdk.TypeDateTime, true, false, nil},
		{"hs_full_name_or_email", sdk.TypeString, true, false, nil}, // calculated
	} {
		f, ok := contacts.Field(tc.name)
		if !ok {
			t.Errorf("contacts has no field %s", tc.name)
			continue
		}
		if f.Type != tc.typ || f.ReadOnly != tc.readOnly || f.Unique != tc.unique || !slices.Equal(f.EnumOptions, tc.options) {
			t.Errorf("field %s: %s read-only %v unique %v options %v; want %s %v %v %v", tc.name, f.Type, f.ReadOnly, f.Unique,
				f.EnumOptions, tc.typ, tc.readOnly, tc.unique, tc.options)
		}
	}
	if _, ok := contacts.Field("hs_object_id"); ok {
		t.Error("hs_object_id is the record id, not a field")
	}
	if !contacts.Incremental || !contacts.Tombstones || contacts.ExternalIDField != "" ||
		!slices.Equal(contacts.UpsertFields, []string{"customer_number", "email"}) {
		t.Errorf("contacts: incremental %v tombstones %v external id %q upsert %v", contacts.Incremental, contacts.Tombstones,
			contacts.ExternalIDField, contacts.UpsertFields)
	}
	companies, _ := sch.Object("companies")
	if f, _ := companies.Field("industry"); f.Type != sdk.TypeEnum || len(f.EnumOptions) != 3 {
		t.Errorf("companies.industry: %+v", f)
	}
	if f, _ := companies.Field("hs_lastmodifieddate"); !f.ReadOnly {
		t.Errorf("companies.hs_lastmodifieddate writable")
	}
}

// TestCustomObjectsAndExternalID: custom objects come from the schemas API
// and read and write like the others; a datasync_id property becomes the
// external-id field.
func TestCustomObjectsAndExternalID(t *testing.T) {
	extra := hubspottest.Property{Name: "datasync_id", Label: "datasync id", Type: "string", FieldType: "text",
		Options: []hubspottest.Option{}}
	srv, c := open(t, hubspottest.Options{ExtraContactProperties: []hubspottest.Property{extra},
		CustomObjects: []hubspottest.CustomObject{{Name: "pets", Singular: "Pet", Plural: "Pets", PrimaryProperty: "pet_name",
			Properties: []hubspottest.Property{
				{Name: "pet_name", Label: "Name", Type: "string", FieldType: "text"},
				{Name: "legs", Label: "Legs", Type: "number", FieldType: "number"},
			}}}})
	ctx := context.Background()
	sch, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	contacts, _ := sch.Object("contacts")
	if contacts.ExternalIDField != "datasync_id" {
		t.Errorf("external id field %q, want datasync_id", contacts.ExternalIDField)
	}
	pets, ok := sch.Object("pets")
	if !ok {
		t.Fatalf("no pets in %v", sch.ObjectNames())
	}
	if f, _ := pets.Field("legs"); f.Type != sdk.TypeDecimal {
		t.Errorf("pets.legs: %+v", f)
	}
	start := readAll(t, c, "pets", "", "pet_name")
	four, _ := sdk.Decimal("4")
	res := write(t, c, "pets", conformance.CreateOp(map[string]sdk.Value{"pet_name": sdk.String("Rex"), "legs": four}))
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got := readAll(t, c, "pets", start.Cursor, "pet_name", "legs").All
	if len(got) != 1 || got[0].ID != res[0].ID || got[0].Values[0].Str != "Rex" || !got[0].Values[1].Equal(four) {
		t.Errorf("incremental read of pets: %v", got)
	}
	if srv.Count("pets") != 1 {
		t.Errorf("server holds %d pets", srv.Count("pets"))
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	srv, c := open(t, hubspottest.Options{PortalID: 424242})
	acct, err := c.Check(ctx)
	if err != nil || acct.Fingerprint != "hubspot-portal-424242" || acct.Label == "" {
		t.Errorf("check: %+v, %v", acct, err)
	}
	url := srv.Start(t)
	for _, tc := range []struct {
		name string
		cfg  sdk.Config
		want sdk.Category
	}{
		{"wrong token", config(url, "wrong"), sdk.CategoryAuth},
		{"no server", config("http://127.0.0.1:1", "x"), sdk.CategoryUnreachable},
	} {
		conn, err := New().Open(ctx, tc.cfg)
		if err == nil {
			_, err = conn.Check(ctx)
		}
		if sdk.CategoryOf(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","category":"MISSING_SCOPES"}`))
	}))
	defer forbidden.Close()
	conn, _ := New().Open(ctx, config(forbidden.URL, "x"))
	if _, err := conn.Check(ctx); sdk.CategoryOf(err) != sdk.CategoryForbidden {
		t.Errorf("missing scopes: %v, want forbidden", err)
	}
	for _, bad := range []sdk.Config{
		{Settings: map[string]string{}, Secrets: map[string]string{}},
		config("ftp://x", "t"),
		config(url, "t", settingPerTenSeconds, "many"),
	} {
		if _, err := New().Open(ctx, bad); err == nil {
			t.Errorf("open %+v succeeded", bad)
		}
	}
}
