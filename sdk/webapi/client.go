package webapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Client sends requests with rate limits and retries. Retried: 429 always
// (the server did nothing; it waits Retry-After, or backs off when absent);
// 5xx and network errors only for idempotent requests, since a create that
// timed out may have happened. Attempts are bounded and every wait ends with
// the context.
type Client struct {
	HTTP        *http.Client
	Limiter     Limiter       // every request takes a token from each bucket
	MaxAttempts int           // default 6
	BaseDelay   time.Duration // first backoff; default 500ms
	MaxDelay    time.Duration // backoff cap; default 30s
	// MaxRetryAfter is the longest Retry-After honoured by waiting; a longer
	// one ends the call with a rate_limited error carrying it. Default 2m.
	MaxRetryAfter time.Duration
	Clock         Clock
	// Jitter returns a number in [0,1); default math/rand.
	Jitter func() float64
	// Authorize decorates each attempt (bearer token, API key…).
	Authorize func(*http.Request)
	// OnRetry, when set, hears of every retry (for logs).
	OnRetry func(req *Request, attempt int, status int, err error, wait time.Duration)
}

// Request is one call. Body is resent on each attempt.
type Request struct {
	Method     string
	URL        string
	Header     http.Header
	Body       []byte
	Idempotent bool    // safe to resend after a 5xx or a network error
	Limiter    Limiter // buckets for this request on top of Client.Limiter (e.g. search)
	Attempts   int     // overrides Client.MaxAttempts when > 0 (1: no retry, e.g. a check an admin waits for)
}

// Response is a response read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (c *Client) defaults() (int, time.Duration, time.Duration, time.Duration, Clock, func() float64) {
	attempts, base, maxd, maxra := c.MaxAttempts, c.BaseDelay, c.MaxDelay, c.MaxRetryAfter
	if attempts <= 0 {
		attempts = 6
	}
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxd <= 0 {
		maxd = 30 * time.Second
	}
	if maxra <= 0 {
		maxra = 2 * time.Minute
	}
	clock := c.Clock
	if clock == nil {
		clock = RealClock{}
	}
	jitter := c.Jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	return attempts, base, maxd, maxra, clock, jitter
}

// Backoff is the wait before retry number attempt (0-based): exponential
// from base, capped at maxDelay, with "equal jitter" (half fixed, half
// random) so clients that failed together do not retry together.
func Backoff(attempt int, base, maxDelay time.Duration, jitter float64) time.Duration {
	d := base
	for i := 0; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// Do sends req, retrying as the Client says, and returns the last response
// when it is not retryable (any 2xx–4xx but 429, or a 5xx of a
// non-idempotent request) for the caller to read. A transport failure, or
// retries running out, is returned as an *sdk.Error (unreachable, transient,
// rate_limited with RetryAfter).
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	attempts, base, maxd, maxra, clock, jitter := c.defaults()
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if req.Attempts > 0 {
		attempts = req.Attempts
	}
	var lastErr *sdk.Error
	for attempt := 0; attempt < attempts; attempt++ {
		if err := c.Limiter.Wait(ctx); err != nil {
			return nil, sdk.AsError(err)
		}
		if err := req.Limiter.Wait(ctx); err != nil {
			return nil, sdk.AsError(err)
		}
		resp, err := c.send(ctx, hc, req)
		var wait time.Duration
		status := 0
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, sdk.AsError(ctx.Err())
			}
			lastErr = &sdk.Error{Category: sdk.CategoryUnreachable, Message: fmt.Sprintf("%s %s: %v", req.Method, req.URL, err)}
			if !req.Idempotent {
				return nil, lastErr
			}
			wait = Backoff(attempt, base, maxd, jitter())
		case resp.Status == http.StatusTooManyRequests:
			status = resp.Status
			lastErr = StatusError(resp.Status, resp.Header, "", clock.Now())
			if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), clock.Now()); ok {
				if ra > maxra {
					return nil, lastErr
				}
				wait = ra
			} else {
				wait = Backoff(attempt, base, maxd, jitter())
			}
			// Everyone sharing the limiter backs off, not just this caller.
			c.Limiter.Pause(wait)
			req.Limiter.Pause(wait)
		case resp.Status >= 500 && req.Idempotent:
			status = resp.Status
			lastErr = StatusError(resp.Status, resp.Header, "", clock.Now())
			wait = Backoff(attempt, base, maxd, jitter())
			if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), clock.Now()); ok && ra <= maxra {
				wait = max(wait, ra)
			}
		default:
			return resp, nil
		}
		if attempt == attempts-1 {
			break
		}
		if c.OnRetry != nil {
			c.OnRetry(req, attempt+1, status, err, wait)
		}
		if err := Sleep(ctx, clock, wait); err != nil {
			return nil, sdk.AsError(err)
		}
	}
	lastErr.Message = fmt.Sprintf("%s (gave up after %d attempts)", lastErr.Message, attempts)
	return nil, lastErr
}

func (c *Client) send(ctx context.Context, hc *http.Client, req *Request) (*Response, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, err
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	if c.Authorize != nil {
		c.Authorize(hr)
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}
