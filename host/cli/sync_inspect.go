package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
)

func (e *env) syncStatusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a sync's last run and totals",
		ArgsUsage: "NAME",
		UsageText: "datasync sync status NAME [--json]",
		Description: `Shows the state, the last run, the linked records by state (syncing,
excluded by a filter, failing, deleted on one side), the records with errors,
open conflicts and queued deletes, and what all runs created, updated and
deleted on each side.

Examples:
   datasync sync status crm-news
   datasync sync status crm-news --json | jq .totals.right.created`,
		Flags:  []cli.Flag{jsonFlag()},
		Action: e.syncStatus,
	}
}

// sideTotals is what all runs did to one side.
type sideTotals struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	Failed  int `json:"failed"` // failed writes
}

type statusView struct {
	Name    string          `json:"name"`
	State   string          `json:"state"`
	Left    string          `json:"left"`
	Right   string          `json:"right"`
	LastRun *engine.RunView `json:"last_run"`
	Runs    int             `json:"runs"`
	// RunningBy is the process whose run holds the sync's lease now (a
	// daemon or `sync run`: host:pid), until LeaseUntil unless renewed.
	RunningBy  string     `json:"running_by,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	// WatchedBy names, for each side a daemon watches for changes, that
	// daemon (host:pid).
	WatchedBy map[string]string `json:"watched_by,omitempty"`
	Records   struct {
		Linked       int `json:"linked"`
		Syncing      int `json:"syncing"`
		Excluded     int `json:"excluded"`
		Failing      int `json:"failing"` // records (linked or not) with errors
		LeftDeleted  int `json:"left_deleted"`
		RightDeleted int `json:"right_deleted"`
	} `json:"records"`
	Errors        map[string]int `json:"errors"` // by category
	Conflicts     int            `json:"conflicts"`
	QueuedDeletes int            `json:"queued_deletes"`
	Totals        struct {
		Left  sideTotals `json:"left"`
		Right sideTotals `json:"right"`
	} `json:"totals"`
}

func (e *env) syncStatus(c *cli.Context) error {
	return e.withSync(c, func(st *store.Store, sy store.Sync, def syncdef.Definition) error {
		ctx := c.Context
		v := statusView{Name: sy.Name, State: sy.State, Left: def.Left.String(), Right: def.Right.String(), Errors: map[string]int{}}
		runs, err := st.Runs(ctx, sy.Name, 0)
		if err != nil {
			return err
		}
		v.Runs = len(runs)
		holder, until, err := st.LeaseHolder(ctx, sy.Name)
		if err != nil {
			return err
		}
		if holder != "" {
			v.RunningBy, v.LeaseUntil = holder, &until
		}
		for _, side := range []string{syncdef.Left, syncdef.Right} {
			by, _, err := st.LeaseHolder(ctx, store.WatchLease(sy.Name, side))
			if err != nil {
				return err
			}
			if by != "" {
				if v.WatchedBy == nil {
					v.WatchedBy = map[string]string{}
				}
				v.WatchedBy[side] = by
			}
		}
		for i, r := range runs {
			rv := engine.NewRunView(r)
			if i == 0 {
				v.LastRun = &rv
			}
			for _, s := range []struct {
				t *sideTotals
				c engine.Counts
			}{{&v.Totals.Left, rv.Left}, {&v.Totals.Right, rv.Right}} {
				s.t.Created += s.c.Created
				s.t.Updated += s.c.Updated
				s.t.Deleted += s.c.Deleted
				s.t.Failed += s.c.Failed
			}
		}
		counts, err := st.LinkCounts(ctx, sy.Name)
		if err != nil {
			return err
		}
		for _, n := range counts {
			v.Records.Linked += n
		}
		v.Records.Syncing = counts[store.LinkSyncing]
		v.Records.Excluded = counts[store.LinkExcluded]
		v.Records.LeftDeleted = counts[store.LinkLeftDeleted]
		v.Records.RightDeleted = counts[store.LinkRightDeleted]
		errs, err := st.Errors(ctx, sy.Name, "")
		if err != nil {
			return err
		}
		failing := map[[2]string]bool{}
		for _, re := range errs {
			v.Errors[re.Category]++
			if re.RecordID != "" {
				failing[[2]string{re.Side, re.RecordID}] = true
			}
		}
		v.Records.Failing = len(failing)
		confl, err := st.Conflicts(ctx, sy.Name)
		if err != nil {
			return err
		}
		v.Conflicts = len(confl)
		queued, err := st.QueuedDeletes(ctx, sy.Name)
		if err != nil {
			return err
		}
		v.QueuedDeletes = len(queued)
		return e.jsonOrText(c, v, func() error {
			e.printStatus(v)
			return nil
		})
	})
}

func (e *env) printStatus(v statusView) {
	w := e.stdout
	fmt.Fprintf(w, "Sync %s (%s): %s ⇄ %s\n", v.Name, v.State, v.Left, v.Right)
	if v.RunningBy != "" {
		fmt.Fprintf(w, "Running:   now, by %s (its lease runs to %s unless renewed)\n", v.RunningBy, v.LeaseUntil.Local().Format("15:04:05"))
	}
	for _, side := range []string{syncdef.Left, syncdef.Right} {
		if by := v.WatchedBy[side]; by != "" {
			fmt.Fprintf(w, "Watched:   %s side, by %s (a change runs the sync within seconds)\n", side, by)
		}
	}
	if r := v.LastRun; r != nil {
		fmt.Fprintf(w, "Last run:  %s, started %s", r.Status, r.Started.Local().Format("2006-01-02 15:04:05"))
		if r.Finished != nil {
			fmt.Fprintf(w, ", took %s", r.Finished.Sub(r.Started).Round(time.Millisecond))
		}
		fmt.Fprintln(w)
		if r.Error != "" {
			fmt.Fprintf(w, "           %s\n", r.Error)
		}
	} else {
		fmt.Fprintf(w, "Last run:  never (run it with `datasync sync run %s`)\n", v.Name)
	}
	rc := v.Records
	fmt.Fprintf(w, "Records:   %d linked: %d syncing, %d excluded by filters", rc.Linked, rc.Syncing, rc.Excluded)
	if rc.LeftDeleted+rc.RightDeleted > 0 {
		fmt.Fprintf(w, ", %d deleted on the left, %d on the right", rc.LeftDeleted, rc.RightDeleted)
	}
	fmt.Fprintf(w, "; %d failing\n", rc.Failing)
	if len(v.Errors) > 0 {
		cats := make([]string, 0, len(v.Errors))
		for c := range v.Errors {
			cats = append(cats, c)
		}
		sort.Strings(cats)
		var parts []string
		for _, c := range cats {
			parts = append(parts, fmt.Sprintf("%d %s", v.Errors[c], c))
		}
		fmt.Fprintf(w, "Errors:    %s (see `datasync sync errors %s`)\n", strings.Join(parts, ", "), v.Name)
	}
	if v.Conflicts > 0 {
		fmt.Fprintf(w, "Conflicts: %d open (see `datasync sync conflicts %s`)\n", v.Conflicts, v.Name)
	}
	if v.QueuedDeletes > 0 {
		fmt.Fprintf(w, "Deletes:   %d queued for approval\n", v.QueuedDeletes)
	}
	fmt.Fprintf(w, "Totals over %s:\n", plural(v.Runs, "run", "runs"))
	t := e.newTable("  SIDE", "CREATED", "UPDATED", "DELETED", "FAILED WRITES")
	for _, s := range []struct {
		name string
		t    sideTotals
	}{{"  left", v.Totals.Left}, {"  right", v.Totals.Right}} {
		t.row(s.name, fmt.Sprint(s.t.Created), fmt.Sprint(s.t.Updated), fmt.Sprint(s.t.Deleted), fmt.Sprint(s.t.Failed))
	}
	_ = t.flush()
}

func (e *env) syncErrorsCommand() *cli.Command {
	return &cli.Command{
		Name:      "errors",
		Usage:     "show why records did not sync, grouped by cause, with how to fix them",
		ArgsUsage: "NAME",
		UsageText: "datasync sync errors NAME [--category C] [--json]",
		Description: `Categories: missing_identifier, duplicate_identifier, validation, conflict, stale,
duplicate, rate_limited, auth, unreachable, plugin_crashed, safety_stop...
Each group has a count, the records (side, id, field and value) and a hint.
An error without a record is about a whole connection or run.

Examples:
   datasync sync errors crm-news
   datasync sync errors crm-news --category validation
   datasync sync errors crm-news --json | jq '.[] | {category, count}'`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.StringFlag{Name: "category", Usage: "only errors of category `C`"},
		},
		Action: func(c *cli.Context) error {
			return e.withSync(c, func(st *store.Store, sy store.Sync, _ syncdef.Definition) error {
				errs, err := st.Errors(c.Context, sy.Name, c.String("category"))
				if err != nil {
					return err
				}
				groups := engine.GroupErrors(errs)
				if groups == nil {
					groups = []engine.ErrorGroup{}
				}
				return e.jsonOrText(c, groups, func() error {
					if len(groups) == 0 {
						what := "no errors"
						if cat := c.String("category"); cat != "" {
							what = "no " + cat + " errors"
						}
						fmt.Fprintf(e.stdout, "Sync %s has %s.\n", sy.Name, what)
						return nil
					}
					e.printErrorGroups(groups)
					return nil
				})
			})
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (e *env) printErrorGroups(groups []engine.ErrorGroup) {
	w := e.stdout
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %s\n", g.Category, plural(g.Count, "record", "records"))
		fmt.Fprintf(w, "  fix: %s\n", g.Hint)
		for _, r := range g.Records {
			who := r.Side + " " + r.RecordID
			if r.RecordID == "" {
				who = "run"
				if r.Side != "" {
					who = r.Side + " connection"
				}
			}
			line := "  - " + who
			if r.Field != "" {
				line += fmt.Sprintf(" %s=%q", r.Field, r.Value)
			}
			fmt.Fprintf(w, "%s: %s\n", line, r.Message)
		}
	}
}

func (e *env) syncRecordsCommand() *cli.Command {
	return &cli.Command{
		Name:      "records",
		Usage:     "list the records a sync created (or updated, deleted), to verify it",
		ArgsUsage: "NAME",
		UsageText: "datasync sync records NAME [--created] [--updated] [--deleted] [--side left|right] [--since DATE] [--json]",
		Description: `Lists what the sync did to records, newest first, from its history:
--created (the default) the records it created, --updated and --deleted
the others; with the values written. --since takes a date (2026-11-28), a
time (2026-11-28T15:04:05Z) or a duration back from now (2h).

Examples:
   datasync sync records crm-news --created
   datasync sync records crm-news --created --side right --since 2h --json`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.BoolFlag{Name: "created", Usage: "records the sync created (the default)"},
			&cli.BoolFlag{Name: "updated", Usage: "records the sync updated"},
			&cli.BoolFlag{Name: "deleted", Usage: "records the sync deleted"},
			&cli.StringFlag{Name: "side", Usage: "only records on this side: left or right"},
			&cli.StringFlag{Name: "since", Usage: "only since `DATE` (2026-11-28, RFC 3339, or a duration like 24h)"},
		},
		Action: e.syncRecords,
	}
}

// parseSince reads a date, an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date: write 2026-11-28, 2026-11-28T15:04:05Z or a duration such as 24h", s)
}

type recordView struct {
	Side      string         `json:"side"`
	RecordID  string         `json:"record_id"`
	Op        string         `json:"op"`
	At        time.Time      `json:"at"`
	Direction string         `json:"direction"`
	RunID     string         `json:"run_id"`
	Fields    map[string]any `json:"fields"`
	Old       map[string]any `json:"old,omitempty"`
}

func (e *env) syncRecords(c *cli.Context) error {
	var ops []string
	for _, op := range []string{store.OpCreate, store.OpUpdate, store.OpDelete} {
		if c.Bool(op + "d") {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		ops = []string{store.OpCreate}
	}
	side := c.String("side")
	if side != "" && side != syncdef.Left && side != syncdef.Right {
		return usageErrorf(c, "--side %q: use left or right", side)
	}
	var since time.Time
	if s := c.String("since"); s != "" {
		var err error
		if since, err = parseSince(s, time.Now()); err != nil {
			return usageErrorf(c, "--since: %v", err)
		}
	}
	return e.withSync(c, func(st *store.Store, sy store.Sync, _ syncdef.Definition) error {
		out := []recordView{}
		for _, op := range ops {
			hist, err := st.History(c.Context, store.HistoryQuery{Sync: sy.Name, Op: op, Side: side, Since: since})
			if err != nil {
				return err
			}
			for _, h := range hist {
				v := recordView{Side: h.Side, RecordID: h.RecordID, Op: h.Op, At: h.At, Direction: h.Direction,
					RunID: h.RunID, Fields: map[string]any{}}
				for _, ch := range h.Changes {
					v.Fields[ch.Field] = valueJSON(ch.New.Value)
					if op == store.OpUpdate {
						if v.Old == nil {
							v.Old = map[string]any{}
						}
						v.Old[ch.Field] = valueJSON(ch.Old.Value)
					}
				}
				out = append(out, v)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
		return e.jsonOrText(c, out, func() error {
			if len(out) == 0 {
				fmt.Fprintf(e.stdout, "Sync %s has %s no records yet.\n", sy.Name, strings.Join(pastTense(ops), " or "))
				return nil
			}
			t := e.newTable("SIDE", "RECORD", "OP", "AT", "FIELDS")
			for _, v := range out {
				keys := make([]string, 0, len(v.Fields))
				for k := range v.Fields {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var fs []string
				for _, k := range keys {
					if v.Old != nil {
						fs = append(fs, fmt.Sprintf("%s %s → %s", k, jsonText(v.Old[k]), jsonText(v.Fields[k])))
					} else {
						fs = append(fs, k+"="+jsonText(v.Fields[k]))
					}
				}
				t.row(v.Side, v.RecordID, v.Op, v.At.Local().Format("2006-01-02 15:04:05"), strings.Join(fs, ", "))
			}
			return t.flush()
		})
	})
}

func pastTense(ops []string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op + "d"
	}
	return out
}

func (e *env) syncConflictsCommand() *cli.Command {
	return &cli.Command{
		Name:      "conflicts",
		Usage:     "list fields changed differently on both sides under the manual rule",
		ArgsUsage: "NAME",
		UsageText: "datasync sync conflicts NAME [--json]",
		Description: `Settle one with "sync resolve NAME ID --take left|right" (an unambiguous
prefix of the ID is enough).

Examples:
   datasync sync conflicts crm-news
   datasync sync conflicts crm-news --json`,
		Flags: []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			return e.withSync(c, func(st *store.Store, sy store.Sync, _ syncdef.Definition) error {
				confl, err := st.Conflicts(c.Context, sy.Name)
				if err != nil {
					return err
				}
				out := []conflictView{}
				for _, cf := range confl {
					out = append(out, newConflictView(cf))
				}
				return e.jsonOrText(c, out, func() error {
					if len(out) == 0 {
						fmt.Fprintf(e.stdout, "Sync %s has no open conflicts.\n", sy.Name)
						return nil
					}
					t := e.newTable("ID", "LEFT RECORD", "RIGHT RECORD", "FIELD", "LEFT VALUE", "RIGHT VALUE", "SINCE")
					for _, v := range out {
						t.row(v.ID, v.LeftID, v.RightID, v.Field, jsonText(v.Left), jsonText(v.Right),
							v.Created.Local().Format("2006-01-02 15:04:05"))
					}
					if err := t.flush(); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "\nSettle one with: datasync sync resolve %s ID --take left|right\n", sy.Name)
					return nil
				})
			})
		},
	}
}

type conflictView struct {
	ID      string    `json:"id"`
	LeftID  string    `json:"left_id"`
	RightID string    `json:"right_id"`
	Field   string    `json:"field"` // the mapping, LEFT=RIGHT
	Left    any       `json:"left"`
	Right   any       `json:"right"`
	Created time.Time `json:"created"`
}

func newConflictView(c store.Conflict) conflictView {
	return conflictView{ID: c.ID, LeftID: c.LeftID, RightID: c.RightID, Field: c.Field,
		Left: valueJSON(c.Left), Right: valueJSON(c.Right), Created: c.Created}
}

func (e *env) syncResolveCommand() *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "settle a manual conflict by taking one side's value",
		ArgsUsage: "NAME ID",
		UsageText: "datasync sync resolve NAME ID --take left|right",
		Description: `Writes the chosen side's value (as the conflict recorded it) to the other
side now, and makes it the field's base. ID is from "sync conflicts"; an
unambiguous prefix is enough. The plugins of both connections are launched.

Examples:
   datasync sync resolve crm-news 3f2a9c --take left
   datasync sync resolve crm-news 3f2a9c1e77d04b51 --take right`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "take", Usage: "the side whose value wins: left or right"},
		},
		Action: e.syncResolve,
	}
}

func (e *env) syncResolve(c *cli.Context) error {
	ctx := c.Context
	args, err := nameArg(c, 2, "NAME ID")
	if err != nil {
		return err
	}
	name, id := args[0], args[1]
	take := c.String("take")
	if take != syncdef.Left && take != syncdef.Right {
		return usageErrorf(c, "--take left or --take right is required")
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
	confl, err := st.Conflicts(ctx, name)
	if err != nil {
		return err
	}
	var found []store.Conflict
	for _, cf := range confl {
		if cf.ID == id || len(id) >= 4 && strings.HasPrefix(cf.ID, id) {
			found = append(found, cf)
		}
	}
	switch {
	case len(found) == 0:
		return fmt.Errorf("sync %s has no open conflict %s: see `datasync sync conflicts %s`", name, id, name)
	case len(found) > 1:
		return fmt.Errorf("%s is the start of %d conflict ids: give more of it", id, len(found))
	}
	cf := found[0]
	conns := e.newSideConns()
	defer conns.close()
	if err := engine.New(st, conns.dial).Resolve(ctx, def, cf.ID, take); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	target, targetID, v := syncdef.Right, cf.RightID, cf.Left
	if take == syncdef.Right {
		target, targetID, v = syncdef.Left, cf.LeftID, cf.Right
	}
	field := cf.Field
	if l, r, ok := strings.Cut(cf.Field, "="); ok {
		field = r
		if target == syncdef.Left {
			field = l
		}
	}
	fmt.Fprintf(e.stdout, "Resolved conflict %s: wrote the %s value %s to the %s record %s's %s.\n",
		cf.ID, take, valueText(v), target, targetID, field)
	return nil
}

func (e *env) syncDeletesCommand() *cli.Command {
	return &cli.Command{
		Name:      "deletes",
		Usage:     "list the deletes queued for approval (--deletes queue), and approve them",
		ArgsUsage: "NAME",
		UsageText: "datasync sync deletes NAME [--approve ID]... [--approve-all] [--json]",
		Description: `With --deletes queue, a record deleted on one side is not deleted on the
other: the delete waits here. --approve carries out the given ones (an
unambiguous ID prefix is enough), --approve-all every one; the plugins of both
connections are launched. A queued delete whose record was paired again
meanwhile is dropped without deleting anything.

Examples:
   datasync sync deletes crm-news
   datasync sync deletes crm-news --approve 5d1c0e
   datasync sync deletes crm-news --approve-all`,
		Flags: []cli.Flag{
			jsonFlag(),
			&cli.StringSliceFlag{Name: "approve", Usage: "carry out the queued delete `ID` (repeatable)"},
			&cli.BoolFlag{Name: "approve-all", Usage: "carry out every queued delete"},
		},
		Action: e.syncDeletes,
	}
}

type queuedView struct {
	ID       string    `json:"id"`
	Side     string    `json:"side"`      // where the record would be deleted
	RecordID string    `json:"record_id"` // the record that would be deleted
	OtherID  string    `json:"other_id"`  // its partner, deleted on the other side
	Queued   time.Time `json:"queued"`
}

func (e *env) syncDeletes(c *cli.Context) error {
	ctx := c.Context
	approve, all := c.StringSlice("approve"), c.Bool("approve-all")
	if all && len(approve) > 0 {
		return usageErrorf(c, "give --approve ID or --approve-all, not both")
	}
	return e.withSync(c, func(st *store.Store, sy store.Sync, def syncdef.Definition) error {
		queued, err := st.QueuedDeletes(ctx, sy.Name)
		if err != nil {
			return err
		}
		if !all && len(approve) == 0 {
			out := []queuedView{}
			for _, q := range queued {
				out = append(out, queuedView{ID: q.ID, Side: q.Side, RecordID: q.RecordID, OtherID: q.OtherID, Queued: q.Queued})
			}
			return e.jsonOrText(c, out, func() error {
				if len(out) == 0 {
					fmt.Fprintf(e.stdout, "Sync %s has no deletes waiting for approval.\n", sy.Name)
					return nil
				}
				t := e.newTable("ID", "DELETE", "BECAUSE DELETED", "QUEUED")
				for _, q := range out {
					t.row(q.ID, q.Side+" "+q.RecordID, otherSide(q.Side)+" "+q.OtherID, q.Queued.Local().Format("2006-01-02 15:04:05"))
				}
				if err := t.flush(); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "\nApprove with: datasync sync deletes %s --approve ID (or --approve-all)\n", sy.Name)
				return nil
			})
		}
		var ids []string
		for _, a := range approve {
			var match []string
			for _, q := range queued {
				if q.ID == a || len(a) >= 4 && strings.HasPrefix(q.ID, a) {
					match = append(match, q.ID)
				}
			}
			switch len(match) {
			case 0:
				return fmt.Errorf("sync %s has no queued delete %s: see `datasync sync deletes %s`", sy.Name, a, sy.Name)
			case 1:
				ids = append(ids, match[0])
			default:
				return fmt.Errorf("%s is the start of %d queued delete ids: give more of it", a, len(match))
			}
		}
		if all && len(queued) == 0 {
			fmt.Fprintf(e.stdout, "Sync %s has no deletes waiting for approval.\n", sy.Name)
			return nil
		}
		conns := e.newSideConns()
		defer conns.close()
		n, err := engine.New(st, conns.dial).ApplyQueuedDeletes(ctx, def, st, ids)
		if err != nil {
			return fmt.Errorf("sync %s: approve deletes (%d done): %w", sy.Name, n, err)
		}
		asked := len(ids)
		if all {
			asked = len(queued)
		}
		fmt.Fprintf(e.stdout, "Deleted %s", plural(n, "record", "records"))
		if n < asked {
			fmt.Fprintf(e.stdout, "; %d queued deletes were dropped, their records being paired again", asked-n)
		}
		fmt.Fprintln(e.stdout)
		return nil
	})
}

func otherSide(side string) string {
	if side == syncdef.Left {
		return syncdef.Right
	}
	return syncdef.Left
}
