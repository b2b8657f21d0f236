-- clockwf named queries, SQLite dialect. Loaded once by clockwf.store.common.load_queries.
-- The queries that both dialects say alike are in ../common/queries.sql (the prune queries
-- among them); this file holds what this dialect says its own way.
-- Parameters are bound (:name); :ns is the namespace and is given to every query.
-- Times are bound as fixed-width UTC text and read back through the UTCTIME converter.
-- List parameters (:run_ids, :workflow_ids ...) arrive as a JSON array: json_each(:x).
-- Bulk writes (insert_runs, insert_skips, advance_schedules) are one-row statements that the
-- connector runs once per row with executemany(): in SQLite, which has no round trips to save,
-- that is cheaper than one statement over the rows packed into JSON.

-- ---------------------------------------------------------------------------------------------
-- connection and migrations

-- name: pragma_journal_mode
PRAGMA journal_mode = WAL

-- name: pragma_synchronous
PRAGMA synchronous = NORMAL

-- name: migrations_table
SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'clockwf_migrations'

-- name: existing_tables
SELECT name FROM sqlite_master WHERE type = 'table'

-- ---------------------------------------------------------------------------------------------
-- definitions and versions

-- name: lock_workflow
-- Nothing to do: BEGIN IMMEDIATE already holds the database's write lock.
SELECT :workflow_id AS workflow_id

-- ---------------------------------------------------------------------------------------------
-- the workflows table, whole (clockwf list) or a page at a time (clockwf serve: search by id or
-- name); API tokens

-- name: page_workflows
-- Also list_workflows: every row (:limit NULL, :search NULL). :status is 'paused' / 'active'
-- (workflow level) or a schedule status.
SELECT w.*, s.status AS schedule_status, s.cron, s.timezone, s.run_at, s.next_fire_at,
       s.next_nominal_at, s.last_fire_key, s.last_fired_at,
       s.status_reason AS schedule_reason, s.trigger_spec
FROM workflows AS w
LEFT JOIN schedules AS s ON s.namespace = w.namespace AND s.workflow_id = w.workflow_id
WHERE w.namespace = :ns
  AND (:trigger_types IS NULL
       OR w.trigger_type IN (SELECT value FROM json_each(:trigger_types)))
  AND (:status IS NULL
       OR (:status = 'paused' AND w.paused = 1)
       OR (:status = 'active' AND w.paused = 0)
       OR s.status = :status)
  AND (:search IS NULL OR instr(w.workflow_id, :search) > 0
       OR instr(coalesce(w.name, ''), :search) > 0)
ORDER BY w.workflow_id
LIMIT coalesce(:limit, -1) OFFSET :offset

-- name: count_workflows
-- The schedule is looked at only when the status filter names a schedule status.
SELECT count(*) AS n
FROM workflows AS w
WHERE w.namespace = :ns
  AND (:trigger_types IS NULL
       OR w.trigger_type IN (SELECT value FROM json_each(:trigger_types)))
  AND (:status IS NULL
       OR (:status = 'paused' AND w.paused = 1)
       OR (:status = 'active' AND w.paused = 0)
       OR EXISTS (SELECT 1 FROM schedules AS s
                  WHERE s.namespace = w.namespace AND s.workflow_id = w.workflow_id
                    AND s.status = :status))
  AND (:search IS NULL OR instr(w.workflow_id, :search) > 0
       OR instr(coalesce(w.name, ''), :search) > 0)

-- name: recent_runs_of
-- The newest :per runs of each workflow of a page (the table's strip of colours), one index
-- range per workflow.
SELECT r.run_id, r.workflow_id, r.status
FROM json_each(:workflow_ids) AS w
JOIN runs AS r ON r.run_id IN (SELECT run_id FROM runs INDEXED BY runs_by_workflow
                               WHERE namespace = :ns AND workflow_id = w.value
                               ORDER BY run_id DESC LIMIT :per)
ORDER BY r.workflow_id, r.run_id

-- ---------------------------------------------------------------------------------------------
-- schedule state

-- name: bump_changes
INSERT INTO change_counters (namespace, counter) VALUES (:ns, 1)
ON CONFLICT (namespace) DO UPDATE SET counter = change_counters.counter + 1

-- ---------------------------------------------------------------------------------------------
-- scheduling

-- name: claim_due
-- One range scan of schedules_due. The caller's BEGIN IMMEDIATE is the lock.
-- The columns are what a tick reads: the schedule's definition and next occurrence (not
-- the last fire: an advance that launched nothing keeps the stored one).
SELECT workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold, jitter_s,
       catchup, catchup_window_s, grace_s, max_catchup, overlap, next_nominal_at, next_kind,
       next_fire_at, trigger_spec, launched
FROM schedules
WHERE namespace = :ns AND status = 'scheduled' AND next_fire_at <= :now
ORDER BY next_fire_at, workflow_id
LIMIT :limit

-- name: claim_due_after
-- The next page: the row value comparison is the lower bound of the same index range.
SELECT workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold, jitter_s,
       catchup, catchup_window_s, grace_s, max_catchup, overlap, next_nominal_at, next_kind,
       next_fire_at, trigger_spec, launched
FROM schedules
WHERE namespace = :ns AND status = 'scheduled' AND next_fire_at <= :now
  AND (next_fire_at, workflow_id) > (:after_at, :after_id)
ORDER BY next_fire_at, workflow_id
LIMIT :limit

-- name: insert_runs
-- One run; the connector runs it once per run of a batch (executemany). The fire key is claimed
-- by this very statement: a key already taken inserts nothing. executemany returns no rows, so
-- the runs created are read back with runs_created_after (see SqliteTx.insert_runs).
INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, trigger_type,
                  scheduled_for, due_at, status, serial, payload, metadata, created_at)
VALUES (:ns, :fire_key, :workflow_id, :workflow_version, :trigger_type, :scheduled_for,
        :due_at, :status, :serial, :payload, :metadata, :created_at)
ON CONFLICT (namespace, fire_key) DO NOTHING

-- name: runs_high_water
-- The highest run_id ever given (AUTOINCREMENT never gives a lower one again).
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'runs'), 0) AS run_id

-- name: runs_created_after
-- The runs above a high-water mark, in id order: a rowid range, not a scan. (No namespace
-- condition: it could make the planner walk a namespace index instead. The caller holds the
-- write lock, so every run above the mark is one it just created, in its own namespace.)
SELECT fire_key, run_id FROM runs WHERE run_id > :run_id ORDER BY run_id

-- name: insert_skips
-- One skip record, run once per record of a batch (executemany).
INSERT INTO skipped_occurrences (namespace, workflow_id, fire_key, scheduled_for,
                                 scheduled_until, occurrences, reason, detail, recorded_at)
VALUES (:ns, :workflow_id, :fire_key, :scheduled_for, :scheduled_until, :occurrences, :reason,
        :detail, :recorded_at)
ON CONFLICT (namespace, fire_key, reason) DO NOTHING

-- name: advance_schedules
-- One schedule, run once per schedule of a batch (executemany): a primary-key update.
-- A null last_fire_key / last_fired_at keeps the stored one (a pass that launched nothing).
UPDATE schedules
SET next_nominal_at = :next_nominal_at,
    next_kind = :next_kind,
    next_fire_at = :next_fire_at,
    status = :status,
    status_reason = :status_reason,
    last_fire_key = coalesce(:last_fire_key, last_fire_key),
    last_fired_at = coalesce(:last_fired_at, last_fired_at),
    launched = launched + :launched,
    updated_at = :updated_at
WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: active_runs
-- Named index: without statistics SQLite would walk the workflow's whole history instead.
SELECT run_id, workflow_id, status FROM runs INDEXED BY runs_active
WHERE namespace = :ns AND status IN ('queued', 'running')
  AND workflow_id IN (SELECT value FROM json_each(:workflow_ids))
ORDER BY run_id

-- name: request_cancel
-- SET expressions see the old row: queued runs end now, running ones are asked to stop.
UPDATE runs
SET status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
    finished_at = CASE status WHEN 'queued' THEN :now ELSE finished_at END,
    cancel_requested = 1,
    error = :reason
WHERE namespace = :ns AND status IN ('queued', 'running')
  AND run_id IN (SELECT value FROM json_each(:run_ids))

-- name: runs_by_fire_keys
SELECT * FROM runs
WHERE namespace = :ns AND fire_key IN (SELECT value FROM json_each(:fire_keys))
ORDER BY run_id

-- name: list_runs
-- NOT INDEXED: walk the rowid backwards and stop after :limit rows, instead of sorting the
-- whole namespace.
SELECT * FROM runs NOT INDEXED
WHERE namespace = :ns
  AND (:trigger_type IS NULL OR trigger_type = :trigger_type)
  AND (:status IS NULL OR status = :status)
  AND (:since IS NULL OR created_at >= :since)
ORDER BY run_id DESC
LIMIT :limit

-- name: list_runs_for_workflow
SELECT * FROM runs INDEXED BY runs_by_workflow
WHERE namespace = :ns AND workflow_id = :workflow_id
  AND (:trigger_type IS NULL OR trigger_type = :trigger_type)
  AND (:status IS NULL OR status = :status)
  AND (:since IS NULL OR created_at >= :since)
ORDER BY run_id DESC
LIMIT :limit

-- name: heartbeat
-- A null last_tick_at keeps the stored one; a new one stamps ticked_at on the database's
-- clock (docs/design.md §9). heartbeat_at is the database's clock (see
-- expire_leases). pool_*: the instance's connection pool (null without one).
INSERT INTO daemons (namespace, instance_id, hostname, pid, role, version, started_at,
                     heartbeat_at, last_tick_at, ticked_at, stopped_at, status, pool_size,
                     pool_waits, pool_wait_s)
VALUES (:ns, :instance_id, :hostname, :pid, :role, :version, :started_at, clockwf_now(),
        :last_tick_at, CASE WHEN :last_tick_at IS NULL THEN NULL ELSE clockwf_now() END, NULL,
        :status, :pool_size, :pool_waits, :pool_wait_s)
ON CONFLICT (namespace, instance_id) DO UPDATE SET
    hostname = excluded.hostname,
    pid = excluded.pid,
    role = excluded.role,
    version = excluded.version,
    started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at,
    last_tick_at = coalesce(excluded.last_tick_at, daemons.last_tick_at),
    ticked_at = CASE WHEN excluded.last_tick_at IS NULL
                          OR excluded.last_tick_at = daemons.last_tick_at
                     THEN daemons.ticked_at ELSE excluded.ticked_at END,
    stopped_at = NULL,
    status = excluded.status,
    pool_size = excluded.pool_size,
    pool_waits = excluded.pool_waits,
    pool_wait_s = excluded.pool_wait_s

-- ---------------------------------------------------------------------------------------------
-- execution

-- name: claim_runs
-- Oldest queued runs first. A serial run waits while another run of its workflow is running or
-- an older one is queued. (status IN (...) repeated so that runs_active applies.)
UPDATE runs
SET status = 'running', started_at = :now, lease_owner = :owner,
    lease_expires_at = clockwf_lease(:lease_s)
WHERE run_id IN (
    SELECT r.run_id FROM runs AS r
    WHERE r.namespace = :ns AND r.status = 'queued'
      AND (r.serial = 0 OR (
          NOT EXISTS (SELECT 1 FROM runs AS o INDEXED BY runs_active
                      WHERE o.namespace = r.namespace AND o.workflow_id = r.workflow_id
                        AND o.status IN ('queued', 'running') AND o.status = 'running')
          AND NOT EXISTS (SELECT 1 FROM runs AS o INDEXED BY runs_active
                          WHERE o.namespace = r.namespace AND o.workflow_id = r.workflow_id
                            AND o.status IN ('queued', 'running') AND o.status = 'queued'
                            AND o.run_id < r.run_id)))
    ORDER BY r.run_id
    LIMIT :limit
)
RETURNING *

-- name: claim_run
-- One given queued run (clockwf run --wait), under the serial rule of claim_runs.
UPDATE runs
SET status = 'running', started_at = :now, lease_owner = :owner,
    lease_expires_at = clockwf_lease(:lease_s)
WHERE namespace = :ns AND run_id = :run_id AND status = 'queued'
  AND (serial = 0 OR (
      NOT EXISTS (SELECT 1 FROM runs AS o
                  WHERE o.namespace = runs.namespace AND o.workflow_id = runs.workflow_id
                    AND o.status IN ('queued', 'running') AND o.status = 'running')
      AND NOT EXISTS (SELECT 1 FROM runs AS o
                      WHERE o.namespace = runs.namespace AND o.workflow_id = runs.workflow_id
                        AND o.status IN ('queued', 'running') AND o.status = 'queued'
                        AND o.run_id < runs.run_id)))
RETURNING *

-- name: renew_leases
UPDATE runs SET lease_expires_at = clockwf_lease(:lease_s)
WHERE namespace = :ns AND status = 'running' AND lease_owner = :owner
  AND run_id IN (SELECT value FROM json_each(:run_ids))
RETURNING run_id, cancel_requested

-- name: finish_run
-- A null :error keeps the stored one (the reason of a requested cancel).
UPDATE runs
SET status = :status, error = coalesce(:error, error), finished_at = :now,
    lease_expires_at = NULL
WHERE namespace = :ns AND run_id = :run_id AND status = 'running'
  AND (:owner IS NULL OR lease_owner = :owner)

-- ---------------------------------------------------------------------------------------------
-- leases on the database's clock (the executor's leases and heartbeats compare nothing else)

-- name: db_now
SELECT clockwf_now() AS "now [UTCTIME]"

-- name: expire_leases
-- The database's clock decides (for SQLite, one host: clockwf_now(), see clockwf.store.sqlite).
UPDATE runs
SET status = 'interrupted', finished_at = clockwf_now(),
    error = coalesce(error, 'its daemon stopped renewing the lease (died or lost the store)')
WHERE namespace = :ns AND status = 'running' AND lease_expires_at < clockwf_now()
RETURNING run_id

-- name: interrupt_step_attempts
UPDATE run_steps SET status = 'interrupted', finished_at = clockwf_now()
WHERE namespace = :ns AND status = 'running'
  AND run_id IN (SELECT value FROM json_each(:run_ids))

-- ---------------------------------------------------------------------------------------------
-- alerts (notify, expect, the notification outbox): clockwf.notify

-- name: alerts_health_of
SELECT * FROM workflow_health
WHERE namespace = :ns AND workflow_id IN (SELECT value FROM json_each(:workflow_ids))

-- name: alerts_expectations_due
-- One statement on every tick: is any workflow overdue, or any run slow, not yet alerted?
SELECT EXISTS (SELECT 1 FROM workflow_health AS o INDEXED BY workflow_health_overdue
               WHERE o.namespace = :ns AND o.overdue_at IS NOT NULL AND o.overdue_at <= :now
                 AND EXISTS (SELECT 1 FROM workflows AS w WHERE w.namespace = o.namespace
                             AND w.workflow_id = o.workflow_id AND NOT w.paused))
    OR EXISTS (SELECT 1 FROM runs AS r
               JOIN workflow_health AS h INDEXED BY workflow_health_slow
                 ON h.namespace = r.namespace AND h.workflow_id = r.workflow_id
               WHERE r.namespace = :ns AND r.status = 'running'
                 AND h.finish_within_s IS NOT NULL
                 AND r.run_id > coalesce(h.slow_run_id, 0)
                 AND julianday(r.started_at) + h.finish_within_s / 86400.0
                     <= julianday(:now)) AS due

-- name: alerts_slow_runs
SELECT r.run_id, r.workflow_id, r.fire_key, r.started_at, h.finish_within_s
FROM runs AS r
JOIN workflow_health AS h ON h.namespace = r.namespace AND h.workflow_id = r.workflow_id
WHERE r.namespace = :ns AND r.status = 'running' AND h.finish_within_s IS NOT NULL
  AND r.run_id > coalesce(h.slow_run_id, 0)
  AND julianday(r.started_at) + h.finish_within_s / 86400.0 <= julianday(:now)
ORDER BY r.run_id

-- name: alerts_claim_deliveries
-- Due pending deliveries, each held until :lease_until (then due again: a daemon that died
-- while sending leaves it to the next one).
UPDATE notification_deliveries
SET next_attempt_at = :lease_until, lease_owner = :owner, attempts = attempts + 1
WHERE rowid IN (SELECT rowid FROM notification_deliveries INDEXED BY deliveries_due
                WHERE namespace = :ns AND status = 'pending' AND next_attempt_at <= :now
                  AND (:only_id IS NULL OR notification_id = :only_id)
                ORDER BY next_attempt_at LIMIT :limit)
RETURNING notification_id, target_index, target, target_label, attempts

-- name: alerts_bodies
SELECT id, body FROM notifications
WHERE namespace = :ns AND id IN (SELECT value FROM json_each(:ids))

-- name: alerts_next_delivery
SELECT next_attempt_at FROM notification_deliveries INDEXED BY deliveries_due
WHERE namespace = :ns AND status = 'pending' ORDER BY next_attempt_at LIMIT 1

-- name: alerts_list_notifications
SELECT n.id, n.event, n.workflow_id, n.run_id, n.created_at,
       (SELECT count(*) FROM notification_deliveries AS d
        WHERE d.namespace = n.namespace AND d.notification_id = n.id) AS targets,
       (SELECT count(*) FROM notification_deliveries AS d
        WHERE d.namespace = n.namespace AND d.notification_id = n.id
          AND d.status = 'delivered') AS delivered,
       (SELECT count(*) FROM notification_deliveries AS d
        WHERE d.namespace = n.namespace AND d.notification_id = n.id
          AND d.status = 'failed') AS failed
FROM notifications AS n
WHERE n.namespace = :ns AND (:workflow_id IS NULL OR n.workflow_id = :workflow_id)
ORDER BY n.created_at DESC, n.id
LIMIT :limit
