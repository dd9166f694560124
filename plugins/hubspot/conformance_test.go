package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// config reaches srv with its token; extra settings override the defaults.
func config(baseURL, token string, extra ...string) sdk.Config {
	cfg := sdk.Config{Settings: map[string]string{settingBaseURL: baseURL, settingSearchPerSecond: "50", settingPerTenSeconds: "2000"},
		Secrets: map[string]string{secretToken: token}}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg.Settings[extra[i]] = extra[i+1]
	}
	return cfg
}

func contactsHarness(c sdk.Connector, srv *hubspottest.Server, baseURL string) conformance.Harness {
	bad := config(baseURL, "not-the-token")
	return conformance.Harness{
		Connector: c,
		Config:    config(baseURL, srv.Token()),
		BadConfig: &bad,
		Object:    "contacts",
		NewRecord: newContact,
		Update: func(i int) map[string]sdk.Value {
			score, _ := sdk.Decimal(fmt.Sprintf("%d.25", i%500))
			return map[string]sdk.Value{
				"firstname":       sdk.String(fmt.Sprintf("Changed%d", i)),
				"lifecyclestage":  sdk.String("customer"),
				"favorite_colors": sdk.StringList("green"),
				"score":           score,
			}
		},
		Invalid:       map[string]sdk.Value{"email": sdk.String("not an email"), "firstname": sdk.String("X")},
		InvalidField:  "email",
		LookupField:   "email",
		UnicodeFields: []string{"firstname", "lastname", "company", "message"},
		NullFields: []string{"firstname", "lastname", "phone", "company", "lifecyclestage", "favorite_colors",
			"birthday", "last_meeting", "score", "newsletter_opt_in", "message"},
		Equal: func(field string, sent, stored sdk.Value) bool {
			if field == "email" {
				return strings.EqualFold(sent.Text(), stored.Text()) && stored.Kind == sdk.KindString
			}
			return sent.Equal(stored)
		},
	}
}

// newContact is a valid contact whose email and customer number are unique to i.
func newContact(i int) map[string]sdk.Value {
	score, _ := sdk.Decimal(fmt.Sprintf("%d.5", i%1000))
	return map[string]sdk.Value{
		"email":             sdk.String(fmt.Sprintf("person%d@example.com", i)),
		"firstname":         sdk.String(fmt.Sprintf("First%d", i)),
		"lastname":          sdk.String("Last"),
		"phone":             sdk.String(fmt.Sprintf("+1 555 %07d", i%10_000_000)),
		"company":           sdk.String("Acme"),
		"lifecyclestage":    sdk.String("lead"),
		"favorite_colors":   sdk.StringList("red", "blue"),
		"birthday":          sdk.Date(time.Date(1950+i%50, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC)),
		"last_meeting":      sdk.DateTime(time.UnixMilli(1_700_000_000_000 + int64(i)*1001).UTC()),
		"score":             score,
		"newsletter_opt_in": sdk.Bool(i%2 == 0),
		"customer_number":   sdk.String(fmt.Sprintf("C-%d", i)),
	}
}

// TestConformanceInProcess runs the SDK's suite against the connector as a
// Go value, talking HTTP to the contract server.
func TestConformanceInProcess(t *testing.T) {
	srv := hubspottest.New(hubspottest.Options{})
	conformance.Run(t, contactsHarness(New(), srv, srv.Start(t)))
}

// TestConformancePlugin builds the real binary and runs the suite through
// go-plugin, as the host will, against the contract server.
func TestConformancePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	rc := launch(t)
	srv := hubspottest.New(hubspottest.Options{})
	conformance.Run(t, contactsHarness(rc, srv, srv.Start(t)))
}

// launch builds and starts the plugin binary.
func launch(t *testing.T) *sdk.RemoteConnector {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-hubspot")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	rc, kill, err := sdk.LaunchPlugin(context.Background(), bin, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	return rc
}
