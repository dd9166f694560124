-- The journal and the history are written a batch at a time: one row holds
-- the entries of one batch of a run (one side; for history also one op,
-- direction and time), so a run of a million records writes thousands of
-- rows here, not millions. The per-entry tables of 0001 are still read.

CREATE TABLE journal_batches (
    batch      TEXT NOT NULL,
    side       TEXT NOT NULL CHECK (side IN ('left', 'right')),
    sync_name  TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    entries    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (batch, side)
);
CREATE INDEX journal_batches_sync ON journal_batches (sync_name);

CREATE TABLE history_batches (
    id        TEXT PRIMARY KEY,
    sync_name TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    run_id    TEXT NOT NULL DEFAULT '',
    side      TEXT NOT NULL CHECK (side IN ('left', 'right')),
    op        TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'link')),
    direction TEXT NOT NULL DEFAULT '',
    entries   TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX history_batches_sync ON history_batches (sync_name, op, at);
