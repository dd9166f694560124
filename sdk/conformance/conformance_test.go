package conformance_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
	"github.com/datasync-io/datasync/sdk/memory"
	"github.com/datasync-io/datasync/sdk/memory/memorytest"
)

// broken wraps the memory connector, breaking one behaviour per case, so the
// suite can be shown to notice.
type broken struct {
	*memory.Connector
	conn func(sdk.Conn, sdk.Config) sdk.Conn
}

func (b broken) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	c, err := b.Connector.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return b.conn(c, cfg), nil
}

type conn struct {
	sdk.Conn
	read   func(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error
	write  func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error)
	lookup func(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error)
}

func (c conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if c.read != nil {
		return c.read(ctx, req, sink)
	}
	return c.Conn.Read(ctx, req, sink)
}

func (c conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	if c.write != nil {
		return c.write(ctx, req)
	}
	return c.Conn.Write(ctx, req)
}

func (c conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	if c.lookup != nil {
		return c.lookup(ctx, req)
	}
	return c.Conn.Lookup(ctx, req)
}

// filterSink passes on the records keep accepts.
type filterSink struct {
	sdk.RecordSink
	keep func(sdk.Record) bool
}

func (f filterSink) Records(recs []sdk.Record) error {
	var out []sdk.Record
	for _, r := range recs {
		if f.keep(r) {
			out = append(out, r)
		}
	}
	return f.RecordSink.Records(out)
}

// brokenCases maps a way of breaking the connector to the subtest that must
// then fail.
func brokenCases() map[string]struct {
	wrap func(sdk.Conn, sdk.Config) sdk.Conn
	fail string
} {
	type bc = struct {
		wrap func(sdk.Conn, sdk.Config) sdk.Conn
		fail string
	}
	return map[string]bc{
		"IgnoresIfVersion": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, write: func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
				for i := range req.Ops {
					req.Ops[i].IfVersion = ""
				}
				return c.Write(ctx, req)
			}}
		}, "Write/StaleVersion"},
		"LosesARecordInBigReads": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, read: func(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
				n := 0
				return c.Read(ctx, req, filterSink{sink, func(sdk.Record) bool { n++; return n != 2100 }})
			}}
		}, "Read/ManyRecords"},
		"NoTombstones": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, read: func(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
				return c.Read(ctx, req, filterSink{sink, func(r sdk.Record) bool { return !r.Deleted }})
			}}
		}, "Read/Incremental"},
		"IgnoresFieldOrder": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, read: func(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
				req.Fields = append(req.Fields[1:len(req.Fields):len(req.Fields)], req.Fields[0])
				return c.Read(ctx, req, sink)
			}}
		}, "Read/Full"},
		"NotFoundAsPermanent": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, write: func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
				res, err := c.Write(ctx, req)
				for i := range res {
					if res[i].Err != nil && res[i].Err.Category == sdk.CategoryNotFound {
						res[i].Err = sdk.Errorf(sdk.CategoryPermanent, "gone")
					}
				}
				return res, err
			}}
		}, "Write/Delete"},
		"NullStoredAsEmpty": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, write: func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
				for i, op := range req.Ops {
					for j, v := range op.Values {
						if v.IsNull() && op.Fields[j] != "tags" && op.Fields[j] != "lifecycle_stage" {
							req.Ops[i].Values[j] = sdk.String("")
						}
					}
				}
				return c.Write(ctx, req)
			}}
		}, "Values/RoundTrip"},
		"LookupFindsEverything": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, lookup: func(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
				col, err := conformance.ReadAll(ctx, c, sdk.ReadRequest{Object: req.Object, Fields: req.Fields})
				return col.All, err
			}}
		}, "Lookup"},
		"AppliesInvalidOps": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, write: func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
				for i, op := range req.Ops {
					for j, f := range op.Fields {
						if f == "email" && op.Values[j].Str == "not an email" {
							req.Ops[i].Values[j] = sdk.String("fixed@example.com")
						}
					}
				}
				return c.Write(ctx, req)
			}}
		}, "Write/MixedBatch"},
		"OneMarkForEveryWrite": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, write: func(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
				res, err := c.Write(ctx, req)
				for i := range res {
					if res[i].Mark != "" {
						res[i].Mark = "mem:0-999999"
					}
				}
				return res, err
			}}
		}, "Read/SkipMarks"},
		"SkippingReadKeepsItsCursor": {func(c sdk.Conn, _ sdk.Config) sdk.Conn {
			return conn{Conn: c, read: func(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
				if len(req.Skip) == 0 {
					return c.Read(ctx, req, sink)
				}
				return c.Read(ctx, req, stuckSink{sink, req.Cursor})
			}}
		}, "Read/SkipMarks"},
		"AcceptsAnyToken": {func(c sdk.Conn, cfg sdk.Config) sdk.Conn {
			if cfg.Secrets["token"] != "secret" {
				return conn{Conn: &okCheck{c}}
			}
			return c
		}, "Check/Bad"},
	}
}

// stuckSink checkpoints at the cursor the read started from.
type stuckSink struct {
	sdk.RecordSink
	cursor string
}

func (s stuckSink) Checkpoint(string) error { return s.RecordSink.Checkpoint(s.cursor) }

type okCheck struct{ sdk.Conn }

func (okCheck) Check(context.Context) (sdk.Account, error) { return sdk.Account{Fingerprint: "x"}, nil }

// TestBroken runs the suite against each broken connector; it fails by
// design, so it only runs inside TestSuiteNoticesBrokenConnectors.
func TestBroken(t *testing.T) {
	if os.Getenv("CONFORMANCE_BROKEN") != "1" {
		t.Skip("runs only as the child of TestSuiteNoticesBrokenConnectors")
	}
	for name, bc := range brokenCases() {
		t.Run(name, func(t *testing.T) {
			conformance.Run(t, memorytest.Harness(broken{memory.New(), bc.wrap}, nil))
		})
	}
}

func TestSuiteNoticesBrokenConnectors(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBroken$", "-test.v")
	cmd.Env = append(os.Environ(), "CONFORMANCE_BROKEN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed every broken connector:\n%s", out)
	}
	for name, bc := range brokenCases() {
		if want := "--- FAIL: TestBroken/" + name + "/" + bc.fail + " "; !strings.Contains(string(out), want) {
			t.Errorf("connector %s: subtest %s did not fail", name, bc.fail)
		}
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out)
	}
}

// The unbroken reference passes: the cases above fail for their breakage.
func TestReferencePasses(t *testing.T) {
	conformance.Run(t, memorytest.Harness(broken{memory.New(), func(c sdk.Conn, _ sdk.Config) sdk.Conn { return conn{Conn: c} }}, nil))
}
