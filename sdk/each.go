package sdk

import (
	"context"
	"sync"
)

// WriteEach applies ops one by one with write, at most workers at a time, for
// apps without a batch API (CardDAV, LDAP). When every op failed for want of
// the server or the credentials (auth, unreachable), nothing was applied and
// the whole batch fails with that error, so the host pauses or retries instead
// of reporting every record; once any op went through, the per-op results say
// which did.
func WriteEach(ctx context.Context, ops []Op, workers int, write func(ctx context.Context, op Op) WriteResult) ([]WriteResult, error) {
	if workers < 1 {
		workers = 1
	}
	results := make([]WriteResult, len(ops))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, op := range ops {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = write(ctx, op)
		}()
	}
	wg.Wait()
	var fatal *Error
	for _, r := range results {
		if r.Err == nil {
			return results, nil
		}
		if r.Err.Category == CategoryAuth || r.Err.Category == CategoryUnreachable {
			fatal = r.Err
		}
	}
	if fatal != nil {
		return nil, fatal
	}
	return results, nil
}
