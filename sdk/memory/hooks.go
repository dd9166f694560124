package memory

import (
	"fmt"
	"sort"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Test hooks: in-process tests change the data "as the app's users would",
// bypassing credentials and the failer but not validation; every change bumps
// the sequence, so incremental reads see it like any other.

// Item is a stored record as the test hooks show it.
type Item struct {
	ID         string
	Version    string
	ModifiedAt time.Time
	Fields     map[string]sdk.Value // the non-null fields, updated_at included
}

// Create stores a new record in object and returns it. Errors are *sdk.Error
// (validation, duplicate) as a Write would report them.
func (c *Connector) Create(object string, fields map[string]sdk.Value) (Item, error) {
	return c.hook("create", object, func(o *objectStore) (*record, *sdk.Error) {
		return c.applyOp(o, sdk.Op{Kind: sdk.OpCreate, Fields: keys(fields), Values: vals(fields)})
	})
}

// Update patches record id of object: only the given fields change (a null
// value clears one).
func (c *Connector) Update(object, id string, patch map[string]sdk.Value) (Item, error) {
	return c.hook("update", object, func(o *objectStore) (*record, *sdk.Error) {
		return c.applyOp(o, sdk.Op{Kind: sdk.OpUpdate, ID: id, Fields: keys(patch), Values: vals(patch)})
	})
}

// Delete deletes record id of object, leaving a tombstone for incremental reads.
func (c *Connector) Delete(object, id string) error {
	_, err := c.hook("delete", object, func(o *objectStore) (*record, *sdk.Error) {
		return c.applyOp(o, sdk.Op{Kind: sdk.OpDelete, ID: id})
	})
	return err
}

// Get returns the live record id of object.
func (c *Connector) Get(object, id string) (Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.refresh() // a broken data file shows as the data last loaded
	r, err := c.data.object(object).live(id)
	if err != nil {
		return Item{}, false
	}
	return item(r), true
}

// Snapshot returns every live record of object, by id.
func (c *Connector) Snapshot(object string) map[string]Item {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.refresh()
	out := map[string]Item{}
	for _, r := range c.data.object(object).changedSince(0, true) {
		out[r.id] = item(r)
	}
	return out
}

func (c *Connector) hook(what, object string, f func(*objectStore) (*record, *sdk.Error)) (Item, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refresh(); err != nil {
		return Item{}, fmt.Errorf("%s in %s: %w", what, object, err)
	}
	r, serr := f(c.data.object(object))
	if serr != nil {
		return Item{}, fmt.Errorf("%s in %s: %w", what, object, serr)
	}
	it := item(r)
	if err := c.save(); err != nil {
		return Item{}, fmt.Errorf("%s in %s: %w", what, object, err)
	}
	return it, nil
}

func item(r *record) Item {
	it := Item{ID: r.id, Version: r.version(), ModifiedAt: r.modifiedAt, Fields: map[string]sdk.Value{}}
	for f, v := range r.fields {
		it.Fields[f] = copyValue(v)
	}
	return it
}

func keys(m map[string]sdk.Value) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out) // a stable order gives stable error messages
	return out
}

func vals(m map[string]sdk.Value) []sdk.Value {
	ks := keys(m)
	out := make([]sdk.Value, len(ks))
	for i, k := range ks {
		out[i] = m[k]
	}
	return out
}
