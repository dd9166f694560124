package webapi

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Bucket is a token bucket: it holds at most Burst tokens and gains Rate
// tokens per second; every request takes one. Safe for concurrent use.
type Bucket struct {
	mu     sync.Mutex
	clock  Clock
	burst  float64
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
	paused time.Time // no token is handed out before this instant
}

// NewBucket returns a full bucket of burst tokens refilled at rate per second.
func NewBucket(burst int, rate float64, clock Clock) *Bucket {
	if clock == nil {
		clock = RealClock{}
	}
	if burst < 1 {
		burst = 1
	}
	return &Bucket{clock: clock, burst: float64(burst), rate: rate, tokens: float64(burst), last: clock.Now()}
}

// ForWindow returns a bucket that never lets more than n requests through in
// any sliding window of the given length (HubSpot's "100 per 10 seconds"): a
// plain bucket of n tokens refilled at n/window could pass almost 2n in one
// window, so the burst is a tenth of n and the rest is spread over the window
// (burst + rate×window = n).
func ForWindow(n int, window time.Duration, clock Clock) *Bucket {
	if n < 1 {
		n = 1
	}
	burst := max(1, n/10)
	rate := float64(n-burst) / window.Seconds()
	if n == 1 {
		rate = 1 / window.Seconds()
	}
	return NewBucket(burst, rate, clock)
}

// Reserve takes one token and returns how long the caller must wait before
// using it (zero when one is available now). Tokens may go negative: later
// callers queue behind earlier ones.
func (b *Bucket) Reserve() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	b.tokens--
	var wait time.Duration
	if b.tokens < 0 {
		if b.rate <= 0 {
			wait = time.Duration(1<<62 - 1)
		} else {
			wait = time.Duration(-b.tokens / b.rate * float64(time.Second))
		}
	}
	if p := b.paused.Sub(now); p > wait {
		wait = p
	}
	return wait
}

// Pause holds every later request back until d from now, e.g. after a 429
// that said Retry-After: the whole connection backs off, not one caller.
func (b *Bucket) Pause(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := b.clock.Now().Add(d); until.After(b.paused) {
		b.paused = until
	}
}

// Wait blocks until a token is available or ctx ends.
func (b *Bucket) Wait(ctx context.Context) error {
	return Sleep(ctx, b.clock, b.Reserve())
}

func (b *Bucket) String() string {
	return fmt.Sprintf("bucket(burst %.0f, %.2f/s)", b.burst, b.rate)
}

// Limiter is a set of buckets a request must get a token from, e.g. a
// per-second and a per-10-second limit. The zero Limiter lets everything pass.
type Limiter []*Bucket

// Wait takes a token from every bucket and waits for the slowest.
func (l Limiter) Wait(ctx context.Context) error {
	var wait time.Duration
	var clock Clock
	for _, b := range l {
		if b == nil {
			continue
		}
		wait = max(wait, b.Reserve())
		clock = b.clock
	}
	if clock == nil {
		return ctx.Err()
	}
	return Sleep(ctx, clock, wait)
}

// Pause pauses every bucket for d.
func (l Limiter) Pause(d time.Duration) {
	for _, b := range l {
		if b != nil {
			b.Pause(d)
		}
	}
}
