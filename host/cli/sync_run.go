package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/pluginhost"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
)

func (e *env) syncPlanCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show what a run would do, writing nothing",
		ArgsUsage: "NAME",
		UsageText: "datasync sync plan NAME [--full] [--json]",
		Description: `A dry run: reads both sides like "sync run" and lists the records it would
create, update (field: old → new) and delete on each side, the conflicts it
would leave, and the records that would fail (validation, match keys). Nothing
is written, neither to the apps nor to datasync's state.

Examples:
   datasync sync plan crm-news
   datasync sync plan crm-news --json | jq '.right.create | length'`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.BoolFlag{Name: "full", Usage: "read both sides completely, as `sync run --full` would"},
		},
		Action: e.syncPlan,
	}
}

func (e *env) syncPlan(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	_, def, err := loadSync(ctx, st, name)
	if err != nil {
		return err
	}
	conns := e.newSideConns()
	defer conns.close()
	plan, err := engine.New(st, conns.dial).Plan(ctx, def, engine.Options{Full: c.Bool("full")})
	if err != nil {
		return fmt.Errorf("plan of sync %s: %w", name, err)
	}
	v := newPlanView(plan)
	return e.jsonOrText(c, v, func() error {
		e.printPlan(def, v)
		return nil
	})
}

type changeView struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

type createView struct {
	Source string       `json:"source"` // the record copied, on the other side
	Fields []changeView `json:"fields"`
}

type updateView struct {
	ID      string       `json:"id"`
	Changes []changeView `json:"changes"`
}

type sidePlanView struct {
	Create []createView           `json:"create"`
	Update []updateView           `json:"update"`
	Delete []engine.PlannedDelete `json:"delete"`
	Queue  []engine.PlannedDelete `json:"queue"`
}

type conflictPlanView struct {
	LeftID  string `json:"left_id"`
	RightID string `json:"right_id"`
	Field   string `json:"field"`
	Left    any    `json:"left"`
	Right   any    `json:"right"`
}

// planView is engine.Plan with values as plain JSON.
type planView struct {
	Sync      string              `json:"sync"`
	Left      sidePlanView        `json:"left"`
	Right     sidePlanView        `json:"right"`
	Conflicts []conflictPlanView  `json:"conflicts"`
	Errors    []engine.ErrorGroup `json:"errors"`
	Excluded  struct {
		Left  int `json:"left"`
		Right int `json:"right"`
	} `json:"excluded"`
	Writes int `json:"writes"` // creates + updates + deletes on both sides
}

func changes(fc []engine.FieldChange) []changeView {
	out := []changeView{}
	for _, c := range fc {
		out = append(out, changeView{Field: c.Field, Old: valueJSON(c.Old), New: valueJSON(c.New)})
	}
	return out
}

func newSidePlanView(s engine.SidePlan) sidePlanView {
	v := sidePlanView{Create: []createView{}, Update: []updateView{}, Delete: s.Delete, Queue: s.Queue}
	for _, c := range s.Create {
		v.Create = append(v.Create, createView{Source: c.Source, Fields: changes(c.Fields)})
	}
	for _, u := range s.Update {
		v.Update = append(v.Update, updateView{ID: u.ID, Changes: changes(u.Changes)})
	}
	if v.Delete == nil {
		v.Delete = []engine.PlannedDelete{}
	}
	if v.Queue == nil {
		v.Queue = []engine.PlannedDelete{}
	}
	return v
}

func newPlanView(p engine.Plan) planView {
	v := planView{Sync: p.Sync, Left: newSidePlanView(p.Left), Right: newSidePlanView(p.Right),
		Conflicts: []conflictPlanView{}, Errors: p.Errors}
	for _, c := range p.Conflicts {
		v.Conflicts = append(v.Conflicts, conflictPlanView{LeftID: c.LeftID, RightID: c.RightID, Field: c.Field,
			Left: valueJSON(c.Left), Right: valueJSON(c.Right)})
	}
	if v.Errors == nil {
		v.Errors = []engine.ErrorGroup{}
	}
	v.Excluded.Left, v.Excluded.Right = p.Excluded[0], p.Excluded[1]
	for _, s := range []sidePlanView{v.Left, v.Right} {
		v.Writes += len(s.Create) + len(s.Update) + len(s.Delete)
	}
	return v
}

func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "(empty)"
	case string:
		if x == "" {
			return "(empty)"
		}
		return fmt.Sprintf("%q", x)
	case []string:
		if len(x) == 0 {
			return "(empty)"
		}
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

func (e *env) printPlan(def syncdef.Definition, v planView) {
	w := e.stdout
	fmt.Fprintf(w, "Plan of sync %s (nothing was written):\n", def.Name)
	for _, s := range []struct {
		name string
		side syncdef.Side
		plan sidePlanView
	}{{syncdef.Left, def.Left, v.Left}, {syncdef.Right, def.Right, v.Right}} {
		p := s.plan
		fmt.Fprintf(w, "\n%s (%s): %d to create, %d to update, %d to delete", s.name, s.side, len(p.Create), len(p.Update), len(p.Delete))
		if len(p.Queue) > 0 {
			fmt.Fprintf(w, ", %d deletes to queue for approval", len(p.Queue))
		}
		fmt.Fprintln(w)
		other := syncdef.Right
		if s.name == syncdef.Right {
			other = syncdef.Left
		}
		for _, c := range p.Create {
			var fs []string
			for _, f := range c.Fields {
				fs = append(fs, f.Field+"="+jsonText(f.New))
			}
			fmt.Fprintf(w, "  create from %s %s: %s\n", other, c.Source, strings.Join(fs, ", "))
		}
		for _, u := range p.Update {
			var fs []string
			for _, f := range u.Changes {
				fs = append(fs, fmt.Sprintf("%s %s → %s", f.Field, jsonText(f.Old), jsonText(f.New)))
			}
			fmt.Fprintf(w, "  update %s: %s\n", u.ID, strings.Join(fs, "; "))
		}
		for _, d := range p.Delete {
			fmt.Fprintf(w, "  delete %s (deleted on the %s: %s)\n", d.ID, other, d.Because)
		}
		for _, d := range p.Queue {
			fmt.Fprintf(w, "  queue delete of %s for approval (deleted on the %s: %s)\n", d.ID, other, d.Because)
		}
	}
	if len(v.Conflicts) > 0 {
		fmt.Fprintf(w, "\nConflicts left for you (manual rule): %d\n", len(v.Conflicts))
		for _, c := range v.Conflicts {
			fmt.Fprintf(w, "  %s/%s %s: left %s, right %s\n", c.LeftID, c.RightID, c.Field, jsonText(c.Left), jsonText(c.Right))
		}
	}
	if len(v.Errors) > 0 {
		fmt.Fprintln(w, "\nWould fail:")
		e.printErrorGroups(v.Errors)
	}
	if v.Excluded.Left+v.Excluded.Right > 0 {
		fmt.Fprintf(w, "\nExcluded by filters: %d left, %d right\n", v.Excluded.Left, v.Excluded.Right)
	}
	if v.Writes == 0 {
		fmt.Fprintln(w, "\nNothing to write: both sides are in step.")
	}
}

func (e *env) syncRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a sync once, whatever its state",
		ArgsUsage: "NAME",
		UsageText: "datasync sync run NAME [--full] [--force-deletes] [--json]",
		Description: `Reads the changes on both sides, writes what must flow and records the
outcome. Exits 0 when the run completed, even if some records failed: they
are summed up per side, and "sync errors NAME" says why and how to fix them.
Exits 1 when the run itself could not complete (a connection down, a plugin
crashed, a safety stop) and says why.

Many changes (a bulk edit in an app) are read, written and committed a slice
of 20,000 records a side at a time, so memory stays bounded; the summary says
how many slices the run took. Interrupted (Ctrl-C), the next run goes on
from the last slice committed.

Some runs must read a side to the end: after the filters, match keys or
sides changed, after a mapping was added that cannot be backfilled, or
when a connector cannot read only what changed. They take longer, and the
summary says why ("Read in full: ...").

--full looks at every record of both sides, not just the changes since
the last run: it finds what incremental reads cannot (deletes in apps
without tombstones, changes that slipped past a cursor). Each plugin first
sums a hash of its records' ids and versions, per bucket of ids; a side
whose sums agree with the links is not read at all (its records show as
"verified unchanged by digest"), and of a side where a few buckets disagree
only those buckets are read.

Safety stop: when a complete read of a side lacks most of its linked
records (or all of them), the run stops rather than reading an outage as a
mass delete. If the deletes are real, run again with --force-deletes.

Examples:
   datasync sync run crm-news
   datasync sync run crm-news --full
   datasync sync run crm-news --force-deletes
   datasync sync run crm-news --json | jq .right.created`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.BoolFlag{Name: "full", Usage: "look at every record of both sides, ignoring the cursors (what digests show unchanged is not read)"},
			&cli.BoolFlag{Name: "force-deletes", Usage: "go on although a side lost most of its linked records"},
		},
		Action: func(c *cli.Context) error {
			return e.syncRunOnce(c, engine.Options{Full: c.Bool("full"), Force: c.Bool("force-deletes")}, nil)
		},
	}
}

func (e *env) syncRetryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "run a sync now, retrying its failing records whatever their backoff",
		ArgsUsage: "NAME",
		UsageText: "datasync sync retry NAME [--record ID] [--json]",
		Description: `Failing records are retried on their own with a growing backoff, and at once
when they change. retry runs the sync now and retries every failing record
(or only the record ID, on either side) without waiting.

Examples:
   datasync sync retry crm-news
   datasync sync retry crm-news --record 42`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.StringFlag{Name: "record", Usage: "retry only this record `ID` (left or right)"},
		},
		Action: func(c *cli.Context) error {
			id := c.String("record")
			if id == "" {
				return e.syncRunOnce(c, engine.Options{RetryAll: true}, nil)
			}
			return e.syncRunOnce(c, engine.Options{}, func(st *store.Store, name string) error {
				// Forgetting the record's errors makes it due now: the engine
				// retries records whose errors are not waiting for a backoff.
				errs, err := st.Errors(c.Context, name, "")
				if err != nil {
					return err
				}
				b := &store.Batch{Sync: name}
				for _, re := range errs {
					if re.RecordID == id {
						b.ClearErrors = append(b.ClearErrors, store.RecordKey{Side: re.Side, RecordID: id})
					}
				}
				if len(b.ClearErrors) == 0 {
					return fmt.Errorf("record %s has no errors in sync %s: see `datasync sync errors %s`", id, name, name)
				}
				return st.Commit(c.Context, b)
			})
		},
	}
}

// runResult is `sync run --json`: the engine's report and the outcome.
type runResult struct {
	engine.Report
	Status string `json:"status"` // ok or failed
	Writes int    `json:"writes"`
	Failed int    `json:"failed"` // records reported failing
}

// syncRunOnce runs a sync once; before, if set, prepares the store.
func (e *env) syncRunOnce(c *cli.Context, opts engine.Options, before func(*store.Store, string) error) error {
	ctx := c.Context
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	_, def, err := loadSync(ctx, st, name)
	if err != nil {
		return err
	}
	if before != nil {
		if err := before(st, name); err != nil {
			return err
		}
	}
	runCtx, release, err := e.takeLease(ctx, st, name)
	if err != nil {
		return err
	}
	defer release()
	conns := e.newSideConns()
	defer conns.close()
	dial := engine.Dialer(conns.dial)
	var prog *progress
	if isTerminal(e.stderr) {
		prog = newProgress(e.stderr)
		dial = prog.dialer(dial)
	}
	rep, runErr := engine.New(st, dial).Run(runCtx, def, opts)
	if prog != nil {
		prog.done()
	}
	if ctx.Err() != nil && runErr != nil {
		runErr = fmt.Errorf("interrupted: %w", runErr)
	}
	res := runResult{Report: rep, Status: store.RunOK, Writes: rep.Writes()}
	for _, g := range rep.Errors {
		res.Failed += g.Count
	}
	if runErr != nil {
		res.Status = store.RunFailed
		if res.Error == "" {
			res.Error = runErr.Error()
		}
	}
	if c.Bool("json") {
		if err := e.printJSON(res); err != nil {
			return err
		}
	} else {
		e.printRun(def, res)
	}
	if runErr != nil {
		return fmt.Errorf("sync %s: the run did not complete: %w%s", name, runErr, runHint(runErr))
	}
	return nil
}

// runHint adds what to do about a failed run.
func runHint(err error) string {
	if errors.Is(err, engine.ErrMassDelete) {
		return "" // the engine's message says to use --force-deletes
	}
	var crash *pluginhost.CrashError
	if errors.As(err, &crash) {
		return "" // the plugin's trace says it all; the next run restarts it
	}
	var re *engine.RunError
	if errors.As(err, &re) && re.Connection != "" {
		return fmt.Sprintf(" (check it with `datasync connection test %s`)", re.Connection)
	}
	return ""
}

func countsLine(c engine.Counts) string {
	s := fmt.Sprintf("%d created, %d updated, %d deleted", c.Created, c.Updated, c.Deleted)
	if c.Failed > 0 {
		s += fmt.Sprintf(", %d writes failed", c.Failed)
	}
	s += fmt.Sprintf(" (%d read", c.Read)
	if c.Verified > 0 {
		s += fmt.Sprintf(", %d verified unchanged by digest", c.Verified)
	}
	if c.Excluded > 0 {
		s += fmt.Sprintf(", %d excluded", c.Excluded)
	}
	if c.Conflicts > 0 {
		s += fmt.Sprintf(", %d conflicts", c.Conflicts)
	}
	if c.Queued > 0 {
		s += fmt.Sprintf(", %d deletes queued", c.Queued)
	}
	return s + ")"
}

func (e *env) printRun(def syncdef.Definition, r runResult) {
	w := e.stdout
	took := r.Finished.Sub(r.Started).Round(time.Millisecond)
	slices := ""
	if r.Slices > 1 {
		// Many changes: read, written and committed a slice at a time.
		slices = fmt.Sprintf(", in %d slices", r.Slices)
	}
	if r.Status == store.RunOK {
		fmt.Fprintf(w, "Run of sync %s completed in %s%s.\n", def.Name, took, slices)
	} else {
		fmt.Fprintf(w, "Run of sync %s failed after %s.\n", def.Name, took)
	}
	if r.Status == store.RunOK || r.Left != (engine.Counts{}) || r.Right != (engine.Counts{}) {
		fmt.Fprintf(w, "  left  %s: %s\n", def.Left, countsLine(r.Left))
		fmt.Fprintf(w, "  right %s: %s\n", def.Right, countsLine(r.Right))
	}
	if r.Complete != "" {
		fmt.Fprintf(w, "  Read in full: %s.\n", r.Complete)
	}
	if r.Settled > 0 {
		fmt.Fprintf(w, "  %d creates of an interrupted run were found and linked\n", r.Settled)
	}
	if r.Failed > 0 {
		var parts []string
		for _, g := range r.Errors {
			parts = append(parts, fmt.Sprintf("%d %s", g.Count, g.Category))
		}
		fmt.Fprintf(w, "  %d records did not sync: %s. See why and how to fix them: datasync sync errors %s\n",
			r.Failed, strings.Join(parts, ", "), def.Name)
	}
	if r.Status == store.RunOK && r.Writes == 0 && r.Failed == 0 {
		fmt.Fprintln(w, "  Nothing to write: both sides are in step.")
	}
}

// runLeaseTTL is how long a run's lease lasts unless renewed (every third
// of it while the run goes on).
const runLeaseTTL = time.Minute

// takeLease takes the sync's lease for a run from the command line, as the
// daemon does for its runs: a run of the sync by another process (the
// daemon, another `sync run`) is refused, and one that was killed does not
// stand in the way. The context returned is the run's: fenced by the
// lease, and cancelled should the lease be lost.
func (e *env) takeLease(ctx context.Context, st *store.Store, name string) (context.Context, func(), error) {
	l, err := daemon.AcquireLease(ctx, st, name, daemon.Holder(), runLeaseTTL, false)
	var held *store.LeaseHeldError
	if errors.As(err, &held) {
		return nil, nil, fmt.Errorf("sync %s is being run by %s (its lease runs to %s unless renewed): "+
			"wait for that run to end; `datasync sync status %s` shows it", name, held.Holder, held.Expires.Local().Format("15:04:05"), name)
	}
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(store.WithLease(ctx, l))
	stop := st.KeepLease(ctx, l, runLeaseTTL, func(err error) {
		e.log.Error("the sync's lease was lost; stopping the run", "sync", name, "error", err)
		cancel()
	})
	return runCtx, func() {
		stop()
		cancel()
		if err := st.ReleaseLease(context.WithoutCancel(ctx), l, time.Time{}); err != nil {
			e.log.Warn("could not release the sync's lease; it expires by itself", "sync", name, "error", err)
		}
	}, nil
}
