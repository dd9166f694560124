package sdk

import (
	"fmt"
	"time"
	"unsafe"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// The hot messages (a read's record batches, a write's op batches and their
// results) skip the generated types: the SDK encodes its own Records and Ops
// straight into protobuf bytes and decodes bytes straight into them. The
// bytes are the ones proto.Marshal would produce for the same content, so the
// wire format is unchanged and either end may use the generated types.
//
// gRPC hands messages to its "proto" codec; the SDK registers a codec under
// that name which passes the SDK's own message types through and delegates
// everything else to the standard one.

func init() {
	encoding.RegisterCodecV2(&wireCodec{std: encoding.GetCodecV2("proto")})
}

type wireCodec struct{ std encoding.CodecV2 }

func (c *wireCodec) Name() string { return "proto" }

// rawMessage is a message already encoded.
type rawMessage struct{ b []byte }

// wireDecoder is a message type that decodes itself from protobuf bytes.
// Decoded strings must not alias b, which is reused.
type wireDecoder interface{ decodeWire(b []byte) error }

func (c *wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*rawMessage); ok {
		return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
	}
	return c.std.Marshal(v)
}

func (c *wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	d, ok := v.(wireDecoder)
	if !ok {
		return c.std.Unmarshal(data, v)
	}
	if len(data) == 1 {
		return d.decodeWire(data[0].ReadOnlyData())
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return d.decodeWire(buf.ReadOnlyData())
}

// ---- encoding ----

func sizeValue(v *Value) int {
	n := 0
	if v.Kind != KindNull {
		n += 1 + protowire.SizeVarint(uint64(v.Kind))
	}
	switch v.Kind {
	case KindString, KindDecimal, KindDate:
		if v.Str != "" {
			n += 1 + protowire.SizeBytes(len(v.Str))
		}
	case KindInteger:
		if v.Int != 0 {
			n += 1 + protowire.SizeVarint(protowire.EncodeZigZag(v.Int))
		}
	case KindBoolean:
		if v.Bool {
			n += 2
		}
	case KindDateTime:
		if us := v.Time.UnixMicro(); us != 0 {
			n += 1 + protowire.SizeVarint(protowire.EncodeZigZag(us))
		}
	case KindStringList:
		for _, s := range v.List {
			n += 1 + protowire.SizeBytes(len(s))
		}
	}
	return n
}

// appendValue appends v as a length-delimited field num: what valuesToPB
// then proto.Marshal produce.
func appendValue(b []byte, num protowire.Number, v *Value) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeValue(v)))
	if v.Kind == KindNull {
		return b
	}
	b = append(b, 1<<3|byte(protowire.VarintType))
	b = protowire.AppendVarint(b, uint64(v.Kind))
	switch v.Kind {
	case KindString, KindDecimal, KindDate:
		if v.Str != "" {
			b = append(b, 2<<3|byte(protowire.BytesType))
			b = protowire.AppendString(b, v.Str)
		}
	case KindInteger:
		if v.Int != 0 {
			b = append(b, 3<<3|byte(protowire.VarintType))
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(v.Int))
		}
	case KindBoolean:
		if v.Bool {
			b = append(b, 4<<3|byte(protowire.VarintType), 1)
		}
	case KindDateTime:
		if us := v.Time.UnixMicro(); us != 0 {
			b = append(b, 3<<3|byte(protowire.VarintType))
			b = protowire.AppendVarint(b, protowire.EncodeZigZag(us))
		}
	case KindStringList:
		for _, s := range v.List {
			b = append(b, 5<<3|byte(protowire.BytesType))
			b = protowire.AppendString(b, s)
		}
	}
	return b
}

func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeSint(num protowire.Number, i int64) int {
	if i == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(protowire.EncodeZigZag(i))
}

func appendSint(b []byte, num protowire.Number, i int64) []byte {
	if i == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, protowire.EncodeZigZag(i))
}

func sizeValues(vals []Value) int {
	n := 0
	for i := range vals {
		s := sizeValue(&vals[i])
		n += 1 + protowire.SizeBytes(s)
	}
	return n
}

// sizeRecord is the encoded size of a pb.Record holding r.
func sizeRecord(r *Record) int {
	n := sizeString(1, r.ID) + sizeString(2, r.Version) + sizeSint(3, timeToMicros(r.ModifiedAt))
	if r.Deleted {
		n += 2
	}
	return n + sizeValues(r.Values)
}

// appendRecord appends r as field num of its message (ReadResponse.records).
func appendRecord(b []byte, num protowire.Number, r *Record) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeRecord(r)))
	b = appendString(b, 1, r.ID)
	b = appendString(b, 2, r.Version)
	b = appendSint(b, 3, timeToMicros(r.ModifiedAt))
	if r.Deleted {
		b = append(b, 4<<3|byte(protowire.VarintType), 1)
	}
	for i := range r.Values {
		b = appendValue(b, 5, &r.Values[i])
	}
	return b
}

// appendWriteResult appends one pb.WriteResult; vals are its stored values
// (nil: none reported).
func appendWriteResult(b []byte, r *WriteResult, vals []Value) []byte {
	var errb []byte
	if r.Err != nil {
		errb, _ = proto.Marshal(errorToPB(r.Err))
	}
	us := timeToMicros(r.ModifiedAt)
	n := sizeString(1, r.CorrelationID) + sizeString(2, r.ID) + sizeString(3, r.Version) + sizeSint(4, us) + sizeValues(vals) + sizeString(7, r.Mark)
	if r.Err != nil {
		n += 1 + protowire.SizeBytes(len(errb))
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType) // WriteResponse.results
	b = protowire.AppendVarint(b, uint64(n))
	b = appendString(b, 1, r.CorrelationID)
	b = appendString(b, 2, r.ID)
	b = appendString(b, 3, r.Version)
	b = appendSint(b, 4, us)
	for i := range vals {
		b = appendValue(b, 5, &vals[i])
	}
	if r.Err != nil {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, errb)
	}
	return appendString(b, 7, r.Mark)
}

// appendWriteOp appends one pb.WriteOp as WriteBatch.ops; idx are its field
// indexes (nil: the header's fields).
func appendWriteOp(b []byte, op *Op, idx []uint32) []byte {
	n := 0
	if op.Kind != 0 {
		n += 1 + protowire.SizeVarint(uint64(op.Kind))
	}
	n += sizeString(2, op.CorrelationID) + sizeString(3, op.ID) + sizeString(4, op.IfVersion)
	packed := 0
	for _, x := range idx {
		packed += protowire.SizeVarint(uint64(x))
	}
	if len(idx) > 0 {
		n += 1 + protowire.SizeBytes(packed)
	}
	n += sizeValues(op.Values)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	if op.Kind != 0 {
		b = append(b, 1<<3|byte(protowire.VarintType))
		b = protowire.AppendVarint(b, uint64(op.Kind))
	}
	b = appendString(b, 2, op.CorrelationID)
	b = appendString(b, 3, op.ID)
	b = appendString(b, 4, op.IfVersion)
	if len(idx) > 0 {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(packed))
		for _, x := range idx {
			b = protowire.AppendVarint(b, uint64(x))
		}
	}
	for i := range op.Values {
		b = appendValue(b, 6, &op.Values[i])
	}
	return b
}

// frameReserve is room left at the front of a buffer for the tag and length
// of the message it will hold, written once the length is known.
const frameReserve = 1 + 10 // a tag below 16, a varint of at most 10 bytes

// frame writes tag num and the length of b[frameReserve:] just before it and
// returns the whole field.
func frame(b []byte, num protowire.Number) []byte {
	var hdr [frameReserve]byte
	h := protowire.AppendTag(hdr[:0], num, protowire.BytesType)
	h = protowire.AppendVarint(h, uint64(len(b)-frameReserve))
	start := frameReserve - len(h)
	copy(b[start:], h)
	return b[start:]
}

// ---- decoding ----

// microsToTimeAlways is valueFromPB's datetime: 0 is the Unix epoch.
func microsToTimeAlways(us int64) time.Time { return time.UnixMicro(us).UTC() }

var errTruncated = fmt.Errorf("malformed message: %w", protowire.ParseError(-1))

// field is one field of a message being walked.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64 // varint or fixed64 payload
	b   []byte // bytes payload
}

// next consumes one field from b; n is its length, < 0 on malformed input.
func next(b []byte) (f field, n int) {
	num, typ, tn := protowire.ConsumeTag(b)
	if tn < 0 {
		return f, tn
	}
	f.num, f.typ = num, typ
	switch typ {
	case protowire.VarintType:
		v, m := protowire.ConsumeVarint(b[tn:])
		if m < 0 {
			return f, m
		}
		f.u = v
		return f, tn + m
	case protowire.BytesType:
		v, m := protowire.ConsumeBytes(b[tn:])
		if m < 0 {
			return f, m
		}
		f.b = v
		return f, tn + m
	case protowire.Fixed64Type:
		v, m := protowire.ConsumeFixed64(b[tn:])
		if m < 0 {
			return f, m
		}
		f.u = v
		return f, tn + m
	}
	m := protowire.ConsumeFieldValue(num, typ, b[tn:])
	if m < 0 {
		return f, m
	}
	return f, tn + m
}

// strIn returns the text of sub, a sub-slice of base, as a substring of s
// (base converted once): no allocation per string.
func strIn(s string, base, sub []byte) string {
	if len(sub) == 0 {
		return ""
	}
	off := cap(base) - cap(sub)
	return s[off : off+len(sub)]
}

// decodeValue decodes one pb.Value from b into *v, which is null;
// strings come out of s (base's text).
func decodeValue(v *Value, s string, base, b []byte) error {
	var kind uint64
	var str string
	var i int64
	var bo bool
	var list []string
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			kind = f.u
		case f.num == 2 && f.typ == protowire.BytesType:
			str = strIn(s, base, f.b)
		case f.num == 3 && f.typ == protowire.VarintType:
			i = protowire.DecodeZigZag(f.u)
		case f.num == 4 && f.typ == protowire.VarintType:
			bo = f.u != 0
		case f.num == 5 && f.typ == protowire.BytesType:
			list = append(list, strIn(s, base, f.b))
		}
		b = b[n:]
	}
	switch k := Kind(kind); k {
	case KindString, KindDecimal, KindDate:
		v.Kind, v.Str = k, str
	case KindInteger:
		v.Kind, v.Int = k, i
	case KindBoolean:
		v.Kind, v.Bool = k, bo
	case KindDateTime:
		v.Kind, v.Time = k, microsToTimeAlways(i)
	case KindStringList:
		if list == nil {
			list = []string{}
		}
		v.Kind, v.List = k, list
	}
	return nil
}

// appendDecoded decodes one pb.Value from b onto vals.
func appendDecoded(vals []Value, s string, base, b []byte) ([]Value, error) {
	k := len(vals)
	if k < cap(vals) {
		vals = vals[:k+1] // slab memory: already null
	} else {
		vals = append(vals, Null)
	}
	return vals, decodeValue(&vals[k], s, base, b)
}

// slabValues is the most values one slab holds.
const slabValues = 32 << 10 / int(unsafe.Sizeof(Value{}))

// valueSlab hands out value slices from a few allocations per batch.
type valueSlab struct {
	free []Value
	per  int // expected values per record, for sizing the next slab
	left int // records still expected
}

// takeFor returns room for the values of message b (field num): the
// expected count without looking, else counted.
func (s *valueSlab) takeFor(b []byte, num protowire.Number) ([]Value, error) {
	if s.per > 0 {
		return s.take(s.per), nil
	}
	n, err := countFields(b, num)
	if err != nil {
		return nil, err
	}
	return s.take(n), nil
}

func (s *valueSlab) take(n int) []Value {
	if len(s.free) < n {
		// Slabs stay below the runtime's large-object size (32 KiB): a
		// batch-sized one is zeroed, scavenged and faulted in again for
		// every batch, which costs more than the allocations it saves.
		size := min(s.per*max(s.left, 1), slabValues)
		if size < n {
			size = n
		}
		s.free = make([]Value, size)
	}
	out := s.free[:0:n]
	s.free = s.free[n:]
	return out
}

// countValues counts the fields numbered num in message b.
func countFields(b []byte, num protowire.Number) (int, error) {
	c := 0
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return 0, errTruncated
		}
		if f.num == num {
			c++
		}
		b = b[n:]
	}
	return c, nil
}

// decodeRecord decodes one pb.Record; its strings share one allocation.
func decodeRecord(b []byte, slab *valueSlab) (Record, error) {
	var r Record
	s := string(b)
	base := b
	var err error
	if r.Values, err = slab.takeFor(b, 5); err != nil {
		return r, err
	}
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return r, errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			r.ID = strIn(s, base, f.b)
		case f.num == 2 && f.typ == protowire.BytesType:
			r.Version = strIn(s, base, f.b)
		case f.num == 3 && f.typ == protowire.VarintType:
			r.ModifiedAt = microsToTime(protowire.DecodeZigZag(f.u))
		case f.num == 4 && f.typ == protowire.VarintType:
			r.Deleted = f.u != 0
		case f.num == 5 && f.typ == protowire.BytesType:
			if r.Values, err = appendDecoded(r.Values, s, base, f.b); err != nil {
				return r, err
			}
		}
		b = b[n:]
	}
	return r, nil
}

// readMsg is a ReadResponse decoded into Records (host side).
type readMsg struct {
	nfields int // values expected per record, for sizing
	fields  []string
	cursor  string
	recs    []Record
	digests []Digest // a digest read's result
}

func (m *readMsg) decodeWire(b []byte) error {
	nrec, err := countFields(b, 2)
	if err != nil {
		return err
	}
	m.recs = make([]Record, 0, nrec)
	slab := &valueSlab{per: m.nfields, left: nrec}
	var sums, counts []uint64 // digests, in either encoding of a repeated field
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			m.fields = append(m.fields, string(f.b))
			slab.per = len(m.fields)
		case f.num == 2 && f.typ == protowire.BytesType:
			r, err := decodeRecord(f.b, slab)
			if err != nil {
				return err
			}
			m.recs = append(m.recs, r)
			slab.left--
		case f.num == 3 && f.typ == protowire.BytesType:
			m.cursor = string(f.b)
		case f.num == 4 && f.typ == protowire.BytesType: // packed, as encoders write them
			for p := f.b; len(p) > 0; p = p[8:] {
				v, n := protowire.ConsumeFixed64(p)
				if n < 0 {
					return errTruncated
				}
				sums = append(sums, v)
			}
		case f.num == 4 && f.typ == protowire.Fixed64Type:
			sums = append(sums, f.u)
		case f.num == 5 && f.typ == protowire.BytesType:
			for p := f.b; len(p) > 0; {
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return errTruncated
				}
				counts, p = append(counts, v), p[n:]
			}
		case f.num == 5 && f.typ == protowire.VarintType:
			counts = append(counts, f.u)
		}
		b = b[n:]
	}
	if len(counts) > len(sums) {
		return fmt.Errorf("read response: %d digest counts for %d sums", len(counts), len(sums))
	}
	for i, sum := range sums {
		d := Digest{Sum: sum}
		if i < len(counts) {
			d.Count = counts[i]
		}
		m.digests = append(m.digests, d)
	}
	return nil
}

// writeReqMsg is a WriteRequest as the plugin receives it: a header (decoded
// by the generated code) or a batch, decoded straight into ops against the
// header's fields. A batch that decodes but does not make sense (an unknown
// op kind, a field index out of range) sets bad rather than failing the
// decoding, so the connector's error reaches the host as such.
type writeReqMsg struct {
	header *pb.WriteHeader
	batch  bool
	req    WriteRequest
	bad    error
}

func (m *writeReqMsg) decodeWire(b []byte) error {
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			h := &pb.WriteHeader{}
			if err := proto.Unmarshal(f.b, h); err != nil {
				return err
			}
			m.header, m.batch = h, false
		case f.num == 2 && f.typ == protowire.BytesType:
			m.header, m.batch = nil, true
			if err := m.decodeBatch(f.b); err != nil {
				return err
			}
		}
		b = b[n:]
	}
	return nil
}

func (m *writeReqMsg) decodeBatch(b []byte) error {
	fields := m.req.Fields
	nops, err := countFields(b, 1)
	if err != nil {
		return err
	}
	m.req.Ops = make([]Op, 0, nops)
	m.bad = nil
	slab := &valueSlab{per: len(fields), left: nops}
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return errTruncated
		}
		if f.num == 1 && f.typ == protowire.BytesType {
			op, bad, err := decodeOp(f.b, fields, slab, len(m.req.Ops))
			if err != nil {
				return err
			}
			if bad != nil && m.bad == nil {
				m.bad = bad
			}
			m.req.Ops = append(m.req.Ops, op)
			slab.left--
		}
		b = b[n:]
	}
	return nil
}

// decodeOp decodes one pb.WriteOp as opsFromPB would convert it.
func decodeOp(b []byte, fields []string, slab *valueSlab, i int) (Op, error, error) {
	var op Op
	s := string(b)
	base := b
	var err error
	if op.Values, err = slab.takeFor(b, 6); err != nil {
		return op, nil, err
	}
	var idx []uint32
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return op, nil, errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			op.Kind = OpKind(f.u)
			if f.u > 255 {
				op.Kind = 255
			}
		case f.num == 2 && f.typ == protowire.BytesType:
			op.CorrelationID = strIn(s, base, f.b)
		case f.num == 3 && f.typ == protowire.BytesType:
			op.ID = strIn(s, base, f.b)
		case f.num == 4 && f.typ == protowire.BytesType:
			op.IfVersion = strIn(s, base, f.b)
		case f.num == 5 && f.typ == protowire.BytesType: // packed
			for p := f.b; len(p) > 0; {
				v, m := protowire.ConsumeVarint(p)
				if m < 0 {
					return op, nil, errTruncated
				}
				idx = append(idx, uint32(v))
				p = p[m:]
			}
		case f.num == 5 && f.typ == protowire.VarintType:
			idx = append(idx, uint32(f.u))
		case f.num == 6 && f.typ == protowire.BytesType:
			if op.Values, err = appendDecoded(op.Values, s, base, f.b); err != nil {
				return op, nil, err
			}
		}
		b = b[n:]
	}
	if op.Kind < OpCreate || op.Kind > OpDelete {
		return op, Errorf(CategoryPermanent, "op %d: unknown kind %d", i, op.Kind), nil
	}
	if len(idx) == 0 {
		op.Fields = fields
	} else {
		op.Fields = make([]string, len(idx))
		for j, x := range idx {
			if int(x) >= len(fields) {
				return op, Errorf(CategoryPermanent, "op %d: field index %d out of range", i, x), nil
			}
			op.Fields[j] = fields[x]
		}
	}
	if op.Kind != OpDelete && len(op.Values) != len(op.Fields) {
		return op, Errorf(CategoryPermanent, "op %d: %d values for %d fields", i, len(op.Values), len(op.Fields)), nil
	}
	return op, nil, nil
}

// writeRespMsg is a WriteResponse decoded into results (host side).
type writeRespMsg struct {
	results []WriteResult
}

func (m *writeRespMsg) decodeWire(b []byte) error {
	nres, err := countFields(b, 1)
	if err != nil {
		return err
	}
	m.results = make([]WriteResult, 0, nres)
	slab := &valueSlab{per: 0, left: nres}
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return errTruncated
		}
		if f.num == 1 && f.typ == protowire.BytesType {
			r, err := decodeResult(f.b, slab)
			if err != nil {
				return err
			}
			m.results = append(m.results, r)
		}
		b = b[n:]
	}
	return nil
}

func decodeResult(b []byte, slab *valueSlab) (WriteResult, error) {
	var r WriteResult
	s := string(b)
	base := b
	for len(b) > 0 {
		f, n := next(b)
		if n < 0 {
			return r, errTruncated
		}
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			r.CorrelationID = strIn(s, base, f.b)
		case f.num == 2 && f.typ == protowire.BytesType:
			r.ID = strIn(s, base, f.b)
		case f.num == 3 && f.typ == protowire.BytesType:
			r.Version = strIn(s, base, f.b)
		case f.num == 4 && f.typ == protowire.VarintType:
			r.ModifiedAt = microsToTime(protowire.DecodeZigZag(f.u))
		case f.num == 5 && f.typ == protowire.BytesType:
			var err error
			if r.Values == nil {
				if r.Values, err = slab.takeFor(base, 5); err != nil {
					return r, err
				}
			}
			if r.Values, err = appendDecoded(r.Values, s, base, f.b); err != nil {
				return r, err
			}
		case f.num == 6 && f.typ == protowire.BytesType:
			pe := &pb.Error{}
			if err := proto.Unmarshal(f.b, pe); err != nil {
				return r, err
			}
			r.Err = errorFromPB(pe)
		case f.num == 7 && f.typ == protowire.BytesType:
			r.Mark = strIn(s, base, f.b)
		}
		b = b[n:]
	}
	return r, nil
}
