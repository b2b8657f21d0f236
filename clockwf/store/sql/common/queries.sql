-- clockwf named queries that both dialects say alike. Loaded by
-- clockwf.store.common.load_queries for each backend together with that backend's own
-- queries.sql; a name is defined in one of the two files, never both (the loader refuses a
-- second definition). Written in SQLite's parameter style (:name); for PostgreSQL the loader
-- turns each :name outside strings, quoted names and comments into %(name)s, and every literal
-- % into %% (clockwf.store.common.pyformat_params). Only SQL that is the same in both dialects belongs here: booleans, JSON, the
-- clock, RETURNING and row locks stay in each dialect's file.

-- ---------------------------------------------------------------------------------------------
-- connection and migrations

-- name: applied_migrations
SELECT version, name, applied_at FROM clockwf_migrations ORDER BY version

-- name: record_migration
INSERT INTO clockwf_migrations (version, name, applied_at) VALUES (:version, :name, :applied_at)

-- ---------------------------------------------------------------------------------------------
-- definitions and versions

-- name: get_workflow
SELECT * FROM workflows WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: upsert_workflow
INSERT INTO workflows (namespace, workflow_id, name, current_version, trigger_type, event_name,
                       published_from, paused, created_at, updated_at)
VALUES (:ns, :workflow_id, :name, :current_version, :trigger_type, :event_name,
        :published_from, false, :now, :now)
ON CONFLICT (namespace, workflow_id) DO UPDATE SET
    name = excluded.name,
    current_version = excluded.current_version,
    trigger_type = excluded.trigger_type,
    event_name = excluded.event_name,
    published_from = excluded.published_from,
    updated_at = excluded.updated_at

-- name: workflows_for_event
SELECT * FROM workflows
WHERE namespace = :ns AND event_name = :event_name AND trigger_type = 'event'
  AND NOT paused
ORDER BY workflow_id

-- name: set_workflow_paused
UPDATE workflows
SET paused = :paused, pause_note = :note, paused_at = :paused_at, updated_at = :now
WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: delete_workflow
DELETE FROM workflows WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: max_version
SELECT max(version) AS max_version
FROM workflow_versions WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: insert_version
INSERT INTO workflow_versions (namespace, workflow_id, version, content_hash, definition, source,
                               source_path, published_from, published_at)
VALUES (:ns, :workflow_id, :version, :content_hash, :definition, :source, :source_path,
        :published_from, :published_at)

-- name: get_version
SELECT * FROM workflow_versions
WHERE namespace = :ns AND workflow_id = :workflow_id AND version = :version

-- name: list_versions
SELECT version, content_hash, source_path, published_from, published_at
FROM workflow_versions
WHERE namespace = :ns AND workflow_id = :workflow_id
ORDER BY version DESC

-- name: workflows_from
-- publish --prune: the workflows whose current version came from one source (its own block).
SELECT workflow_id, paused FROM workflows
WHERE namespace = :ns AND published_from = :published_from
ORDER BY workflow_id

-- ---------------------------------------------------------------------------------------------
-- clockwf serve: the workflows table a page at a time (search by id or name), API tokens

-- name: insert_token
INSERT INTO api_tokens (namespace, name, scope, token_hash, created_at)
VALUES (:ns, :name, :scope, :token_hash, :now)
ON CONFLICT (namespace, name) DO NOTHING

-- name: list_tokens
SELECT name, scope, created_at FROM api_tokens WHERE namespace = :ns ORDER BY name

-- name: delete_token
DELETE FROM api_tokens WHERE namespace = :ns AND name = :name

-- name: token_by_hash
-- Any namespace: a token names the namespace it opens.
SELECT namespace, name, scope FROM api_tokens WHERE token_hash = :token_hash

-- name: count_tokens
-- Any namespace: `serve` refuses a non-loopback address while the store holds no token.
SELECT count(*) AS n FROM api_tokens

-- ---------------------------------------------------------------------------------------------
-- schedule state

-- name: get_schedule
SELECT * FROM schedules WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: upsert_schedule
-- Replaces every column but created_at and launched, which an existing row keeps.
INSERT INTO schedules (namespace, workflow_id, version, trigger_type, cron, timezone, run_at,
                       dst_gap, dst_fold, jitter_s, catchup, catchup_window_s, grace_s,
                       max_catchup, overlap, status, status_reason, next_nominal_at,
                       next_kind, next_fire_at, last_fire_key, last_fired_at, paused_at,
                       created_at, updated_at, trigger_spec, launched)
VALUES (:ns, :workflow_id, :version, :trigger_type, :cron, :timezone, :run_at, :dst_gap,
        :dst_fold, :jitter_s, :catchup, :catchup_window_s, :grace_s, :max_catchup, :overlap,
        :status, :status_reason, :next_nominal_at, :next_kind, :next_fire_at, :last_fire_key,
        :last_fired_at, :paused_at, :created_at, :updated_at, :trigger_spec,
        :launched)
ON CONFLICT (namespace, workflow_id) DO UPDATE SET
    version = excluded.version,
    trigger_type = excluded.trigger_type,
    cron = excluded.cron,
    timezone = excluded.timezone,
    run_at = excluded.run_at,
    dst_gap = excluded.dst_gap,
    dst_fold = excluded.dst_fold,
    jitter_s = excluded.jitter_s,
    catchup = excluded.catchup,
    catchup_window_s = excluded.catchup_window_s,
    grace_s = excluded.grace_s,
    max_catchup = excluded.max_catchup,
    overlap = excluded.overlap,
    status = excluded.status,
    status_reason = excluded.status_reason,
    next_nominal_at = excluded.next_nominal_at,
    next_kind = excluded.next_kind,
    next_fire_at = excluded.next_fire_at,
    last_fire_key = excluded.last_fire_key,
    last_fired_at = excluded.last_fired_at,
    paused_at = excluded.paused_at,
    updated_at = excluded.updated_at,
    trigger_spec = excluded.trigger_spec

-- name: delete_schedule
DELETE FROM schedules WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: set_schedule_state
UPDATE schedules
SET status = :status, status_reason = :status_reason, next_nominal_at = :next_nominal_at,
    next_kind = :next_kind, next_fire_at = :next_fire_at, paused_at = :paused_at,
    updated_at = :now
WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: change_counter
SELECT counter FROM change_counters WHERE namespace = :ns

-- ---------------------------------------------------------------------------------------------
-- scheduling

-- name: earliest_due
-- The first entry of schedules_due (in SQLite, min() would lose the UTCTIME declared type).
SELECT next_fire_at FROM schedules
WHERE namespace = :ns AND status = 'scheduled' AND next_fire_at IS NOT NULL
ORDER BY next_fire_at
LIMIT 1

-- name: troubled_schedules
SELECT * FROM schedules
WHERE namespace = :ns AND status = 'scheduled' AND status_reason IS NOT NULL
ORDER BY workflow_id
LIMIT :limit

-- name: overdue_schedules
SELECT * FROM schedules
WHERE namespace = :ns AND status = 'scheduled' AND next_fire_at <= :now
ORDER BY next_fire_at, workflow_id
LIMIT :limit

-- name: get_run
SELECT * FROM runs WHERE namespace = :ns AND run_id = :run_id

-- name: skips_between
SELECT * FROM skipped_occurrences
WHERE namespace = :ns AND workflow_id = :workflow_id
  AND scheduled_for <= :end AND scheduled_until >= :start
ORDER BY scheduled_for, id

-- name: mark_daemon_stopped
UPDATE daemons SET stopped_at = :now, status = 'stopped'
WHERE namespace = :ns AND instance_id = :instance_id

-- name: list_daemons
SELECT * FROM daemons WHERE namespace = :ns ORDER BY heartbeat_at DESC, instance_id

-- name: run_status_counts
SELECT status, count(*) AS n FROM runs WHERE namespace = :ns GROUP BY status

-- ---------------------------------------------------------------------------------------------
-- execution

-- name: release_run
-- Back to the queue, as if never claimed: for a run whose executor stops before its first step
-- started (nothing of it ran, so another executor may run it whole).
UPDATE runs
SET status = 'queued', started_at = NULL, lease_owner = NULL, lease_expires_at = NULL
WHERE namespace = :ns AND run_id = :run_id AND status = 'running' AND lease_owner = :owner
  AND NOT EXISTS (SELECT 1 FROM run_steps AS s
                  WHERE s.namespace = runs.namespace AND s.run_id = runs.run_id)

-- ---------------------------------------------------------------------------------------------
-- leases on the database's clock (the executor's leases and heartbeats compare nothing else)

-- name: insert_step_attempt
INSERT INTO run_steps (run_id, step_index, attempt, namespace, step_id, kind, status, started_at)
VALUES (:run_id, :step_index, :attempt, :ns, :step_id, :kind, 'running', :started_at)

-- name: finish_step_attempt
UPDATE run_steps
SET status = :status, finished_at = :finished_at, duration_ms = :duration_ms,
    exit_code = :exit_code, http_status = :http_status, output = :output, error = :error
WHERE namespace = :ns AND run_id = :run_id AND step_index = :step_index AND attempt = :attempt

-- name: list_step_attempts
SELECT * FROM run_steps WHERE namespace = :ns AND run_id = :run_id
ORDER BY step_index, attempt

-- ---------------------------------------------------------------------------------------------
-- alerts (notify, expect, the notification outbox): clockwf.notify

-- name: alerts_get_health
SELECT * FROM workflow_health WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: alerts_publish_health
INSERT INTO workflow_health (namespace, workflow_id, notify, success_within_s, finish_within_s,
                             pause_after_failures, first_published_at, overdue_at, updated_at)
VALUES (:ns, :workflow_id, :notify, :success_within_s, :finish_within_s, :pause_after_failures,
        :now, :overdue_at, :now)
ON CONFLICT (namespace, workflow_id) DO UPDATE SET
    notify = excluded.notify,
    success_within_s = excluded.success_within_s,
    finish_within_s = excluded.finish_within_s,
    pause_after_failures = excluded.pause_after_failures,
    overdue_at = excluded.overdue_at,
    updated_at = excluded.updated_at

-- name: alerts_claim_overdue
-- Each overdue workflow once: the statement that alerts it also clears overdue_at. Paused and
-- deleted workflows are not overdue (resume starts the clock again).
UPDATE workflow_health SET overdue_at = NULL, overdue = true, updated_at = :now
WHERE namespace = :ns AND overdue_at IS NOT NULL AND overdue_at <= :now
  AND EXISTS (SELECT 1 FROM workflows AS w WHERE w.namespace = workflow_health.namespace
              AND w.workflow_id = workflow_health.workflow_id AND NOT w.paused)
RETURNING *

-- name: alerts_update_health
UPDATE workflow_health
SET last_success_at = :last_success_at, last_failure_at = :last_failure_at,
    consecutive_failures = :consecutive_failures, failing = :failing, overdue = :overdue,
    overdue_at = :overdue_at, auto_paused_at = :auto_paused_at,
    auto_pause_reason = :auto_pause_reason, updated_at = :now
WHERE namespace = :ns AND workflow_id = :workflow_id

-- name: alerts_mark_slow
UPDATE workflow_health SET slow_run_id = :run_id
WHERE namespace = :ns AND workflow_id = :workflow_id AND coalesce(slow_run_id, 0) < :run_id

-- name: alerts_get_defaults
SELECT * FROM notify_defaults WHERE namespace = :ns

-- name: alerts_put_defaults
INSERT INTO notify_defaults (namespace, notify, content_hash, source, source_path, published_at)
VALUES (:ns, :notify, :content_hash, :source, :source_path, :now)
ON CONFLICT (namespace) DO UPDATE SET
    notify = excluded.notify, content_hash = excluded.content_hash, source = excluded.source,
    source_path = excluded.source_path, published_at = excluded.published_at

-- name: alerts_insert_notification
INSERT INTO notifications (namespace, id, event, workflow_id, run_id, body, created_at)
VALUES (:ns, :id, :event, :workflow_id, :run_id, :body, :now)
ON CONFLICT (namespace, id) DO NOTHING
RETURNING id

-- name: alerts_insert_delivery
INSERT INTO notification_deliveries (namespace, notification_id, target_index, target,
                                     target_label, status, next_attempt_at)
VALUES (:ns, :notification_id, :target_index, :target, :target_label, 'pending', :now)
ON CONFLICT (namespace, notification_id, target_index) DO NOTHING

-- name: alerts_finish_delivery
UPDATE notification_deliveries
SET status = :status, next_attempt_at = :next_attempt_at, last_error = :last_error,
    finished_at = :finished_at, lease_owner = NULL
WHERE namespace = :ns AND notification_id = :notification_id AND target_index = :target_index
  AND status = 'pending' AND lease_owner = :owner

-- name: alerts_delivery_counts
SELECT
    (SELECT count(*) FROM notification_deliveries
     WHERE namespace = :ns AND status = 'pending') AS pending,
    (SELECT count(*) FROM notification_deliveries AS d
     WHERE d.namespace = :ns AND d.status = 'failed'
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS o
                       WHERE o.namespace = d.namespace AND o.target_label = d.target_label
                         AND o.status = 'delivered' AND o.finished_at > d.finished_at)) AS failed

-- name: alerts_failing_targets
-- Targets whose latest finished delivery failed (a later success clears them).
SELECT d.target_label, d.last_error, d.finished_at, d.notification_id, d.attempts
FROM notification_deliveries AS d
WHERE d.namespace = :ns AND d.status = 'failed'
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS o
                  WHERE o.namespace = d.namespace AND o.target_label = d.target_label
                    AND o.status IN ('delivered', 'failed') AND o.finished_at > d.finished_at)
ORDER BY d.finished_at DESC

-- name: alerts_auto_paused
SELECT h.workflow_id, h.auto_pause_reason, h.auto_paused_at
FROM workflow_health AS h
JOIN workflows AS w ON w.namespace = h.namespace AND w.workflow_id = h.workflow_id
WHERE h.namespace = :ns AND h.auto_paused_at IS NOT NULL AND w.paused
ORDER BY h.workflow_id

-- name: alerts_get_notification
SELECT * FROM notifications WHERE namespace = :ns AND id = :id

-- name: alerts_deliveries_of
SELECT * FROM notification_deliveries
WHERE namespace = :ns AND notification_id = :id ORDER BY target_index

-- name: alerts_metrics_workflows
SELECT w.workflow_id, w.paused, h.last_success_at, h.consecutive_failures,
       h.first_published_at, h.success_within_s, s.status AS schedule_status, s.next_fire_at
FROM workflows AS w
LEFT JOIN workflow_health AS h ON h.namespace = w.namespace AND h.workflow_id = w.workflow_id
LEFT JOIN schedules AS s ON s.namespace = w.namespace AND s.workflow_id = w.workflow_id
WHERE w.namespace = :ns
ORDER BY w.workflow_id

-- ---------------------------------------------------------------------------------------------
-- prune: finished runs by finished_at, skips by their last occurrence, one-time schedules that

-- name: prune_counts
SELECT
    (SELECT count(*) FROM run_steps
     WHERE namespace = :ns AND run_id IN (
         SELECT run_id FROM runs WHERE namespace = :ns
           AND status NOT IN ('queued', 'running') AND finished_at < :before)) AS step_attempts,
    (SELECT count(*) FROM runs WHERE namespace = :ns
       AND status NOT IN ('queued', 'running') AND finished_at < :before) AS runs,
    (SELECT count(*) FROM skipped_occurrences
     WHERE namespace = :ns AND scheduled_until < :before) AS skips,
    (SELECT count(*) FROM schedules WHERE namespace = :ns AND trigger_type = 'schedule'
       AND status IN ('completed', 'missed') AND updated_at < :before) AS schedules,
    -- alerts: notifications older than :before whose every delivery has ended
    (SELECT count(*) FROM notification_deliveries AS d
     JOIN notifications AS n ON n.namespace = d.namespace AND n.id = d.notification_id
     WHERE d.namespace = :ns AND n.created_at < :before
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS p
                       WHERE p.namespace = n.namespace AND p.notification_id = n.id
                         AND p.status = 'pending')) AS notification_deliveries,
    (SELECT count(*) FROM notifications AS n
     WHERE n.namespace = :ns AND n.created_at < :before
       AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS p
                       WHERE p.namespace = n.namespace AND p.notification_id = n.id
                         AND p.status = 'pending')) AS notifications

-- name: prune_notification_deliveries
-- alerts: the deliveries of notifications older than :before, once none is pending.
DELETE FROM notification_deliveries
WHERE namespace = :ns AND notification_id IN (
    SELECT n.id FROM notifications AS n
    WHERE n.namespace = :ns AND n.created_at < :before
      AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS p
                      WHERE p.namespace = n.namespace AND p.notification_id = n.id
                        AND p.status = 'pending'))

-- name: prune_notifications
-- alerts: notifications older than :before that have no delivery left (see above).
DELETE FROM notifications AS n
WHERE n.namespace = :ns AND n.created_at < :before
  AND NOT EXISTS (SELECT 1 FROM notification_deliveries AS p
                  WHERE p.namespace = n.namespace AND p.notification_id = n.id)

-- name: prune_step_attempts
DELETE FROM run_steps
WHERE namespace = :ns AND run_id IN (
    SELECT run_id FROM runs WHERE namespace = :ns
      AND status NOT IN ('queued', 'running') AND finished_at < :before)

-- name: prune_runs
DELETE FROM runs
WHERE namespace = :ns AND status NOT IN ('queued', 'running') AND finished_at < :before

-- name: prune_skips
DELETE FROM skipped_occurrences WHERE namespace = :ns AND scheduled_until < :before

-- name: prune_schedules
DELETE FROM schedules
WHERE namespace = :ns AND trigger_type = 'schedule' AND status IN ('completed', 'missed')
  AND updated_at < :before
