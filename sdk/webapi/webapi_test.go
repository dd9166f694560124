package webapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// fakeClock is virtual time: After advances it at once, so waits are
// measured instead of slept.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.slept {
		t += d
	}
	return t
}

func TestBucketTiming(t *testing.T) {
	clk := newFakeClock()
	b := NewBucket(3, 2, clk) // 3 at once, then one every 500ms
	var waits []time.Duration
	for range 6 {
		waits = append(waits, b.Reserve())
	}
	want := []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("reserve %d: wait %v, want %v (all %v)", i, waits[i], want[i], waits)
		}
	}
	// After 3s idle the bucket refills to its burst, no more.
	clk.advance(1500*time.Millisecond + 3*time.Second)
	for i := range 3 {
		if w := b.Reserve(); w != 0 {
			t.Errorf("after refill, reserve %d waits %v", i, w)
		}
	}
	if w := b.Reserve(); w != 500*time.Millisecond {
		t.Errorf("fourth after refill waits %v, want 500ms (burst is capped)", w)
	}
}

func TestForWindowNeverExceedsWindow(t *testing.T) {
	for _, tc := range []struct {
		n      int
		window time.Duration
	}{{100, 10 * time.Second}, {5, time.Second}, {190, 10 * time.Second}, {1, time.Second}} {
		clk := newFakeClock()
		b := ForWindow(tc.n, tc.window, clk)
		// Greedy caller: takes tokens as soon as they are available for 5 windows.
		var at []time.Time
		start := clk.Now()
		for clk.Now().Sub(start) < 5*tc.window {
			w := b.Reserve()
			clk.advance(w)
			at = append(at, clk.Now())
		}
		// Slide a window over the grant times: never more than n inside.
		j := 0
		for i := range at {
			for at[i].Sub(at[j]) >= tc.window {
				j++
			}
			if i-j+1 > tc.n {
				t.Fatalf("ForWindow(%d, %v): %d requests within one window ending at %v", tc.n, tc.window, i-j+1, at[i].Sub(start))
			}
		}
		// And it is not needlessly slow: at least 80% of the allowance over 5 windows.
		if len(at) < 4*tc.n {
			t.Errorf("ForWindow(%d, %v): only %d requests in 5 windows", tc.n, tc.window, len(at))
		}
	}
}

func TestPauseHoldsEveryone(t *testing.T) {
	clk := newFakeClock()
	b := NewBucket(10, 10, clk)
	b.Pause(2 * time.Second)
	if w := b.Reserve(); w != 2*time.Second {
		t.Errorf("reserve during pause waits %v, want 2s", w)
	}
	clk.advance(2 * time.Second)
	if w := b.Reserve(); w != 0 {
		t.Errorf("reserve after pause waits %v", w)
	}
}

func TestLimiterWaitsForSlowest(t *testing.T) {
	clk := newFakeClock()
	l := Limiter{NewBucket(1, 1, clk), NewBucket(1, 0.25, clk)} // 1/s and 1 per 4s
	ctx := context.Background()
	for range 3 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := clk.total(); got != 8*time.Second {
		t.Errorf("three requests through 1/s and 1/4s limits waited %v, want 8s", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"120", 2 * time.Minute, true},
		{"Sat, 28 Nov 2026 12:00:10 GMT", 10 * time.Second, true},
		{"Saturday, 28-Nov-26 12:01:00 GMT", time.Minute, true}, // RFC 850, still accepted
		{"Sat, 28 Nov 2026 11:59:00 GMT", 0, true},              // in the past: go now
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffBounded(t *testing.T) {
	base, maxd := 100*time.Millisecond, 2*time.Second
	prevHigh := time.Duration(0)
	for attempt := range 12 {
		lo, hi := Backoff(attempt, base, maxd, 0), Backoff(attempt, base, maxd, 0.999999)
		if lo > hi || hi > maxd || lo < base/2 {
			t.Errorf("attempt %d: backoff in [%v, %v], want within [%v, %v]", attempt, lo, hi, base/2, maxd)
		}
		if hi < prevHigh {
			t.Errorf("attempt %d: backoff shrank from %v to %v", attempt, prevHigh, hi)
		}
		prevHigh = hi
	}
	if got := Backoff(0, base, maxd, 0.5); got != 75*time.Millisecond {
		t.Errorf("Backoff(0, 100ms, 2s, 0.5) = %v, want 75ms", got)
	}
	if got := Backoff(30, base, maxd, 0); got != time.Second {
		t.Errorf("Backoff(30) with no jitter = %v, want half the cap", got)
	}
}

func TestStatusCategories(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   sdk.Category
	}{
		{200, sdk.CategoryUnspecified}, {204, sdk.CategoryUnspecified}, {207, sdk.CategoryUnspecified},
		{400, sdk.CategoryValidation}, {401, sdk.CategoryAuth}, {403, sdk.CategoryForbidden},
		{404, sdk.CategoryNotFound}, {409, sdk.CategoryConflict}, {410, sdk.CategoryNotFound},
		{412, sdk.CategoryConflict}, {414, sdk.CategoryPermanent}, {422, sdk.CategoryValidation},
		{423, sdk.CategoryTransient}, {429, sdk.CategoryRateLimited}, {500, sdk.CategoryTransient},
		{502, sdk.CategoryTransient}, {503, sdk.CategoryTransient}, {504, sdk.CategoryTransient},
		{521, sdk.CategoryTransient},
	} {
		if got := CategoryOf(tc.status); got != tc.want {
			t.Errorf("CategoryOf(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
	h := http.Header{"Retry-After": {"7"}}
	e := StatusError(429, h, "slow down", time.Now())
	if e.Category != sdk.CategoryRateLimited || e.RetryAfter != 7*time.Second {
		t.Errorf("StatusError(429, Retry-After 7) = %+v", e)
	}
	if e := StatusError(429, http.Header{}, "", time.Now()); e.RetryAfter <= 0 {
		t.Errorf("429 without Retry-After has RetryAfter %v, want a positive default", e.RetryAfter)
	}
}

// script is a test server answering from a list of statuses, then 200.
func script(t *testing.T, statuses []int, retryAfter string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		if i < len(statuses) {
			if statuses[i] == 429 && retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(statuses[i])
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func newClient(clk Clock) *Client {
	return &Client{Clock: clk, Jitter: func() float64 { return 0 }, BaseDelay: 100 * time.Millisecond,
		MaxDelay: time.Second, MaxAttempts: 4,
		Authorize: func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }}
}

func TestDoRetries(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		statuses   []int
		retryAfter string
		idempotent bool
		wantStatus int          // final response status, 0: an error
		wantCat    sdk.Category // when an error
		wantCalls  int32
		wantSlept  time.Duration
	}{
		{"429 honours Retry-After", []int{429, 429}, "2", false, 200, 0, 3, 4 * time.Second},
		{"429 without Retry-After backs off", []int{429}, "", false, 200, 0, 2, 50 * time.Millisecond},
		{"5xx retried when idempotent", []int{503, 502, 500}, "", true, 200, 0, 4, 50*time.Millisecond + 100*time.Millisecond + 200*time.Millisecond},
		{"5xx handed back when not idempotent", []int{503}, "", false, 503, 0, 1, 0},
		{"4xx not retried", []int{409}, "", true, 409, 0, 1, 0},
		{"retries run out", []int{503, 503, 503, 503, 503}, "", true, 0, sdk.CategoryTransient, 4, 350 * time.Millisecond},
		{"429s run out", []int{429, 429, 429, 429}, "1", true, 0, sdk.CategoryRateLimited, 4, 3 * time.Second},
		{"Retry-After too long", []int{429}, "3600", true, 0, sdk.CategoryRateLimited, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := script(t, tc.statuses, tc.retryAfter)
			clk := newFakeClock()
			c := newClient(clk)
			resp, err := c.Do(ctx, &Request{Method: "POST", URL: srv.URL, Body: []byte("{}"), Idempotent: tc.idempotent})
			if tc.wantStatus != 0 {
				if err != nil || resp.Status != tc.wantStatus {
					t.Fatalf("got %v, %v; want status %d", resp, err, tc.wantStatus)
				}
			} else if got := sdk.CategoryOf(err); got != tc.wantCat {
				t.Fatalf("got %v (%s), want a %s error", err, got, tc.wantCat)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("%d calls, want %d", n, tc.wantCalls)
			}
			if got := clk.total(); got != tc.wantSlept {
				t.Errorf("waited %v, want %v", got, tc.wantSlept)
			}
		})
	}
}

func TestDoNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	clk := newFakeClock()
	c := newClient(clk)
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: url, Idempotent: true})
	if sdk.CategoryOf(err) != sdk.CategoryUnreachable {
		t.Errorf("closed port: %v, want unreachable", err)
	}
	if len(clk.slept) != 3 {
		t.Errorf("idempotent request to a closed port retried %d times, want 3", len(clk.slept))
	}
	clk2 := newFakeClock()
	_, err = newClient(clk2).Do(context.Background(), &Request{Method: "POST", URL: url})
	if sdk.CategoryOf(err) != sdk.CategoryUnreachable || len(clk2.slept) != 0 {
		t.Errorf("non-idempotent: %v after %d retries, want unreachable at once", err, len(clk2.slept))
	}
}

func TestDoContextCancelled(t *testing.T) {
	srv, _ := script(t, []int{429}, "30")
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(RealClock{})
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := c.Do(ctx, &Request{Method: "GET", URL: srv.URL, Idempotent: true})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled during a 30s Retry-After: err %v after %v", err, time.Since(start))
	}
	if sdk.CategoryOf(err) != sdk.CategoryTransient {
		t.Errorf("cancelled: category %s, want transient", sdk.CategoryOf(err))
	}
}

func TestDoPausesSharedLimiter(t *testing.T) {
	srv, _ := script(t, []int{429}, "5")
	clk := newFakeClock()
	c := newClient(clk)
	b := NewBucket(100, 100, clk)
	c.Limiter = Limiter{b}
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	// The bucket was paused for 5s from the 429; the request slept through it.
	// A new pause starts now, so nothing is pending: the next token is free.
	if w := b.Reserve(); w != 0 {
		t.Errorf("after the retry the bucket still waits %v", w)
	}
	b.Pause(time.Second)
	if w := b.Reserve(); w != time.Second {
		t.Errorf("paused bucket waits %v, want 1s", w)
	}
}

func TestDoAttemptsOverride(t *testing.T) {
	srv, calls := script(t, []int{503, 503, 503}, "")
	clk := newFakeClock()
	_, err := newClient(clk).Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Idempotent: true, Attempts: 2})
	if sdk.CategoryOf(err) != sdk.CategoryTransient || calls.Load() != 2 {
		t.Errorf("Attempts 2: %v after %d calls", err, calls.Load())
	}
}

func TestOnRetryHearsEachRetry(t *testing.T) {
	srv, _ := script(t, []int{429, 503}, "1")
	clk := newFakeClock()
	c := newClient(clk)
	var heard []string
	c.OnRetry = func(req *Request, attempt, status int, err error, wait time.Duration) {
		heard = append(heard, fmt.Sprintf("%s#%d:%d:%v", req.Method, attempt, status, wait))
	}
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Idempotent: true}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET#1:429:1s", "GET#2:503:100ms"} // second backoff, no jitter: half of 200ms
	if fmt.Sprint(heard) != fmt.Sprint(want) {
		t.Errorf("OnRetry heard %v, want %v", heard, want)
	}
}
