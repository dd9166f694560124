package daemon

import (
	"errors"
	"testing"
)

// The gate cancels a run that has not written yet, and lets one that has
// finish its batch, stopping it at the next boundary.
func TestGate(t *testing.T) {
	for _, c := range []struct {
		name       string
		before     []string // failpoints passed before the stop
		wantCancel bool
		after      string // the next failpoint after the stop
		wantErr    bool
	}{
		{"reading", nil, true, "journaled", true},
		{"settled journal", []string{"settled"}, true, "journaled", true},
		{"writing batch", []string{"journaled"}, false, "written", false},
		{"batch written", []string{"journaled", "written"}, false, "committed", true},
		{"between batches", []string{"journaled", "written", "committed"}, false, "journaled", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &gate{}
			for _, step := range c.before {
				if err := g.failpoint(step); err != nil {
					t.Fatalf("failpoint %s before stop: %v", step, err)
				}
			}
			cancelled := false
			g.stop(func() { cancelled = true })
			if cancelled != c.wantCancel {
				t.Fatalf("cancelled = %v, want %v", cancelled, c.wantCancel)
			}
			err := g.failpoint(c.after)
			if (err != nil) != c.wantErr || (err != nil && !errors.Is(err, ErrStopped)) {
				t.Fatalf("failpoint %s after stop: %v, want error %v", c.after, err, c.wantErr)
			}
		})
	}
}
