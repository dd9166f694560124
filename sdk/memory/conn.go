package memory

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// conn is one opened config: it shares the Connector's dataset and adds what
// the config says (token accepted, object types, batch size).
type conn struct {
	c       *Connector
	tokenOK bool
	objects map[string]bool
	order   []string
	batch   int
}

var _ sdk.Conn = (*conn)(nil)

// begin checks credentials and the failer; every call starts with it, as an
// app refuses any request with a bad token.
func (cn *conn) begin(op string) error {
	if !cn.tokenOK {
		return sdk.Errorf(sdk.CategoryAuth, "token refused")
	}
	return cn.c.failure(op)
}

func (cn *conn) object(name string) error {
	if !cn.objects[name] {
		return sdk.Errorf(sdk.CategoryNotFound, "no object type %q", name)
	}
	return nil
}

func (cn *conn) Check(ctx context.Context) (sdk.Account, error) {
	if err := cn.begin("check"); err != nil {
		return sdk.Account{}, fmt.Errorf("check: %w", err)
	}
	c := cn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refresh(); err != nil {
		return sdk.Account{}, fmt.Errorf("check: %w", err)
	}
	where := "in process"
	if c.path != "" {
		where = c.path
	}
	return sdk.Account{Fingerprint: "memory:" + c.data.account, Label: "memory dataset " + c.data.account + " (" + where + ")"}, nil
}

func (cn *conn) Schema(ctx context.Context) (sdk.Schema, error) {
	if err := cn.begin("schema"); err != nil {
		return sdk.Schema{}, fmt.Errorf("schema: %w", err)
	}
	var s sdk.Schema
	for _, name := range cn.order {
		s.Objects = append(s.Objects, objectType(name))
	}
	return s, nil
}

func (cn *conn) fields(req []string) ([]string, error) {
	if len(req) == 0 {
		return cn.c.schema.names(), nil
	}
	return req, cn.c.schema.checkFields(req)
}

// Read takes a consistent snapshot under the lock, then hands it over in
// batches without holding the lock (a sink may block on the network).
func (cn *conn) Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error {
	if err := cn.begin("read"); err != nil {
		return fmt.Errorf("read %s: %w", req.Object, err)
	}
	if err := cn.object(req.Object); err != nil {
		return fmt.Errorf("read %s: %w", req.Object, err)
	}
	fields, err := cn.fields(req.Fields)
	if err != nil {
		return fmt.Errorf("read %s: %w", req.Object, err)
	}
	var after uint64
	if req.Cursor != "" {
		if after, err = strconv.ParseUint(req.Cursor, 10, 64); err != nil {
			return fmt.Errorf("read %s: %w", req.Object, sdk.Errorf(sdk.CategoryPermanent, "cursor %q is not a memory cursor", req.Cursor))
		}
	}
	c := cn.c
	c.mu.Lock()
	if err := c.refresh(); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("read %s: %w", req.Object, err)
	}
	if after > c.data.seq {
		c.mu.Unlock()
		// The data was replaced by older or other data: reading on would
		// silently miss changes.
		return fmt.Errorf("read %s: %w", req.Object, sdk.Errorf(sdk.CategoryPermanent,
			"cursor %d is ahead of the data (seq %d): the data was reset; do a full read", after, c.data.seq))
	}
	recs := c.data.object(req.Object).changedSince(after, req.Cursor == "")
	var skip []seqRange
	if req.Cursor != "" {
		skip = parseMarks(req.Skip)
	}
	out := make([]sdk.Record, 0, len(recs))
	seqs := make([]uint64, 0, len(recs)) // of out's records, in order
	for _, r := range recs {
		if !inRanges(skip, r.seq) {
			out = append(out, r.sdkRecord(fields))
			seqs = append(seqs, r.seq)
		}
	}
	cursor := strconv.FormatUint(c.data.seq, 10)
	c.mu.Unlock()

	for len(out) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", req.Object, err)
		}
		if err := c.failure("read.batch"); err != nil {
			return fmt.Errorf("read %s: %w", req.Object, err)
		}
		n := min(cn.batch, len(out))
		if err := sink.Records(out[:n]); err != nil {
			return fmt.Errorf("read %s: %w", req.Object, err)
		}
		out = out[n:]
		if req.Cursor != "" && len(out) > 0 {
			// Records go in seq order: reading on from the last one's seq
			// resumes here, as a paged incremental read of an app does.
			if err := sink.Checkpoint(strconv.FormatUint(seqs[n-1], 10)); err != nil {
				return fmt.Errorf("read %s: checkpoint: %w", req.Object, err)
			}
		}
		seqs = seqs[n:]
	}
	if err := sink.Checkpoint(cursor); err != nil {
		return fmt.Errorf("read %s: checkpoint: %w", req.Object, err)
	}
	return nil
}

// Write applies each op on its own (a failing op leaves the others alone) and
// saves the data file once for the batch. If saving fails, the batch is
// undone by reloading the file, and the error fails the whole batch.
func (cn *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	if err := cn.begin("write"); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Object, err)
	}
	if err := cn.object(req.Object); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Object, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Object, err)
	}
	c := cn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refresh(); err != nil {
		return nil, fmt.Errorf("write %s: %w", req.Object, err)
	}
	o := c.data.object(req.Object)
	results := make([]sdk.WriteResult, len(req.Ops))
	changed := false
	// The lock is held throughout, so this write's changes are exactly the
	// seqs after first: that range is the mark its echoes are known by.
	first := c.data.seq
	for i, op := range req.Ops {
		res := &results[i]
		res.CorrelationID = op.CorrelationID
		res.ID = op.ID
		if err := c.ask(c.fail, "write."+op.Kind.String()); err != nil {
			res.Err = sdk.AsError(err)
			continue
		}
		r, err := c.applyOp(o, op)
		if err != nil {
			res.Err = err
			continue
		}
		changed = true
		res.ID, res.Version, res.ModifiedAt = r.id, r.version(), r.modifiedAt
		if !r.deleted && len(req.Fields) > 0 {
			res.Values = r.values(req.Fields)
		}
	}
	if changed {
		if err := c.save(); err != nil {
			return nil, fmt.Errorf("write %s: %w", req.Object, err)
		}
		mark := seqRange{first, c.data.seq}.mark()
		for i := range results {
			if results[i].Err == nil {
				results[i].Mark = mark
			}
		}
	}
	return results, nil
}

// applyOp runs one op against o; c.mu is held.
func (c *Connector) applyOp(o *objectStore, op sdk.Op) (*record, *sdk.Error) {
	switch op.Kind {
	case sdk.OpCreate:
		ch := change{fields: op.Fields, values: op.Values}
		if err := o.check(c.schema, ch, ""); err != nil {
			return nil, err
		}
		return c.data.apply(c.schema, o, nil, ch, c.now()), nil
	case sdk.OpUpdate, sdk.OpDelete:
		r, err := o.live(op.ID)
		if err != nil {
			return nil, err
		}
		if op.IfVersion != "" && op.IfVersion != r.version() {
			return nil, sdk.Errorf(sdk.CategoryConflict, "record %s is at version %s, not %s", r.id, r.version(), op.IfVersion)
		}
		if op.Kind == sdk.OpDelete {
			c.data.remove(c.schema, o, r, c.now())
			return r, nil
		}
		ch := change{fields: op.Fields, values: op.Values}
		if err := o.check(c.schema, ch, r.id); err != nil {
			return nil, err
		}
		return c.data.apply(c.schema, o, r, ch, c.now()), nil
	}
	return nil, sdk.Errorf(sdk.CategoryValidation, "unknown op kind %d", op.Kind)
}

// Lookup compares emails as the unique index does (case-folded) and
// every other field exactly, and ids when Field is empty; tombstones are
// never found.
func (cn *conn) Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error) {
	if err := cn.begin("lookup"); err != nil {
		return nil, fmt.Errorf("lookup %s.%s: %w", req.Object, req.Field, err)
	}
	if err := cn.object(req.Object); err != nil {
		return nil, fmt.Errorf("lookup %s.%s: %w", req.Object, req.Field, err)
	}
	fields, err := cn.fields(req.Fields)
	if err == nil && req.Field != "" {
		err = cn.c.schema.checkFields([]string{req.Field})
	}
	if err != nil {
		return nil, fmt.Errorf("lookup %s.%s: %w", req.Object, req.Field, err)
	}
	c := cn.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refresh(); err != nil {
		return nil, fmt.Errorf("lookup %s.%s: %w", req.Object, req.Field, err)
	}
	var out []sdk.Record
	for _, r := range c.data.object(req.Object).changedSince(0, true) {
		have := r.fields[req.Field]
		if req.Field == "" {
			have = sdk.String(r.id)
		}
		for _, want := range req.Values {
			if matches(req.Field, have, want) {
				out = append(out, r.sdkRecord(fields))
				break
			}
		}
	}
	return out, nil
}

func matches(field string, have, want sdk.Value) bool {
	if want.IsNull() {
		return false // null finds nothing: it identifies no record
	}
	if field == FieldEmail {
		k := uniqueKey(field, want)
		return k != "" && k == uniqueKey(field, have)
	}
	return have.Equal(want)
}

func (cn *conn) Close() error { return nil }

// seqRange is the seqs (from, to] of one write's changes.
type seqRange struct{ from, to uint64 }

const markPrefix = "mem:"

func (r seqRange) mark() string {
	return markPrefix + strconv.FormatUint(r.from, 10) + "-" + strconv.FormatUint(r.to, 10)
}

// parseMarks reads the marks this connector made; others are ignored, which
// only means their records are read.
func parseMarks(marks []string) []seqRange {
	var out []seqRange
	for _, m := range marks {
		from, to, ok := strings.Cut(strings.TrimPrefix(m, markPrefix), "-")
		a, err1 := strconv.ParseUint(from, 10, 64)
		b, err2 := strconv.ParseUint(to, 10, 64)
		if ok && strings.HasPrefix(m, markPrefix) && err1 == nil && err2 == nil && a < b {
			out = append(out, seqRange{a, b})
		}
	}
	return out
}

func inRanges(rs []seqRange, seq uint64) bool {
	for _, r := range rs {
		if seq > r.from && seq <= r.to {
			return true
		}
	}
	return false
}
