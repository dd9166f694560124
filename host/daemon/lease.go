package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/store"
)

// Leaser hands out the leases of syncs, so that one process at a time
// runs a sync; *store.Store satisfies it.
type Leaser interface {
	AcquireLease(ctx context.Context, sync, holder string, ttl time.Duration, scheduled bool, stale string) (store.Lease, error)
	KeepLease(ctx context.Context, l store.Lease, ttl time.Duration, lost func(error)) (stop func())
	ReleaseLease(ctx context.Context, l store.Lease, nextDue time.Time) error
}

// Holder is this process's name in leases: host and pid.
func Holder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// Gone reports whether holder (a Holder) is a process of this host that
// has ended: its lease may be taken over before it runs out.
func Gone(holder string) bool {
	host, pid, ok := strings.Cut(holder, ":")
	if me, _ := os.Hostname(); !ok || host != me {
		return false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	return processGone(n)
}

// AcquireLease takes sync's lease for holder from l, taking it over from a
// holder of this host that has ended (a killed run, a crashed daemon).
func AcquireLease(ctx context.Context, l Leaser, sync, holder string, ttl time.Duration, scheduled bool) (store.Lease, error) {
	lease, err := l.AcquireLease(ctx, sync, holder, ttl, scheduled, "")
	var held *store.LeaseHeldError
	if errors.As(err, &held) && held.Holder != "" && Gone(held.Holder) {
		return l.AcquireLease(ctx, sync, holder, ttl, scheduled, held.Holder)
	}
	return lease, err
}

// takeLease takes name's lease before a run, when leases are on. It returns
// the run's context (fenced by the lease, and cancelled should the lease be
// lost) and what releases the lease after finish; ok is false when the run
// is not to happen (finish was called). asked, noticed: the run was asked
// for, or is for a change a watch noticed; scheduled: neither.
func (s *Scheduler) takeLease(ctx context.Context, name string, e *entry, opts engine.Options, asked, noticed, scheduled bool,
	log hclog.Logger) (context.Context, func(), bool) {
	if s.o.Leases == nil {
		return ctx, func() {}, true
	}
	l, err := AcquireLease(ctx, s.o.Leases, name, s.o.Holder, s.o.LeaseTTL, scheduled && s.o.Shared)
	var held *store.LeaseHeldError
	switch {
	case errors.As(err, &held):
		log.Debug("run skipped: another process runs this sync or ran it", "reason", held.Error())
		s.skipped(name, e, held, opts, asked, noticed)
		return nil, nil, false
	case err != nil:
		log.Error("run skipped: the sync's lease could not be taken", "error", err)
		s.finish(name, e, nil)
		return nil, nil, false
	}
	rctx, cancel := context.WithCancel(store.WithLease(ctx, l))
	stop := s.o.Leases.KeepLease(ctx, l, s.o.LeaseTTL, func(err error) {
		log.Error("the sync's lease was lost; stopping the run", "error", err)
		cancel()
	})
	release := func() {
		stop()
		cancel()
		s.mu.Lock()
		next := e.next
		s.mu.Unlock()
		if err := s.o.Leases.ReleaseLease(context.WithoutCancel(ctx), l, next); err != nil {
			log.Warn("could not release the sync's lease; it expires by itself", "error", err, "ttl", s.o.LeaseTTL)
		}
	}
	return rctx, release, true
}

// skipped ends a run that another daemon held or had made. A run asked
// for here (run now, retry) waits for the other's to end and goes then, as
// does one for a change a watch noticed (the other's run may have read
// before the change); a scheduled one is tried when the shared schedule
// says, or an interval later.
func (s *Scheduler) skipped(name string, e *entry, held *store.LeaseHeldError, opts engine.Options, asked, noticed bool) {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended(name, e) {
		return
	}
	ev := s.every(e.def)
	switch {
	case e.queued != nil:
		e.nextOpt, e.asked, e.queued, e.next = *e.queued, true, nil, now.Add(time.Second)
	case asked:
		e.nextOpt, e.asked, e.next = opts, true, now.Add(time.Second)
	case noticed || e.rerun: // e.rerun: a change noticed while this run was being tried
		e.noticed, e.rerun, e.next = true, false, now.Add(time.Second)
	case held.Holder == "" && held.NextDue.After(now):
		e.next = held.NextDue.Add(time.Duration(float64(s.o.Tick) * (1 + s.o.Jitter)))
	case ev > 0:
		e.next = now.Add(s.jittered(ev))
	default:
		e.next = time.Time{}
	}
}
