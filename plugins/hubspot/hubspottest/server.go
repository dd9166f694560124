package hubspottest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value is a faithful default with no
// rate limits.
type Options struct {
	Token    string // the bearer token accepted; default "test-token"
	PortalID int64  // default 12345678

	// SearchWindow is how far search paging may go: HubSpot refuses an
	// `after` of 10,000 or more with a 400. Default 10,000; tests lower it.
	SearchWindow int

	// Rate limits; 0 leaves a limit off. Over a limit the server answers 429
	// with HubSpot's JSON body and a Retry-After header.
	PerSecond       int // all requests, "SECONDLY"
	PerTenSeconds   int // all requests, "TEN_SECONDLY_ROLLING"
	SearchPerSecond int // search requests (HubSpot: 5 per second per token)

	// NoMultiStatus ignores objectWriteTraceId on batch create, so one bad
	// input fails the whole batch (HubSpot's behaviour without trace ids).
	NoMultiStatus bool

	// Now is the server's clock; default time.Now.
	Now func() time.Time
	// CustomObjects are extra object types, served by /crm/v3/schemas.
	CustomObjects []CustomObject
	// ExtraContactProperties are added to the contacts properties (e.g. datasync_id).
	ExtraContactProperties []Property
}

// CustomObject is a custom object schema.
type CustomObject struct {
	Name             string // e.g. "pets"
	Singular, Plural string
	PrimaryProperty  string
	Properties       []Property
}

// Stats counts what the server saw, for tests to assert on.
type Stats struct {
	Requests       int            `json:"requests"`         // all requests, 429s included
	ByRoute        map[string]int `json:"by_route"`         // "POST /crm/v3/objects/contacts/batch/create" → count (429s excluded)
	RateLimited    int            `json:"rate_limited"`     // 429 answers
	Unauthorized   int            `json:"unauthorized"`     // 401 answers
	Injected       int            `json:"injected"`         // injected failures answered
	Created        int            `json:"created"`          // records created
	Archived       int            `json:"archived"`         // records archived
	MaxSearchAfter int            `json:"max_search_after"` // the largest `after` offset a search asked for
	WindowErrors   int            `json:"window_errors"`    // searches refused for paging past the window
}

// Server is the contract server. Safe for concurrent use.
type Server struct {
	opts Options
	mu   sync.Mutex
	objs map[string]*object // by every name it answers to
	list []*object
	next int64
	last time.Time // last write timestamp handed out

	stats   Stats
	hits    []time.Time // all requests, for the rate windows
	searchs []time.Time
	faults  []*fault
}

type fault struct {
	method, pathSuffix string
	status, left       int
	after              bool // do the work, then answer status (a lost response)
}

// New returns a server with the standard objects and no records.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "test-token"
	}
	if opts.PortalID == 0 {
		opts.PortalID = 12345678
	}
	if opts.SearchWindow <= 0 {
		opts.SearchWindow = 10_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, objs: map[string]*object{}, next: 1001, stats: Stats{ByRoute: map[string]int{}}}
	contacts := append(ContactProperties(), opts.ExtraContactProperties...)
	s.add(newObject("0-1", "contacts", "contact", "CONTACT", "lastmodifieddate", contacts))
	s.add(newObject("0-2", "companies", "company", "COMPANY", "hs_lastmodifieddate", CompanyProperties()))
	for i, c := range opts.CustomObjects {
		props := append([]Property{
			readOnly(prop("hs_createdate", "Create Date", "datetime", "date")),
			readOnly(prop("hs_lastmodifieddate", "Last Modified Date", "datetime", "date")),
			readOnly(prop("hs_object_id", "Record ID", "number", "number")),
		}, c.Properties...)
		o := newObject(fmt.Sprintf("2-%d", 1000+i), c.Name, c.Singular, strings.ToUpper(c.Name), "hs_lastmodifieddate", props)
		o.fqn = fmt.Sprintf("p%d_%s", opts.PortalID, c.Name)
		o.custom = &c
		o.created = "hs_createdate"
		s.add(o)
	}
	return s
}

func (s *Server) add(o *object) {
	s.list = append(s.list, o)
	for _, n := range []string{o.typeID, o.name, o.fqn} {
		if n != "" {
			s.objs[n] = o
		}
	}
}

// Token is the accepted bearer token.
func (s *Server) Token() string { return s.opts.Token }

// PortalID is the account id Check reports.
func (s *Server) PortalID() int64 { return s.opts.PortalID }

// Start serves on a loopback port until the test ends; it returns the base URL.
func (s *Server) Start(t interface{ Cleanup(func()) }) string {
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// SearchWindow is how far search paging may go.
func (s *Server) SearchWindow() int { return s.opts.SearchWindow }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute = map[string]int{}
	for k, v := range s.stats.ByRoute {
		st.ByRoute[k] = v
	}
	return st
}

// SetRateLimits changes the limits (0: off) and forgets past requests.
func (s *Server) SetRateLimits(perSecond, perTenSeconds, searchPerSecond int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.PerSecond, s.opts.PerTenSeconds, s.opts.SearchPerSecond = perSecond, perTenSeconds, searchPerSecond
	s.hits, s.searchs = nil, nil
}

// Fail makes the next n requests whose method matches and whose path ends
// with pathSuffix fail with status (before doing anything).
func (s *Server) Fail(method, pathSuffix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathSuffix: pathSuffix, status: status, left: n})
}

// FailAfter makes the next n matching requests do their work and then
// answer status, as when a response is lost after the server acted.
func (s *Server) FailAfter(method, pathSuffix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, pathSuffix: pathSuffix, status: status, left: n, after: true})
}

// Count returns how many live (not archived) records object has.
func (s *Server) Count(object string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.objs[object].recs {
		if !r.archived {
			n++
		}
	}
	return n
}

// Values returns property name of every live record of object, by id.
func (s *Server) Values(object, name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, r := range s.objs[object].recs {
		if !r.archived {
			out[strconv.FormatInt(id, 10)] = r.props[name]
		}
	}
	return out
}

// Seed stores a record directly with the given modification time (no
// validation, no rate limit): for tests needing many records sharing a few
// timestamps. It returns the new id.
func (s *Server) Seed(object string, props map[string]string, modified time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objs[object]
	modified = modified.UTC().Truncate(time.Millisecond)
	r := o.insert(s.nextID(), props, modified)
	if modified.After(s.last) {
		s.last = modified
	}
	return strconv.FormatInt(r.id, 10)
}

// Touch sets a record's properties directly (as a HubSpot user in the UI
// would), stamping a new modification time.
func (s *Server) Touch(object, id string, props map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objs[object]
	n, _ := strconv.ParseInt(id, 10, 64)
	r := o.recs[n]
	for k, v := range props {
		r.props[k] = v
	}
	o.stamp(r, s.tick(r))
}

func (s *Server) nextID() int64 {
	s.next++
	return s.next
}

// now is the server clock at millisecond precision, never going backwards.
func (s *Server) now() time.Time {
	t := s.opts.Now().UTC().Truncate(time.Millisecond)
	if t.Before(s.last) {
		t = s.last
	}
	return t
}

// tick is the modification time for a write of r: the clock, but always
// after r's previous modification so its version changes on every write.
func (s *Server) tick(r *record) time.Time {
	t := s.now()
	if r != nil && !t.After(r.updated) {
		t = r.updated.Add(time.Millisecond)
	}
	if t.After(s.last) {
		s.last = t
	}
	return t
}

// ---- HTTP ----

// Handler serves the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /account-info/v3/details", s.accountInfo)
	mux.HandleFunc("GET /crm/v3/properties/{object}", s.properties)
	mux.HandleFunc("GET /crm/v3/schemas", s.schemas)
	mux.HandleFunc("GET /crm/v3/objects/{object}", s.listObjects)
	mux.HandleFunc("POST /crm/v3/objects/{object}/search", s.search)
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/read", s.batchRead)
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/create", s.batchCreate)
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/update", s.batchUpdate)
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/upsert", s.batchUpsert)
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/archive", s.batchArchive)
	// Not HubSpot's: the counters, for tests driving the server from outside
	// the process (the CLI end to end).
	mux.HandleFunc("GET /_contract/stats", func(w http.ResponseWriter, _ *http.Request) {
		st := s.Stats()
		counts := map[string]int{}
		for _, o := range s.list {
			counts[o.name] = s.Count(o.name)
		}
		writeJSON(w, http.StatusOK, map[string]any{"stats": st, "live": counts})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, lose := s.admit(w, r)
		if !ok {
			return
		}
		if lose != 0 {
			mux.ServeHTTP(httptest.NewRecorder(), r)
			writeJSON(w, lose, errorBody{Status: "error", Message: "injected failure after the work was done",
				CorrelationID: correlationID(), Category: "INTERNAL_ERROR"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// admit counts the request and answers for auth, injected faults and rate
// limits; false means it has answered. lose is the status to answer after
// doing the work (0: answer normally).
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (ok bool, lose int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
		s.stats.Unauthorized++
		msg := "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
		if r.Header.Get("Authorization") != "" {
			msg = "The access token provided is invalid or has expired."
		}
		writeJSON(w, http.StatusUnauthorized, errorBody{Status: "error", Message: msg, CorrelationID: correlationID(),
			Category: "INVALID_AUTHENTICATION"})
		return false, 0
	}
	for _, f := range s.faults {
		if f.left > 0 && r.Method == f.method && strings.HasSuffix(r.URL.Path, f.pathSuffix) {
			f.left--
			if f.after {
				lose = f.status
				s.stats.Injected++
				break
			}
			s.stats.Injected++
			writeJSON(w, f.status, errorBody{Status: "error", Message: "injected failure", CorrelationID: correlationID(),
				Category: "INTERNAL_ERROR"})
			return false, 0
		}
	}
	now := s.opts.Now()
	isSearch := strings.HasSuffix(r.URL.Path, "/search")
	type window struct {
		limit  int
		length time.Duration
		times  *[]time.Time
		policy string
		msg    string
	}
	windows := []window{
		{s.opts.PerSecond, time.Second, &s.hits, "SECONDLY", "You have reached your secondly limit."},
		{s.opts.PerTenSeconds, 10 * time.Second, &s.hits, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."},
	}
	if isSearch {
		windows = append(windows, window{s.opts.SearchPerSecond, time.Second, &s.searchs, "SECONDLY", "You have reached your secondly limit."})
	}
	for _, win := range windows {
		if win.limit <= 0 {
			continue
		}
		var in []time.Time
		for _, t := range *win.times {
			if now.Sub(t) < win.length {
				in = append(in, t)
			}
		}
		if len(in) >= win.limit {
			s.stats.RateLimited++
			wait := in[len(in)-win.limit].Add(win.length).Sub(now)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.rateHeaders(w, win.limit, 0, win.length)
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error", "message": win.msg,
				"errorType": "RATE_LIMIT", "correlationId": correlationID(), "policyName": win.policy,
				"groupName": "publicapi"})
			return false, 0
		}
	}
	// Only admitted requests count against the windows (HubSpot counts
	// refused ones too; not counting them keeps the limit exact for tests).
	s.hits = trim(append(s.hits, now), now, 10*time.Second)
	if isSearch {
		s.searchs = trim(append(s.searchs, now), now, time.Second)
	}
	if s.opts.PerTenSeconds > 0 {
		s.rateHeaders(w, s.opts.PerTenSeconds, s.opts.PerTenSeconds-len(s.hits), 10*time.Second)
	}
	s.stats.ByRoute[r.Method+" "+r.URL.Path]++
	return true, lose
}

func (s *Server) rateHeaders(w http.ResponseWriter, limit, remaining int, interval time.Duration) {
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(limit))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(interval.Milliseconds(), 10))
}

func trim(ts []time.Time, now time.Time, keep time.Duration) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= keep {
		i++
	}
	return ts[i:]
}

type errorBody struct {
	Status        string              `json:"status"`
	Message       string              `json:"message"`
	CorrelationID string              `json:"correlationId"`
	Category      string              `json:"category"`
	SubCategory   string              `json:"subCategory,omitempty"`
	Context       map[string][]string `json:"context,omitempty"`
	Errors        []errorDetail       `json:"errors,omitempty"`
}

type errorDetail struct {
	Message string              `json:"message"`
	Code    string              `json:"code,omitempty"`
	In      string              `json:"in,omitempty"`
	Context map[string][]string `json:"context,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Status: "error", Message: msg, CorrelationID: correlationID(),
		Category: "VALIDATION_ERROR"})
}

func correlationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) object(w http.ResponseWriter, r *http.Request) *object {
	o := s.objs[r.PathValue("object")]
	if o == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Status: "error", CorrelationID: correlationID(),
			Message: fmt.Sprintf("Unable to infer object type from: %s", r.PathValue("object")), Category: "VALIDATION_ERROR"})
	}
	return o
}

func (s *Server) accountInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"portalId": s.opts.PortalID, "accountType": "STANDARD",
		"timeZone": "US/Eastern", "companyCurrency": "USD", "additionalCurrencies": []string{},
		"utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com",
		"dataHostingLocation": "na1"})
}

func (s *Server) properties(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.object(w, r)
	if o == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": o.props})
}

func (s *Server) schemas(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	results := []map[string]any{}
	for _, o := range s.list {
		if o.custom == nil {
			continue
		}
		results = append(results, map[string]any{
			"id": strings.TrimPrefix(o.typeID, "2-"), "objectTypeId": o.typeID, "fullyQualifiedName": o.fqn,
			"name": o.name, "labels": map[string]string{"singular": o.custom.Singular, "plural": o.custom.Plural},
			"primaryDisplayProperty": o.custom.PrimaryProperty, "requiredProperties": []string{},
			"searchableProperties": []string{}, "secondaryDisplayProperties": []string{},
			"properties": o.props, "associations": []any{}, "archived": false,
			"createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// listObjects is GET /crm/v3/objects/{object}: records in id order, `after`
// being the id to continue from; archived=true lists archived records only.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.object(w, r)
	if o == nil {
		return
	}
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			badRequest(w, fmt.Sprintf("limit must be between 1 and 100, got %q", v))
			return
		}
		limit = n
	}
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			badRequest(w, fmt.Sprintf("Invalid after: %q", v))
			return
		}
		after = n
	}
	archived := q.Get("archived") == "true"
	names := splitProps(q["properties"])
	ids := o.sortedIDs()
	i := sort.Search(len(ids), func(i int) bool { return ids[i] >= after })
	results := []recordJSON{}
	var nextAfter int64
	for ; i < len(ids); i++ {
		rec := o.recs[ids[i]]
		if rec.archived != archived {
			continue
		}
		if len(results) == limit {
			nextAfter = ids[i]
			break
		}
		results = append(results, o.render(rec, names))
	}
	body := map[string]any{"results": results}
	if nextAfter != 0 {
		a := strconv.FormatInt(nextAfter, 10)
		body["paging"] = map[string]any{"next": map[string]string{"after": a,
			"link": fmt.Sprintf("https://api.hubapi.com/crm/v3/objects/%s?after=%s", o.name, a)}}
	}
	writeJSON(w, http.StatusOK, body)
}

func splitProps(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
