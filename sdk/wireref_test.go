package sdk

import (
	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// The conversions through the generated types that the hand-written
// encoders and decoders replaced, kept as the reference they are tested
// against.

func opsFromPB(h *pb.WriteHeader, b *pb.WriteBatch) (WriteRequest, error) {
	req := WriteRequest{Object: h.Object, Fields: h.Fields, Ops: make([]Op, len(b.Ops))}
	n := 0
	for _, o := range b.Ops {
		n += len(o.Values)
	}
	slab := make([]Value, n)
	for i, o := range b.Ops {
		op := Op{Kind: OpKind(o.Kind), CorrelationID: o.CorrelationId, ID: o.Id, IfVersion: o.IfVersion}
		if op.Kind < OpCreate || op.Kind > OpDelete {
			return req, Errorf(CategoryPermanent, "op %d: unknown kind %d", i, o.Kind)
		}
		if len(o.FieldIndexes) == 0 {
			op.Fields = h.Fields
		} else {
			op.Fields = make([]string, len(o.FieldIndexes))
			for j, idx := range o.FieldIndexes {
				if int(idx) >= len(h.Fields) {
					return req, Errorf(CategoryPermanent, "op %d: field index %d out of range", i, idx)
				}
				op.Fields[j] = h.Fields[idx]
			}
		}
		if op.Kind != OpDelete && len(o.Values) != len(op.Fields) {
			return req, Errorf(CategoryPermanent, "op %d: %d values for %d fields", i, len(o.Values), len(op.Fields))
		}
		k := len(o.Values)
		op.Values = valuesFromPB(o.Values, slab[:k])
		slab = slab[k:]
		req.Ops[i] = op
	}
	return req, nil
}

// resultsToPB leaves out stored values that equal what the op sent (the
// common case): the host then takes the sent values as stored, and the wire
// carries each record once instead of twice.
func resultsToPB(rs []WriteResult, req WriteRequest) *pb.WriteResponse {
	out := &pb.WriteResponse{Results: make([]*pb.WriteResult, len(rs))}
	for i, r := range rs {
		p := &pb.WriteResult{CorrelationId: r.CorrelationID, Id: r.ID, Version: r.Version,
			ModifiedAtUs: timeToMicros(r.ModifiedAt), Error: errorToPB(r.Err), Mark: r.Mark}
		if r.Err == nil && len(r.Values) == len(req.Fields) && !storedAsSent(r.Values, req.Ops[i], len(req.Fields)) {
			p.Values = valuesToPB(r.Values, make([]pb.Value, len(r.Values)))
		}
		out.Results[i] = p
	}
	return out
}

// recordsToPB is what the Read path built before the hand-written encoder.
func recordsToPB(recs []Record) []*pb.Record {
	out := make([]*pb.Record, len(recs))
	for i, r := range recs {
		out[i] = &pb.Record{Id: r.ID, Version: r.Version, ModifiedAtUs: timeToMicros(r.ModifiedAt), Deleted: r.Deleted,
			Values: valuesToPB(r.Values, make([]pb.Value, len(r.Values)))}
	}
	return out
}

// opsToPB is what splitOps built before the hand-written encoder.
func opsToPB(ops []Op, index map[string]uint32) *pb.WriteBatch {
	b := &pb.WriteBatch{}
	for i := range ops {
		op := &ops[i]
		p := &pb.WriteOp{Kind: pb.OpKind(op.Kind), CorrelationId: op.CorrelationID, Id: op.ID, IfVersion: op.IfVersion}
		if !sameFields(op.Fields, index) {
			p.FieldIndexes = make([]uint32, len(op.Fields))
			for j, f := range op.Fields {
				p.FieldIndexes[j] = index[f]
			}
		}
		p.Values = valuesToPB(op.Values, make([]pb.Value, len(op.Values)))
		b.Ops = append(b.Ops, p)
	}
	return b
}
