package syncdef

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/sdk"
)

// CreateIn says on which sides the engine may create records.
type CreateIn string

// Where records may be created.
const (
	CreateBoth  CreateIn = "both"
	CreateLeft  CreateIn = "left"
	CreateRight CreateIn = "right"
	CreateNone  CreateIn = "none"
)

// Deletes says what a delete on one side does to the linked record.
type Deletes string

// What deletes do.
const (
	DeletesIgnore    Deletes = "ignore"
	DeletesPropagate Deletes = "propagate"
	DeletesQueue     Deletes = "queue" // kept for an admin's approval
)

// Side names one end of a sync.
const (
	Left  = "left"
	Right = "right"
)

// Side is one end of a sync: an object type of a connection.
type Side struct {
	Connection string `json:"connection"`
	Object     string `json:"object"`
}

func (s Side) String() string { return s.Connection + "/" + s.Object }

// ParseSide parses "connection/object".
func ParseSide(s string) (Side, error) {
	c, o, ok := strings.Cut(s, "/")
	if !ok || c == "" || o == "" {
		return Side{}, fmt.Errorf("side %q: write it as CONNECTION/OBJECT, e.g. crm/contacts", s)
	}
	return Side{Connection: c, Object: o}, nil
}

// MatchKey pairs a left field with a right field whose normalized values
// identify the same record.
type MatchKey struct {
	Left  string `json:"left"`
	Right string `json:"right"`
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: write it like 30s, 5m or 1h", b)
	}
	*d = Duration(v)
	return nil
}

// Definition is one sync as the admin defined it. Whether it is active or
// paused is state, kept in the store.
type Definition struct {
	Name      string             `json:"name"`
	Left      Side               `json:"left"`
	Right     Side               `json:"right"`
	Match     []MatchKey         `json:"match"` // tried in order: later keys are fallbacks
	Mappings  []mapping.FieldMap `json:"mappings"`
	Direction mapping.Direction  `json:"direction"`
	CreateIn  CreateIn           `json:"create_in"`
	Conflict  mapping.Rule       `json:"conflict"`
	// SourceOfTruth wins a most-recent conflict whose two changes are closer
	// in time than SkewWindow: clocks of two apps can't settle those.
	SourceOfTruth string   `json:"source_of_truth"`
	SkewWindow    Duration `json:"skew_window"`
	Deletes       Deletes  `json:"deletes"`
	FilterLeft    string   `json:"filter_left,omitempty"`  // CEL over left fields: which left records sync
	FilterRight   string   `json:"filter_right,omitempty"` // CEL over right fields
	Every         Duration `json:"every,omitempty"`        // schedule for the daemon; 0: serve's --default-every
}

// Defaults applied by WithDefaults.
const (
	DefaultDirection  = mapping.DirTwoWay
	DefaultCreateIn   = CreateBoth
	DefaultConflict   = mapping.RuleMostRecent
	DefaultSource     = Left
	DefaultDeletes    = DeletesIgnore
	DefaultSkewWindow = Duration(5 * time.Second)
)

// WithDefaults returns d with every unset option set to its default: the one
// place defaults live.
func (d Definition) WithDefaults() Definition {
	if d.Direction == "" {
		d.Direction = DefaultDirection
	}
	if d.CreateIn == "" {
		d.CreateIn = DefaultCreateIn
	}
	if d.Conflict == "" {
		d.Conflict = DefaultConflict
	}
	if d.SourceOfTruth == "" {
		d.SourceOfTruth = DefaultSource
	}
	if d.SkewWindow == 0 {
		d.SkewWindow = DefaultSkewWindow
	}
	if d.Deletes == "" {
		d.Deletes = DefaultDeletes
	}
	return d
}

// Parse reads a definition from JSON, applies defaults and validates it.
func Parse(b []byte) (Definition, error) {
	var d Definition
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return Definition{}, fmt.Errorf("parse sync definition: %w", err)
	}
	d = d.WithDefaults()
	if err := d.Validate(); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// JSON returns the definition as indented JSON.
func (d Definition) JSON() ([]byte, error) {
	return json.MarshalIndent(d, "", "  ")
}

// FieldError is a problem with one option of a definition.
type FieldError struct {
	Field   string // e.g. "direction", "mappings[2].rule"
	Problem string
	Fix     string
}

func (e *FieldError) Error() string {
	s := e.Field + ": " + e.Problem
	if e.Fix != "" {
		s += " (" + e.Fix + ")"
	}
	return s
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func oneOf[T ~string](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func list[T ~string](allowed ...T) string {
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

var (
	directions = []mapping.Direction{mapping.DirTwoWay, mapping.DirLeftToRight, mapping.DirRightToLeft}
	rules      = []mapping.Rule{mapping.RuleMostRecent, mapping.RulePreferLeft, mapping.RulePreferRight,
		mapping.RuleFillOnly, mapping.RuleManual}
	transforms = []mapping.Transform{mapping.TransformTrim, mapping.TransformLower, mapping.TransformUpper}
)

// Validate checks the definition on its own (schemas apart: see CheckSchemas)
// and returns every problem found, each naming the option and the fix. It
// expects defaults applied.
func (d Definition) Validate() error {
	var errs []error
	bad := func(field, problem, fix string) { errs = append(errs, &FieldError{field, problem, fix}) }
	if !nameRE.MatchString(d.Name) {
		bad("name", fmt.Sprintf("%q is not a valid sync name", d.Name), "use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
	}
	for _, s := range []struct {
		name string
		side Side
	}{{Left, d.Left}, {Right, d.Right}} {
		if s.side.Connection == "" || s.side.Object == "" {
			bad(s.name, "connection and object are required", "set --"+s.name+" CONNECTION/OBJECT")
		}
	}
	if d.Left == d.Right && d.Left.Connection != "" {
		bad("right", "both sides are "+d.Left.String(), "sync two different objects or connections")
	}
	if len(d.Match) == 0 {
		bad("match", "no match key", "add --match LEFT_FIELD=RIGHT_FIELD (e.g. email=email) so records can be paired")
	}
	for i, k := range d.Match {
		if k.Left == "" || k.Right == "" {
			bad(fmt.Sprintf("match[%d]", i), "both fields are required", "write it as LEFT_FIELD=RIGHT_FIELD")
		}
	}
	if len(d.Mappings) == 0 {
		bad("mappings", "no field is mapped", "add mappings with `sync map NAME --add LEFT=RIGHT` or use --default-mappings")
	}
	seenL, seenR := map[string]int{}, map[string]int{}
	for i, m := range d.Mappings {
		f := fmt.Sprintf("mappings[%d]", i)
		if m.Left == "" || m.Right == "" {
			bad(f, "both fields are required", "write it as LEFT=RIGHT")
		}
		if j, ok := seenL[m.Left]; ok && m.Left != "" {
			bad(f, fmt.Sprintf("left field %q is already mapped by mappings[%d]", m.Left, j), "map each field once; remove one with `sync map NAME --remove "+m.Left+"`")
		}
		if j, ok := seenR[m.Right]; ok && m.Right != "" {
			bad(f, fmt.Sprintf("right field %q is already mapped by mappings[%d]", m.Right, j), "map each field once")
		}
		seenL[m.Left], seenR[m.Right] = i, i
		if m.Direction != "" && !oneOf(m.Direction, directions...) {
			bad(f+".direction", fmt.Sprintf("%q is not a direction", m.Direction), "use one of "+list(directions...))
		}
		if m.Rule != "" && !oneOf(m.Rule, rules...) {
			bad(f+".rule", fmt.Sprintf("%q is not a conflict rule", m.Rule), "use one of "+list(rules...))
		}
		for _, t := range m.Transforms {
			if !oneOf(t, transforms...) {
				bad(f+".transforms", fmt.Sprintf("%q is not a transform", t), "use one of "+list(transforms...))
			}
		}
		vals := map[string]string{}
		for l, r := range m.ValueMap {
			if prev, ok := vals[r]; ok {
				bad(f+".value_map", fmt.Sprintf("%q and %q both map to %q, so the way back is ambiguous", prev, l, r), "map each left value to a different right value")
			}
			vals[r] = l
		}
	}
	if !oneOf(d.Direction, directions...) {
		bad("direction", fmt.Sprintf("%q is not a direction", d.Direction), "use one of "+list(directions...))
	}
	if !oneOf(d.CreateIn, CreateBoth, CreateLeft, CreateRight, CreateNone) {
		bad("create_in", fmt.Sprintf("%q is not a place to create records", d.CreateIn), "use one of both, left, right, none")
	}
	if !oneOf(d.Conflict, rules...) {
		bad("conflict", fmt.Sprintf("%q is not a conflict rule", d.Conflict), "use one of "+list(rules...))
	}
	if !oneOf(d.SourceOfTruth, Left, Right) {
		bad("source_of_truth", fmt.Sprintf("%q is not a side", d.SourceOfTruth), "use left or right")
	}
	if d.SkewWindow < 0 {
		bad("skew_window", "is negative", "use a duration such as 5s")
	}
	if !oneOf(d.Deletes, DeletesIgnore, DeletesPropagate, DeletesQueue) {
		bad("deletes", fmt.Sprintf("%q is not a delete policy", d.Deletes), "use one of ignore, propagate, queue")
	}
	if d.Every < 0 || d.Every > 0 && time.Duration(d.Every) < time.Second {
		bad("every", fmt.Sprintf("%s is not a usable schedule", time.Duration(d.Every)), "use at least 1s, or 0 for the daemon's default (serve --default-every)")
	}
	return errors.Join(errs...)
}

// MappingDirection is the direction a mapping's changes flow in.
func (d Definition) MappingDirection(m mapping.FieldMap) mapping.Direction {
	if m.Direction != "" {
		return m.Direction
	}
	return d.Direction
}

// MappingRule is the rule that settles a mapping's conflicts.
func (d Definition) MappingRule(m mapping.FieldMap) mapping.Rule {
	if m.Rule != "" {
		return m.Rule
	}
	return d.Conflict
}

// CreatesIn reports whether records may be created on side ("left"/"right").
func (d Definition) CreatesIn(side string) bool {
	return d.CreateIn == CreateBoth || string(d.CreateIn) == side
}

// CheckSchemas checks the definition against the two sides' object types:
// every named field exists, match keys are comparable, and no mapping can
// only ever flow into read-only fields.
func (d Definition) CheckSchemas(left, right sdk.ObjectType) error {
	var errs []error
	bad := func(field, problem, fix string) { errs = append(errs, &FieldError{field, problem, fix}) }
	has := func(o sdk.ObjectType, side, name, where string) (sdk.Field, bool) {
		f, ok := o.Field(name)
		if !ok {
			bad(where, fmt.Sprintf("%s object %q has no field %q", side, o.Name, name),
				"see the fields with `datasync connection schema CONNECTION "+o.Name+"`")
		}
		return f, ok
	}
	for i, k := range d.Match {
		w := fmt.Sprintf("match[%d]", i)
		has(left, Left, k.Left, w)
		has(right, Right, k.Right, w)
	}
	for i, m := range d.Mappings {
		w := fmt.Sprintf("mappings[%d]", i)
		lf, okL := has(left, Left, m.Left, w)
		rf, okR := has(right, Right, m.Right, w)
		if !okL || !okR {
			continue
		}
		dir := d.MappingDirection(m)
		toRight := dir != mapping.DirRightToLeft && !rf.ReadOnly && !right.ReadOnly
		toLeft := dir != mapping.DirLeftToRight && !lf.ReadOnly && !left.ReadOnly
		if !toRight && !toLeft {
			bad(w, fmt.Sprintf("%s=%s can flow nowhere: the receiving field is read-only", m.Left, m.Right),
				"change the mapping's direction or map another field")
		}
	}
	return errors.Join(errs...)
}
