-- clockwf schema, migration 2: runs under unique fire keys, skipped occurrences, daemons (docs/design.md §6, §9).

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
    metadata          text NOT NULL,           -- JSON provenance (docs/design.md §3)
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
