-- clockwf schema, migration 1: definitions, versions and schedule state (docs/design.md §4).
-- PostgreSQL dialect of sqlite/migrations/0001_initial.sql: same tables, columns and indexes.
-- Times are timestamptz, flags boolean; JSON stays text so both stores behave the same.

-- One row per applied migration, written in the transaction that applies it. A new store is
-- created by applying every migration in one transaction and records every version at once.
CREATE TABLE clockwf_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL
);

CREATE TABLE workflows (
    namespace        text NOT NULL,
    workflow_id      text NOT NULL,
    name             text,
    current_version  integer NOT NULL,
    trigger_type     text NOT NULL CHECK (trigger_type IN ('manual', 'event', 'schedule', 'recurring')),
    event_name       text,
    paused           boolean NOT NULL DEFAULT false,
    pause_note       text,
    paused_at        timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
);
CREATE INDEX workflows_by_event ON workflows (namespace, event_name) WHERE event_name IS NOT NULL;

-- Immutable: one row per published content. Kept after delete so that runs can still name the
-- version they ran; version numbers keep counting up if the id is published again.
CREATE TABLE workflow_versions (
    namespace     text NOT NULL,
    workflow_id   text NOT NULL,
    version       integer NOT NULL,
    content_hash  text NOT NULL,
    definition    text NOT NULL,          -- canonical JSON of the validated definition
    source        text NOT NULL,          -- the YAML text as published
    source_path   text,
    published_at  timestamptz NOT NULL,
    PRIMARY KEY (namespace, workflow_id, version)
);

-- One row per time-triggered workflow. next_fire_at is the due instant (nominal + jitter) and is
-- the only thing the due query reads through its index; next_nominal_at is the occurrence itself.
CREATE TABLE schedules (
    namespace         text NOT NULL,
    workflow_id       text NOT NULL,
    version           integer NOT NULL,
    trigger_type      text NOT NULL CHECK (trigger_type IN ('schedule', 'recurring')),
    cron              text,
    timezone          text NOT NULL,
    run_at            timestamptz,
    dst_gap           text NOT NULL DEFAULT 'run_after',
    dst_fold          text NOT NULL DEFAULT 'once',
    jitter_s          integer NOT NULL DEFAULT 0,
    catchup           text NOT NULL DEFAULT 'latest',
    catchup_window_s  integer NOT NULL DEFAULT 86400,
    grace_s           integer NOT NULL DEFAULT 60,
    max_catchup       integer NOT NULL DEFAULT 100,
    overlap           text NOT NULL DEFAULT 'allow',
    status            text NOT NULL CHECK (status IN ('scheduled', 'paused', 'completed', 'missed')),
    status_reason     text,
    next_nominal_at   timestamptz,
    next_kind         text,                     -- DST kind of that occurrence (clockwf.cron.FireKind)
    next_fire_at      timestamptz,
    last_fire_key     text,
    last_fired_at     timestamptz,
    paused_at         timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
);
-- workflow_id makes (next_fire_at, workflow_id) a unique key: claim_due pages through it.
CREATE INDEX schedules_due ON schedules (namespace, next_fire_at, workflow_id)
    WHERE status = 'scheduled';
-- Schedules that carry a reason while scheduled: one this clockwf could not plan, postponed by
-- the tick. `clockwf status` reports them; the index keeps that a seek on a (normally) empty set.
CREATE INDEX schedules_troubled ON schedules (namespace, workflow_id)
    WHERE status = 'scheduled' AND status_reason IS NOT NULL;

-- Bumped by every change to definitions or schedules; bump_changes also sends NOTIFY
-- clockwf_changes so that daemons wake at once.
CREATE TABLE change_counters (
    namespace  text PRIMARY KEY,
    counter    bigint NOT NULL
);
