package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

// Conn is what the engine needs of one side's connection; sdk.Conn (in
// process or over the wire) satisfies it.
type Conn interface {
	Schema(ctx context.Context) (sdk.Schema, error)
	Read(ctx context.Context, req sdk.ReadRequest, sink sdk.RecordSink) error
	Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error)
	Lookup(ctx context.Context, req sdk.LookupRequest) ([]sdk.Record, error)
}

// Dialer returns the open connection of a name used in a sync definition.
// The caller owns the connections: the engine never closes them. It is
// called for the two sides' connections at once when their names differ.
type Dialer func(ctx context.Context, connection string) (Conn, error)

// Store is the state the engine reads and commits; *store.Store satisfies it.
type Store interface {
	Cursors(ctx context.Context, sync string) (map[string]store.Cursor, error)
	EncodedLinks(ctx context.Context, sync string) ([]store.Link, error)
	RunLinks(ctx context.Context, sync string, keys []string) ([]store.Link, error)
	FillBases(ctx context.Context, sync string, links []*store.Link) error
	LinksFor(ctx context.Context, sync, side string, ids []string) ([]store.Link, error)
	RunLinksFor(ctx context.Context, sync, side string, ids []string, keys []string) ([]store.Link, error)
	LinksAfter(ctx context.Context, sync, after string, limit int) ([]store.Link, error)
	HasLinks(ctx context.Context, sync string) (bool, error)
	LinkCount(ctx context.Context, sync string) (int, error)
	LinkDigests(ctx context.Context, sync string, buckets int) (left, right []sdk.Digest, err error)
	LinkIDsInBuckets(ctx context.Context, sync, side string, n int, buckets []int) ([]string, error)
	Pending(ctx context.Context, sync string) ([]store.Pending, error)
	Journal(ctx context.Context, sync string) ([]store.JournalEntry, error)
	Errors(ctx context.Context, sync, category string) ([]store.RecordError, error)
	Conflicts(ctx context.Context, sync string) ([]store.Conflict, error)
	Commit(ctx context.Context, b *store.Batch) error
	StartRun(ctx context.Context, r store.Run) error
	Runs(ctx context.Context, sync string, limit int) ([]store.Run, error)
	FinishRun(ctx context.Context, r store.Run) error
}

// Engine runs syncs against a store.
type Engine struct {
	store   Store
	dial    Dialer
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	batch   int
	retries int
	maxWait time.Duration
	fail    func(step string) error
	// lazyMax is how many records of a side a lazy run looks up links for
	// by id before it considers loading them all (tests lower it).
	lazyMax int
	// noNarrow turns off narrow first reads (see readBoth), for tests
	// that compare runs with and without them.
	noNarrow bool
	// noFresh: a mapping new to the cursors makes every record merge again
	// with all its values (untrusted), as before run.fresh, for tests
	noFresh bool
	// noStream turns off streamed first runs (see stream.go), likewise.
	noStream bool
	// parkMax is how many streamed records a streamed first run keeps
	// waiting for their held match before it looks matches up at once
	// (see stream.fetch; tests lower it).
	parkMax int
	// noDigest turns off digest checks before complete reads (see
	// verifyByDigest), likewise; digestBuckets, when set, is how many
	// buckets they sum into.
	noDigest      bool
	digestBuckets int
	// sliceMax is how many changed records an incremental read of a side
	// takes in before it stops at the connector's next checkpoint; the run
	// then writes what it has and goes on with a new slice (see Run). Zero
	// turns slicing off (tests lower it).
	sliceMax int
	// backfillMax is how many links a backfill of fresh mappings merges at
	// a time (see backfill.go; tests lower it).
	backfillMax int
}

// Option configures an Engine.
type Option func(*Engine)

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithBatchSize sets how many write ops go in one batch (and one commit);
// the default, sdk.BatchRecords, fills one write message. Measured at 50k
// records against 500: first fill 5–8 % and incremental runs ~10 % faster.
func WithBatchSize(n int) Option { return func(e *Engine) { e.batch = max(1, n) } }

// WithRetries sets how often a rate-limited or transient write is retried
// within a run, and the longest wait honoured between tries.
func WithRetries(n int, maxWait time.Duration) Option {
	return func(e *Engine) { e.retries, e.maxWait = max(0, n), maxWait }
}

// WithSleep replaces the wait between retries, for tests.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(e *Engine) { e.sleep = f }
}

// WithFailpoint installs f, asked at each step of a run ("settled",
// "journaled", "written", "committed", "cursors"); an error stops the run
// there as a crash would, for crash tests.
func WithFailpoint(f func(step string) error) Option { return func(e *Engine) { e.fail = f } }

// New returns an Engine over st, reaching connections through dial.
func New(st Store, dial Dialer, opts ...Option) *Engine {
	e := &Engine{store: st, dial: dial, now: time.Now, sleep: sleepCtx, batch: sdk.BatchRecords, retries: 3, maxWait: 30 * time.Second,
		lazyMax: 5000, parkMax: 2000, sliceMax: 20000, backfillMax: 2000}
	for _, o := range opts {
		o(e)
	}
	return e
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (e *Engine) failpoint(step string) error {
	if e.fail == nil {
		return nil
	}
	if err := e.fail(step); err != nil {
		return fmt.Errorf("failpoint %s: %w", step, err)
	}
	return nil
}

// Options are the choices of one run.
type Options struct {
	Full     bool     // read both sides completely, ignoring cursors
	Force    bool     // go on although a side lost most of its linked records
	RetryAll bool     // retry every failing record now, whatever its backoff
	Retry    []string // retry these records (ids on either side) now
	// Stop, when closed, stops the run at the next safe point: while it
	// reads, at once (the reads are abandoned; nothing was written); once
	// it writes, after the batch in flight is written and committed. The
	// run then returns ErrStopped, and the next run does the rest.
	Stop  <-chan struct{}
	dry   bool // set by Plan: write nothing anywhere
	slice int  // set by Run: which slice of the run this is, from 1 (see Run)
	// tried: the records (side, id) that failed in the run's earlier
	// slices, which a backfill leaves alone (see run.tried); set by Run.
	tried map[[2]string]bool
	// changed: the records read changed since their link's base in the
	// run's earlier slices, at the version read. One whose link a later
	// slice finds at that version (the change taken in, with nothing
	// written that the delete could refuse) is not deleted by its partner's
	// delete that the later slice reads: to one run, the two are
	// concurrent, and modify beats delete. Set by Run, filled by
	// processLinks when deletes propagate.
	changed *changedSet
	// started: when the run began, set by Run. Every slice decides by it
	// which failed records are due a retry: one that comes due while the
	// slices go is left to the next run, as in a run of one slice.
	started time.Time
}

// changedSet is a set of records (side, id) at a version, kept as hashes: a
// bulk edit read in slices may put most of a side in it. A colliding hash
// only keeps a record its partner's delete would have deleted.
type changedSet struct {
	seed maphash.Seed
	set  map[uint64]uint64 // record → version
}

func newChangedSet() *changedSet {
	return &changedSet{seed: maphash.MakeSeed(), set: map[uint64]uint64{}}
}

func (c *changedSet) key(side, id string) uint64 { return maphash.String(c.seed, side+"\x00"+id) }

func (c *changedSet) add(side, id, version string) {
	c.set[c.key(side, id)] = maphash.String(c.seed, version)
}

// has reports whether the record is in the set at that version; a nil set
// holds nothing.
func (c *changedSet) has(side, id, version string) bool {
	if c == nil {
		return false
	}
	v, ok := c.set[c.key(side, id)]
	return ok && v == maphash.String(c.seed, version)
}

// ErrMassDelete stops a run in which a side looks wiped out: an outage must
// never read as a mass delete.
var ErrMassDelete = errors.New("safety stop: a side lost most of its linked records")

// ErrStopped ends a run stopped through Options.Stop.
var ErrStopped = errors.New("run stopped")

// RunError is a failure of the whole run (not of one record): a connection
// refused or unreachable, a plugin crash, a safety stop.
type RunError struct {
	Side       string // "left", "right" or "" when not one side's
	Connection string
	Category   sdk.Category
	Err        error
}

func (e *RunError) Error() string {
	if e.Side == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("%s side (%s): %v", e.Side, e.Connection, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// Run runs def once: read, match, merge, validate, write, commit.
//
// An incremental run goes in slices: a side whose read took in sliceMax
// changed records stops at the connector's next checkpoint, what was read
// is written and the cursors committed, and the run goes on from there with
// a new slice, as a new run would, until no side was cut. A run so holds a
// bounded number of changed records however many changed. A record changed
// on both sides whose changes fall in different slices is written with the
// version its slice knew (sdk.Op.IfVersion): the write fails as a conflict,
// and the slice that reads the other change merges the two.
//
// Mappings added or changed since the cursors were stored are merged for
// every linked pair: after the last slice, a page of links at a time, when
// both connectors look records up by id (see backfill.go), else from
// complete reads of both sides.
func (e *Engine) Run(ctx context.Context, def syncdef.Definition, opts Options) (Report, error) {
	opts.dry = false
	started := e.now()
	runID := store.NewID()
	rep := Report{RunID: runID, Sync: def.Name, Started: started}
	if err := e.store.StartRun(ctx, store.Run{ID: runID, Sync: def.Name, Started: started}); err != nil {
		return rep, err
	}
	var issues []store.RecordError // of the slices done
	var failed []failedWrite
	var err error
	opts.tried, opts.changed, opts.started = map[[2]string]bool{}, newChangedSet(), started
	for slice := 1; ; slice++ {
		var r *run
		opts.slice = slice
		r, err = e.prepareStoppable(ctx, def, opts, runID)
		if err != nil {
			break
		}
		err = r.execute(ctx)
		rep.add(r.report)
		if err != nil {
			break
		}
		issues, failed = append(issues, r.issues...), append(failed, r.failedWrites...)
		for _, x := range r.issues {
			opts.tried[[2]string{x.Side, x.RecordID}] = true
		}
		if slice > 1 || r.cut() {
			rep.Slices = slice
		}
		if !r.cut() {
			if slice > 1 {
				issues, err = e.liveIssues(ctx, def.Name, issues)
				rep.Left.Failed, rep.Right.Failed = liveFailures(issues, failed)
			}
			break
		}
		if r.stopped() {
			err = ErrStopped // between slices: the next run goes on from the cut
			break
		}
	}
	rep.Errors = groupErrors(issues)
	rep.RunID, rep.Sync, rep.Started, rep.Finished = runID, def.Name, started, e.now()
	run := store.Run{ID: runID, Sync: def.Name, Finished: rep.Finished, Status: store.RunOK, Counts: rep.countsJSON()}
	if err != nil {
		run.Status, run.Error = store.RunFailed, err.Error()
		rep.Error = err.Error()
		if !errors.Is(err, ErrStopped) {
			e.recordRunError(ctx, def, err)
		}
	}
	if ferr := e.store.FinishRun(context.WithoutCancel(ctx), run); ferr != nil && err == nil {
		err = ferr
	}
	return rep, err
}

// liveIssues keeps, of the record issues of a run's slices, those the store
// still holds: a later slice that synced a record (or dropped it) cleared
// its errors, and one that failed again replaced them, so each is reported
// once, as it failed last.
func (e *Engine) liveIssues(ctx context.Context, sync string, issues []store.RecordError) ([]store.RecordError, error) {
	stored, err := e.store.Errors(ctx, sync, "")
	if err != nil {
		return issues, fmt.Errorf("load the errors of sync %s: %w", sync, err)
	}
	live := map[issueKey]bool{}
	for _, x := range stored {
		live[keyOf(x)] = true
	}
	last := map[issueKey]int{}
	for i, x := range issues {
		last[keyOf(x)] = i
	}
	var out []store.RecordError
	for i, x := range issues {
		if k := keyOf(x); live[k] && last[k] == i {
			out = append(out, x)
		}
	}
	return out, nil
}

// issueKey identifies a record's error of one category.
type issueKey struct{ side, id, category string }

func keyOf(x store.RecordError) issueKey { return issueKey{x.Side, x.RecordID, x.Category} }

// liveFailures counts, for a run of several slices, the records whose
// writes toward each side failed and whose error is among issues (those
// the run ends with, see liveIssues): a write refused in one slice and made
// by a later one is not a failure of the run, nor a record that failed in
// two slices two.
func liveFailures(issues []store.RecordError, failed []failedWrite) (left, right int) {
	live := map[issueKey]bool{}
	for _, x := range issues {
		live[keyOf(x)] = true
	}
	seen := map[failedWrite]bool{}
	for _, f := range failed {
		if !live[f.key] || seen[f] {
			continue
		}
		seen[f] = true
		if f.side == sideL {
			left++
		} else {
			right++
		}
	}
	return left, right
}

// prepareStoppable prepares a run whose reads Options.Stop cancels.
func (e *Engine) prepareStoppable(ctx context.Context, def syncdef.Definition, opts Options, runID string) (*run, error) {
	if opts.Stop == nil {
		return e.prepare(ctx, def, opts, runID)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-opts.Stop:
			cancel()
		case <-done:
		}
	}()
	r, err := e.prepare(pctx, def, opts, runID)
	select {
	case <-opts.Stop:
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStopped, err)
		}
	default:
	}
	return r, err
}

// recordRunError keeps one error row for a run-level failure, so a dead
// connection shows as one error, not one per record.
func (e *Engine) recordRunError(ctx context.Context, def syncdef.Definition, err error) {
	var re *RunError
	if !errors.As(err, &re) {
		return
	}
	cat := re.Category.String()
	var crash interface{ PluginCrashed() bool }
	switch {
	case errors.Is(err, ErrMassDelete):
		cat = "safety_stop"
	case errors.As(err, &crash) && crash.PluginCrashed():
		cat = "plugin_crashed" // the error of a crashed connector's plugin process
	}
	_ = e.store.Commit(context.WithoutCancel(ctx), &store.Batch{Sync: def.Name, PutErrors: []store.RecordError{{
		Side: re.Side, Category: cat, Message: re.Error(), Hint: hintFor(cat, re.Side), NextRetry: e.now(),
	}}})
}

// Plan computes what Run would do without writing anything anywhere.
func (e *Engine) Plan(ctx context.Context, def syncdef.Definition, opts Options) (Plan, error) {
	opts.dry = true
	r, err := e.prepare(ctx, def, opts, "")
	if err != nil {
		return Plan{Sync: def.Name}, err
	}
	return r.plan()
}
