-- clockwf named queries, PostgreSQL dialect. Loaded once by clockwf.store.common.load_queries.
-- The queries that both dialects say alike are in ../common/queries.sql (the prune queries
-- among them); this file holds what this dialect says its own way.
-- Parameters are bound (psycopg named placeholders); ns is the namespace and is given to every
-- query. A parameter that may be NULL carries a cast so the server knows its type.
-- List parameters arrive as arrays: = ANY(...). Bulk queries get one array per column, named by
-- the column (clockwf/store/manager.py: RUN_COLUMNS, SKIP_COLUMNS, ADVANCE_COLUMNS), and run as
-- ONE statement over unnest(...); their arrays are sent in binary (the b placeholders): the
-- text format escapes every element in Python and costs more than the statement itself.
-- Never write a percent sign in this file, not even in a comment: psycopg reads it.

-- ---------------------------------------------------------------------------------------------
-- connection and migrations

-- name: set_utc
SET TIME ZONE 'UTC'

-- name: listen
LISTEN clockwf_changes

-- name: lock_migrations
-- Held until the transaction ends; every decision to migrate is re-checked under it.
SELECT pg_advisory_xact_lock(hashtextextended('clockwf.migrations', 0))

-- name: migrations_table
-- A plain catalog scan, not to_regclass(): that reads the catalog as it was before this
-- transaction waited for the migration lock, and would miss a store just created.
SELECT c.relname AS name
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = 'clockwf_migrations'

-- name: existing_tables
SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()

-- ---------------------------------------------------------------------------------------------
-- definitions and versions

-- name: lock_workflow
-- Serialises publishes of one workflow until the transaction ends (two-key form: its own
-- key space, apart from the migration lock).
SELECT pg_advisory_xact_lock(hashtext('clockwf.workflow'),
                             hashtext(%(ns)s::text || '/' || %(workflow_id)s::text))

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
WHERE w.namespace = %(ns)s
  AND (%(trigger_types)s::text[] IS NULL OR w.trigger_type = ANY(%(trigger_types)s::text[]))
  AND (%(status)s::text IS NULL
       OR (%(status)s::text = 'paused' AND w.paused)
       OR (%(status)s::text = 'active' AND NOT w.paused)
       OR s.status = %(status)s::text)
  AND (%(search)s::text IS NULL OR strpos(w.workflow_id, %(search)s::text) > 0
       OR strpos(coalesce(w.name, ''), %(search)s::text) > 0)
ORDER BY w.workflow_id
LIMIT %(limit)s OFFSET %(offset)s

-- name: count_workflows
-- The schedule is looked at only when the status filter names a schedule status.
SELECT count(*) AS n
FROM workflows AS w
WHERE w.namespace = %(ns)s
  AND (%(trigger_types)s::text[] IS NULL OR w.trigger_type = ANY(%(trigger_types)s::text[]))
  AND (%(status)s::text IS NULL
       OR (%(status)s::text = 'paused' AND w.paused)
       OR (%(status)s::text = 'active' AND NOT w.paused)
       OR EXISTS (SELECT 1 FROM schedules AS s
                  WHERE s.namespace = w.namespace AND s.workflow_id = w.workflow_id
                    AND s.status = %(status)s::text))
  AND (%(search)s::text IS NULL OR strpos(w.workflow_id, %(search)s::text) > 0
       OR strpos(coalesce(w.name, ''), %(search)s::text) > 0)

-- name: recent_runs_of
-- The newest %(per)s runs of each workflow of a page (the table's strip of colours), one index
-- range per workflow.
SELECT r.run_id, r.workflow_id, r.status
FROM unnest(%(workflow_ids)s::text[]) AS w(id)
CROSS JOIN LATERAL (SELECT run_id, workflow_id, status FROM runs
                    WHERE namespace = %(ns)s AND workflow_id = w.id
                    ORDER BY run_id DESC LIMIT %(per)s) AS r
ORDER BY r.workflow_id, r.run_id

-- ---------------------------------------------------------------------------------------------
-- schedule state

-- name: get_schedule_for_update
-- For publish, pause and resume: waits for a tick that holds the row (claim_due), then reads
-- what it committed, so they never write back an occurrence the tick has already handled.
SELECT * FROM schedules WHERE namespace = %(ns)s AND workflow_id = %(workflow_id)s FOR UPDATE

-- name: bump_changes
-- The notification is delivered when the transaction commits, and only then.
WITH bumped AS (
    INSERT INTO change_counters (namespace, counter) VALUES (%(ns)s, 1)
    ON CONFLICT (namespace) DO UPDATE SET counter = change_counters.counter + 1
    RETURNING counter
)
SELECT pg_notify('clockwf_changes', %(ns)s) FROM bumped

-- ---------------------------------------------------------------------------------------------
-- scheduling

-- name: claim_due
-- One range scan of schedules_due; rows another daemon holds are skipped, not waited for.
-- The columns are what a tick reads: the schedule's definition and next occurrence (not
-- the last fire: an advance that launched nothing keeps the stored one).
SELECT workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold, jitter_s,
       catchup, catchup_window_s, grace_s, max_catchup, overlap, next_nominal_at, next_kind,
       next_fire_at, trigger_spec, launched
FROM schedules
WHERE namespace = %(ns)s AND status = 'scheduled' AND next_fire_at <= %(now)s
ORDER BY next_fire_at, workflow_id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: claim_due_after
-- The next page: the row comparison is the lower bound of the same index range.
SELECT workflow_id, version, trigger_type, cron, timezone, run_at, dst_gap, dst_fold, jitter_s,
       catchup, catchup_window_s, grace_s, max_catchup, overlap, next_nominal_at, next_kind,
       next_fire_at, trigger_spec, launched
FROM schedules
WHERE namespace = %(ns)s AND status = 'scheduled' AND next_fire_at <= %(now)s
  AND (next_fire_at, workflow_id) > (%(after_at)s::timestamptz, %(after_id)s::text)
ORDER BY next_fire_at, workflow_id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: insert_runs
-- The fire key is claimed by this very statement: a key already taken returns nothing, and a
-- racing transaction waits on the unique index, then gets nothing.
INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, trigger_type,
                  scheduled_for, due_at, status, serial, payload, metadata, created_at)
SELECT %(ns)s, r.*
FROM unnest(%(fire_key)b::text[], %(workflow_id)b::text[], %(workflow_version)b::integer[],
            %(trigger_type)b::text[], %(scheduled_for)b::timestamptz[],
            %(due_at)b::timestamptz[], %(status)b::text[], %(serial)b::boolean[],
            %(payload)b::text[], %(metadata)b::text[], %(created_at)b::timestamptz[]) AS r
ON CONFLICT (namespace, fire_key) DO NOTHING
RETURNING fire_key, run_id

-- name: insert_skips
INSERT INTO skipped_occurrences (namespace, workflow_id, fire_key, scheduled_for,
                                 scheduled_until, occurrences, reason, detail, recorded_at)
SELECT %(ns)s, r.*
FROM unnest(%(workflow_id)b::text[], %(fire_key)b::text[], %(scheduled_for)b::timestamptz[],
            %(scheduled_until)b::timestamptz[], %(occurrences)b::integer[],
            %(reason)b::text[], %(detail)b::text[], %(recorded_at)b::timestamptz[]) AS r
ON CONFLICT (namespace, fire_key, reason) DO NOTHING

-- name: advance_schedules
-- A null last_fire_key / last_fired_at keeps the stored one (a pass that launched nothing).
-- Each row is found by its own primary-key probe (the LATERAL ... LIMIT 1 cannot be turned
-- into a join) and updated through its ctid: a plain UPDATE ... FROM unnest joined on the key
-- is planned as a hash join over the whole namespace while the table has no statistics yet.
-- FOR UPDATE: the row probed is the current version (the caller normally holds it already).
UPDATE schedules AS s
SET next_nominal_at = a.next_nominal_at,
    next_kind = a.next_kind,
    next_fire_at = a.next_fire_at,
    status = a.status,
    status_reason = a.status_reason,
    last_fire_key = coalesce(a.last_fire_key, s.last_fire_key),
    last_fired_at = coalesce(a.last_fired_at, s.last_fired_at),
    launched = s.launched + a.launched,
    updated_at = a.updated_at
FROM unnest(%(workflow_id)b::text[], %(next_nominal_at)b::timestamptz[],
            %(next_fire_at)b::timestamptz[], %(status)b::text[], %(status_reason)b::text[],
            %(last_fire_key)b::text[], %(last_fired_at)b::timestamptz[],
            %(updated_at)b::timestamptz[], %(next_kind)b::text[], %(launched)b::integer[])
     AS a (workflow_id, next_nominal_at, next_fire_at, status, status_reason, last_fire_key,
           last_fired_at, updated_at, next_kind, launched)
     CROSS JOIN LATERAL (SELECT ctid AS tid FROM schedules
                         WHERE namespace = %(ns)s AND workflow_id = a.workflow_id
                         LIMIT 1 FOR UPDATE) AS found
WHERE s.ctid = found.tid

-- name: active_runs
SELECT run_id, workflow_id, status FROM runs
WHERE namespace = %(ns)s AND status IN ('queued', 'running')
  AND workflow_id = ANY(%(workflow_ids)s::text[])
ORDER BY run_id

-- name: request_cancel
-- SET expressions see the old row: queued runs end now, running ones are asked to stop.
UPDATE runs
SET status = CASE status WHEN 'queued' THEN 'cancelled' ELSE status END,
    finished_at = CASE status WHEN 'queued' THEN %(now)s::timestamptz ELSE finished_at END,
    cancel_requested = true,
    error = %(reason)s
WHERE namespace = %(ns)s AND status IN ('queued', 'running')
  AND run_id = ANY(%(run_ids)s::bigint[])

-- name: runs_by_fire_keys
SELECT * FROM runs
WHERE namespace = %(ns)s AND fire_key = ANY(%(fire_keys)s::text[])
ORDER BY run_id

-- name: list_runs
SELECT * FROM runs
WHERE namespace = %(ns)s
  AND (%(trigger_type)s::text IS NULL OR trigger_type = %(trigger_type)s::text)
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s::timestamptz)
ORDER BY run_id DESC
LIMIT %(limit)s

-- name: list_runs_for_workflow
SELECT * FROM runs
WHERE namespace = %(ns)s AND workflow_id = %(workflow_id)s
  AND (%(trigger_type)s::text IS NULL OR trigger_type = %(trigger_type)s::text)
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s::timestamptz)
ORDER BY run_id DESC
LIMIT %(limit)s

-- name: heartbeat
-- A null last_tick_at keeps the stored one; a new one stamps ticked_at on the database's
-- clock (docs/design.md §9). heartbeat_at is the server's clock. pool_*: the instance's
-- connection pool (null without one).
INSERT INTO daemons (namespace, instance_id, hostname, pid, role, version, started_at,
                     heartbeat_at, last_tick_at, ticked_at, stopped_at, status, pool_size,
                     pool_waits, pool_wait_s)
VALUES (%(ns)s, %(instance_id)s, %(hostname)s, %(pid)s, %(role)s, %(version)s,
        %(started_at)s, clock_timestamp(), %(last_tick_at)s,
        CASE WHEN %(last_tick_at)s::timestamptz IS NULL THEN NULL ELSE clock_timestamp() END,
        NULL, %(status)s, %(pool_size)s, %(pool_waits)s, %(pool_wait_s)s)
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
-- Oldest queued runs first; rows another worker holds are skipped. A serial run waits while
-- another run of its workflow is running or an older one is queued.
WITH picked AS (
    SELECT r.run_id FROM runs AS r
    WHERE r.namespace = %(ns)s AND r.status = 'queued'
      AND (NOT r.serial OR (
          NOT EXISTS (SELECT 1 FROM runs AS o
                      WHERE o.namespace = r.namespace AND o.workflow_id = r.workflow_id
                        AND o.status = 'running')
          AND NOT EXISTS (SELECT 1 FROM runs AS o
                          WHERE o.namespace = r.namespace AND o.workflow_id = r.workflow_id
                            AND o.status = 'queued' AND o.run_id < r.run_id)))
    ORDER BY r.run_id
    LIMIT %(limit)s
    FOR UPDATE OF r SKIP LOCKED
)
UPDATE runs
SET status = 'running', started_at = %(now)s, lease_owner = %(owner)s,
    lease_expires_at = clock_timestamp() + make_interval(secs => %(lease_s)s::double precision)
FROM picked
WHERE runs.run_id = picked.run_id
RETURNING runs.*

-- name: claim_run
-- One given queued run (clockwf run --wait), under the serial rule of claim_runs. A concurrent
-- claim of the same row waits for the row lock, then finds it no longer queued.
UPDATE runs
SET status = 'running', started_at = %(now)s, lease_owner = %(owner)s,
    lease_expires_at = clock_timestamp() + make_interval(secs => %(lease_s)s::double precision)
WHERE namespace = %(ns)s AND run_id = %(run_id)s AND status = 'queued'
  AND (NOT serial OR (
      NOT EXISTS (SELECT 1 FROM runs AS o
                  WHERE o.namespace = runs.namespace AND o.workflow_id = runs.workflow_id
                    AND o.status = 'running')
      AND NOT EXISTS (SELECT 1 FROM runs AS o
                      WHERE o.namespace = runs.namespace AND o.workflow_id = runs.workflow_id
                        AND o.status = 'queued' AND o.run_id < runs.run_id)))
RETURNING *

-- name: renew_leases
UPDATE runs SET lease_expires_at = clock_timestamp() + make_interval(secs => %(lease_s)s::double precision)
WHERE namespace = %(ns)s AND status = 'running' AND lease_owner = %(owner)s
  AND run_id = ANY(%(run_ids)s::bigint[])
RETURNING run_id, cancel_requested

-- name: finish_run
-- A null error keeps the stored one (the reason of a requested cancel).
UPDATE runs
SET status = %(status)s, error = coalesce(%(error)s::text, error), finished_at = %(now)s,
    lease_expires_at = NULL
WHERE namespace = %(ns)s AND run_id = %(run_id)s AND status = 'running'
  AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s::text)

-- ---------------------------------------------------------------------------------------------
-- leases on the database's clock (the executor's leases and heartbeats compare nothing else)

-- name: db_now
SELECT clock_timestamp() AS now

-- name: expire_leases
-- The server's clock decides, never a host's: a host whose clock runs ahead must not expire
-- the leases another host renews in time.
UPDATE runs
SET status = 'interrupted', finished_at = clock_timestamp(),
    error = coalesce(error, 'its daemon stopped renewing the lease (died or lost the store)')
WHERE namespace = %(ns)s AND status = 'running' AND lease_expires_at < clock_timestamp()
RETURNING run_id

-- name: interrupt_step_attempts
UPDATE run_steps SET status = 'interrupted', finished_at = clock_timestamp()
WHERE namespace = %(ns)s AND status = 'running' AND run_id = ANY(%(run_ids)s::bigint[])

-- ---------------------------------------------------------------------------------------------
-- alerts (notify, expect, the notification outbox): clockwf.notify

-- name: alerts_health_of
SELECT * FROM workflow_health
WHERE namespace = %(ns)s AND workflow_id = ANY(%(workflow_ids)s::text[])

-- name: alerts_expectations_due
-- One statement on every tick: is any workflow overdue, or any run slow, not yet alerted?
SELECT EXISTS (SELECT 1 FROM workflow_health AS o
               WHERE o.namespace = %(ns)s AND o.overdue_at IS NOT NULL AND o.overdue_at <= %(now)s
                 AND EXISTS (SELECT 1 FROM workflows AS w WHERE w.namespace = o.namespace
                             AND w.workflow_id = o.workflow_id AND NOT w.paused))
    OR EXISTS (SELECT 1 FROM runs AS r
               JOIN workflow_health AS h
                 ON h.namespace = r.namespace AND h.workflow_id = r.workflow_id
               WHERE r.namespace = %(ns)s AND r.status = 'running'
                 AND h.finish_within_s IS NOT NULL
                 AND r.run_id > coalesce(h.slow_run_id, 0)
                 AND r.started_at + make_interval(secs => h.finish_within_s)
                     <= %(now)s) AS due

-- name: alerts_slow_runs
SELECT r.run_id, r.workflow_id, r.fire_key, r.started_at, h.finish_within_s
FROM runs AS r
JOIN workflow_health AS h ON h.namespace = r.namespace AND h.workflow_id = r.workflow_id
WHERE r.namespace = %(ns)s AND r.status = 'running' AND h.finish_within_s IS NOT NULL
  AND r.run_id > coalesce(h.slow_run_id, 0)
  AND r.started_at + make_interval(secs => h.finish_within_s) <= %(now)s
ORDER BY r.run_id

-- name: alerts_claim_deliveries
-- Due pending deliveries, each held until %(lease_until)s (then due again: a daemon that died
-- while sending leaves it to the next one).
UPDATE notification_deliveries
SET next_attempt_at = %(lease_until)s, lease_owner = %(owner)s, attempts = attempts + 1
WHERE (namespace, notification_id, target_index) IN (
    SELECT namespace, notification_id, target_index FROM notification_deliveries
    WHERE namespace = %(ns)s AND status = 'pending' AND next_attempt_at <= %(now)s
      AND (%(only_id)s::text IS NULL OR notification_id = %(only_id)s::text)
    ORDER BY next_attempt_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
RETURNING notification_id, target_index, target, target_label, attempts

-- name: alerts_bodies
SELECT id, body FROM notifications
WHERE namespace = %(ns)s AND id = ANY(%(ids)s::text[])

-- name: alerts_next_delivery
SELECT next_attempt_at FROM notification_deliveries
WHERE namespace = %(ns)s AND status = 'pending' ORDER BY next_attempt_at LIMIT 1

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
WHERE n.namespace = %(ns)s AND (%(workflow_id)s::text IS NULL OR n.workflow_id = %(workflow_id)s::text)
ORDER BY n.created_at DESC, n.id
LIMIT %(limit)s
