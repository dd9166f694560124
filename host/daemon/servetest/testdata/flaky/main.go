// Command flaky is a test connector whose first read panics: it creates the
// file named by its "marker" setting, then crashes; later launches read
// three contacts. It shows the daemon relaunching a crashed plugin.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/datasync-io/datasync/sdk"
)

func main() { sdk.Serve(connector{}) }

type connector struct{}

func (connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "flaky", Version: "1.0.0", Description: "Test connector: crashes on its first read",
		Settings: []sdk.ConfigField{{Name: "marker", Label: "Marker file", Required: true}}}, nil
}

func (connector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	return &conn{cfg: cfg}, nil
}

type conn struct{ cfg sdk.Config }

func (c *conn) Close() error { return nil }

func (c *conn) Check(context.Context) (sdk.Account, error) {
	return sdk.Account{Fingerprint: "flaky", Label: "flaky"}, nil
}

var fields = []sdk.Field{
	{Name: "email", Type: sdk.TypeEmail},
	{Name: "name", Type: sdk.TypeString},
}

func (c *conn) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Objects: []sdk.ObjectType{{Name: "contacts", Fields: fields, ReadOnly: true}}}, nil
}

func (c *conn) Read(_ context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	marker := c.cfg.Get("marker")
	if _, err := os.Stat(marker); err != nil {
		if err := os.WriteFile(marker, []byte("crashed once\n"), 0o600); err != nil {
			return err
		}
		panic("flaky: first read crashes on purpose")
	}
	var recs []sdk.Record
	for i := 1; i <= 3; i++ {
		vals := make([]sdk.Value, len(req.Fields))
		for j, f := range req.Fields {
			switch f {
			case "email":
				vals[j] = sdk.String(fmt.Sprintf("p%d@example.com", i))
			case "name":
				vals[j] = sdk.String(fmt.Sprintf("Person %d", i))
			}
		}
		recs = append(recs, sdk.Record{ID: fmt.Sprint(i), Version: "1", Values: vals})
	}
	return sink.Records(recs)
}

func (c *conn) Write(context.Context, sdk.WriteRequest) ([]sdk.WriteResult, error) {
	return nil, sdk.Errorf(sdk.CategoryPermanent, "flaky is read-only")
}

func (c *conn) Lookup(context.Context, sdk.LookupRequest) ([]sdk.Record, error) { return nil, nil }
