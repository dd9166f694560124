package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type batchInput struct {
	ID                 string             `json:"id"`
	IDProperty         string             `json:"idProperty"`
	Properties         map[string]*string `json:"properties"`
	ObjectWriteTraceID string             `json:"objectWriteTraceId"`
}

type batchRequest struct {
	Inputs     []batchInput `json:"inputs"`
	Properties []string     `json:"properties"`
	IDProperty string       `json:"idProperty"`
}

type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context,omitempty"`
	Errors   []errorDetail       `json:"errors,omitempty"`
}

const maxBatch = 100

func (s *Server) decodeBatch(w http.ResponseWriter, r *http.Request) (*object, *batchRequest) {
	o := s.object(w, r)
	if o == nil {
		return nil, nil
	}
	var req batchRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "Invalid input JSON on line 1: "+err.Error())
		return nil, nil
	}
	if len(req.Inputs) == 0 {
		badRequest(w, "inputs must not be empty")
		return nil, nil
	}
	if len(req.Inputs) > maxBatch {
		badRequest(w, fmt.Sprintf("Batch size must be at most %d, got %d", maxBatch, len(req.Inputs)))
		return nil, nil
	}
	return o, &req
}

func batchResponse(w http.ResponseWriter, okStatus int, started time.Time, results []recordJSON, errs []batchError) {
	body := map[string]any{"status": "COMPLETE", "results": results, "startedAt": formatTime(started),
		"completedAt": formatTime(time.Now())}
	if len(errs) > 0 {
		body["numErrors"] = len(errs)
		body["errors"] = errs
		okStatus = http.StatusMultiStatus
	}
	writeJSON(w, okStatus, body)
}

func notFound(o *object, ids []string) batchError {
	return batchError{Status: "error", Category: "OBJECT_NOT_FOUND",
		Message: fmt.Sprintf("Could not get some %s objects, they may be deleted or not exist. Check that ids are valid.", o.upper),
		Context: map[string][]string{"ids": ids}}
}

// live returns the live record with that id, or by a unique idProperty.
func (o *object) live(id, idProperty string) *record {
	if idProperty != "" && idProperty != "hs_object_id" {
		for _, rid := range o.ids {
			if r := o.recs[rid]; !r.archived && strings.EqualFold(r.props[idProperty], id) {
				return r
			}
		}
		return nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	if r := o.recs[n]; r != nil && !r.archived {
		return r
	}
	return nil
}

func (s *Server) batchRead(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := time.Now()
	o, req := s.decodeBatch(w, r)
	if o == nil {
		return
	}
	results := []recordJSON{}
	var missing []string
	for _, in := range req.Inputs {
		if rec := o.live(in.ID, req.IDProperty); rec != nil {
			results = append(results, o.render(rec, req.Properties))
		} else {
			missing = append(missing, in.ID)
		}
	}
	var errs []batchError
	if len(missing) > 0 {
		errs = append(errs, notFound(o, missing))
	}
	batchResponse(w, http.StatusOK, started, results, errs)
}

// batchCreate is POST …/batch/create. HubSpot fails the whole batch when one
// input is invalid or a duplicate — unless every input carries an
// objectWriteTraceId, which turns on multi-status: the good inputs are
// created and each failure comes back in errors[] with its trace id.
func (s *Server) batchCreate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := time.Now()
	o, req := s.decodeBatch(w, r)
	if o == nil {
		return
	}
	multi := !s.opts.NoMultiStatus
	for _, in := range req.Inputs {
		if in.ObjectWriteTraceID == "" {
			multi = false
		}
	}
	props := make([]map[string]string, len(req.Inputs))
	failed := make([]*errorBody, len(req.Inputs))
	pending := map[string]map[string]int64{}
	for i, in := range req.Inputs {
		p, verr := o.validate(in.Properties)
		if verr == nil {
			verr = o.conflict(0, p, pending)
		}
		if verr != nil {
			if !multi {
				status := http.StatusBadRequest
				if verr.Category == "CONFLICT" {
					status = http.StatusConflict
				}
				writeJSON(w, status, verr)
				return
			}
			failed[i] = verr
			continue
		}
		claim(pending, o, p, int64(-1-i))
		props[i] = p
	}
	results := []recordJSON{}
	var errs []batchError
	for i, in := range req.Inputs {
		if failed[i] != nil {
			errs = append(errs, batchError{Status: "error", Category: failed[i].Category, Message: failed[i].Message,
				Context: map[string][]string{"objectWriteTraceId": {in.ObjectWriteTraceID}}, Errors: failed[i].Errors})
			continue
		}
		rec := o.insert(s.nextID(), props[i], s.tick(nil))
		s.stats.Created++
		out := o.render(rec, keys(props[i]))
		out.ObjectWriteTraceID = in.ObjectWriteTraceID
		results = append(results, out)
	}
	batchResponse(w, http.StatusCreated, started, results, errs)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// batchUpdate is POST …/batch/update: all inputs are validated first (one
// invalid fails the batch with 400, a unique clash with 409); ids that do
// not exist come back as OBJECT_NOT_FOUND errors in a 207.
func (s *Server) batchUpdate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := time.Now()
	o, req := s.decodeBatch(w, r)
	if o == nil {
		return
	}
	type upd struct {
		rec   *record
		props map[string]string
	}
	var todo []upd
	var missing []string
	pending := map[string]map[string]int64{}
	for _, in := range req.Inputs {
		p, verr := o.validate(in.Properties)
		if verr != nil {
			writeJSON(w, http.StatusBadRequest, verr)
			return
		}
		rec := o.live(in.ID, in.IDProperty)
		if rec == nil {
			missing = append(missing, in.ID)
			continue
		}
		if c := o.conflict(rec.id, p, pending); c != nil {
			writeJSON(w, http.StatusConflict, c)
			return
		}
		claim(pending, o, p, rec.id)
		todo = append(todo, upd{rec, p})
	}
	results := []recordJSON{}
	for _, u := range todo {
		for k, v := range u.props {
			setOrClear(u.rec.props, k, v)
		}
		o.stamp(u.rec, s.tick(u.rec))
		results = append(results, o.render(u.rec, keys(u.props)))
	}
	var errs []batchError
	if len(missing) > 0 {
		errs = append(errs, notFound(o, missing))
	}
	batchResponse(w, http.StatusOK, started, results, errs)
}

// batchUpsert is POST …/batch/upsert: each input names a unique idProperty
// (email for contacts) and is updated when a record holds that value,
// created otherwise; results say which with "new".
func (s *Server) batchUpsert(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := time.Now()
	o, req := s.decodeBatch(w, r)
	if o == nil {
		return
	}
	unique := o.uniqueNames()
	props := make([]map[string]string, len(req.Inputs))
	for i, in := range req.Inputs {
		ok := false
		for _, u := range unique {
			ok = ok || u == in.IDProperty
		}
		if !ok {
			badRequest(w, fmt.Sprintf("Unable to perform update/upsert by non-unique %s property", o.typeID))
			return
		}
		p, verr := o.validate(in.Properties)
		if verr != nil {
			writeJSON(w, http.StatusBadRequest, verr)
			return
		}
		p[in.IDProperty] = strings.ToLower(in.ID)
		props[i] = p
	}
	results := []recordJSON{}
	for i, in := range req.Inputs {
		rec := o.live(in.ID, in.IDProperty)
		isNew := rec == nil
		if isNew {
			rec = o.insert(s.nextID(), props[i], s.tick(nil))
			s.stats.Created++
		} else {
			for k, v := range props[i] {
				setOrClear(rec.props, k, v)
			}
			o.stamp(rec, s.tick(rec))
		}
		out := o.render(rec, keys(props[i]))
		out.New = &isNew
		results = append(results, out)
	}
	batchResponse(w, http.StatusOK, started, results, nil)
}

// batchArchive is POST …/batch/archive: 204 whatever the ids (archiving a
// missing or archived record is not an error).
func (s *Server) batchArchive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, req := s.decodeBatch(w, r)
	if o == nil {
		return
	}
	for _, in := range req.Inputs {
		if rec := o.live(in.ID, ""); rec != nil {
			at := s.tick(rec)
			rec.archived, rec.archivedAt = true, at
			o.stamp(rec, at)
			s.stats.Archived++
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
