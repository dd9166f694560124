package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/webapi"
)

// batchLimit is how many inputs HubSpot's batch endpoints take per call.
const batchLimit = 100

type batchInput struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	Properties         map[string]string `json:"properties,omitempty"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId,omitempty"`
}

type batchResult struct {
	Status  string     `json:"status"`
	Results []hsRecord `json:"results"`
	Errors  []struct {
		Status   string              `json:"status"`
		Category string              `json:"category"`
		Message  string              `json:"message"`
		Context  map[string][]string `json:"context"`
		Errors   []errorDetail       `json:"errors"`
	} `json:"errors"`
}

// writer carries one Write call.
type writer struct {
	c     *conn
	m     *objMeta
	req   sdk.WriteRequest
	res   []sdk.WriteResult
	props []map[string]string // per op, HubSpot property text
}

// Write implements sdk.Conn. Updates and deletes are checked first with one
// batch read (HubSpot has no preconditions and archives missing ids without
// a word): a missing id is not_found, a version other than IfVersion a
// conflict. Then creates, updates and archives go in batches of 100. A
// batch HubSpot refuses as a whole (one invalid input fails them all) is
// split in halves until the bad ops stand alone, so one bad op fails only
// itself. Creates carry an objectWriteTraceId each, which asks HubSpot for
// per-input errors (207) instead. Creates are not resent after a 5xx or a
// lost connection (the record may exist): they fail transient for the host
// to resolve by lookup — except contacts with an email, which are resent
// as an upsert by email: created if the first attempt did not happen,
// matched (not duplicated) if it did.
func (c *conn) Write(ctx context.Context, req sdk.WriteRequest) ([]sdk.WriteResult, error) {
	m, err := c.meta(ctx, req.Object, false)
	if err != nil {
		return nil, err
	}
	w := &writer{c: c, m: m, req: req, res: make([]sdk.WriteResult, len(req.Ops)), props: make([]map[string]string, len(req.Ops))}
	for i, op := range req.Ops {
		w.res[i].CorrelationID = op.CorrelationID
		w.res[i].ID = op.ID
	}
	if w.unknownFields() {
		// A property made since the definitions were read: read them again.
		if m, err = c.meta(ctx, req.Object, true); err != nil {
			return nil, err
		}
		w.m = m
	}
	var creates, updates, deletes []int
	for i, op := range req.Ops {
		switch op.Kind {
		case sdk.OpCreate, sdk.OpUpdate:
			if err := w.convert(i); err != nil {
				w.res[i].Err = err
				continue
			}
			if op.Kind == sdk.OpCreate {
				creates = append(creates, i)
			} else {
				updates = append(updates, i)
			}
		case sdk.OpDelete:
			deletes = append(deletes, i)
		default:
			w.res[i].Err = sdk.Errorf(sdk.CategoryValidation, "unknown op kind %d", op.Kind)
		}
	}
	updates, deletes, err = w.precheck(ctx, updates, deletes)
	if err != nil {
		return nil, err
	}
	for _, chunk := range chunks(creates) {
		w.create(ctx, chunk)
	}
	for _, chunk := range chunks(updates) {
		w.update(ctx, chunk)
	}
	for _, chunk := range chunks(deletes) {
		w.archive(ctx, chunk)
	}
	return w.res, nil
}

func chunks(idx []int) [][]int {
	var out [][]int
	for len(idx) > 0 {
		n := min(batchLimit, len(idx))
		out = append(out, idx[:n])
		idx = idx[n:]
	}
	return out
}

func (w *writer) unknownFields() bool {
	for _, op := range w.req.Ops {
		for _, f := range op.Fields {
			if _, ok := w.m.fields[f]; !ok {
				return true
			}
		}
	}
	return false
}

// convert checks op i's fields against the schema and renders its values.
func (w *writer) convert(i int) *sdk.Error {
	op := w.req.Ops[i]
	props := make(map[string]string, len(op.Fields))
	for k, name := range op.Fields {
		f, ok := w.m.fields[name]
		if !ok {
			return sdk.FieldError(name, "%s has no property %q", w.m.name, name)
		}
		if f.ReadOnly {
			return sdk.FieldError(name, "%s is read-only in HubSpot", name)
		}
		s, err := toHS(op.Values[k], f)
		if err != nil {
			return sdk.FieldError(name, "%v", err)
		}
		props[name] = s
	}
	w.props[i] = props
	return nil
}

// precheck reads the current versions of the records updates and deletes
// touch and fails the ops whose record is missing or changed.
func (w *writer) precheck(ctx context.Context, updates, deletes []int) ([]int, []int, error) {
	var ids []string
	seen := map[string]bool{}
	for _, i := range append(append([]int(nil), updates...), deletes...) {
		if id := w.req.Ops[i].ID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	recs, err := w.c.batchRead(ctx, w.m, ids, []string{w.m.modProp})
	if err != nil {
		return nil, nil, fmt.Errorf("write %s: read current versions: %w", w.m.name, err)
	}
	current := map[string]string{}
	for _, r := range recs {
		current[r.ID] = r.UpdatedAt
	}
	keep := func(idx []int) []int {
		var out []int
		for _, i := range idx {
			op := w.req.Ops[i]
			v, ok := current[op.ID]
			switch {
			case !ok:
				w.res[i].Err = sdk.Errorf(sdk.CategoryNotFound, "%s %s does not exist (or is archived)", w.m.name, op.ID)
			case op.IfVersion != "" && op.IfVersion != v:
				w.res[i].Err = sdk.Errorf(sdk.CategoryConflict, "%s %s changed: version %s, expected %s", w.m.name, op.ID, v, op.IfVersion)
			default:
				out = append(out, i)
			}
		}
		return out
	}
	return keep(updates), keep(deletes), nil
}

// succeed records a successful create or update from the stored record.
func (w *writer) succeed(i int, r hsRecord) {
	res := &w.res[i]
	res.ID, res.Version, res.Err = r.ID, r.UpdatedAt, nil
	if t, ok := parseHSTime(r.UpdatedAt); ok {
		res.ModifiedAt = t
	}
	// Stored values only when HubSpot returned every field of the request.
	values := make([]sdk.Value, len(w.req.Fields))
	for k, f := range w.req.Fields {
		s, ok := r.Properties[f]
		if !ok {
			return
		}
		values[k] = fromHS(s, w.m.fields[f])
	}
	res.Values = values
}

func (w *writer) failAll(idx []int, err error) {
	e := sdk.AsError(err)
	for _, i := range idx {
		w.res[i].Err = e
	}
}

// wholeBatchRefused reports a response failing a batch as a whole for what
// is in it (so splitting it can save the good inputs).
func wholeBatchRefused(resp *webapi.Response) bool {
	return resp.Status == http.StatusBadRequest || resp.Status == http.StatusConflict
}

func (w *writer) create(ctx context.Context, idx []int) {
	in := struct {
		Inputs []batchInput `json:"inputs"`
	}{}
	for _, i := range idx {
		in.Inputs = append(in.Inputs, batchInput{Properties: w.props[i], ObjectWriteTraceID: strconv.Itoa(i)})
	}
	resp, err := w.c.send(ctx, http.MethodPost, "/crm/v3/objects/"+w.m.path+"/batch/create", nil, in, false, nil)
	if cat := sdk.CategoryOf(err); cat == sdk.CategoryUnreachable || (err == nil && resp.Status >= 500) {
		// The creates may or may not have happened.
		if err == nil {
			err = responseError(resp)
		}
		byEmail, rest := w.upsertable(idx)
		w.failAll(rest, err)
		for _, chunk := range chunks(byEmail) {
			w.upsert(ctx, chunk)
		}
		return
	}
	if err != nil {
		w.failAll(idx, err)
		return
	}
	if resp.Status >= 300 {
		if wholeBatchRefused(resp) && len(idx) > 1 {
			w.create(ctx, idx[:len(idx)/2])
			w.create(ctx, idx[len(idx)/2:])
			return
		}
		w.failAll(idx, responseError(resp))
		return
	}
	var out batchResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		w.failAll(idx, sdk.Errorf(sdk.CategoryTransient, "batch create: undecodable answer (HTTP %d): %v", resp.Status, err))
		return
	}
	done := map[int]bool{}
	for k, r := range out.Results {
		i, err := strconv.Atoi(r.ObjectWriteTraceID)
		if err != nil && len(out.Results) == len(idx) && len(out.Errors) == 0 {
			i = idx[k] // no trace ids echoed, nothing failed: results follow the inputs
		} else if err != nil {
			continue
		}
		w.succeed(i, r)
		done[i] = true
	}
	for _, e := range out.Errors {
		for _, t := range e.Context["objectWriteTraceId"] {
			i, err := strconv.Atoi(t)
			if err != nil {
				continue
			}
			se := &sdk.Error{Category: sdk.CategoryPermanent, Message: e.Message}
			refine(se, e.Category, e.Message, apiError{Message: e.Message, Errors: e.Errors})
			w.res[i].Err = se
			done[i] = true
		}
	}
	for _, i := range idx {
		if !done[i] {
			w.res[i].Err = sdk.Errorf(sdk.CategoryTransient, "batch create answered without a result for this record")
		}
	}
}

// upsertProperty is what creates are resent by after an ambiguous failure.
const upsertProperty = "email"

// upsertable splits creates into those that can be resent as an upsert by
// email (contacts carrying one) and the rest.
func (w *writer) upsertable(idx []int) (byEmail, rest []int) {
	f, ok := w.m.fields[upsertProperty]
	if !ok || !f.Unique || f.ReadOnly {
		return nil, idx
	}
	for _, i := range idx {
		if w.props[i][upsertProperty] != "" {
			byEmail = append(byEmail, i)
		} else {
			rest = append(rest, i)
		}
	}
	return byEmail, rest
}

// upsert resends creates as POST …/batch/upsert with idProperty email.
func (w *writer) upsert(ctx context.Context, idx []int) {
	in := struct {
		Inputs []batchInput `json:"inputs"`
	}{}
	byEmail := map[string][]int{}
	for _, i := range idx {
		email := strings.ToLower(w.props[i][upsertProperty])
		byEmail[email] = append(byEmail[email], i)
		in.Inputs = append(in.Inputs, batchInput{IDProperty: upsertProperty, ID: email, Properties: w.props[i]})
	}
	resp, err := w.c.send(ctx, http.MethodPost, "/crm/v3/objects/"+w.m.path+"/batch/upsert", nil, in, true, nil)
	if err != nil {
		w.failAll(idx, err)
		return
	}
	if resp.Status >= 300 {
		if wholeBatchRefused(resp) && len(idx) > 1 {
			w.upsert(ctx, idx[:len(idx)/2])
			w.upsert(ctx, idx[len(idx)/2:])
			return
		}
		w.failAll(idx, responseError(resp))
		return
	}
	var out batchResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		w.failAll(idx, sdk.Errorf(sdk.CategoryTransient, "batch upsert: undecodable answer (HTTP %d): %v", resp.Status, err))
		return
	}
	done := map[int]bool{}
	for _, r := range out.Results {
		if e := r.Properties[upsertProperty]; e != nil {
			for _, i := range byEmail[strings.ToLower(*e)] {
				w.succeed(i, r)
				done[i] = true
			}
		}
	}
	for _, i := range idx {
		if !done[i] {
			w.res[i].Err = sdk.Errorf(sdk.CategoryTransient, "batch upsert answered without a result for this record")
		}
	}
}

func (w *writer) update(ctx context.Context, idx []int) {
	in := struct {
		Inputs []batchInput `json:"inputs"`
	}{}
	for _, i := range idx {
		in.Inputs = append(in.Inputs, batchInput{ID: w.req.Ops[i].ID, Properties: w.props[i]})
	}
	resp, err := w.c.send(ctx, http.MethodPost, "/crm/v3/objects/"+w.m.path+"/batch/update", nil, in, true, nil)
	if err != nil {
		w.failAll(idx, err)
		return
	}
	if resp.Status >= 300 {
		if wholeBatchRefused(resp) && len(idx) > 1 {
			w.update(ctx, idx[:len(idx)/2])
			w.update(ctx, idx[len(idx)/2:])
			return
		}
		w.failAll(idx, responseError(resp))
		return
	}
	var out batchResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		w.failAll(idx, sdk.Errorf(sdk.CategoryTransient, "batch update: undecodable answer (HTTP %d): %v", resp.Status, err))
		return
	}
	byID := map[string][]int{}
	for _, i := range idx {
		byID[w.req.Ops[i].ID] = append(byID[w.req.Ops[i].ID], i)
	}
	done := map[int]bool{}
	for _, r := range out.Results {
		for _, i := range byID[r.ID] {
			w.succeed(i, r)
			done[i] = true
		}
	}
	for _, e := range out.Errors {
		se := &sdk.Error{Category: sdk.CategoryPermanent, Message: e.Message}
		refine(se, e.Category, e.Message, apiError{Message: e.Message, Errors: e.Errors})
		for _, id := range e.Context["ids"] {
			for _, i := range byID[id] {
				w.res[i].Err = se
				done[i] = true
			}
		}
	}
	for _, i := range idx {
		if !done[i] {
			w.res[i].Err = sdk.Errorf(sdk.CategoryTransient, "batch update answered without a result for this record")
		}
	}
}

func (w *writer) archive(ctx context.Context, idx []int) {
	in := struct {
		Inputs []batchInput `json:"inputs"`
	}{}
	for _, i := range idx {
		in.Inputs = append(in.Inputs, batchInput{ID: w.req.Ops[i].ID})
	}
	resp, err := w.c.send(ctx, http.MethodPost, "/crm/v3/objects/"+w.m.path+"/batch/archive", nil, in, true, nil)
	if err != nil {
		w.failAll(idx, err)
		return
	}
	if resp.Status >= 300 {
		w.failAll(idx, responseError(resp))
		return
	}
	now := time.Now().UTC()
	for _, i := range idx {
		w.res[i].ModifiedAt = now
	}
}
