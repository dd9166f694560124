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
	Sync, Holder string
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

type leaseKey struct{}

// WithLease returns a context whose commits for l.Sync are fenced by l.
func WithLease(ctx context.Context, l Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// AcquireLease takes sync's lease for holder until ttl from now, when no one
// holds it (or a holder's lease expired). A scheduled run also needs the
// next run to be due, as the last holder's release set it; a run asked for
// (run now, a change noticed) does not.
func (s *Store) AcquireLease(ctx context.Context, sync, holder string, ttl time.Duration, scheduled bool) (Lease, error) {
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
			WHERE leases.expires_at < ?4 AND (?5 = 0 OR leases.next_due <= ?4)`,
			sync, holder, fmtTime(now.Add(ttl)), fmtTime(now), due)
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
				held.Holder = by
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
// whenever a daemon's schedule says).
func (s *Store) ReleaseLease(ctx context.Context, l Lease, nextDue time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = '', next_due = ? WHERE sync_name = ? AND holder = ? AND token = ?`,
		fmtTime(nextDue), l.Sync, l.Holder, l.Token)
	if err != nil {
		return fmt.Errorf("release the lease of %s: %w", l.Sync, err)
	}
	return nil
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
