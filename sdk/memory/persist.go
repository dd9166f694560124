package memory

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// diskStamp tells whether the data file changed since we last touched it
// (another plugin process, e.g. a CLI command next to the daemon, wrote it).
type diskStamp struct {
	modNanos int64
	size     int64
}

// The file format: one JSON document, rewritten whole after every write.
type fileData struct {
	Account string                  `json:"account"`
	Seq     uint64                  `json:"seq"`
	Objects map[string][]fileRecord `json:"objects"`
}

type fileRecord struct {
	ID         string               `json:"id"`
	Seq        uint64               `json:"seq"`
	ModifiedAt time.Time            `json:"modified_at"`
	Deleted    bool                 `json:"deleted,omitempty"`
	Fields     map[string]fileValue `json:"fields,omitempty"`
}

type fileValue struct {
	Kind sdk.Kind  `json:"k"`
	Str  string    `json:"s,omitempty"`
	Int  int64     `json:"i,omitempty"`
	Bool bool      `json:"b,omitempty"`
	Time time.Time `json:"t,omitzero"`
	List []string  `json:"l,omitempty"`
}

// refresh loads the data file when it changed on disk since we last loaded
// or saved it; a missing file leaves the data as it is. c.mu is held.
func (c *Connector) refresh() error {
	if c.path == "" {
		return nil
	}
	st, err := os.Stat(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "data file: %v", err)
	}
	stamp := diskStamp{modNanos: st.ModTime().UnixNano(), size: st.Size()}
	if stamp == c.disk {
		return nil
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "read data file: %v", err)
	}
	if err := c.load(b); err != nil {
		return err
	}
	c.disk = stamp
	return nil
}

// load replaces the data with the encoded b. c.mu is held.
func (c *Connector) load(b []byte) error {
	var fd fileData
	if err := json.Unmarshal(b, &fd); err != nil {
		return sdk.Errorf(sdk.CategoryPermanent, "data file %s is not memory connector data: %v", c.path, err)
	}
	d := newDataset(fd.Account)
	d.seq = fd.Seq
	for name, recs := range fd.Objects {
		o := d.object(name)
		for _, fr := range recs {
			r := &record{id: fr.ID, seq: fr.Seq, modifiedAt: fr.ModifiedAt, deleted: fr.Deleted, fields: map[string]sdk.Value{}}
			for f, v := range fr.Fields {
				r.fields[f] = sdk.Value{Kind: v.Kind, Str: v.Str, Int: v.Int, Bool: v.Bool, Time: v.Time.UTC(), List: v.List}
			}
			o.recs[r.id] = r
		}
		o.reindex(c.schema)
	}
	if d.account == "" {
		d.account = newAccountID()
	}
	c.data, c.saved = d, b
	return nil
}

// save writes the data file through a temporary file and a rename, so a
// reader never sees half a file. If it fails, the data reverts to what was
// last loaded or saved, so a failed write batch leaves nothing applied.
// c.mu is held.
func (c *Connector) save() error {
	if c.path == "" {
		return nil
	}
	if err := c.writeFile(); err != nil {
		if rerr := c.load(c.saved); rerr != nil {
			return fmt.Errorf("save data file: %w (and reverting: %v)", err, rerr)
		}
		return fmt.Errorf("save data file: %w", err)
	}
	return nil
}

func (c *Connector) writeFile() error {
	fd := fileData{Account: c.data.account, Seq: c.data.seq, Objects: map[string][]fileRecord{}}
	for name, o := range c.data.objects {
		recs := make([]fileRecord, 0, len(o.recs))
		for _, r := range o.changedSince(0, false) {
			fr := fileRecord{ID: r.id, Seq: r.seq, ModifiedAt: r.modifiedAt, Deleted: r.deleted}
			if len(r.fields) > 0 {
				fr.Fields = map[string]fileValue{}
				for f, v := range r.fields {
					fr.Fields[f] = fileValue{Kind: v.Kind, Str: v.Str, Int: v.Int, Bool: v.Bool, Time: v.Time, List: v.List}
				}
			}
			recs = append(recs, fr)
		}
		fd.Objects[name] = recs
	}
	b, err := json.Marshal(fd)
	if err != nil {
		return fmt.Errorf("encode data: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".*.tmp")
	if err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "create temporary data file: %v", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return sdk.Errorf(sdk.CategoryUnreachable, "write data file: %v", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return sdk.Errorf(sdk.CategoryUnreachable, "sync data file: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "close data file: %v", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "replace data file: %v", err)
	}
	st, err := os.Stat(c.path)
	if err != nil {
		return sdk.Errorf(sdk.CategoryUnreachable, "data file: %v", err)
	}
	c.disk, c.saved = diskStamp{modNanos: st.ModTime().UnixNano(), size: st.Size()}, b
	return nil
}
