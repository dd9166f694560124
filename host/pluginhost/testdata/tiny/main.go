// Command tiny is a small connector for the plugin host's and CLI's tests:
// object "items" holds generated records; reading "boom" panics mid-stream.
// Name and version can be set at build time:
//
//	go build -ldflags "-X main.name=tiny -X main.version=1.2.0"
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

var (
	name    = "tiny"
	version = "1.0.0"
)

func main() {
	if os.Getenv("TINY_PANIC_AT_START") != "" {
		panic("tiny: cannot start: TINY_PANIC_AT_START is set")
	}
	sdk.Serve(connector{})
}

type connector struct{}

func (connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:        name,
		Version:     version,
		Description: "Test connector: generated items",
		Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{
			{Name: "username", Label: "Username", Required: true, Example: "admin"},
			{Name: "password", Label: "Password", Secret: true, Required: true},
		}},
		Settings: []sdk.ConfigField{
			{Name: "endpoint", Label: "Endpoint", Description: `"down" makes Check fail as unreachable, "hang" makes it wait`, Default: "local"},
			{Name: "account_file", Label: "Account file", Description: "file holding the account id"},
			{Name: "records", Label: "Records", Default: "10"},
		},
		Capabilities: []string{sdk.CapabilityLookup},
		Requirements: []string{"a test account with read access"},
	}, nil
}

func (connector) Open(_ context.Context, cfg sdk.Config) (sdk.Conn, error) {
	return &conn{cfg: cfg}, nil
}

type conn struct{ cfg sdk.Config }

func (c *conn) Close() error { return nil }

func (c *conn) Check(ctx context.Context) (sdk.Account, error) {
	sdk.Logger(ctx).Info("checking account", "username", c.cfg.Get("username"))
	if c.cfg.Get("endpoint") == "hang" { // an app that never answers
		<-ctx.Done()
		return sdk.Account{}, sdk.Errorf(sdk.CategoryUnreachable, "no answer: %v", ctx.Err())
	}
	if c.cfg.Get("endpoint") == "down" {
		return sdk.Account{}, sdk.Errorf(sdk.CategoryUnreachable, "dial tcp down.invalid:443: connection refused")
	}
	if c.cfg.Get("username") != "admin" || c.cfg.Get("password") != "s3cret" {
		return sdk.Account{}, sdk.Errorf(sdk.CategoryAuth, "invalid username or password")
	}
	account := "default"
	if f := c.cfg.Get("account_file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return sdk.Account{}, sdk.Errorf(sdk.CategoryUnreachable, "read account file: %v", err)
		}
		account = strings.TrimSpace(string(b))
	}
	return sdk.Account{Fingerprint: "tiny:" + account, Label: "admin on " + account}, nil
}

var fields = []sdk.Field{
	{Name: "id", Type: sdk.TypeString, ReadOnly: true, Unique: true},
	{Name: "title", Type: sdk.TypeString, Required: true, MaxLength: 80},
	{Name: "n", Type: sdk.TypeInteger},
}

func (c *conn) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{Objects: []sdk.ObjectType{
		{Name: "items", Label: "Items", Fields: fields},
		{Name: "boom", Label: "Items that crash the plugin when read", Fields: fields},
	}}, nil
}

func (c *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	n, err := strconv.Atoi(c.cfg.Get("records"))
	if err != nil {
		n = 10
	}
	if req.Object == "boom" {
		n = 2*sdk.BatchRecords + 1 // at least one full batch is on the wire before the panic
	} else if req.Object != "items" {
		return sdk.Errorf(sdk.CategoryNotFound, "no object %q", req.Object)
	}
	for i := range n {
		vals := make([]sdk.Value, len(req.Fields))
		for j, f := range req.Fields {
			switch f {
			case "id":
				vals[j] = sdk.String(fmt.Sprintf("i%d", i))
			case "title":
				vals[j] = sdk.String(fmt.Sprintf("item %d", i))
			case "n":
				vals[j] = sdk.Int(int64(i))
			}
		}
		if err := sink.Records([]sdk.Record{{ID: fmt.Sprintf("i%d", i), Version: "1", Values: vals}}); err != nil {
			return err
		}
	}
	if req.Object == "boom" {
		time.Sleep(300 * time.Millisecond) // let the batches already sent reach the host
		panic("boom: read exploded on purpose")
	}
	return nil
}

func (c *conn) Write(context.Context, sdk.WriteRequest) ([]sdk.WriteResult, error) {
	return nil, sdk.Errorf(sdk.CategoryPermanent, "tiny is read-only")
}

func (c *conn) Lookup(context.Context, sdk.LookupRequest) ([]sdk.Record, error) { return nil, nil }
