package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// jsonValue is the compact JSON form of an sdk.Value in the state database.
type jsonValue struct {
	K string   `json:"k,omitempty"` // kind name; absent for null
	S string   `json:"s,omitempty"`
	I int64    `json:"i,omitempty"`
	B bool     `json:"b,omitempty"`
	T string   `json:"t,omitempty"`
	L []string `json:"l,omitempty"`
	// The same, for text that is not UTF-8: its bytes in base64.
	SB []byte   `json:"sb,omitempty"`
	LB [][]byte `json:"lb,omitempty"`
}

var kindByName = map[string]sdk.Kind{}

func init() {
	for k := sdk.KindNull; k <= sdk.KindStringList; k++ {
		kindByName[k.String()] = k
	}
}

func (j jsonValue) value() (sdk.Value, error) {
	if j.K == "" {
		return sdk.Null, nil
	}
	k, ok := kindByName[j.K]
	if !ok {
		return sdk.Null, fmt.Errorf("unknown value kind %q", j.K)
	}
	v := sdk.Value{Kind: k, Str: j.S, Int: j.I, Bool: j.B, List: j.L}
	if j.SB != nil {
		v.Str = string(j.SB)
	}
	if j.LB != nil {
		v.List = make([]string, len(j.LB))
		for i, s := range j.LB {
			v.List[i] = string(s)
		}
	}
	if k == sdk.KindDateTime {
		t, err := time.Parse(time.RFC3339Nano, j.T)
		if err != nil {
			return sdk.Null, fmt.Errorf("datetime value %q: %w", j.T, err)
		}
		v.Time = t.UTC()
	}
	return v, nil
}

// Value wraps an sdk.Value for JSON in the state database.
type Value struct{ sdk.Value }

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return appendJSONValue(nil, v.Value), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	var j jsonValue
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	x, err := j.value()
	v.Value = x
	return err
}

// BasePair is the last-synced value of one mapped field, as stored on each
// side: the base of the three-way merge.
type BasePair struct {
	Left  sdk.Value
	Right sdk.Value
}

type jsonPair struct {
	L jsonValue `json:"l"`
	R jsonValue `json:"r"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *BasePair) UnmarshalJSON(b []byte) error {
	var j jsonPair
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var err error
	if p.Left, err = j.L.value(); err != nil {
		return err
	}
	p.Right, err = j.R.value()
	return err
}

// EncodeValues returns the JSON form of a field → value map.
func EncodeValues(m map[string]sdk.Value) ([]byte, error) {
	out := []byte{'{'}
	for k, v := range m {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONValue(out, v)
	}
	return append(out, '}'), nil
}

// DecodeValues is the inverse of EncodeValues.
func DecodeValues(b []byte) (map[string]sdk.Value, error) {
	var in map[string]jsonValue
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	out := make(map[string]sdk.Value, len(in))
	for k, j := range in {
		v, err := j.value()
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}
