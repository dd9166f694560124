package mapping

import (
	"fmt"
	"slices"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// Direction is which way values of a sync or of one mapping flow.
type Direction string

// The directions.
const (
	DirTwoWay      Direction = "two-way"
	DirLeftToRight Direction = "left-to-right"
	DirRightToLeft Direction = "right-to-left"
)

// Rule settles a field changed on both sides to different values.
type Rule string

// The conflict rules.
const (
	RuleMostRecent  Rule = "most-recent"
	RulePreferLeft  Rule = "prefer-left"
	RulePreferRight Rule = "prefer-right"
	RuleFillOnly    Rule = "fill-only" // never overwrite a non-empty value
	RuleManual      Rule = "manual"    // kept for the admin to resolve
)

// Transform rewrites a value on its way to the other side.
type Transform string

// The transforms.
const (
	TransformTrim  Transform = "trim"
	TransformLower Transform = "lower"
	TransformUpper Transform = "upper"
)

// ParseDirection checks s is a direction.
func ParseDirection(s string) (Direction, error) {
	switch d := Direction(s); d {
	case DirTwoWay, DirLeftToRight, DirRightToLeft:
		return d, nil
	}
	return "", fmt.Errorf("unknown direction %q: use two-way, left-to-right or right-to-left", s)
}

// ParseRule checks s is a conflict rule.
func ParseRule(s string) (Rule, error) {
	switch r := Rule(s); r {
	case RuleMostRecent, RulePreferLeft, RulePreferRight, RuleFillOnly, RuleManual:
		return r, nil
	}
	return "", fmt.Errorf("unknown conflict rule %q: use most-recent, prefer-left, prefer-right, fill-only or manual", s)
}

// ParseTransform checks s is a transform.
func ParseTransform(s string) (Transform, error) {
	switch t := Transform(s); t {
	case TransformTrim, TransformLower, TransformUpper:
		return t, nil
	}
	return "", fmt.Errorf("unknown transform %q: use trim, lower or upper", s)
}

// ParseValueMap reads 'lead:Lead,customer:Customer' (left:right pairs).
func ParseValueMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		l, r, ok := strings.Cut(pair, ":")
		if !ok {
			return nil, fmt.Errorf("value map %q: pair %q has no colon: write left:right, e.g. lead:Lead", s, pair)
		}
		l, r = strings.TrimSpace(l), strings.TrimSpace(r)
		if _, dup := out[l]; dup {
			return nil, fmt.Errorf("value map %q: %q is mapped twice", s, l)
		}
		out[l] = r
	}
	return out, nil
}

// FieldMap maps one left field to one right field.
type FieldMap struct {
	Left       string            `json:"left"`
	Right      string            `json:"right"`
	Direction  Direction         `json:"direction,omitempty"`  // empty: the sync's direction
	Rule       Rule              `json:"rule,omitempty"`       // empty: the sync's conflict rule
	ValueMap   map[string]string `json:"value_map,omitempty"`  // left text → right text; inverse used right→left
	Transforms []Transform       `json:"transforms,omitempty"` // applied to the value written, either way
}

// ToRight turns a left value into the value written to the right field dst:
// value map, then transforms, then Convert. A value the (non-empty) value map
// does not list passes through unchanged and is then converted as it is, so an
// enum field refuses it with a CheckEnum error naming the options. Errors are
// *ValidationError.
func (m FieldMap) ToRight(v sdk.Value, dst sdk.Field) (sdk.Value, error) {
	return m.apply(v, dst, false)
}

// ToLeft is ToRight the other way: the value map is used inverted (right text
// → left text). Where several left values map to one right value, the inverse
// picks the one equal to it ignoring case, else the first in sorted order.
func (m FieldMap) ToLeft(v sdk.Value, dst sdk.Field) (sdk.Value, error) {
	return m.apply(v, dst, true)
}

func (m FieldMap) apply(v sdk.Value, dst sdk.Field, inverse bool) (sdk.Value, error) {
	if len(m.ValueMap) > 0 {
		v = mapValue(m.ValueMap, v, inverse)
	}
	v = ApplyTransforms(v, m.Transforms)
	return Convert(v, dst)
}

// mapValue looks v's text up in the value map; a list is mapped item by item.
func mapValue(vm map[string]string, v sdk.Value, inverse bool) sdk.Value {
	switch v.Kind {
	case sdk.KindNull:
		return v
	case sdk.KindStringList:
		var out []string // copied on first change: the caller's slice is not ours
		for i, item := range v.List {
			if m, ok := lookup(vm, item, inverse); ok && m != item {
				if out == nil {
					out = slices.Clone(v.List)
				}
				out[i] = m
			}
		}
		if out == nil {
			return v
		}
		return sdk.StringList(out...)
	}
	if m, ok := lookup(vm, v.Text(), inverse); ok {
		return sdk.String(m)
	}
	return v
}

// lookup finds s among the map's keys (values when inverse): the exact text
// first, then trimmed and case-insensitively. Ties go to the smallest key so the
// result does not depend on map order.
func lookup(vm map[string]string, s string, inverse bool) (string, bool) {
	if !inverse {
		if m, ok := vm[s]; ok {
			return m, true
		}
		t := strings.TrimSpace(s)
		best, found := "", false
		for k := range vm {
			if strings.EqualFold(strings.TrimSpace(k), t) && (!found || k < best) {
				best, found = k, true
			}
		}
		return vm[best], found
	}
	// Inverse: exact match on the right text, then case-insensitive; among
	// several left keys prefer the one spelled like the right value.
	pick := func(match func(string) bool) (string, bool) {
		best, found := "", false
		for k, m := range vm {
			if !match(m) {
				continue
			}
			if !found || better(k, best, m) {
				best, found = k, true
			}
		}
		return best, found
	}
	if k, ok := pick(func(m string) bool { return m == s }); ok {
		return k, true
	}
	t := strings.TrimSpace(s)
	return pick(func(m string) bool { return strings.EqualFold(strings.TrimSpace(m), t) })
}

// better reports whether key k is a better inverse of right value m than best.
func better(k, best, m string) bool {
	kf, bf := strings.EqualFold(k, m), strings.EqualFold(best, m)
	if kf != bf {
		return kf
	}
	return k < best
}

// ApplyTransforms applies trim/lower/upper to text and to each item of a
// list; other kinds are left alone. An unknown transform is ignored here:
// ParseTransform refuses it when the mapping is defined.
func ApplyTransforms(v sdk.Value, ts []Transform) sdk.Value {
	if len(ts) == 0 {
		return v
	}
	switch v.Kind {
	case sdk.KindString:
		return sdk.String(transformText(v.Str, ts))
	case sdk.KindStringList:
		out := make([]string, len(v.List))
		for i, item := range v.List {
			out[i] = transformText(item, ts)
		}
		return sdk.StringList(out...)
	}
	return v
}

func transformText(s string, ts []Transform) string {
	for _, t := range ts {
		switch t {
		case TransformTrim:
			s = strings.TrimSpace(s)
		case TransformLower:
			s = strings.ToLower(s)
		case TransformUpper:
			s = strings.ToUpper(s)
		}
	}
	return s
}
