-- clockwf schema, migration 1: definitions, versions and schedule state (docs/design.md §4).
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order = time order),
-- declared UTCTIME so the driver converts them. Booleans are 0/1.

-- One row per applied migration, written in the transaction that applies it. A new store is
-- created by applying every migration in one transaction and records every version at once.
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
