package sdk

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ProtocolMajor is the major version of the connector protocol this SDK speaks.
const ProtocolMajor = 1

// Connector is what a vendor implements: it describes itself and opens
// connections to one account of its app. Serve(connector) makes it a plugin.
type Connector interface {
	Describe(ctx context.Context) (Description, error)
	// Open validates cfg and returns a connection. It should not do slow
	// network work: Check does that.
	Open(ctx context.Context, cfg Config) (Conn, error)
}

// Conn is an open connection to one account. The SDK caches it per config
// and closes it when the config changes or the plugin stops.
type Conn interface {
	// Check authenticates and returns a stable identity of the account; a
	// failure is an *Error of category auth, unreachable or forbidden.
	Check(ctx context.Context) (Account, error)
	Schema(ctx context.Context) (Schema, error)
	// Read hands the records changed since req.Cursor to sink, calling
	// sink.Checkpoint with the cursor that resumes after them.
	Read(ctx context.Context, req ReadRequest, sink RecordSink) error
	// Write applies ops and returns one result per op, in order. A returned
	// error means the whole batch failed and nothing of it was applied.
	Write(ctx context.Context, req WriteRequest) ([]WriteResult, error)
	// Lookup returns the records whose req.Field equals one of req.Values,
	// or, with no field, whose ids do (CapabilityLookupByID): a two-way
	// first run looks its held side's matches up by id rather than keep
	// what waits for them. A connector that cannot look up by id returns
	// an error for that.
	Lookup(ctx context.Context, req LookupRequest) ([]Record, error)
	Close() error
}

// Watcher is a Conn that notices changes as they happen
// (CapabilityWatch): the daemon runs a sync soon after one, instead of
// waiting for its schedule.
type Watcher interface {
	// Watch calls sink.Ready once it listens, then sink.Changed for each
	// change to one of objects, until ctx is done (it returns nil then).
	// A connector that loses its source of notices returns the error; the
	// host watches again later. One that cannot watch with this config
	// returns an *Error of category permanent saying why, at once.
	Watch(ctx context.Context, objects []string, sink WatchSink) error
}

// Account identifies the account a connection reaches.
type Account struct {
	Fingerprint string // stable across calls; changes when it is another account
	Label       string // shown to admins, e.g. "admin@acme.example on acme.example"
}

// Description is what Describe returns.
type Description struct {
	Name          string
	Version       string
	Description   string
	ProtocolMajor int // filled in by the SDK
	Auth          AuthSpec
	Settings      []ConfigField
	Capabilities  []string
	Requirements  []string
}

// ConfigField declares one setting or credential the admin supplies.
type ConfigField struct {
	Name        string
	Label       string
	Description string
	Secret      bool
	Required    bool
	Default     string
	Example     string
}

// AuthSpec declares how a connection authenticates: fields the admin fills in
// (API key, username/password…) or an OAuth2 flow the host runs.
type AuthSpec struct {
	Fields []ConfigField
	OAuth2 *OAuth2Spec
}

// OAuth2Spec declares an OAuth2 provider; the host runs the flow and passes
// the access token to every call in the secret TokenSecret.
type OAuth2Spec struct {
	AuthURL            string
	TokenURL           string
	DeviceAuthURL      string
	Scopes             []string
	PKCE               bool
	ClientFromSettings bool
	DefaultClientID    string
	TokenSecret        string
}

// Config is what the admin set for one connection: settings in the clear,
// secrets (passwords, tokens) apart so nothing logs them.
type Config struct {
	Settings map[string]string
	Secrets  map[string]string
}

// Get returns a setting, or a secret of that name.
func (c Config) Get(name string) string {
	if v, ok := c.Settings[name]; ok {
		return v
	}
	return c.Secrets[name]
}

// Duration returns a setting that is a duration ("30s", "1m"), def when it
// is unset; a validation *Error naming the field when it does not parse or
// is negative.
func (c Config) Duration(name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(c.Get(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, FieldError(name, "%s %q is not a duration such as 30s or 1m", name, v)
	}
	return d, nil
}

// Validate checks cfg against the declared fields: every required field is
// set. It returns a validation *Error naming the first missing field.
func (d Description) Validate(cfg Config) error {
	for _, f := range d.AllFields() {
		if f.Required && cfg.Get(f.Name) == "" && f.Default == "" {
			return FieldError(f.Name, "%s is required", f.label())
		}
	}
	return nil
}

// WithDefaults returns cfg with declared defaults filled in for unset settings.
func (d Description) WithDefaults(cfg Config) Config {
	out := Config{Settings: map[string]string{}, Secrets: map[string]string{}}
	for k, v := range cfg.Settings {
		out.Settings[k] = v
	}
	for k, v := range cfg.Secrets {
		out.Secrets[k] = v
	}
	for _, f := range d.AllFields() {
		if f.Default != "" && out.Get(f.Name) == "" && !f.Secret {
			out.Settings[f.Name] = f.Default
		}
	}
	return out
}

// AllFields returns the auth fields then the settings.
func (d Description) AllFields() []ConfigField {
	return append(append([]ConfigField(nil), d.Auth.Fields...), d.Settings...)
}

// HasCapability reports whether the connector advertises capability c.
func (d Description) HasCapability(c string) bool {
	for _, x := range d.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

func (f ConfigField) label() string {
	if f.Label != "" {
		return f.Label + " (" + f.Name + ")"
	}
	return f.Name
}

// Capabilities a connector may advertise in Description.Capabilities.
const (
	CapabilityLookup = "lookup" // Lookup is implemented
	// CapabilityLookupByID: Lookup answers a request with no Field with
	// the records whose ids are among its values. The host asks so only
	// of connectors that say they do: one built before may read the empty
	// field as anything. Without it, a two-way first run holds its waiting
	// side, a mapping added is merged from complete reads, an incremental
	// run of many changes is not read in slices (it holds them all), and
	// a create a crash left unlinked merges as a first match.
	CapabilityLookupByID = "lookup_by_id"
	// CapabilityWatch: the connection is a Watcher. Watch is a stream the
	// host keeps open while a sync runs on a schedule.
	CapabilityWatch = "watch"
)

// FieldType is the type of a schema field.
type FieldType uint8

// The field types of a schema.
const (
	TypeUnspecified FieldType = iota
	TypeString
	TypeInteger
	TypeDecimal
	TypeBoolean
	TypeDate
	TypeDateTime
	TypeEnum
	TypeEmail
	TypePhone
	TypeURL
	TypeStringList
)

var typeNames = [...]string{"unspecified", "string", "integer", "decimal", "boolean", "date", "datetime",
	"enum", "email", "phone", "url", "string_list"}

func (t FieldType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", t)
}

// ParseFieldType is the inverse of FieldType.String.
func ParseFieldType(s string) (FieldType, bool) {
	for i, n := range typeNames {
		if n == s {
			return FieldType(i), true
		}
	}
	return TypeUnspecified, false
}

// ValueKind is the kind of value a field of type t carries.
func (t FieldType) ValueKind() Kind {
	switch t {
	case TypeInteger:
		return KindInteger
	case TypeDecimal:
		return KindDecimal
	case TypeBoolean:
		return KindBoolean
	case TypeDate:
		return KindDate
	case TypeDateTime:
		return KindDateTime
	case TypeStringList:
		return KindStringList
	}
	return KindString
}

// Field describes one field of an object type.
type Field struct {
	Name        string
	Label       string
	Type        FieldType
	Required    bool
	ReadOnly    bool
	Unique      bool
	MaxLength   int
	Pattern     string
	EnumOptions []string
}

// ObjectType describes what a connection exposes: contacts, a table, an OU.
type ObjectType struct {
	Name            string
	Label           string
	Fields          []Field
	Incremental     bool     // Read honours a cursor
	Tombstones      bool     // incremental reads report deletes
	UpsertFields    []string // fields the app can upsert by
	ExternalIDField string   // where the host may store its correlation id
	ReadOnly        bool
}

// Field returns the named field.
func (o ObjectType) Field(name string) (Field, bool) {
	for _, f := range o.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the names of the fields, in schema order.
func (o ObjectType) FieldNames() []string {
	out := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		out[i] = f.Name
	}
	return out
}

// Schema is the object types of a connection.
type Schema struct {
	Objects []ObjectType
}

// Object returns the named object type.
func (s Schema) Object(name string) (ObjectType, bool) {
	for _, o := range s.Objects {
		if o.Name == name {
			return o, true
		}
	}
	return ObjectType{}, false
}

// ObjectNames returns the sorted names of the object types.
func (s Schema) ObjectNames() []string {
	out := make([]string, len(s.Objects))
	for i, o := range s.Objects {
		out[i] = o.Name
	}
	sort.Strings(out)
	return out
}
