-- clockwf: the full current schema (sqlite). A new store is created from this file in one
-- transaction and records every migration version as applied. It must stay equal to the
-- result of applying migrations/ in order (tests/integration/test_migrations.py checks it).

-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order = time order),
-- declared UTCTIME so the driver converts them. Booleans are 0/1.

-- One row per applied migration, written in the transaction that applies it. A new store is
-- created from schema.sql in one go and records every version at once.
CREATE TABLE clockwf_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  UTCTIME NOT NULL
);

CREATE TABLE workflows (
    namespace        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    name             TEXT,
    current_version  INTEGER NOT NULL,
    trigger_type     TEXT NOT NULL CHECK (trigger_type IN ('manual', 'event', 'schedule', 'recurring')),
    event_name       TEXT,
    paused           INTEGER NOT NULL DEFAULT 0,
    pause_note       TEXT,
    paused_at        UTCTIME,
    created_at       UTCTIME NOT NULL,
    updated_at       UTCTIME NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
);
CREATE INDEX workflows_by_event ON workflows (namespace, event_name) WHERE event_name IS NOT NULL;

-- Immutable: one row per published content. Kept after delete so that runs can still name the
-- version they ran; version numbers keep counting up if the id is published again.
CREATE TABLE workflow_versions (
    namespace     TEXT NOT NULL,
    workflow_id   TEXT NOT NULL,
    version       INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    definition    TEXT NOT NULL,          -- canonical JSON of the validated definition
    source        TEXT NOT NULL,          -- the YAML text as published
    source_path   TEXT,
    published_at  UTCTIME NOT NULL,
    PRIMARY KEY (namespace, workflow_id, version)
);

-- One row per time-triggered workflow. next_fire_at is the due instant (nominal + jitter) and is
-- the only thing the due query reads through its index; next_nominal_at is the occurrence itself.
CREATE TABLE schedules (
    namespace         TEXT NOT NULL,
    workflow_id       TEXT NOT NULL,
    version           INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL CHECK (trigger_type IN ('schedule', 'recurring')),
    cron              TEXT,
    timezone          TEXT NOT NULL,
    run_at            UTCTIME,
    dst_gap           TEXT NOT NULL DEFAULT 'run_after',
    dst_fold          TEXT NOT NULL DEFAULT 'once',
    jitter_s          INTEGER NOT NULL DEFAULT 0,
    catchup           TEXT NOT NULL DEFAULT 'latest',
    catchup_window_s  INTEGER NOT NULL DEFAULT 86400,
    grace_s           INTEGER NOT NULL DEFAULT 60,
    max_catchup       INTEGER NOT NULL DEFAULT 100,
    overlap           TEXT NOT NULL DEFAULT 'allow',
    status            TEXT NOT NULL CHECK (status IN ('scheduled', 'paused', 'completed', 'missed')),
    status_reason     TEXT,
    next_nominal_at   UTCTIME,
    next_kind         TEXT,                     -- DST kind of that occurrence (clockwf.cron.FireKind)
    next_fire_at      UTCTIME,
    last_fire_key     TEXT,
    last_fired_at     UTCTIME,
    paused_at         UTCTIME,
    created_at        UTCTIME NOT NULL,
    updated_at        UTCTIME NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
);
-- workflow_id makes (next_fire_at, workflow_id) a unique key: claim_due pages through it.
CREATE INDEX schedules_due ON schedules (namespace, next_fire_at, workflow_id)
    WHERE status = 'scheduled';
-- Schedules that carry a reason while scheduled: one this clockwf could not plan, postponed by
-- the tick. `clockwf status` reports them; the index keeps that a seek on a (normally) empty set.
CREATE INDEX schedules_troubled ON schedules (namespace, workflow_id)
    WHERE status = 'scheduled' AND status_reason IS NOT NULL;

-- Bumped by every change to definitions or schedules; a SQLite daemon polls it to wake early.
CREATE TABLE change_counters (
    namespace  TEXT PRIMARY KEY,
    counter    INTEGER NOT NULL
);

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
    metadata          TEXT NOT NULL,           -- JSON provenance (SPEC 5.2)
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

CREATE TABLE run_steps (
    run_id        INTEGER NOT NULL,
    step_index    INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    namespace     TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('run', 'http')),
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out',
                                                  'cancelled', 'interrupted')),
    started_at    UTCTIME NOT NULL,
    finished_at   UTCTIME,
    duration_ms   INTEGER,
    exit_code     INTEGER,
    http_status   INTEGER,
    output        TEXT,                        -- bounded tail of stdout+stderr / response body
    error         TEXT,
    PRIMARY KEY (run_id, step_index, attempt)
);
