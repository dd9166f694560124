package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// maxOpenConns bounds the per-config connection cache: a plugin serves one or
// two connections at a time, and a refreshed token opens a new one.
const maxOpenConns = 4

// server carries the boilerplate between the wire and a vendor's Connector:
// config validation, a connection cache, batching and error mapping.
type server struct {
	pb.UnimplementedConnectorServer
	impl   Connector
	logger hclog.Logger

	mu    sync.Mutex
	conns map[string]*cachedConn
	order []string // cache keys, oldest first
	desc  *Description
}

type cachedConn struct {
	conn Conn
}

func newServer(impl Connector, logger hclog.Logger) *server {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &server{impl: impl, logger: logger, conns: map[string]*cachedConn{}}
}

func (s *server) ctx(ctx context.Context) context.Context { return WithLogger(ctx, s.logger) }

func (s *server) description(ctx context.Context) (Description, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.desc != nil {
		return *s.desc, nil
	}
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return Description{}, err
	}
	d.ProtocolMajor = ProtocolMajor
	s.desc = &d
	return d, nil
}

func configKey(c Config) string {
	h := sha256.New()
	for _, m := range []map[string]string{c.Settings, c.Secrets} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(m[k]), m[k])
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// open returns a connection for cfg, validated and with defaults applied,
// reusing an open one for the same config.
func (s *server) open(ctx context.Context, p *pb.Config) (Conn, error) {
	d, err := s.description(ctx)
	if err != nil {
		return nil, err
	}
	cfg := d.WithDefaults(configFromPB(p))
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	key := configKey(cfg)
	s.mu.Lock()
	if c, ok := s.conns[key]; ok {
		s.mu.Unlock()
		return c.conn, nil
	}
	s.mu.Unlock()
	conn, err := s.impl.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[key]; ok { // opened concurrently: keep the first
		_ = conn.Close()
		return c.conn, nil
	}
	s.conns[key] = &cachedConn{conn: conn}
	s.order = append(s.order, key)
	if len(s.order) > maxOpenConns {
		old := s.order[0]
		s.order = s.order[1:]
		// Closing under the lock is rare (cache full) and keeps it simple.
		_ = s.conns[old].conn.Close()
		delete(s.conns, old)
	}
	return conn, nil
}

// toStatus maps a connector's error onto a gRPC status carrying the *Error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	e := AsError(err)
	code := codes.Unknown
	switch e.Category {
	case CategoryValidation:
		code = codes.InvalidArgument
	case CategoryNotFound:
		code = codes.NotFound
	case CategoryConflict, CategoryDuplicate:
		code = codes.Aborted
	case CategoryRateLimited:
		code = codes.ResourceExhausted
	case CategoryAuth:
		code = codes.Unauthenticated
	case CategoryForbidden:
		code = codes.PermissionDenied
	case CategoryTransient, CategoryUnreachable:
		code = codes.Unavailable
	case CategoryPermanent:
		code = codes.FailedPrecondition
	}
	st, derr := status.New(code, e.Error()).WithDetails(errorToPB(e))
	if derr != nil {
		return status.Error(code, e.Error())
	}
	return st.Err()
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.description(s.ctx(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	return descriptionToPB(d), nil
}

func (s *server) Check(ctx context.Context, req *pb.CheckRequest) (*pb.CheckResponse, error) {
	ctx = s.ctx(ctx)
	conn, err := s.open(ctx, req.Config)
	if err != nil {
		return &pb.CheckResponse{Error: errorToPB(AsError(err))}, nil
	}
	acct, err := conn.Check(ctx)
	if err != nil {
		return &pb.CheckResponse{Error: errorToPB(AsError(err))}, nil
	}
	return &pb.CheckResponse{AccountFingerprint: acct.Fingerprint, AccountLabel: acct.Label}, nil
}

func (s *server) Schema(ctx context.Context, req *pb.SchemaRequest) (*pb.SchemaResponse, error) {
	ctx = s.ctx(ctx)
	conn, err := s.open(ctx, req.Config)
	if err != nil {
		return nil, toStatus(err)
	}
	sch, err := conn.Schema(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return schemaToPB(sch), nil
}

// fieldsOf resolves an empty field list to every field of the object, in
// schema order: the rule both ends of the wire rely on.
func fieldsOf(ctx context.Context, conn Conn, object string, fields []string) ([]string, error) {
	if len(fields) > 0 {
		return fields, nil
	}
	sch, err := conn.Schema(ctx)
	if err != nil {
		return nil, err
	}
	o, ok := sch.Object(object)
	if !ok {
		return nil, Errorf(CategoryNotFound, "no object type %q", object)
	}
	return o.FieldNames(), nil
}

func (s *server) Read(req *pb.ReadRequest, stream pb.Connector_ReadServer) error {
	ctx := s.ctx(stream.Context())
	conn, err := s.open(ctx, req.Config)
	if err != nil {
		return toStatus(err)
	}
	fields, err := fieldsOf(ctx, conn, req.Object, req.Fields)
	if err != nil {
		return toStatus(err)
	}
	if req.DigestBuckets > 0 && len(req.Buckets) == 0 {
		d, cursor, err := ReadDigest(ctx, conn, ReadRequest{Object: req.Object, Fields: fields, Cursor: req.Cursor, DigestBuckets: int(req.DigestBuckets)})
		if err != nil {
			return toStatus(err)
		}
		sink := &readSink{send: func(b []byte) error { return stream.SendMsg(&rawMessage{b: b}) }, fields: fields}
		return toStatus(sink.digests(d, cursor))
	}
	out := newSendPipe(func(b []byte) error { return stream.SendMsg(&rawMessage{b: b}) })
	sink := &readSink{send: out.send, fields: fields}
	rreq, rsink := ReadRequest{Object: req.Object, Cursor: req.Cursor, Fields: fields, Skip: req.Skip}, RecordSink(sink)
	if req.DigestBuckets > 0 {
		// A full read of some digest buckets' records: filtered here.
		rreq.DigestBuckets, rreq.Buckets = int(req.DigestBuckets), intBuckets(req.Buckets)
		rreq, rsink = bucketRead(rreq, sink)
	}
	err = conn.Read(ctx, rreq, rsink)
	if err == nil {
		err = sink.flush("")
	}
	if serr := out.close(); err == nil && serr != nil {
		return serr // the stream's own error, as SendMsg gave it
	}
	return toStatus(err)
}

// sendPipe sends messages on another goroutine, one at a time and in order,
// so that the connector reads and encodes the next batch while gRPC flow
// control holds the last one. At most one message waits besides the one
// being sent.
type sendPipe struct {
	ch   chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error // the first send error; nothing is sent after it
}

func newSendPipe(send func([]byte) error) *sendPipe {
	p := &sendPipe{ch: make(chan []byte, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for b := range p.ch {
			if p.failed() != nil {
				continue
			}
			if err := send(b); err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *sendPipe) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// send queues b; it fails once an earlier send has.
func (p *sendPipe) send(b []byte) error {
	if err := p.failed(); err != nil {
		return err
	}
	p.ch <- b
	return nil
}

// close waits for every queued message to be sent and returns the first
// send error.
func (p *sendPipe) close() error {
	close(p.ch)
	<-p.done
	return p.err
}

// readSink re-batches what a connector reads into messages of at most
// BatchRecords records and about BatchBytes bytes, encoding each record
// straight into the message's bytes.
type readSink struct {
	send    func([]byte) error
	fields  []string
	started bool
	buf     []byte // the message being built; nil: none
	n       int    // records in buf
	last    int    // size of the last message sent, for sizing the next
}

func (w *readSink) Records(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if len(r.Values) != len(w.fields) && !r.Deleted {
			return Errorf(CategoryPermanent, "record %s has %d values for %d fields", r.ID, len(r.Values), len(w.fields))
		}
		size := sizeRecord(r)
		if size > MaxMessageBytes/2 {
			return Errorf(CategoryPermanent, "record %s is about %d bytes, over the %d-byte message limit", r.ID, size, MaxMessageBytes/2)
		}
		if w.n >= BatchRecords || (w.n > 0 && len(w.buf)+size > BatchBytes) {
			if err := w.flush(""); err != nil {
				return err
			}
		}
		w.begin()
		w.buf = appendRecord(w.buf, 2, r)
		w.n++
	}
	return nil
}

// begin starts a message; the first of the stream names the fields.
func (w *readSink) begin() {
	if w.buf != nil {
		return
	}
	w.buf = make([]byte, 0, max(4096, w.last+w.last/8))
	if !w.started {
		for _, f := range w.fields {
			w.buf = protowire.AppendString(protowire.AppendTag(w.buf, 1, protowire.BytesType), f)
		}
		w.started = true
	}
}

func (w *readSink) Checkpoint(cursor string) error { return w.flush(cursor) }

// digests sends a digest read's result: one message with the sums (packed
// fields 4 and 5) and the cursor.
func (w *readSink) digests(d []Digest, cursor string) error {
	w.begin()
	sums := make([]byte, 0, 8*len(d))
	var counts []byte
	for _, x := range d {
		sums = protowire.AppendFixed64(sums, x.Sum)
		counts = protowire.AppendVarint(counts, x.Count)
	}
	w.buf = protowire.AppendBytes(protowire.AppendTag(w.buf, 4, protowire.BytesType), sums)
	w.buf = protowire.AppendBytes(protowire.AppendTag(w.buf, 5, protowire.BytesType), counts)
	return w.flush(cursor)
}

func (w *readSink) flush(cursor string) error {
	if w.n == 0 && cursor == "" && w.started {
		return nil
	}
	w.begin()
	b := appendString(w.buf, 3, cursor)
	w.buf, w.n, w.last = nil, 0, len(b)
	return w.send(b)
}

// wireSink re-batches what a connector reads into messages of at most
// BatchRecords records and about BatchBytes bytes.
type wireSink struct {
	send    func(*pb.ReadResponse) error
	fields  []string
	started bool
	pending []*pb.Record
	bytes   int
}

func (w *wireSink) Records(recs []Record) error {
	for i := range recs {
		r := &recs[i]
		if len(r.Values) != len(w.fields) && !r.Deleted {
			return Errorf(CategoryPermanent, "record %s has %d values for %d fields", r.ID, len(r.Values), len(w.fields))
		}
		size := len(r.ID) + len(r.Version) + 16
		for j := range r.Values {
			size += approxValueSize(&r.Values[j])
		}
		if size > MaxMessageBytes/2 {
			return Errorf(CategoryPermanent, "record %s is about %d bytes, over the %d-byte message limit", r.ID, size, MaxMessageBytes/2)
		}
		if len(w.pending) >= BatchRecords || (w.bytes+size > BatchBytes && len(w.pending) > 0) {
			if err := w.flush(""); err != nil {
				return err
			}
		}
		slab := make([]pb.Value, len(r.Values))
		w.pending = append(w.pending, &pb.Record{Id: r.ID, Version: r.Version, ModifiedAtUs: timeToMicros(r.ModifiedAt),
			Deleted: r.Deleted, Values: valuesToPB(r.Values, slab)})
		w.bytes += size
	}
	return nil
}

func (w *wireSink) Checkpoint(cursor string) error { return w.flush(cursor) }

func (w *wireSink) flush(cursor string) error {
	if len(w.pending) == 0 && cursor == "" && w.started {
		return nil
	}
	msg := &pb.ReadResponse{Records: w.pending, Cursor: cursor}
	if !w.started {
		msg.Fields = w.fields
		w.started = true
	}
	w.pending, w.bytes = nil, 0
	return w.send(msg)
}

func (s *server) Write(stream pb.Connector_WriteServer) error {
	ctx := s.ctx(stream.Context())
	first := &writeReqMsg{}
	if err := stream.RecvMsg(first); err != nil {
		return err
	}
	h := first.header
	if h == nil {
		return status.Error(codes.InvalidArgument, "write stream must start with a header")
	}
	conn, err := s.open(ctx, h.Config)
	if err != nil {
		return toStatus(err)
	}
	// The next batch is received and decoded while the connector writes
	// this one: batches are still applied one at a time, in order.
	type received struct {
		msg *writeReqMsg
		err error
	}
	in := make(chan received, 1)
	done := make(chan struct{})
	defer close(done) // a receive still in progress ends with the call
	go func() {
		for {
			msg := &writeReqMsg{req: WriteRequest{Object: h.Object, Fields: h.Fields}}
			err := stream.RecvMsg(msg)
			select {
			case in <- received{msg, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		r := <-in
		msg, err := r.msg, r.err
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !msg.batch {
			return status.Error(codes.InvalidArgument, "write stream: expected a batch after the header")
		}
		if msg.bad != nil {
			return toStatus(msg.bad)
		}
		req := msg.req
		results, err := conn.Write(ctx, req)
		if err != nil {
			return toStatus(err)
		}
		if len(results) != len(req.Ops) {
			return toStatus(Errorf(CategoryPermanent, "connector returned %d results for %d ops", len(results), len(req.Ops)))
		}
		if err := stream.SendMsg(&rawMessage{b: encodeResults(results, req)}); err != nil {
			return err
		}
	}
}

// encodeResults is resultsToPB's WriteResponse, encoded.
func encodeResults(rs []WriteResult, req WriteRequest) []byte {
	b := make([]byte, 0, 64*len(rs))
	for i := range rs {
		r := &rs[i]
		var vals []Value
		if r.Err == nil && len(r.Values) == len(req.Fields) && !storedAsSent(r.Values, req.Ops[i], len(req.Fields)) {
			vals = r.Values
		}
		b = appendWriteResult(b, r, vals)
	}
	return b
}

func (s *server) Lookup(ctx context.Context, req *pb.LookupRequest) (*pb.LookupResponse, error) {
	ctx = s.ctx(ctx)
	conn, err := s.open(ctx, req.Config)
	if err != nil {
		return nil, toStatus(err)
	}
	fields, err := fieldsOf(ctx, conn, req.Object, req.Fields)
	if err != nil {
		return nil, toStatus(err)
	}
	vals := make([]Value, len(req.Values))
	for i, v := range req.Values {
		vals[i] = valueFromPB(v)
	}
	recs, err := conn.Lookup(ctx, LookupRequest{Object: req.Object, Field: req.Field, Values: vals, Fields: fields})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.LookupResponse{Fields: fields}
	sink := &wireSink{fields: fields, send: func(m *pb.ReadResponse) error {
		resp.Records = append(resp.Records, m.Records...)
		return nil
	}}
	if err := sink.Records(recs); err != nil {
		return nil, toStatus(err)
	}
	if err := sink.flush(""); err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

// storedAsSent reports whether an op set every field and the connector stored
// exactly those values.
func storedAsSent(stored []Value, op Op, nfields int) bool {
	if len(op.Fields) != nfields || len(op.Values) != len(stored) {
		return false
	}
	for i := range stored {
		if !stored[i].Equal(op.Values[i]) {
			return false
		}
	}
	return true
}

// Watch serves a Watcher's notices; a connector that is not one answers
// Unimplemented.
func (s *server) Watch(req *pb.WatchRequest, stream pb.Connector_WatchServer) error {
	ctx := s.ctx(stream.Context())
	conn, err := s.open(ctx, req.Config)
	if err != nil {
		return toStatus(err)
	}
	w, ok := conn.(Watcher)
	if !ok {
		return status.Error(codes.Unimplemented, "this connector does not watch for changes")
	}
	ready := false
	err = w.Watch(ctx, req.Objects, watchSink{
		ready: func() error {
			if ready {
				return nil
			}
			ready = true
			return stream.Send(&pb.WatchResponse{})
		},
		changed: func(object string) error {
			if !ready {
				return errors.New("watch: Changed before Ready")
			}
			return stream.Send(&pb.WatchResponse{Object: object})
		},
	})
	if err != nil && ctx.Err() == nil {
		return toStatus(err)
	}
	return nil
}

// watchSink adapts two funcs to WatchSink.
type watchSink struct {
	ready   func() error
	changed func(object string) error
}

func (w watchSink) Ready() error                { return w.ready() }
func (w watchSink) Changed(object string) error { return w.changed(object) }
