package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// RemoteConnector is a connector plugin seen from the host: it implements
// Connector, so code written against Connector runs in-process or over the
// wire unchanged.
type RemoteConnector struct {
	client pb.ConnectorClient
}

// Describe asks the plugin who it is.
func (r *RemoteConnector) Describe(ctx context.Context) (Description, error) {
	resp, err := r.client.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, fromStatus("describe", err)
	}
	return descriptionFromPB(resp), nil
}

// Open returns a connection that sends cfg with every call; it does no I/O.
func (r *RemoteConnector) Open(_ context.Context, cfg Config) (Conn, error) {
	return &remoteConn{client: r.client, cfg: configToPB(cfg)}, nil
}

// fromStatus turns a gRPC error back into the connector's *Error; transport
// failures (the plugin died, the call was cancelled) get their own category.
func fromStatus(what string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	for _, d := range st.Details() {
		if pe, ok := d.(*pb.Error); ok {
			return errorFromPB(pe)
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", what, context.Canceled)
	case codes.Unavailable:
		return &Error{Category: CategoryTransient, Message: what + ": plugin unavailable: " + st.Message()}
	case codes.ResourceExhausted:
		return &Error{Category: CategoryPermanent, Message: what + ": message too large: " + st.Message()}
	}
	return &Error{Category: CategoryPermanent, Message: what + ": " + st.Message()}
}

type remoteConn struct {
	client pb.ConnectorClient
	cfg    *pb.Config
}

func (c *remoteConn) Close() error { return nil }

func (c *remoteConn) Check(ctx context.Context) (Account, error) {
	resp, err := c.client.Check(ctx, &pb.CheckRequest{Config: c.cfg})
	if err != nil {
		return Account{}, fromStatus("check", err)
	}
	if resp.Error != nil {
		return Account{}, errorFromPB(resp.Error)
	}
	return Account{Fingerprint: resp.AccountFingerprint, Label: resp.AccountLabel}, nil
}

func (c *remoteConn) Schema(ctx context.Context) (Schema, error) {
	resp, err := c.client.Schema(ctx, &pb.SchemaRequest{Config: c.cfg})
	if err != nil {
		return Schema{}, fromStatus("schema", err)
	}
	return schemaFromPB(resp), nil
}

// Read streams records into sink. When req.Fields is empty the values come in
// the object's schema order.
func (c *remoteConn) Read(ctx context.Context, req ReadRequest, sink RecordSink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Read(ctx, &pb.ReadRequest{Config: c.cfg, Object: req.Object, Cursor: req.Cursor, Fields: req.Fields, Skip: req.Skip,
		DigestBuckets: uint32(req.DigestBuckets), Buckets: wireBuckets(req.Buckets)})
	if err != nil {
		return fromStatus("read "+req.Object, err)
	}
	nfields := len(req.Fields)
	for first := true; ; first = false {
		msg := &readMsg{nfields: nfields}
		err := stream.RecvMsg(msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromStatus("read "+req.Object, err)
		}
		if first && len(req.Fields) > 0 && len(msg.fields) != len(req.Fields) {
			return Errorf(CategoryPermanent, "read %s: plugin sent %d fields, asked for %d", req.Object, len(msg.fields), len(req.Fields))
		}
		if first {
			nfields = len(msg.fields)
		}
		if len(msg.recs) > 0 {
			if err := sink.Records(msg.recs); err != nil {
				return err
			}
		}
		if msg.digests != nil {
			if req.Digests == nil || len(msg.digests) != req.DigestBuckets {
				return Errorf(CategoryPermanent, "read %s: plugin sent %d digests, asked for %d", req.Object, len(msg.digests), req.DigestBuckets)
			}
			if err := req.Digests(msg.digests); err != nil {
				return err
			}
		}
		if msg.cursor != "" {
			if err := sink.Checkpoint(msg.cursor); err != nil {
				return err
			}
		}
	}
}

// Watch streams the plugin's notices into sink (Watcher); it returns nil
// when ctx is done. A plugin that does not watch answers with a permanent
// error.
func (c *remoteConn) Watch(ctx context.Context, objects []string, sink WatchSink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Watch(ctx, &pb.WatchRequest{Config: c.cfg, Objects: objects})
	if err != nil {
		return fromStatus("watch", err)
	}
	for {
		m, err := stream.Recv()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			return Errorf(CategoryTransient, "watch: the plugin ended the stream")
		case err != nil:
			return fromStatus("watch", err)
		case m.Object == "":
			err = sink.Ready()
		default:
			err = sink.Changed(m.Object)
		}
		if err != nil {
			return err
		}
	}
}

// Write sends req's ops in wire batches on one stream without waiting for
// each batch's results (acks are windowed by gRPC flow control), then
// collects one result per op. A stream error fails the ops not yet answered.
func (c *remoteConn) Write(ctx context.Context, req WriteRequest) ([]WriteResult, error) {
	if len(req.Ops) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Write(ctx)
	if err != nil {
		return nil, fromStatus("write "+req.Object, err)
	}
	if err := stream.Send(&pb.WriteRequest{Msg: &pb.WriteRequest_Header{Header: &pb.WriteHeader{
		Config: c.cfg, Object: req.Object, Fields: req.Fields}}}); err != nil {
		return nil, fromStatus("write "+req.Object, err)
	}
	index := make(map[string]uint32, len(req.Fields))
	for i, f := range req.Fields {
		index[f] = uint32(i)
	}
	results := make([]WriteResult, len(req.Ops))
	batches, refused := splitOps(req.Ops, index)
	for i, msg := range refused {
		results[i] = WriteResult{CorrelationID: req.Ops[i].CorrelationID, ID: req.Ops[i].ID, Err: msg}
	}

	sendErr := make(chan error, 1)
	go func() {
		for _, b := range batches {
			if err := stream.SendMsg(&rawMessage{b: b.msg}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	for _, b := range batches {
		resp := &writeRespMsg{}
		if err := stream.RecvMsg(resp); err != nil {
			return nil, fromStatus("write "+req.Object, err)
		}
		if len(resp.results) != len(b.opIndex) {
			return nil, Errorf(CategoryPermanent, "write %s: plugin returned %d results for %d ops", req.Object, len(resp.results), len(b.opIndex))
		}
		for j := range resp.results {
			results[b.opIndex[j]] = resp.results[j]
		}
	}
	if err := <-sendErr; err != nil && !errors.Is(err, io.EOF) {
		return nil, fromStatus("write "+req.Object, err)
	}
	return results, nil
}

type wireBatch struct {
	msg     []byte // the WriteRequest holding the batch, encoded
	opIndex []int  // position of each op in the request
}

// splitOps cuts ops into wire batches of at most BatchRecords ops and about
// BatchBytes bytes. An op that cannot be sent (too large for one message, or
// naming a field outside the request's) gets an error of its own instead of
// being dropped.
func splitOps(ops []Op, index map[string]uint32) ([]wireBatch, map[int]*Error) {
	var out []wireBatch
	refused := map[int]*Error{}
	var cur wireBatch
	bytes := 0
	var idx []uint32
	finish := func() {
		cur.msg = frame(cur.msg, 2) // WriteRequest.batch
		out = append(out, cur)
		cur, bytes = wireBatch{}, 0
	}
	for i := range ops {
		op := &ops[i]
		size := len(op.ID) + len(op.CorrelationID) + len(op.IfVersion) + 16
		for j := range op.Values {
			size += approxValueSize(&op.Values[j])
		}
		if size > MaxMessageBytes/2 {
			refused[i] = Errorf(CategoryValidation, "record is about %d bytes, over the %d-byte message limit", size, MaxMessageBytes/2)
			continue
		}
		if f, ok := unknownField(op.Fields, index); ok {
			refused[i] = FieldError(f, "field %q is not in the write request's field list", f)
			continue
		}
		if op.Kind != OpDelete && len(op.Values) != len(op.Fields) {
			refused[i] = Errorf(CategoryPermanent, "op has %d values for %d fields", len(op.Values), len(op.Fields))
			continue
		}
		if len(cur.opIndex) >= BatchRecords || (bytes+size > BatchBytes && len(cur.opIndex) > 0) {
			finish()
		}
		if cur.msg == nil {
			cur.msg = make([]byte, frameReserve, frameReserve+min(BatchBytes, (len(ops)-i)*(size+size/4)))
		}
		idx = idx[:0]
		if !sameFields(op.Fields, index) {
			for _, f := range op.Fields {
				idx = append(idx, index[f])
			}
		}
		cur.msg = appendWriteOp(cur.msg, op, idx)
		cur.opIndex = append(cur.opIndex, i)
		bytes += size
	}
	if len(cur.opIndex) > 0 {
		finish()
	}
	return out, refused
}

func unknownField(fields []string, index map[string]uint32) (string, bool) {
	for _, f := range fields {
		if _, ok := index[f]; !ok {
			return f, true
		}
	}
	return "", false
}

// sameFields reports whether fields is exactly the header's list, so the op
// can omit its field indexes.
func sameFields(fields []string, index map[string]uint32) bool {
	if len(fields) != len(index) {
		return false
	}
	for i, f := range fields {
		if j, ok := index[f]; !ok || int(j) != i {
			return false
		}
	}
	return true
}

func (c *remoteConn) Lookup(ctx context.Context, req LookupRequest) ([]Record, error) {
	p := &pb.LookupRequest{Config: c.cfg, Object: req.Object, Field: req.Field, Fields: req.Fields}
	p.Values = valuesToPB(req.Values, make([]pb.Value, len(req.Values)))
	resp, err := c.client.Lookup(ctx, p)
	if err != nil {
		return nil, fromStatus("lookup "+req.Object, err)
	}
	return recordsFromPB(resp.Records), nil
}
