package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lease is one daemon's claim on a sync's runs while several share the
// state. Token is its fencing token: commits made under a lease that
// another daemon has since taken are refused.
type Lease struct {
	Sync, Holder string
	Token        int64
}

// LeaseHeldError says a sync's lease could not be taken: another daemon
// runs it, or (for a scheduled run) ran it and the next run is not due.
type LeaseHeldError struct {
	Sync, Holder string    // Holder: "" when no one holds it (the run is not due)
	Expires      time.Time // when Holder's lease runs out, unless renewed
	NextDue      time.Time // when the next scheduled run is due
}

func (e *LeaseHeldError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("sync %s is being run by %s", e.Sync, e.Holder)
	}
	return fmt.Sprintf("sync %s ran elsewhere; its next run is due at %s", e.Sync, e.NextDue.Format(time.RFC3339))
}

// ErrFenced is returned for a commit under a lease another daemon has taken
// since: its run must stop, nothing of that batch was written.
var ErrFenced = errors.New("the sync's lease was taken over by another daemon")

// WatchLease names the lease of a sync's watched side, held by the daemon
// that watches it (sync names hold no ':', so it is no sync's lease).
func WatchLease(sync, side string) string { return "watch:" + sync + ":" + side }

type leaseKey struct{}

// WithLease returns a context whose commits for l.Sync are fenced by l.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// AcquireLease takes sync's lease for holder until ttl from now, when no one
// holds it (a holder's lease expired, or stale holds it: a process known to
// be gone). A scheduled run also needs the next run to be due, as the last
// holder's release set it; a run asked for (run now, a change noticed) does
// not.
func (s *Store) AcquireLease(ctx context.Context, sync, holder string, ttl time.Duration, scheduled bool, stale string) (Lease, error) {
	now := s.now()
	due := 0
	if scheduled {
		due = 1
	}
	var l Lease
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (sync_name, holder, token, expires_at) VALUES (?1, ?2, 1, ?3)
			ON CONFLICT (sync_name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
			expires_at = excluded.expires_at
			WHERE (leases.expires_at < ?4 OR leases.holder = ?6) AND (?5 = 0 OR leases.next_due <= ?4)`,
			sync, holder, fmtTime(now.Add(ttl)), fmtTime(now), due, stale)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		var by, expires, next string
		var token int64
		if err := tx.QueryRowContext(ctx, `SELECT holder, token, expires_at, next_due FROM leases WHERE sync_name = ?`,
			sync).Scan(&by, &token, &expires, &next); err != nil {
			return err
		}
		if n == 0 {
			held := &LeaseHeldError{Sync: sync, NextDue: parseTime(next)}
			if expires >= fmtTime(now) {
				held.Holder, held.Expires = by, parseTime(expires)
			}
			return held
		}
		l = Lease{Sync: sync, Holder: holder, Token: token}
		return nil
	})
	if err != nil {
		var held *LeaseHeldError
		if errors.As(err, &held) {
			return Lease{}, held
		}
		return Lease{}, fmt.Errorf("take the lease of %s: %w", sync, err)
	}
	return l, nil
}

// LeaseHolder returns who holds sync's lease and until when; "" when no one
// does (no run goes on, or its holder stopped renewing it).
func (s *Store) LeaseHolder(ctx context.Context, sync string) (string, time.Time, error) {
	var holder, expires string
	err := s.db.QueryRowContext(ctx, `SELECT holder, expires_at FROM leases WHERE sync_name = ?`, sync).Scan(&holder, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", time.Time{}, nil
	case err != nil:
		return "", time.Time{}, fmt.Errorf("read the lease of %s: %w", sync, err)
	case expires < fmtTime(s.now()):
		return "", time.Time{}, nil
	}
	return holder, parseTime(expires), nil
}

// RenewLease extends l by ttl from now; ErrFenced when it was taken over.
func (s *Store) RenewLease(ctx context.Context, l Lease, ttl time.Duration) error {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE sync_name = ? AND holder = ? AND token = ?`,
		fmtTime(s.now().Add(ttl)), l.Sync, l.Holder, l.Token)
	if err != nil {
		return fmt.Errorf("renew the lease of %s: %w", l.Sync, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("renew the lease of %s: %w", l.Sync, ErrFenced)
	}
	return nil
}

// ReleaseLease gives l up, saying when the next scheduled run is due (zero:
// as it was).
func (s *Store) ReleaseLease(ctx context.Context, l Lease, nextDue time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = '', next_due = CASE WHEN ? = '' THEN next_due ELSE ? END
		WHERE sync_name = ? AND holder = ? AND token = ?`, fmtTime(nextDue), fmtTime(nextDue), l.Sync, l.Holder, l.Token)
	if err != nil {
		return fmt.Errorf("release the lease of %s: %w", l.Sync, err)
	}
	return nil
}

// KeepLease renews l every third of ttl until stop is called; should a
// renewal fail (the lease taken over, the store gone), lost is told once and
// renewing ends.
func (s *Store) KeepLease(ctx context.Context, l Lease, ttl time.Duration, lost func(error)) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if err := s.RenewLease(context.WithoutCancel(ctx), l, ttl); err != nil {
				lost(err)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// fence refuses a commit of sync under a lease that was taken over; on
// PostgreSQL it also locks the lease row until the commit ends, so a
// takeover waits for it.
func fence(ctx context.Context, tx *sql.Tx, sync string) error {
	l, ok := ctx.Value(leaseKey{}).(Lease)
	if !ok || l.Sync != sync {
		return nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE leases SET token = token WHERE sync_name = ? AND holder = ? AND token = ?`,
		l.Sync, l.Holder, l.Token)
	if err != nil {
		return fmt.Errorf("check the lease of %s: %w", sync, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return ErrFenced
	}
	return nil
}
