package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Settings and secrets of a memory connection.
const (
	SettingPath          = "path"           // JSON file the data persists to; empty: in process only
	SettingObjects       = "objects"        // comma list of object type names, default "contacts"
	SettingExpectedToken = "expected_token" // the token Check accepts, default "secret"
	SettingBatchSize     = "batch_size"     // records per batch handed to a read's sink, default 1000
	SecretToken          = "token"
)

// Connector is the in-memory reference connector. One Connector holds one
// dataset (the "account"); every Conn it opens shares it, and so do the test
// hooks (Create, Update, Delete, Get, Snapshot). It is safe for concurrent use.
type Connector struct {
	mu     sync.Mutex
	schema *schema
	data   *dataset
	path   string    // bound persistence file, "" while in process only
	disk   diskStamp // what the file looked like when last loaded or saved
	saved  []byte    // the file's content then: a failed save reverts to it
	fail   func(op string) error
	now    func() time.Time
}

// New returns a Connector with an empty dataset.
func New() *Connector {
	return &Connector{schema: newSchema(), data: newDataset(newAccountID()), now: time.Now}
}

func newAccountID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Describe implements sdk.Connector.
func (c *Connector) Describe(ctx context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:          "memory",
		Version:       "1.0.0",
		Description:   "Reference connector keeping contacts-like records in memory or in a JSON file.",
		ProtocolMajor: sdk.ProtocolMajor,
		Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{{
			Name: SecretToken, Label: "API token", Secret: true, Required: true,
			Description: "Any token; Check accepts the one in expected_token.",
		}}},
		Settings: []sdk.ConfigField{
			{Name: SettingPath, Label: "Data file", Example: "/var/lib/datasync/memory.json",
				Description: "JSON file the data is saved to after every write and loaded from; empty keeps it in the plugin process only."},
			{Name: SettingObjects, Label: "Object types", Default: "contacts", Example: "contacts,leads",
				Description: "Comma-separated names of the object types; each has the same contacts-like fields."},
			{Name: SettingExpectedToken, Label: "Expected token", Default: "secret",
				Description: "The token this fake app accepts, to try good and bad credentials."},
			{Name: SettingBatchSize, Label: "Read batch size", Default: "1000",
				Description: "Records per batch a read hands over."},
		},
		Capabilities: []string{sdk.CapabilityLookup, sdk.CapabilityLookupByID},
		Requirements: []string{"Nothing: the data lives in the plugin (or in the data file)."},
	}, nil
}

var objectName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Open implements sdk.Connector. A config naming a path binds this Connector
// to that file: an existing file's data replaces what the Connector held, a
// missing one is created; the data is saved to it after every write and
// reloaded when another process changed it. One Connector serves one path.
func (c *Connector) Open(ctx context.Context, cfg sdk.Config) (sdk.Conn, error) {
	d, _ := c.Describe(ctx)
	if err := d.Validate(cfg); err != nil {
		return nil, fmt.Errorf("open memory connection: %w", err)
	}
	cfg = d.WithDefaults(cfg)
	cn := &conn{c: c, tokenOK: cfg.Get(SecretToken) == cfg.Get(SettingExpectedToken), objects: map[string]bool{}}
	for _, name := range strings.Split(cfg.Get(SettingObjects), ",") {
		name = strings.TrimSpace(name)
		if !objectName.MatchString(name) {
			return nil, sdk.FieldError(SettingObjects, "object type name %q: use lower-case letters, digits and _", name)
		}
		if !cn.objects[name] {
			cn.objects[name] = true
			cn.order = append(cn.order, name)
		}
	}
	n, err := strconv.Atoi(cfg.Get(SettingBatchSize))
	if err != nil || n < 1 {
		return nil, sdk.FieldError(SettingBatchSize, "batch_size %q is not a positive number", cfg.Get(SettingBatchSize))
	}
	cn.batch = n
	if p := cfg.Get(SettingPath); p != "" {
		if err := c.bind(p); err != nil {
			return nil, fmt.Errorf("open memory connection: %w", err)
		}
	}
	return cn, nil
}

// bind makes path the persistence file, loading what it holds.
func (c *Connector) bind(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return sdk.FieldError(SettingPath, "path %q: %v", path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == abs {
		return nil
	}
	if c.path != "" {
		return sdk.FieldError(SettingPath, "this connector already keeps its data in %s, not %s", c.path, abs)
	}
	c.path = abs
	err = c.refresh()
	if err == nil && c.disk == (diskStamp{}) {
		// No file yet: create it now, so a bad path fails here and a failed
		// save can always revert to the file.
		err = c.writeFile()
	}
	if err != nil {
		c.path = ""
		return sdk.FieldError(SettingPath, "data file %s: %v", abs, err)
	}
	return nil
}

// SetFailer installs f, asked before each operation whether it fails: a
// non-nil error is returned as that operation's failure. op is one of
// "check", "schema", "read", "lookup", "write" (the whole batch fails, nothing
// applied), "read.batch" (before each batch a read hands to its sink: the read
// breaks mid-stream), or "write.create", "write.update", "write.delete" (that
// op alone fails with sdk.AsError(err); the rest of the batch goes on).
// f runs with the Connector locked for the write.* ops, so it must not call the
// Connector. nil removes the failer.
func (c *Connector) SetFailer(f func(op string) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}

// SetClock makes now the source of modified_at / updated_at (default time.Now).
func (c *Connector) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// failure asks the failer about op; c.mu must not be held.
func (c *Connector) failure(op string) error {
	c.mu.Lock()
	f := c.fail
	c.mu.Unlock()
	return c.ask(f, op)
}

func (c *Connector) ask(f func(string) error, op string) error {
	if f == nil {
		return nil
	}
	if err := f(op); err != nil {
		return fmt.Errorf("memory %s (injected): %w", op, err)
	}
	return nil
}
