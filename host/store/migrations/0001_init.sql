-- Portable SQL: this file runs unchanged on SQLite and PostgreSQL.
-- Differences handled in Go, not here: placeholders (? vs $n) and the driver.
-- Timestamps are TEXT in one fixed UTC layout (sortable, comparable as text);
-- ids are TEXT made in Go, so no AUTOINCREMENT / SERIAL is needed; BYTEA is
-- PostgreSQL's binary type and SQLite stores []byte in it as a BLOB as is.

CREATE TABLE connections (
    name                TEXT PRIMARY KEY,
    plugin              TEXT NOT NULL,
    plugin_version      TEXT NOT NULL DEFAULT '',
    settings            TEXT NOT NULL DEFAULT '{}',
    secrets             BYTEA,
    account_fingerprint TEXT NOT NULL DEFAULT '',
    account_label       TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'ok',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE syncs (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('active', 'paused', 'draft')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE cursors (
    sync_name   TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    side        TEXT NOT NULL CHECK (side IN ('left', 'right')),
    cursor      TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (sync_name, side)
);

CREATE TABLE links (
    sync_name     TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    left_id       TEXT NOT NULL,
    right_id      TEXT NOT NULL,
    left_version  TEXT NOT NULL DEFAULT '',
    right_version TEXT NOT NULL DEFAULT '',
    base          TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT 'syncing'
        CHECK (state IN ('syncing', 'excluded', 'failing', 'left_deleted', 'right_deleted')),
    excluded_by   TEXT NOT NULL DEFAULT '' CHECK (excluded_by IN ('', 'left', 'right', 'both')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (sync_name, left_id),
    UNIQUE (sync_name, right_id)
);

CREATE TABLE pending_records (
    sync_name   TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    side        TEXT NOT NULL CHECK (side IN ('left', 'right')),
    record_id   TEXT NOT NULL,
    version     TEXT NOT NULL DEFAULT '',
    modified_at TEXT NOT NULL DEFAULT '',
    vals        TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (sync_name, side, record_id)
);

CREATE TABLE journal (
    id         TEXT PRIMARY KEY,
    sync_name  TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    side       TEXT NOT NULL CHECK (side IN ('left', 'right')),
    source_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX journal_sync ON journal (sync_name);

CREATE TABLE errors (
    sync_name  TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    side       TEXT NOT NULL CHECK (side IN ('left', 'right', '')),
    record_id  TEXT NOT NULL,
    category   TEXT NOT NULL,
    field      TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL DEFAULT '',
    hint       TEXT NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 1,
    next_retry TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (sync_name, side, record_id, category)
);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    sync_name   TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    counts      TEXT NOT NULL DEFAULT '{}',
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_sync ON runs (sync_name, started_at);

CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    sync_name   TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    left_id     TEXT NOT NULL,
    right_id    TEXT NOT NULL,
    field       TEXT NOT NULL,
    left_value  TEXT NOT NULL,
    right_value TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (sync_name, left_id, field)
);

CREATE TABLE queued_deletes (
    id        TEXT PRIMARY KEY,
    sync_name TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    side      TEXT NOT NULL CHECK (side IN ('left', 'right')),
    record_id TEXT NOT NULL,
    other_id  TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    UNIQUE (sync_name, side, record_id)
);

CREATE TABLE history (
    id        TEXT PRIMARY KEY,
    sync_name TEXT NOT NULL REFERENCES syncs (name) ON DELETE CASCADE,
    run_id    TEXT NOT NULL DEFAULT '',
    side      TEXT NOT NULL CHECK (side IN ('left', 'right')),
    record_id TEXT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'link')),
    direction TEXT NOT NULL DEFAULT '',
    changes   TEXT NOT NULL DEFAULT '[]',
    at        TEXT NOT NULL
);
CREATE INDEX history_sync ON history (sync_name, op, at);
