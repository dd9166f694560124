package cli

import (
	"context"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/sdk"
)

// progress is the line a run shows on a terminal: records read and written
// and the rate. It counts at the connections the engine is given, so the
// engine needs no hook of its own.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress {
	return &progress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) add(what string, n int) {
	p.bar.Describe(what)
	_ = p.bar.Add(n)
}

// done clears the line so the summary starts on a clean one.
func (p *progress) done() { _ = p.bar.Clear() }

// dialer wraps d so every connection it opens reports to p.
func (p *progress) dialer(d engine.Dialer) engine.Dialer {
	return func(ctx context.Context, name string) (engine.Conn, error) {
		c, err := d(ctx, name)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, name: name, p: p}, nil
	}
}

type countingConn struct {
	engine.Conn
	name string
	p    *progress
}

func (c *countingConn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	return c.Conn.Read(ctx, req, &countingSink{RecordSink: sink, what: "reading " + c.name + "/" + req.Object, p: c.p})
}

func (c *countingConn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	res, err := c.Conn.Write(ctx, req)
	c.p.add("writing "+c.name+"/"+req.Object, len(res))
	return res, err
}

type countingSink struct {
	sdk.RecordSink
	what string
	p    *progress
}

func (s *countingSink) Records(recs []sdk.Record) error {
	s.p.add(s.what, len(recs))
	return s.RecordSink.Records(recs)
}
