-- clockwf schema, migration 4: alerts. What each workflow is expected to do and how it has
-- been doing (workflow_health), the namespace's default notify targets, and the notification
-- outbox: a notification is written in the transaction of the state change that causes it,
-- with one delivery row per target that daemons deliver at least once.

CREATE TABLE workflow_health (
    namespace             TEXT NOT NULL,
    workflow_id           TEXT NOT NULL,
    notify                TEXT,                   -- JSON of the definition's notify (NULL: defaults)
    success_within_s      INTEGER,
    finish_within_s       INTEGER,
    pause_after_failures  INTEGER,
    first_published_at    UTCTIME NOT NULL,
    last_success_at       UTCTIME,
    last_failure_at       UTCTIME,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    failing               INTEGER NOT NULL DEFAULT 0,  -- a failure alert is open (until a success)
    overdue               INTEGER NOT NULL DEFAULT 0,  -- an overdue alert is open (until a success)
    overdue_at            UTCTIME,                -- when it is overdue; NULL once alerted or unset
    slow_run_id           INTEGER,                -- the newest run already alerted slow
    auto_paused_at        UTCTIME,
    auto_pause_reason     TEXT,
    updated_at            UTCTIME NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
);
CREATE INDEX workflow_health_overdue ON workflow_health (namespace, overdue_at)
    WHERE overdue_at IS NOT NULL;
CREATE INDEX workflow_health_slow ON workflow_health (namespace, workflow_id)
    WHERE finish_within_s IS NOT NULL;

-- Workflows published before this migration start their health now.
INSERT INTO workflow_health (namespace, workflow_id, first_published_at, updated_at)
SELECT namespace, workflow_id, created_at, updated_at FROM workflows;

CREATE TABLE notify_defaults (
    namespace     TEXT PRIMARY KEY,
    notify        TEXT NOT NULL,                  -- JSON of the notify block
    content_hash  TEXT NOT NULL,
    source        TEXT NOT NULL,
    source_path   TEXT,
    published_at  UTCTIME NOT NULL
);

CREATE TABLE notifications (
    namespace    TEXT NOT NULL,
    id           TEXT NOT NULL,                   -- stable; sent as Idempotency-Key
    event        TEXT NOT NULL,
    workflow_id  TEXT,
    run_id       INTEGER,
    body         TEXT NOT NULL,                   -- the clockwf.Notification.v1 document
    created_at   UTCTIME NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX notifications_by_created ON notifications (namespace, created_at);

CREATE TABLE notification_deliveries (
    namespace        TEXT NOT NULL,
    notification_id  TEXT NOT NULL,
    target_index     INTEGER NOT NULL,
    target           TEXT NOT NULL,               -- JSON of the target as written (${env:} kept)
    target_label     TEXT NOT NULL,               -- how messages name it (no secret)
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  UTCTIME NOT NULL,            -- claimed: the end of the claim's lease
    lease_owner      TEXT,
    last_error       TEXT,
    finished_at      UTCTIME,
    PRIMARY KEY (namespace, notification_id, target_index)
);
CREATE INDEX deliveries_due ON notification_deliveries (namespace, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_failed ON notification_deliveries (namespace, target_label)
    WHERE status = 'failed';
