package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/daemon/web"
	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// Store is the state the API reads; *store.Store satisfies it.
type Store interface {
	Syncs(ctx context.Context) ([]store.Sync, error)
	LinkCounts(ctx context.Context, sync string) (map[string]int, error)
	Errors(ctx context.Context, sync, category string) ([]store.RecordError, error)
	Conflicts(ctx context.Context, sync string) ([]store.Conflict, error)
	Runs(ctx context.Context, sync string, limit int) ([]store.Run, error)
	History(ctx context.Context, q store.HistoryQuery) ([]store.HistoryEntry, error)
	Commit(ctx context.Context, b *store.Batch) error
	LeaseHolder(ctx context.Context, sync string) (string, time.Time, error)
}

// Control is the scheduler as the API drives it; *daemon.Scheduler
// satisfies it.
type Control interface {
	Loaded() bool
	Status(name string) (daemon.SyncStatus, bool)
	Statuses() []daemon.SyncStatus
	RunNow(name string, opts engine.Options) error
	SetState(ctx context.Context, name, state string) error
}

// Server is the HTTP API.
type Server struct {
	st      Store
	ctl     Control
	token   string
	metrics *Metrics
	log     hclog.Logger
}

// New returns the API over st and ctl, guarded by token.
func New(st Store, ctl Control, token string, metrics *Metrics, log hclog.Logger) *Server {
	return &Server{st: st, ctl: ctl, token: token, metrics: metrics, log: log}
}

// maxExamples bounds the example records of an error group in responses.
const maxExamples = 20

// Handler returns the routes. The dashboard's static files are public
// (they hold no data); everything else but /healthz and /readyz needs the
// token.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/syncs", s.listSyncs)
	api.HandleFunc("GET /api/v1/syncs/{name}", s.getSync)
	api.HandleFunc("GET /api/v1/syncs/{name}/errors", s.getErrors)
	api.HandleFunc("GET /api/v1/syncs/{name}/records", s.getRecords)
	api.HandleFunc("GET /api/v1/syncs/{name}/records/{side}/{id}/history", s.getRecordHistory)
	api.HandleFunc("GET /api/v1/syncs/{name}/conflicts", s.getConflicts)
	api.HandleFunc("GET /api/v1/syncs/{name}/runs", s.getRuns)
	api.HandleFunc("POST /api/v1/syncs/{name}/run", s.action(func(r *http.Request, name string) error {
		return s.ctl.RunNow(name, engine.Options{Full: r.URL.Query().Get("full") == "1"})
	}))
	api.HandleFunc("POST /api/v1/syncs/{name}/retry", s.action(s.retry))
	api.HandleFunc("POST /api/v1/syncs/{name}/pause", s.action(func(r *http.Request, name string) error {
		return s.ctl.SetState(r.Context(), name, store.SyncPaused)
	}))
	api.HandleFunc("POST /api/v1/syncs/{name}/resume", s.action(func(r *http.Request, name string) error {
		return s.ctl.SetState(r.Context(), name, store.SyncActive)
	}))
	api.Handle("GET /metrics", s.metrics.Handler())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	guarded := requireToken(s.token, api)
	mux.Handle("/api/", guarded)
	mux.Handle("/metrics", guarded)
	mux.Handle("GET /{$}", web.Handler())
	mux.Handle("GET /assets/", web.Handler())
	mux.Handle("/", guarded) // anything else: 401 without the token, 404 with it
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if !s.ctl.Loaded() {
		http.Error(w, "sync definitions not loaded yet", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.st.Syncs(ctx); err != nil {
		http.Error(w, "state store not answering", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, daemon.ErrUnknownSync) || errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	s.log.Error("api request failed", "path", r.URL.Path, "error", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
}

// known returns the status of the sync named in the path, or writes 404.
func (s *Server) known(w http.ResponseWriter, r *http.Request) (daemon.SyncStatus, bool) {
	st, ok := s.ctl.Status(r.PathValue("name"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such sync: " + r.PathValue("name")})
	}
	return st, ok
}

// Health is how a sync's records stand.
type Health struct {
	Syncing  int `json:"syncing"`
	Excluded int `json:"excluded"`
	Failing  int `json:"failing"` // records with an error (run-level errors not counted)
	Errors   int `json:"errors"`  // error rows, run-level ones included
}

// SyncView is a sync in the list and detail endpoints.
type SyncView struct {
	Name      string          `json:"name"`
	Left      string          `json:"left"`
	Right     string          `json:"right"`
	State     string          `json:"state"`
	Every     string          `json:"every"`
	Running   bool            `json:"running"`
	Queued    bool            `json:"queued"`
	Held      string          `json:"held,omitempty"`
	NextRun   *time.Time      `json:"next_run"`
	LastRun   *engine.RunView `json:"last_run"`
	LastOK    *time.Time      `json:"last_ok"`
	LastError string          `json:"last_error,omitempty"`
	Health    Health          `json:"health"`
	// Watched lists the sides whose changes run the sync within seconds.
	Watched    []string   `json:"watched,omitempty"`
	LastNotice *time.Time `json:"last_notice,omitempty"`
	// RunningBy is another process running the sync now (another daemon
	// sharing the state, `datasync sync run`): the holder of its lease.
	RunningBy string `json:"running_by,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) syncView(ctx context.Context, st daemon.SyncStatus) (SyncView, error) {
	v := SyncView{Name: st.Name, Left: st.Def.Left.String(), Right: st.Def.Right.String(), State: st.State,
		Running: st.Running, Queued: st.Queued, Held: st.Held, NextRun: timePtr(st.NextRun),
		LastOK: timePtr(st.LastOK), LastError: st.LastError, Every: "on demand", Watched: st.Watched,
		LastNotice: timePtr(st.LastNotice)}
	if st.Every > 0 {
		v.Every = st.Every.String()
	}
	if !st.Running {
		holder, _, err := s.st.LeaseHolder(ctx, st.Name)
		if err != nil {
			return v, err
		}
		v.RunningBy = holder
	}
	counts, err := s.st.LinkCounts(ctx, st.Name)
	if err != nil {
		return v, err
	}
	v.Health.Syncing, v.Health.Excluded = counts[store.LinkSyncing], counts[store.LinkExcluded]
	errs, err := s.st.Errors(ctx, st.Name, "")
	if err != nil {
		return v, err
	}
	failing := map[[2]string]bool{}
	for _, e := range errs {
		if e.RecordID != "" {
			failing[[2]string{e.Side, e.RecordID}] = true
		}
	}
	v.Health.Failing, v.Health.Errors = len(failing), len(errs)
	runs, err := s.st.Runs(ctx, st.Name, 1)
	if err != nil {
		return v, err
	}
	if len(runs) > 0 {
		rv := engine.NewRunView(runs[0])
		v.LastRun = &rv
		if v.LastOK == nil && rv.Status == store.RunOK {
			v.LastOK = rv.Finished
		}
	}
	return v, nil
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request) {
	out := []SyncView{}
	for _, st := range s.ctl.Statuses() {
		v, err := s.syncView(r.Context(), st)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSync(w http.ResponseWriter, r *http.Request) {
	st, ok := s.known(w, r)
	if !ok {
		return
	}
	v, err := s.syncView(r.Context(), st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		SyncView
		Definition any `json:"definition"`
	}{v, st.Def})
}

func (s *Server) getErrors(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.known(w, r); !ok {
		return
	}
	errs, err := s.st.Errors(r.Context(), r.PathValue("name"), r.URL.Query().Get("category"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	groups := engine.GroupErrors(errs)
	for i := range groups {
		if len(groups[i].Records) > maxExamples {
			groups[i].Records = groups[i].Records[:maxExamples]
		}
	}
	if groups == nil {
		groups = []engine.ErrorGroup{}
	}
	writeJSON(w, http.StatusOK, groups)
}

// ChangeView is one changed field with plain JSON values.
type ChangeView struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// HistoryView is one thing a sync did to a record.
type HistoryView struct {
	RunID     string       `json:"run_id"`
	Side      string       `json:"side"`
	RecordID  string       `json:"record_id"`
	Op        string       `json:"op"`
	Direction string       `json:"direction"`
	Changes   []ChangeView `json:"changes"`
	At        time.Time    `json:"at"`
}

func newHistoryView(h store.HistoryEntry) HistoryView {
	v := HistoryView{RunID: h.RunID, Side: h.Side, RecordID: h.RecordID, Op: h.Op, Direction: h.Direction, At: h.At,
		Changes: []ChangeView{}}
	for _, c := range h.Changes {
		v.Changes = append(v.Changes, ChangeView{Field: c.Field, Old: plain(c.Old.Value), New: plain(c.New.Value)})
	}
	return v
}

// plain is a value as JSON shows it: null, a number, a boolean, a list or text.
func plain(v sdk.Value) any {
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

func intParam(r *http.Request, name string, def, maxV int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, maxV)
}

// getRecords lists what the sync did to records, newest first; created=1
// keeps the creates only.
func (s *Server) getRecords(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.known(w, r); !ok {
		return
	}
	q := store.HistoryQuery{Sync: r.PathValue("name"), Side: r.URL.Query().Get("side"), Limit: intParam(r, "limit", 200, 5000)}
	if r.URL.Query().Get("created") == "1" {
		q.Op = store.OpCreate
	}
	if since := r.URL.Query().Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since: want an RFC 3339 time"})
			return
		}
		q.Since = t
	}
	hs, err := s.st.History(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]HistoryView, 0, len(hs))
	for _, h := range hs {
		out = append(out, newHistoryView(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRecordHistory(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.known(w, r); !ok {
		return
	}
	side, id := r.PathValue("side"), r.PathValue("id")
	if side != "left" && side != "right" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "side: want left or right"})
		return
	}
	// The store selects history by sync and side; the record is picked here.
	hs, err := s.st.History(r.Context(), store.HistoryQuery{Sync: r.PathValue("name"), Side: side})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []HistoryView{}
	for _, h := range hs {
		if h.RecordID == id {
			out = append(out, newHistoryView(h))
		}
	}
	errs, err := s.st.Errors(r.Context(), r.PathValue("name"), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type errView struct {
		Category  string    `json:"category"`
		Field     string    `json:"field,omitempty"`
		Value     string    `json:"value,omitempty"`
		Message   string    `json:"message"`
		Hint      string    `json:"hint"`
		Attempts  int       `json:"attempts"`
		NextRetry time.Time `json:"next_retry"`
		FirstSeen time.Time `json:"first_seen"`
	}
	ev := []errView{}
	for _, e := range errs {
		if e.Side == side && e.RecordID == id {
			ev = append(ev, errView{e.Category, e.Field, e.Value, e.Message, e.Hint, e.Attempts, e.NextRetry, e.FirstSeen})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"side": side, "id": id, "history": out, "errors": ev})
}

func (s *Server) getConflicts(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.known(w, r); !ok {
		return
	}
	cs, err := s.st.Conflicts(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type conflictView struct {
		ID      string    `json:"id"`
		LeftID  string    `json:"left_id"`
		RightID string    `json:"right_id"`
		Field   string    `json:"field"`
		Left    any       `json:"left"`
		Right   any       `json:"right"`
		Since   time.Time `json:"since"`
	}
	out := []conflictView{}
	for _, c := range cs {
		out = append(out, conflictView{c.ID, c.LeftID, c.RightID, c.Field, plain(c.Left), plain(c.Right), c.Created})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRuns(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.known(w, r); !ok {
		return
	}
	runs, err := s.st.Runs(r.Context(), r.PathValue("name"), intParam(r, "limit", 50, 1000))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]engine.RunView, 0, len(runs))
	for _, run := range runs {
		out = append(out, engine.NewRunView(run))
	}
	writeJSON(w, http.StatusOK, out)
}

// action wraps a POST on a sync: 202 with the sync's status after it.
func (s *Server) action(f func(r *http.Request, name string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := f(r, name); err != nil {
			s.fail(w, r, err)
			return
		}
		st, _ := s.ctl.Status(name)
		v, err := s.syncView(r.Context(), st)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info("api action", "sync", name, "action", r.URL.Path)
		writeJSON(w, http.StatusAccepted, v)
	}
}

// retry runs the sync now retrying every failing record, whatever its
// backoff; record=ID (with side=) retries that record only.
func (s *Server) retry(r *http.Request, name string) error {
	id := r.URL.Query().Get("record")
	if id == "" {
		return s.ctl.RunNow(name, engine.Options{RetryAll: true})
	}
	if _, ok := s.ctl.Status(name); !ok {
		return daemon.ErrUnknownSync
	}
	// Forgetting the record's errors makes it due at once.
	b := &store.Batch{Sync: name, ClearErrors: []store.RecordKey{{Side: r.URL.Query().Get("side"), RecordID: id}}}
	if b.ClearErrors[0].Side == "" {
		b.ClearErrors = []store.RecordKey{{Side: "left", RecordID: id}, {Side: "right", RecordID: id}}
	}
	if err := s.st.Commit(r.Context(), b); err != nil {
		return err
	}
	return s.ctl.RunNow(name, engine.Options{})
}
