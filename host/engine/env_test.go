package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

const obj = "contacts"

// env is two in-memory apps, a state store and an engine syncing them.
// tb is what env needs of a test: *testing.T and *rapid.T both fit.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type env struct {
	t           tb
	ctx         context.Context
	st          *store.Store
	dir         string
	left, right *memory.Connector
	conns       map[string]Conn
	eng         *Engine
	def         syncdef.Definition
	clock       time.Time
	opts        []Option
}

var contactFields = []string{memory.FieldEmail, memory.FieldFirstName, memory.FieldLastName, memory.FieldPhone,
	memory.FieldCompany, memory.FieldLifecycleStage, memory.FieldTags}

func baseDef() syncdef.Definition {
	d := syncdef.Definition{
		Name:  "crm-news",
		Left:  syncdef.Side{Connection: "crm", Object: obj},
		Right: syncdef.Side{Connection: "news", Object: obj},
		Match: []syncdef.MatchKey{{Left: memory.FieldEmail, Right: memory.FieldEmail}},
	}
	for _, f := range contactFields {
		d.Mappings = append(d.Mappings, mapping.FieldMap{Left: f, Right: f})
	}
	return d.WithDefaults()
}

func newEnv(t testing.TB, edit func(*syncdef.Definition), opts ...Option) *env {
	t.Helper()
	e, closeFn := newEnvAt(t, t.TempDir(), edit, opts...)
	t.Cleanup(closeFn)
	return e
}

func newEnvAt(t tb, dir string, edit func(*syncdef.Definition), opts ...Option) (*env, func()) {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), dir: dir, left: memory.New(), right: memory.New(),
		clock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), opts: opts}
	// Each app's clock ticks a minute per write, so most-recent has clear
	// winners unless a test says otherwise.
	e.left.SetClock(e.tick)
	e.right.SetClock(e.tick)
	st, err := store.Open(e.ctx, filepath.Join(e.dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	e.conns = map[string]Conn{}
	for name, c := range map[string]*memory.Connector{"crm": e.left, "news": e.right} {
		conn, err := c.Open(e.ctx, sdk.Config{Secrets: map[string]string{memory.SecretToken: "secret"}})
		if err != nil {
			t.Fatal(err)
		}
		e.conns[name] = sdk.Local(conn) // digest reads, as a plugin answers them
	}
	e.def = baseDef()
	if edit != nil {
		edit(&e.def)
	}
	e.def = e.def.WithDefaults()
	e.save()
	e.eng = New(e.st, e.dial, append([]Option{WithClock(e.now), WithSleep(func(context.Context, time.Duration) error { return nil })}, opts...)...)
	return e, func() { st.Close() }
}

// readBatch reopens both apps' connections handing reads over n records a
// batch: an incremental read checkpoints after each, so runs slice (see
// Engine.sliceMax).
func (e *env) readBatch(n int) {
	for name, c := range map[string]*memory.Connector{"crm": e.left, "news": e.right} {
		conn, err := c.Open(e.ctx, sdk.Config{Secrets: map[string]string{memory.SecretToken: "secret"},
			Settings: map[string]string{memory.SettingBatchSize: fmt.Sprint(n)}})
		if err != nil {
			e.t.Fatal(err)
		}
		e.conns[name] = sdk.Local(conn)
	}
}

func (e *env) tick() time.Time { e.clock = e.clock.Add(time.Minute); return e.clock }
func (e *env) now() time.Time  { return e.clock }

func (e *env) dial(ctx context.Context, name string) (Conn, error) {
	c, ok := e.conns[name]
	if !ok {
		return nil, fmt.Errorf("no connection %q", name)
	}
	return c, nil
}

func (e *env) save() {
	b, err := e.def.JSON()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.PutSync(e.ctx, store.Sync{Name: e.def.Name, Definition: b, State: store.SyncActive}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) run(opts Options) Report {
	e.t.Helper()
	rep, err := e.eng.Run(e.ctx, e.def, opts)
	if err != nil {
		e.t.Fatalf("run: %v\nreport: %+v", err, rep)
	}
	return rep
}

// quiet asserts that a run writes nothing.
func (e *env) quiet() {
	e.t.Helper()
	rep := e.run(Options{})
	if n := rep.Writes(); n != 0 {
		e.t.Fatalf("second run wrote %d times: left %+v right %+v", n, rep.Left, rep.Right)
	}
}

func s(v string) sdk.Value { return sdk.String(v) }

func (e *env) create(c *memory.Connector, fields map[string]sdk.Value) string {
	e.t.Helper()
	it, err := c.Create(obj, fields)
	if err != nil {
		e.t.Fatalf("create %v: %v", fields, err)
	}
	return it.ID
}

// contacts creates n contacts on app c, of emails prefix0@x.io and on,
// and returns their ids in that order.
func (e *env) contacts(c *memory.Connector, prefix string, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.create(c, map[string]sdk.Value{"email": s(fmt.Sprintf("%s%d@x.io", prefix, i))})
	}
	return ids
}

func (e *env) update(c *memory.Connector, id string, fields map[string]sdk.Value) {
	e.t.Helper()
	if _, err := c.Update(obj, id, fields); err != nil {
		e.t.Fatalf("update %s %v: %v", id, fields, err)
	}
}

func (e *env) delete(c *memory.Connector, id string) {
	e.t.Helper()
	if err := c.Delete(obj, id); err != nil {
		e.t.Fatalf("delete %s: %v", id, err)
	}
}

// byEmail returns the live records of an app by their email.
func byEmail(c *memory.Connector) map[string]memory.Item {
	out := map[string]memory.Item{}
	for _, it := range c.Snapshot(obj) {
		out[it.Fields[memory.FieldEmail].Str] = it
	}
	return out
}

func (e *env) links() []store.Link {
	e.t.Helper()
	l, err := e.st.Links(e.ctx, e.def.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// mappingOf returns d's mapping of the left field left, for a test to
// adjust; a test naming a field d does not map is a broken test.
func mappingOf(d *syncdef.Definition, left string) *mapping.FieldMap {
	for i := range d.Mappings {
		if d.Mappings[i].Left == left {
			return &d.Mappings[i]
		}
	}
	panic("no mapping of left field " + left)
}
