-- A lease lets one daemon at a time run a sync when several share the state
-- (PostgreSQL). token grows with every taker: a daemon whose lease expired
-- and was taken over finds its token stale, and its commits are refused
-- (fencing). next_due is when the sync's next scheduled run is due, so that
-- daemons sharing the schedule run it once, not once each.
CREATE TABLE leases (
    sync_name  TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TEXT NOT NULL,
    next_due   TEXT NOT NULL DEFAULT ''
);
