-- clockwf: the full current schema (postgresql). A new store is created from this file in one
-- transaction and records every migration version as applied. It must stay equal to the
-- result of applying migrations/ in order (tests/integration/test_migrations.py checks it).

-- One row per applied migration, written in the transaction that applies it. A new store is
-- created from schema.sql in one go and records every version at once.
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

CREATE TABLE runs (
    run_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace         text NOT NULL,
    fire_key          text NOT NULL,
    workflow_id       text NOT NULL,
    workflow_version  integer NOT NULL,
    trigger_type      text NOT NULL CHECK (trigger_type IN ('manual', 'event', 'schedule', 'recurring')),
    scheduled_for     timestamptz,             -- nominal instant (time triggers)
    due_at            timestamptz,             -- nominal + jitter
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out',
                                        'cancelled', 'interrupted')),
    serial            boolean NOT NULL DEFAULT false,  -- never runs beside another run of the workflow
    payload           text NOT NULL,           -- JSON
    metadata          text NOT NULL,           -- JSON provenance (SPEC 5.2)
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    lease_owner       text,
    lease_expires_at  timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    error             text,
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
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace        text NOT NULL,
    workflow_id      text NOT NULL,
    fire_key         text NOT NULL,            -- key of the first occurrence
    scheduled_for    timestamptz NOT NULL,
    scheduled_until  timestamptz NOT NULL,
    occurrences      integer NOT NULL DEFAULT 1,
    reason           text NOT NULL CHECK (reason IN ('coalesced', 'outside_window', 'missed',
                                                     'paused', 'overlap', 'dst_skip')),
    detail           text,
    recorded_at      timestamptz NOT NULL,
    UNIQUE (namespace, fire_key, reason)
);
CREATE INDEX skipped_by_workflow ON skipped_occurrences (namespace, workflow_id, scheduled_for);

CREATE TABLE daemons (
    namespace     text NOT NULL,
    instance_id   text NOT NULL,
    hostname      text NOT NULL,
    pid           integer NOT NULL,
    role          text NOT NULL,               -- daemon | scheduler | worker
    version       text NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    last_tick_at  timestamptz,
    stopped_at    timestamptz,
    status        text,
    PRIMARY KEY (namespace, instance_id)
);

CREATE TABLE run_steps (
    run_id        bigint NOT NULL,
    step_index    integer NOT NULL,
    attempt       integer NOT NULL,
    namespace     text NOT NULL,
    step_id       text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('run', 'http')),
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out',
                                                  'cancelled', 'interrupted')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    duration_ms   bigint,
    exit_code     integer,
    http_status   integer,
    output        text,                        -- bounded tail of stdout+stderr / response body
    error         text,
    PRIMARY KEY (run_id, step_index, attempt)
);
