-- clockwf schema, migration 2: runs under unique fire keys, skipped occurrences, daemons (docs/design.md §6, §9).

CREATE TABLE runs (
    run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace         TEXT NOT NULL,
    fire_key          TEXT NOT NULL,
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL CHECK (trigger_type IN ('manual', 'event', 'schedule', 'recurring')),
    scheduled_for     UTCTIME,                 -- nominal instant (time triggers)
    due_at            UTCTIME,                 -- nominal + jitter
    status            TEXT NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out',
                                        'cancelled', 'interrupted')),
    serial            INTEGER NOT NULL DEFAULT 0,  -- 1: never runs beside another run of the workflow
    payload           TEXT NOT NULL,           -- JSON
    metadata          TEXT NOT NULL,           -- JSON provenance (docs/design.md §3)
    created_at        UTCTIME NOT NULL,
    started_at        UTCTIME,
    finished_at       UTCTIME,
    lease_owner       TEXT,
    lease_expires_at  UTCTIME,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    UNIQUE (namespace, fire_key)
);
CREATE INDEX runs_queued ON runs (namespace, run_id) WHERE status = 'queued';
-- The unfinished runs of one workflow (overlap policy, serial claims) without reading its history.
CREATE INDEX runs_active ON runs (namespace, workflow_id, run_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX runs_leases ON runs (namespace, lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_by_workflow ON runs (namespace, workflow_id, run_id);
CREATE INDEX runs_by_created ON runs (namespace, created_at);

-- Every occurrence that was not launched, with its reason. A long run of identical skips
-- (a minutely job missed for a week) is one row: first and last occurrence and the count.
CREATE TABLE skipped_occurrences (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    fire_key         TEXT NOT NULL,            -- key of the first occurrence
    scheduled_for    UTCTIME NOT NULL,
    scheduled_until  UTCTIME NOT NULL,
    occurrences      INTEGER NOT NULL DEFAULT 1,
    reason           TEXT NOT NULL CHECK (reason IN ('coalesced', 'outside_window', 'missed',
                                                     'paused', 'overlap', 'dst_skip')),
    detail           TEXT,
    recorded_at      UTCTIME NOT NULL,
    UNIQUE (namespace, fire_key, reason)
);
CREATE INDEX skipped_by_workflow ON skipped_occurrences (namespace, workflow_id, scheduled_for);

CREATE TABLE daemons (
    namespace     TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    role          TEXT NOT NULL,               -- daemon | scheduler | worker
    version       TEXT NOT NULL,
    started_at    UTCTIME NOT NULL,
    heartbeat_at  UTCTIME NOT NULL,
    last_tick_at  UTCTIME,
    stopped_at    UTCTIME,
    status        TEXT,
    PRIMARY KEY (namespace, instance_id)
);
