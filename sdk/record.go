package sdk

import "time"

// Record is one record read from an app. Values are positional: they follow
// the field list of the read (ReadRequest.Fields) or write that produced it.
type Record struct {
	ID         string
	Version    string    // etag, revision or updated-at: changes on every write
	ModifiedAt time.Time // zero when the app does not say
	Deleted    bool      // a tombstone: only ID (and Version) are meaningful
	Values     []Value
}

// ReadRequest asks for the records of one object type changed since Cursor.
type ReadRequest struct {
	Object string
	Cursor string   // empty: a full read
	Fields []string // values come in this order; the SDK fills it when the host sends none
	// Skip (incremental reads only) holds marks of the host's earlier
	// writes (WriteResult.Mark). A record whose last change is one of them
	// may be left out, though the cursor must still move past it: the host
	// knows what it wrote. Ignoring Skip is correct, only slower.
	Skip []string
	// DigestBuckets, on a full read, asks for sums instead of records (see
	// Digest, ReadDigest), which the host receives through Digests once the
	// read is done. The SDK answers such reads; connectors never see them.
	DigestBuckets int
	Digests       func([]Digest) error
	// Buckets, with DigestBuckets, makes the read a full read of only the
	// records whose id falls in these buckets (DigestBucket), not a digest:
	// the host reads again where a digest disagreed. The SDK filters them.
	Buckets []int
	// VersionsOnly says the reader needs each record's id and version, not
	// its values (the SDK sets it for a digest read; it is not sent over
	// the wire). A connector may then leave Values empty and read none of
	// Fields; ignoring it is correct, only slower.
	VersionsOnly bool
}

// RecordSink receives what a Read produces, in order. A connector may hand
// over batches of any size: the SDK re-batches them for the wire.
type RecordSink interface {
	// Records takes a batch. The connector may reuse the slice after
	// return, but not the records' Values: the sink may keep them.
	Records(recs []Record) error
	// Checkpoint says every record handed over so far is covered by cursor:
	// reading again from cursor loses nothing.
	Checkpoint(cursor string) error
}

// WatchSink receives what a Watch produces.
type WatchSink interface {
	// Ready says the connector is listening: a change made from now on
	// will be noticed. Call it once, before any Changed.
	Ready() error
	// Changed says records of object may have changed. Notices may be
	// merged or repeated: the host reads incrementally to learn what did.
	Changed(object string) error
}

// OpKind is what a write op does.
type OpKind uint8

// The kinds of write op.
const (
	OpCreate OpKind = iota + 1
	OpUpdate
	OpDelete
)

func (k OpKind) String() string {
	switch k {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Op is one create, update (a patch of Fields) or delete.
type Op struct {
	Kind          OpKind
	CorrelationID string // set by the host; echoed in the result
	ID            string // update and delete
	IfVersion     string // update and delete: fail with CategoryConflict unless current
	Fields        []string
	Values        []Value // aligned with Fields
}

// Value returns the op's value for field and whether the op sets it.
func (o Op) Value(field string) (Value, bool) {
	for i, f := range o.Fields {
		if f == field {
			return o.Values[i], true
		}
	}
	return Null, false
}

// WriteRequest is one batch of ops against one object type. Fields is the
// union of the fields the ops set, in a fixed order.
type WriteRequest struct {
	Object string
	Fields []string
	Ops    []Op
}

// WriteResult is the outcome of one op. Err is nil on success; otherwise it
// says why, and nothing of that op was applied.
type WriteResult struct {
	CorrelationID string
	ID            string
	Version       string
	ModifiedAt    time.Time
	Values        []Value // stored values in WriteRequest.Fields order; nil: stored as sent (or not reported)
	Err           *Error
	// Mark, optional, is a token by which a later incremental read knows
	// this change for the host's own (ReadRequest.Skip). Set it only when a
	// read can tell that a record's current state is this write's and no
	// one else's, such as the id of the transaction that wrote it. The host
	// keeps the marks of a side's writes together, so one mark may name the
	// changes of several results of the same request: they may share it, or
	// one of them may carry it for all.
	Mark string
}

// LookupRequest asks for the records whose Field equals one of Values. An
// empty Field asks for the records whose ids are among Values (as
// strings), of connectors that advertise CapabilityLookupByID; the host
// does without when one returns an error.
type LookupRequest struct {
	Object string
	Field  string
	Values []Value
	Fields []string // values come in this order; the SDK fills it when empty
}
