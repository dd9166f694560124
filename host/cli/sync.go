package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// syncCommand is `datasync sync ...`: defining, running and inspecting syncs.
// app.go picks it up by its name.
func (e *env) syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "define, run and inspect syncs between two connections",
		Description: `A sync joins an object of one connection (left) to an object of another
(right): records are paired by match keys, mapped field by field, and kept in
step both ways (or one way). A new sync is a draft: "sync plan" and "sync run"
work in any state; "sync activate" lets the daemon run it on its schedule.

Examples:
   datasync sync create crm-news --left crm/contacts --right news/subscribers --default-mappings
   datasync sync map crm-news --add lifecycle_stage=stage --value-map 'lead:Lead,customer:Customer'
   datasync sync plan crm-news
   datasync sync run crm-news
   datasync sync status crm-news
   datasync sync errors crm-news`,
		Subcommands: []*cli.Command{
			e.syncCreateCommand(),
			e.syncMapCommand(),
			e.syncSetCommand(),
			e.syncShowCommand(),
			e.syncListCommand(),
			e.syncPlanCommand(),
			e.syncRunCommand(),
			e.syncRetryCommand(),
			e.syncStatusCommand(),
			e.syncErrorsCommand(),
			e.syncRecordsCommand(),
			e.syncStateCommand("activate", store.SyncActive, "let the daemon run a sync on its schedule",
				"Activated sync %s: the daemon runs it"),
			e.syncStateCommand("pause", store.SyncPaused, "stop the daemon from running a sync (sync run still works)",
				"Paused sync %s: the daemon no longer runs it; `datasync sync run` still does"),
			e.syncDeleteCommand(),
			e.syncConflictsCommand(),
			e.syncResolveCommand(),
			e.syncDeletesCommand(),
		},
	}
}

// loadSync reads a stored sync and its definition.
func loadSync(ctx context.Context, st *store.Store, name string) (store.Sync, syncdef.Definition, error) {
	sy, err := st.Sync(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return sy, syncdef.Definition{}, fmt.Errorf("sync %s does not exist: see `datasync sync list`", name)
	}
	if err != nil {
		return sy, syncdef.Definition{}, err
	}
	def, err := syncdef.Parse(sy.Definition)
	if err != nil {
		return sy, def, fmt.Errorf("sync %s: stored definition: %w", name, err)
	}
	return sy, def, nil
}

// saveSync stores def with state.
func saveSync(ctx context.Context, st *store.Store, def syncdef.Definition, state string) error {
	b, err := def.JSON()
	if err != nil {
		return fmt.Errorf("sync %s: %w", def.Name, err)
	}
	return st.PutSync(ctx, store.Sync{Name: def.Name, Definition: b, State: state})
}

// withSync opens the store and loads the sync named by the command's single
// argument, for commands that need nothing else.
func (e *env) withSync(c *cli.Context, f func(st *store.Store, sy store.Sync, def syncdef.Definition) error) error {
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	st, err := e.openStore(c.Context)
	if err != nil {
		return err
	}
	defer st.Close()
	sy, def, err := loadSync(c.Context, st, name)
	if err != nil {
		return err
	}
	return f(st, sy, def)
}

// sideConns opens the connections a sync's sides use, each once, and
// closes them together: plugins never outlive the command (and the env's
// shutdown stops them on Ctrl-C as well).
type sideConns struct {
	e      *env
	mu     sync.Mutex // the engine opens both sides at once
	conns  map[string]sdk.Conn
	closes []func()
}

func (e *env) newSideConns() *sideConns {
	return &sideConns{e: e, conns: map[string]sdk.Conn{}}
}

// dial returns the open connection name, opening it (plugin launched,
// secrets unsealed, account checked) on first use. It is an engine.Dialer.
func (s *sideConns) dial(ctx context.Context, name string) (engine.Conn, error) {
	return s.open(ctx, name)
}

func (s *sideConns) open(ctx context.Context, name string) (sdk.Conn, error) {
	s.mu.Lock()
	c, ok := s.conns[name]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	conn, _, closeFn, err := s.e.openConnection(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[name] = conn
	s.closes = append(s.closes, closeFn)
	return conn, nil
}

func (s *sideConns) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// At once: each waits for its plugin to exit (~10-20 ms), the last
	// moments of every run.
	var wg sync.WaitGroup
	for _, f := range s.closes {
		wg.Go(f)
	}
	wg.Wait()
	s.closes, s.conns = nil, map[string]sdk.Conn{}
}

// objectOf returns the object type side names, read from its connection's
// schema; the error lists the objects that do exist.
func (s *sideConns) objectOf(ctx context.Context, which string, side syncdef.Side) (sdk.ObjectType, error) {
	conn, err := s.open(ctx, side.Connection)
	if err != nil {
		return sdk.ObjectType{}, err
	}
	schema, err := conn.Schema(ctx)
	if err != nil {
		return sdk.ObjectType{}, fmt.Errorf("connection %s: schema: %w", side.Connection, err)
	}
	o, ok := schema.Object(side.Object)
	if !ok {
		return sdk.ObjectType{}, fmt.Errorf("%s side: connection %s has no object %q; it has: %s", which,
			side.Connection, side.Object, strings.Join(schema.ObjectNames(), ", "))
	}
	return o, nil
}

// objects returns both sides' object types.
func (s *sideConns) objects(ctx context.Context, def syncdef.Definition) (left, right sdk.ObjectType, err error) {
	if left, err = s.objectOf(ctx, syncdef.Left, def.Left); err != nil {
		return
	}
	right, err = s.objectOf(ctx, syncdef.Right, def.Right)
	return
}

// valueJSON is a value as --json shows it: null, a number, a boolean, a
// list, or text.
func valueJSON(v sdk.Value) any {
	switch v.Kind {
	case sdk.KindNull:
		return nil
	case sdk.KindInteger:
		return v.Int
	case sdk.KindBoolean:
		return v.Bool
	case sdk.KindStringList:
		if v.List == nil {
			return []string{}
		}
		return v.List
	case sdk.KindDecimal:
		return json.Number(v.Str)
	}
	return v.Text()
}

// valueText is a value as tables show it.
func valueText(v sdk.Value) string {
	if v.IsEmpty() {
		return "(empty)"
	}
	return fmt.Sprintf("%q", v.Text())
}

// jsonOrText runs the --json or the text printer.
func (e *env) jsonOrText(c *cli.Context, v any, text func() error) error {
	if c.Bool("json") {
		return e.printJSON(v)
	}
	return text()
}

// nameArg returns the first argument of a command taking NAME and more.
func nameArg(c *cli.Context, want int, what string) ([]string, error) {
	if c.NArg() != want {
		return nil, usageErrorf(c, "expected %s, got %d argument(s)", what, c.NArg())
	}
	return c.Args().Slice(), nil
}
