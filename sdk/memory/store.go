package memory

import (
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// dataset is everything one Connector stores. Every write bumps seq and
// stamps the record with it: seq is the record's version and, as a read
// cursor, "everything up to here".
type dataset struct {
	account string
	seq     uint64
	objects map[string]*objectStore
}

type objectStore struct {
	recs map[string]*record
	// unique field → comparison key → id of the live record holding it.
	unique map[string]map[string]string
}

type record struct {
	id         string
	seq        uint64
	modifiedAt time.Time
	deleted    bool
	fields     map[string]sdk.Value // non-null values only
}

func newDataset(account string) *dataset {
	return &dataset{account: account, objects: map[string]*objectStore{}}
}

func (d *dataset) object(name string) *objectStore {
	o := d.objects[name]
	if o == nil {
		o = &objectStore{recs: map[string]*record{}, unique: map[string]map[string]string{}}
		d.objects[name] = o
	}
	return o
}

func (r *record) version() string { return strconv.FormatUint(r.seq, 10) }

func (r *record) value(field string) sdk.Value { return copyValue(r.fields[field]) }

func (r *record) values(fields []string) []sdk.Value {
	out := make([]sdk.Value, len(fields))
	for i, f := range fields {
		out[i] = r.value(f)
	}
	return out
}

func (r *record) sdkRecord(fields []string) sdk.Record {
	rec := sdk.Record{ID: r.id, Version: r.version(), ModifiedAt: r.modifiedAt, Deleted: r.deleted}
	if !r.deleted {
		rec.Values = r.values(fields)
	}
	return rec
}

// live returns the record with id unless it is missing or deleted.
func (o *objectStore) live(id string) (*record, *sdk.Error) {
	r := o.recs[id]
	if r == nil || r.deleted {
		return nil, sdk.Errorf(sdk.CategoryNotFound, "no record %q", id)
	}
	return r, nil
}

// change is one create or update as the app receives it: parallel lists.
type change struct {
	fields []string
	values []sdk.Value
}

// check validates a change against the schema and the unique indexes;
// self is the id the change applies to ("" for a create).
func (o *objectStore) check(s *schema, c change, self string) *sdk.Error {
	if len(c.fields) != len(c.values) {
		return sdk.Errorf(sdk.CategoryValidation, "%d fields but %d values", len(c.fields), len(c.values))
	}
	for i, f := range c.fields {
		if slices.Index(c.fields, f) != i {
			return sdk.FieldError(f, "%s is set twice", f)
		}
		if err := s.validate(f, c.values[i]); err != nil {
			return err
		}
		if !s.byName[f].Unique {
			continue
		}
		if k := uniqueKey(f, c.values[i]); k != "" {
			if holder, ok := o.unique[f][k]; ok && holder != self {
				return &sdk.Error{Category: sdk.CategoryDuplicate, Field: f,
					Message: f + " " + strconv.Quote(c.values[i].Str) + " is already used by record " + holder}
			}
		}
	}
	return nil
}

// apply sets the change's values on r (creating it when r is nil) and gives it
// the next seq. The change must have passed check.
func (d *dataset) apply(s *schema, o *objectStore, r *record, c change, now time.Time) *record {
	d.seq++
	if r == nil {
		r = &record{id: "rec-" + strconv.FormatUint(d.seq, 10), fields: map[string]sdk.Value{}}
		o.recs[r.id] = r
	}
	o.unindex(s, r)
	for i, f := range c.fields {
		if c.values[i].IsNull() {
			delete(r.fields, f)
		} else {
			r.fields[f] = copyValue(c.values[i])
		}
	}
	r.seq = d.seq
	r.modifiedAt = sdk.DateTime(now).Time
	r.fields[FieldUpdatedAt] = sdk.DateTime(now)
	o.index(s, r)
	return r
}

// remove turns r into a tombstone with the next seq.
func (d *dataset) remove(s *schema, o *objectStore, r *record, now time.Time) {
	d.seq++
	o.unindex(s, r)
	r.seq = d.seq
	r.modifiedAt = sdk.DateTime(now).Time
	r.deleted = true
	r.fields = map[string]sdk.Value{}
}

func (o *objectStore) index(s *schema, r *record) {
	for _, f := range s.fields {
		if !f.Unique {
			continue
		}
		if k := uniqueKey(f.Name, r.fields[f.Name]); k != "" {
			if o.unique[f.Name] == nil {
				o.unique[f.Name] = map[string]string{}
			}
			o.unique[f.Name][k] = r.id
		}
	}
}

func (o *objectStore) unindex(s *schema, r *record) {
	for _, f := range s.fields {
		if k := uniqueKey(f.Name, r.fields[f.Name]); f.Unique && k != "" && o.unique[f.Name][k] == r.id {
			delete(o.unique[f.Name], k)
		}
	}
}

// reindex rebuilds the unique indexes, after a load.
func (o *objectStore) reindex(s *schema) {
	o.unique = map[string]map[string]string{}
	for _, r := range o.recs {
		if !r.deleted {
			o.index(s, r)
		}
	}
}

// changedSince returns the records with seq > after, in seq order; with
// full set it returns the live records only.
func (o *objectStore) changedSince(after uint64, full bool) []*record {
	var out []*record
	for _, r := range o.recs {
		if full && !r.deleted || !full && r.seq > after {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func copyValue(v sdk.Value) sdk.Value {
	if v.List != nil {
		v.List = slices.Clone(v.List)
	}
	return v
}
