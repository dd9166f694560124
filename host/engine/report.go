package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// Counts is what a run did to one side's records.
type Counts struct {
	Read      int `json:"read"`      // records the run read (changed ones, or all on a full read)
	Created   int `json:"created"`   // records created on this side
	Updated   int `json:"updated"`   // records updated on this side
	Deleted   int `json:"deleted"`   // records deleted on this side
	Failed    int `json:"failed"`    // writes to this side that failed
	Excluded  int `json:"excluded"`  // this side's records a filter keeps out
	Unchanged int `json:"unchanged"` // linked records looked at that needed nothing
	Verified  int `json:"verified"`  // records a digest showed unchanged, without reading them (see verifyByDigest)
	Conflicts int `json:"conflicts"` // manual conflicts left open
	Queued    int `json:"queued"`    // deletes of this side's records waiting for approval
}

// RecordIssue is why one record did not sync.
type RecordIssue struct {
	Side     string `json:"side"`
	RecordID string `json:"record_id"`
	Field    string `json:"field,omitempty"`
	Value    string `json:"value,omitempty"`
	Message  string `json:"message"`
}

// ErrorGroup is the record issues of one cause, with the remedy.
type ErrorGroup struct {
	Category string        `json:"category"`
	Count    int           `json:"count"`
	Hint     string        `json:"hint"`
	Records  []RecordIssue `json:"records"`
}

// Report is the outcome of one run.
type Report struct {
	RunID    string    `json:"run_id"`
	Sync     string    `json:"sync"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Left     Counts    `json:"left"`
	Right    Counts    `json:"right"`
	Settled  int       `json:"settled,omitempty"` // creates of an interrupted run found and linked
	Slices   int       `json:"slices,omitempty"`  // the slices of a run that went in more than one (see Engine.Run)
	// Complete says why a side was read completely, where an incremental
	// read would have done but for it ("" otherwise, and in a first run):
	// the slow runs an edit of the definition costs, explained.
	Complete string       `json:"complete,omitempty"`
	Errors   []ErrorGroup `json:"errors,omitempty"`
	Error    string       `json:"error,omitempty"` // why the run itself failed
}

// Writes is the number of successful writes the run made.
func (r Report) Writes() int {
	return r.Left.Created + r.Left.Updated + r.Left.Deleted + r.Right.Created + r.Right.Updated + r.Right.Deleted
}

// add adds the counts of one slice of a run (see Engine.Run) to the run's;
// errors are gathered apart.
func (r *Report) add(o Report) {
	r.Left.add(o.Left)
	r.Right.add(o.Right)
	r.Settled += o.Settled
	if r.Complete == "" {
		r.Complete = o.Complete
	}
}

func (c *Counts) add(o Counts) {
	c.Read += o.Read
	c.Created += o.Created
	c.Updated += o.Updated
	c.Deleted += o.Deleted
	c.Failed += o.Failed
	c.Excluded += o.Excluded
	c.Unchanged += o.Unchanged
	c.Verified += o.Verified
	c.Conflicts += o.Conflicts
	c.Queued += o.Queued
}

func (r *Report) side(s int) *Counts {
	if s == sideL {
		return &r.Left
	}
	return &r.Right
}

// runCounts is what a stored run's Counts hold (store.Run.Counts).
type runCounts struct {
	Left    Counts `json:"left"`
	Right   Counts `json:"right"`
	Settled int    `json:"settled,omitempty"`
	Errors  int    `json:"errors"`
}

func (r Report) countsJSON() json.RawMessage {
	b, _ := json.Marshal(runCounts{r.Left, r.Right, r.Settled, r.errorCount()})
	return b
}

// RunView is a stored run with the counts its engine run wrote, as the CLI
// and the API show it. Finished is null while the run is running.
type RunView struct {
	ID       string     `json:"id"`
	Status   string     `json:"status"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	Left     Counts     `json:"left"`
	Right    Counts     `json:"right"`
	Errors   int        `json:"errors"`
	Error    string     `json:"error,omitempty"`
}

// NewRunView decodes a stored run; counts it cannot read are left zero.
func NewRunView(r store.Run) RunView {
	v := RunView{ID: r.ID, Status: r.Status, Started: r.Started, Error: r.Error}
	if !r.Finished.IsZero() {
		f := r.Finished
		v.Finished = &f
	}
	var c runCounts
	if len(r.Counts) > 0 && json.Unmarshal(r.Counts, &c) == nil {
		v.Left, v.Right, v.Errors = c.Left, c.Right, c.Errors
	}
	return v
}

func (r Report) errorCount() int {
	n := 0
	for _, g := range r.Errors {
		n += g.Count
	}
	return n
}

// groupErrors groups record errors by category, in a stable order.
func groupErrors(errs []store.RecordError) []ErrorGroup {
	by := map[string]*ErrorGroup{}
	var order []string
	for _, e := range errs {
		g := by[e.Category]
		if g == nil {
			g = &ErrorGroup{Category: e.Category, Hint: hintFor(e.Category, e.Side)}
			by[e.Category] = g
			order = append(order, e.Category)
		}
		g.Count++
		g.Records = append(g.Records, RecordIssue{Side: e.Side, RecordID: e.RecordID, Field: e.Field, Value: e.Value, Message: e.Message})
	}
	sort.Strings(order)
	out := make([]ErrorGroup, len(order))
	for i, c := range order {
		out[i] = *by[c]
	}
	return out
}

// GroupErrors groups stored errors by cause, as `sync errors` shows them.
func GroupErrors(errs []store.RecordError) []ErrorGroup { return groupErrors(errs) }

// hintFor says how to fix a cause of errors.
func hintFor(category, side string) string {
	switch category {
	case "missing_identifier":
		return "give the record a value in a match key field (e.g. an email), or add a fallback key with `sync map`/--match"
	case "duplicate_identifier":
		return "two records share a match key: merge or correct them in the app; datasync never merges them on its own"
	case "validation":
		return "correct the value in the source record (or the mapping's value map / transform); it is retried when the record changes"
	case "conflict":
		return "the field changed differently on both sides: settle it with `datasync sync resolve NAME ID --take left|right`"
	case sdk.CategoryDuplicate.String():
		return "a unique field on the receiving side already holds this value: fix the duplicate there, or match on that field"
	case sdk.CategoryRateLimited.String():
		return "the app is rate limiting: the records are retried on the next run"
	case sdk.CategoryTransient.String(), sdk.CategoryUnreachable.String():
		return "the app could not be reached or failed temporarily: check its status; the records are retried on the next run"
	case sdk.CategoryAuth.String():
		return fmt.Sprintf("the %s connection's credentials were refused: update them with `datasync connection add` and run again", side)
	case sdk.CategoryForbidden.String():
		return fmt.Sprintf("the %s connection's account may not do this: grant the permission in the app", side)
	case categoryStale:
		return "the record changed while the run wrote it: it is merged again on the next run (or the run's next slice)"
	case sdk.CategoryNotFound.String():
		return "the record no longer exists in the app"
	case "safety_stop":
		return "a side lost most of its linked records in one read: check the app; if the deletes are real, run with --force-deletes"
	case "filter":
		return "the filter expression failed on this record: check it with `datasync sync show`"
	case "plugin_crashed":
		return "the connector crashed: see the log; the run can be retried"
	}
	return "see the message; the record is retried on the next run"
}

// FieldChange is one field a plan would change.
type FieldChange struct {
	Field string    `json:"field"`
	Old   sdk.Value `json:"old"`
	New   sdk.Value `json:"new"`
}

// PlannedCreate is a record a plan would create from Source (other side).
type PlannedCreate struct {
	Source string        `json:"source"`
	Fields []FieldChange `json:"fields"`
}

// PlannedUpdate is a record a plan would update.
type PlannedUpdate struct {
	ID      string        `json:"id"`
	Changes []FieldChange `json:"changes"`
}

// PlannedDelete is a record a plan would delete (or queue for approval)
// because Because was deleted on the other side.
type PlannedDelete struct {
	ID      string `json:"id"`
	Because string `json:"because"`
}

// SidePlan is what a plan would do to one side.
type SidePlan struct {
	Create []PlannedCreate `json:"create"`
	Update []PlannedUpdate `json:"update"`
	Delete []PlannedDelete `json:"delete"`
	Queue  []PlannedDelete `json:"queue"`
}

// PlannedConflict is a field a plan would leave for an admin.
type PlannedConflict struct {
	LeftID  string    `json:"left_id"`
	RightID string    `json:"right_id"`
	Field   string    `json:"field"`
	Left    sdk.Value `json:"left"`
	Right   sdk.Value `json:"right"`
}

// Plan is what a run would do, computed without writing.
type Plan struct {
	Sync      string            `json:"sync"`
	Left      SidePlan          `json:"left"`
	Right     SidePlan          `json:"right"`
	Conflicts []PlannedConflict `json:"conflicts"`
	Errors    []ErrorGroup      `json:"errors"` // what would fail (validation, keys)
	Excluded  [2]int            `json:"excluded"`
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool {
	n := 0
	for _, s := range []SidePlan{p.Left, p.Right} {
		n += len(s.Create) + len(s.Update) + len(s.Delete)
	}
	return n == 0
}

func (p *Plan) side(s int) *SidePlan {
	if s == sideL {
		return &p.Left
	}
	return &p.Right
}

func (r *run) plan() (Plan, error) {
	p := Plan{Sync: r.def.Name, Excluded: [2]int{r.report.Left.Excluded, r.report.Right.Excluded}}
	var errs []store.RecordError
	for _, q := range r.pre.QueueDeletes {
		s := sideL
		if q.Side == sideNames[sideR] {
			s = sideR
		}
		p.side(s).Queue = append(p.side(s).Queue, PlannedDelete{ID: q.RecordID, Because: q.OtherID})
	}
	for _, it := range r.items {
		r.buildCreate(it)
		if err := it.unfoldBase(); err != nil {
			return p, err
		}
		errs = append(errs, it.errs...)
		for t := range sideNames {
			op := it.ops[t]
			if op == nil {
				continue
			}
			sp := p.side(t)
			switch op.Kind {
			case sdk.OpCreate:
				c := PlannedCreate{Source: it.cur[it.src].id}
				for j, f := range op.Fields {
					c.Fields = append(c.Fields, FieldChange{Field: f, New: op.Values[j]})
				}
				sp.Create = append(sp.Create, c)
			case sdk.OpUpdate:
				u := PlannedUpdate{ID: op.ID}
				for j, i := range it.opMaps[t] {
					u.Changes = append(u.Changes, FieldChange{Field: op.Fields[j], Old: r.val(it, t, i), New: op.Values[j]})
				}
				sp.Update = append(sp.Update, u)
			case sdk.OpDelete:
				sp.Delete = append(sp.Delete, PlannedDelete{ID: op.ID, Because: linkID(it.link, it.src)})
			}
		}
		for _, i := range it.conflicts {
			p.Conflicts = append(p.Conflicts, PlannedConflict{LeftID: it.link.LeftID, RightID: it.link.RightID,
				Field: r.maps[i].key, Left: r.val(it, sideL, i), Right: r.val(it, sideR, i)})
		}
	}
	p.Errors = groupErrors(errs)
	return p, nil
}
