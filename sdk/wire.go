package sdk

import (
	"time"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// Conversions between the SDK's types and the wire's. Values are the hot
// path: a batch's pb.Values are allocated as one slab, not one by one.

func valuesToPB(vals []Value, slab []pb.Value) []*pb.Value {
	out := make([]*pb.Value, len(vals))
	for i, v := range vals {
		p := &slab[i]
		p.Kind = pb.Kind(v.Kind)
		switch v.Kind {
		case KindString, KindDecimal, KindDate:
			p.Str = v.Str
		case KindInteger:
			p.Int = v.Int
		case KindBoolean:
			p.Bool = v.Bool
		case KindDateTime:
			p.Int = v.Time.UnixMicro()
		case KindStringList:
			p.List = v.List
		}
		out[i] = p
	}
	return out
}

func valueFromPB(p *pb.Value) Value {
	if p == nil {
		return Null
	}
	switch Kind(p.Kind) {
	case KindString, KindDecimal, KindDate:
		return Value{Kind: Kind(p.Kind), Str: p.Str}
	case KindInteger:
		return Value{Kind: KindInteger, Int: p.Int}
	case KindBoolean:
		return Value{Kind: KindBoolean, Bool: p.Bool}
	case KindDateTime:
		return Value{Kind: KindDateTime, Time: time.UnixMicro(p.Int).UTC()}
	case KindStringList:
		if len(p.List) == 0 {
			return Value{Kind: KindStringList, List: []string{}}
		}
		return Value{Kind: KindStringList, List: p.List}
	}
	return Null
}

func valuesFromPB(ps []*pb.Value, slab []Value) []Value {
	out := slab[:len(ps):len(ps)]
	for i, p := range ps {
		out[i] = valueFromPB(p)
	}
	return out
}

func microsToTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func timeToMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// recordsFromPB converts a batch; all values share one slab.
func recordsFromPB(ps []*pb.Record) []Record {
	n := 0
	for _, p := range ps {
		n += len(p.Values)
	}
	slab := make([]Value, n)
	out := make([]Record, len(ps))
	for i, p := range ps {
		k := len(p.Values)
		out[i] = Record{
			ID: p.Id, Version: p.Version, ModifiedAt: microsToTime(p.ModifiedAtUs), Deleted: p.Deleted,
			Values: valuesFromPB(p.Values, slab[:k]),
		}
		slab = slab[k:]
	}
	return out
}

func errorToPB(e *Error) *pb.Error {
	if e == nil {
		return nil
	}
	return &pb.Error{Category: pb.ErrorCategory(e.Category), Message: e.Message, Field: e.Field,
		RetryAfterMs: e.RetryAfter.Milliseconds()}
}

func errorFromPB(p *pb.Error) *Error {
	if p == nil {
		return nil
	}
	return &Error{Category: Category(p.Category), Message: p.Message, Field: p.Field,
		RetryAfter: time.Duration(p.RetryAfterMs) * time.Millisecond}
}

func configToPB(c Config) *pb.Config {
	return &pb.Config{Settings: c.Settings, Secrets: c.Secrets}
}

func configFromPB(p *pb.Config) Config {
	c := Config{Settings: p.GetSettings(), Secrets: p.GetSecrets()}
	if c.Settings == nil {
		c.Settings = map[string]string{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	return c
}

func configFieldsToPB(fs []ConfigField) []*pb.ConfigField {
	out := make([]*pb.ConfigField, len(fs))
	for i, f := range fs {
		out[i] = &pb.ConfigField{Name: f.Name, Label: f.Label, Description: f.Description, Secret: f.Secret,
			Required: f.Required, Default: f.Default, Example: f.Example}
	}
	return out
}

func configFieldsFromPB(ps []*pb.ConfigField) []ConfigField {
	out := make([]ConfigField, len(ps))
	for i, p := range ps {
		out[i] = ConfigField{Name: p.Name, Label: p.Label, Description: p.Description, Secret: p.Secret,
			Required: p.Required, Default: p.Default, Example: p.Example}
	}
	return out
}

func descriptionToPB(d Description) *pb.DescribeResponse {
	r := &pb.DescribeResponse{Name: d.Name, Version: d.Version, Description: d.Description,
		ProtocolMajor: int32(d.ProtocolMajor), Settings: configFieldsToPB(d.Settings),
		Capabilities: d.Capabilities, Requirements: d.Requirements,
		Auth: &pb.AuthSpec{Fields: configFieldsToPB(d.Auth.Fields)}}
	if o := d.Auth.OAuth2; o != nil {
		r.Auth.Oauth2 = &pb.OAuth2Spec{AuthUrl: o.AuthURL, TokenUrl: o.TokenURL, DeviceAuthUrl: o.DeviceAuthURL,
			Scopes: o.Scopes, Pkce: o.PKCE, ClientFromSettings: o.ClientFromSettings,
			DefaultClientId: o.DefaultClientID, TokenSecret: o.TokenSecret}
	}
	return r
}

func descriptionFromPB(r *pb.DescribeResponse) Description {
	d := Description{Name: r.Name, Version: r.Version, Description: r.Description,
		ProtocolMajor: int(r.ProtocolMajor), Settings: configFieldsFromPB(r.Settings),
		Capabilities: r.Capabilities, Requirements: r.Requirements,
		Auth: AuthSpec{Fields: configFieldsFromPB(r.GetAuth().GetFields())}}
	if o := r.GetAuth().GetOauth2(); o != nil {
		d.Auth.OAuth2 = &OAuth2Spec{AuthURL: o.AuthUrl, TokenURL: o.TokenUrl, DeviceAuthURL: o.DeviceAuthUrl,
			Scopes: o.Scopes, PKCE: o.Pkce, ClientFromSettings: o.ClientFromSettings,
			DefaultClientID: o.DefaultClientId, TokenSecret: o.TokenSecret}
	}
	return d
}

func schemaToPB(s Schema) *pb.SchemaResponse {
	r := &pb.SchemaResponse{}
	for _, o := range s.Objects {
		po := &pb.ObjectType{Name: o.Name, Label: o.Label, Incremental: o.Incremental, Tombstones: o.Tombstones,
			UpsertFields: o.UpsertFields, ExternalIdField: o.ExternalIDField, ReadOnly: o.ReadOnly}
		for _, f := range o.Fields {
			po.Fields = append(po.Fields, &pb.Field{Name: f.Name, Label: f.Label, Type: pb.FieldType(f.Type),
				Required: f.Required, ReadOnly: f.ReadOnly, Unique: f.Unique, MaxLength: int32(f.MaxLength),
				Pattern: f.Pattern, EnumOptions: f.EnumOptions})
		}
		r.Objects = append(r.Objects, po)
	}
	return r
}

func schemaFromPB(r *pb.SchemaResponse) Schema {
	var s Schema
	for _, po := range r.Objects {
		o := ObjectType{Name: po.Name, Label: po.Label, Incremental: po.Incremental, Tombstones: po.Tombstones,
			UpsertFields: po.UpsertFields, ExternalIDField: po.ExternalIdField, ReadOnly: po.ReadOnly}
		for _, f := range po.Fields {
			o.Fields = append(o.Fields, Field{Name: f.Name, Label: f.Label, Type: FieldType(f.Type),
				Required: f.Required, ReadOnly: f.ReadOnly, Unique: f.Unique, MaxLength: int(f.MaxLength),
				Pattern: f.Pattern, EnumOptions: f.EnumOptions})
		}
		s.Objects = append(s.Objects, o)
	}
	return s
}

// approxValueSize estimates a value's encoded size, cheaply, for batching.
func approxValueSize(v *Value) int {
	n := 4 + len(v.Str)
	for _, s := range v.List {
		n += len(s) + 2
	}
	return n
}
