-- clockwf schema, migration 10: CHECK constraints without IN lists (docs/design.md §5).
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` with more than two values by building a temporary
-- B-tree of the values, and a CHECK is evaluated for every row inserted and every update of its
-- column: each run the tick creates built two such trees (trigger_type, status), each schedule
-- it advanced one (status). Measured with callgrind, that was more than half of the instructions
-- of a run insert (123 k -> 55 k per run, 2,000-run batches). The same constraints written as
-- OR chains are evaluated by comparisons alone. SQLite cannot alter a CHECK, so each table that
-- had one is rebuilt with its rows (as migration 8 rebuilt one: rename, create, copy, drop) and
-- its indexes made again; an AUTOINCREMENT table keeps its sequence, so that no id is given
-- twice even where the newest rows were pruned. A CHECK of two values stays an IN list (SQLite
-- compares those directly). tests/integration/test_migrations.py checks that no IN list of more
-- than two values is left in a CHECK and that the sequences survive.

-- workflows
ALTER TABLE workflows RENAME TO workflows_old;
CREATE TABLE workflows (
    namespace        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    name             TEXT,
    current_version  INTEGER NOT NULL,
    trigger_type     TEXT NOT NULL CHECK (trigger_type = 'manual' OR trigger_type = 'event' OR
                                          trigger_type = 'schedule' OR
                                          trigger_type = 'recurring'),
    event_name       TEXT,
    paused           INTEGER NOT NULL DEFAULT 0,
    pause_note       TEXT,
    paused_at        UTCTIME,
    created_at       UTCTIME NOT NULL,
    updated_at       UTCTIME NOT NULL,
    published_from   TEXT,
    PRIMARY KEY (namespace, workflow_id)
);
INSERT INTO workflows (
    namespace, workflow_id, name, current_version, trigger_type, event_name, paused, pause_note,
    paused_at, created_at, updated_at, published_from)
SELECT namespace, workflow_id, name, current_version, trigger_type, event_name, paused, pause_note,
       paused_at, created_at, updated_at, published_from
FROM workflows_old;
DROP TABLE workflows_old;
CREATE INDEX workflows_by_event ON workflows (namespace, event_name) WHERE event_name IS NOT NULL;
CREATE INDEX workflows_by_source ON workflows (namespace, published_from)
    WHERE published_from IS NOT NULL;

-- schedules
ALTER TABLE schedules RENAME TO schedules_old;
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
    status            TEXT NOT NULL CHECK (status = 'scheduled' OR status = 'paused' OR
                                           status = 'completed' OR status = 'missed'),
    status_reason     TEXT,
    next_nominal_at   UTCTIME,
    next_kind         TEXT,                     -- DST kind of that occurrence (FireKind)
    next_fire_at      UTCTIME,
    last_fire_key     TEXT,
    last_fired_at     UTCTIME,
    paused_at         UTCTIME,
    created_at        UTCTIME NOT NULL,
    updated_at        UTCTIME NOT NULL,
    trigger_spec      TEXT,
    launched          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, workflow_id)
);
INSERT INTO schedules (
    namespace, workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold,
    jitter_s, catchup, catchup_window_s, grace_s, max_catchup, overlap, status, status_reason,
    next_nominal_at, next_kind, next_fire_at, last_fire_key, last_fired_at, paused_at,
    created_at, updated_at, trigger_spec, launched)
SELECT namespace, workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold,
       jitter_s, catchup, catchup_window_s, grace_s, max_catchup, overlap, status,
       status_reason, next_nominal_at, next_kind, next_fire_at, last_fire_key, last_fired_at,
       paused_at, created_at, updated_at, trigger_spec, launched
FROM schedules_old;
DROP TABLE schedules_old;
CREATE INDEX schedules_due ON schedules (namespace, next_fire_at, workflow_id)
    WHERE status = 'scheduled';
CREATE INDEX schedules_troubled ON schedules (namespace, workflow_id)
    WHERE status = 'scheduled' AND status_reason IS NOT NULL;

-- runs
ALTER TABLE runs RENAME TO runs_old;
CREATE TABLE runs (
    run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace         TEXT NOT NULL,
    fire_key          TEXT NOT NULL,
    workflow_id       TEXT NOT NULL,
    workflow_version  INTEGER NOT NULL,
    trigger_type      TEXT NOT NULL CHECK (trigger_type = 'manual' OR trigger_type = 'event' OR
                                           trigger_type = 'schedule' OR
                                           trigger_type = 'recurring'),
    scheduled_for     UTCTIME,                 -- nominal instant (time triggers)
    due_at            UTCTIME,                 -- nominal + jitter
    status            TEXT NOT NULL DEFAULT 'queued'
                      CHECK (status = 'queued' OR status = 'running' OR status = 'succeeded' OR
                             status = 'failed' OR status = 'timed_out' OR status = 'cancelled' OR
                             status = 'interrupted'),
    serial            INTEGER NOT NULL DEFAULT 0,  -- 1: never beside another run of the workflow
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
INSERT INTO runs (
    run_id, namespace, fire_key, workflow_id, workflow_version, trigger_type, scheduled_for,
    due_at, status, serial, payload, metadata, created_at, started_at, finished_at,
    lease_owner, lease_expires_at, cancel_requested, error)
SELECT run_id, namespace, fire_key, workflow_id, workflow_version, trigger_type, scheduled_for,
       due_at, status, serial, payload, metadata, created_at, started_at, finished_at,
       lease_owner, lease_expires_at, cancel_requested, error
FROM runs_old;
-- The sequence: the highest id ever given, which the copy alone would lower to max(id).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'runs', seq FROM sqlite_sequence AS old
WHERE old.name = 'runs_old'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'runs');
UPDATE sqlite_sequence
SET seq = (SELECT old.seq FROM sqlite_sequence AS old WHERE old.name = 'runs_old')
WHERE name = 'runs'
  AND seq < (SELECT old.seq FROM sqlite_sequence AS old WHERE old.name = 'runs_old');
DROP TABLE runs_old;
CREATE INDEX runs_queued ON runs (namespace, run_id) WHERE status = 'queued';
CREATE INDEX runs_active ON runs (namespace, workflow_id, run_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX runs_leases ON runs (namespace, lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_by_workflow ON runs (namespace, workflow_id, run_id);

-- run_steps
ALTER TABLE run_steps RENAME TO run_steps_old;
CREATE TABLE run_steps (
    run_id        INTEGER NOT NULL,
    step_index    INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    namespace     TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('run', 'http')),
    status        TEXT NOT NULL CHECK (status = 'running' OR status = 'succeeded' OR
                                       status = 'failed' OR status = 'timed_out' OR
                                       status = 'cancelled' OR status = 'interrupted'),
    started_at    UTCTIME NOT NULL,
    finished_at   UTCTIME,
    duration_ms   INTEGER,
    exit_code     INTEGER,
    http_status   INTEGER,
    output        TEXT,                        -- bounded tail of stdout+stderr / response body
    error         TEXT,
    PRIMARY KEY (run_id, step_index, attempt)
);
INSERT INTO run_steps (
    run_id, step_index, attempt, namespace, step_id, kind, status, started_at, finished_at,
    duration_ms, exit_code, http_status, output, error)
SELECT run_id, step_index, attempt, namespace, step_id, kind, status, started_at, finished_at,
       duration_ms, exit_code, http_status, output, error
FROM run_steps_old;
DROP TABLE run_steps_old;

-- notification_deliveries
ALTER TABLE notification_deliveries RENAME TO notification_deliveries_old;
CREATE TABLE notification_deliveries (
    namespace        TEXT NOT NULL,
    notification_id  TEXT NOT NULL,
    target_index     INTEGER NOT NULL,
    target           TEXT NOT NULL,               -- JSON of the target as written (${env:} kept)
    target_label     TEXT NOT NULL,               -- how messages name it (no secret)
    status           TEXT NOT NULL CHECK (status = 'pending' OR status = 'delivered' OR
                                          status = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  UTCTIME NOT NULL,            -- claimed: the end of the claim's lease
    lease_owner      TEXT,
    last_error       TEXT,
    finished_at      UTCTIME,
    PRIMARY KEY (namespace, notification_id, target_index)
);
INSERT INTO notification_deliveries (
    namespace, notification_id, target_index, target, target_label, status, attempts,
    next_attempt_at, lease_owner, last_error, finished_at)
SELECT namespace, notification_id, target_index, target, target_label, status, attempts,
       next_attempt_at, lease_owner, last_error, finished_at
FROM notification_deliveries_old;
DROP TABLE notification_deliveries_old;
CREATE INDEX deliveries_due ON notification_deliveries (namespace, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_failed ON notification_deliveries (namespace, target_label)
    WHERE status = 'failed';

-- api_tokens
ALTER TABLE api_tokens RENAME TO api_tokens_old;
CREATE TABLE api_tokens (
    namespace    TEXT NOT NULL,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope = 'read' OR scope = 'operate' OR scope = 'admin'),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   UTCTIME NOT NULL,
    PRIMARY KEY (namespace, name)
);
INSERT INTO api_tokens (
    namespace, name, scope, token_hash, created_at)
SELECT namespace, name, scope, token_hash, created_at
FROM api_tokens_old;
DROP TABLE api_tokens_old;

-- skipped_occurrences
ALTER TABLE skipped_occurrences RENAME TO skipped_occurrences_old;
CREATE TABLE skipped_occurrences (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    fire_key         TEXT NOT NULL,            -- key of the first occurrence
    scheduled_for    UTCTIME NOT NULL,
    scheduled_until  UTCTIME NOT NULL,
    occurrences      INTEGER NOT NULL DEFAULT 1,
    reason           TEXT NOT NULL CHECK (reason = 'coalesced' OR reason = 'outside_window' OR
                                          reason = 'missed' OR reason = 'paused' OR
                                          reason = 'overlap' OR reason = 'dst_skip' OR
                                          reason = 'excluded'),
    detail           TEXT,
    recorded_at      UTCTIME NOT NULL,
    UNIQUE (namespace, fire_key, reason)
);
INSERT INTO skipped_occurrences (
    id, namespace, workflow_id, fire_key, scheduled_for, scheduled_until, occurrences, reason,
    detail, recorded_at)
SELECT id, namespace, workflow_id, fire_key, scheduled_for, scheduled_until, occurrences, reason,
       detail, recorded_at
FROM skipped_occurrences_old;
-- The sequence: the highest id ever given, which the copy alone would lower to max(id).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'skipped_occurrences', seq FROM sqlite_sequence AS old
WHERE old.name = 'skipped_occurrences_old'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'skipped_occurrences');
UPDATE sqlite_sequence
SET seq = (SELECT old.seq FROM sqlite_sequence AS old WHERE old.name = 'skipped_occurrences_old')
WHERE name = 'skipped_occurrences'
  AND seq < (SELECT old.seq FROM sqlite_sequence AS old WHERE old.name = 'skipped_occurrences_old');
DROP TABLE skipped_occurrences_old;
CREATE INDEX skipped_by_workflow ON skipped_occurrences (namespace, workflow_id, scheduled_for);
