-- clockwf schema, migration 4: alerts. What each workflow is expected to do and how it has
-- been doing (workflow_health), the namespace's default notify targets, and the notification
-- outbox: a notification is written in the transaction of the state change that causes it,
-- with one delivery row per target that daemons deliver at least once.

CREATE TABLE workflow_health (
    namespace             text NOT NULL,
    workflow_id           text NOT NULL,
    notify                text,                   -- JSON of the definition's notify (NULL: defaults)
    success_within_s      integer,
    finish_within_s       integer,
    pause_after_failures  integer,
    first_published_at    timestamptz NOT NULL,
    last_success_at       timestamptz,
    last_failure_at       timestamptz,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    failing               boolean NOT NULL DEFAULT false,  -- a failure alert is open (until a success)
    overdue               boolean NOT NULL DEFAULT false,  -- an overdue alert is open (until a success)
    overdue_at            timestamptz,                -- when it is overdue; NULL once alerted or unset
    slow_run_id           bigint,                -- the newest run already alerted slow
    auto_paused_at        timestamptz,
    auto_pause_reason     text,
    updated_at            timestamptz NOT NULL,
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
    namespace     text PRIMARY KEY,
    notify        text NOT NULL,                  -- JSON of the notify block
    content_hash  text NOT NULL,
    source        text NOT NULL,
    source_path   text,
    published_at  timestamptz NOT NULL
);

CREATE TABLE notifications (
    namespace    text NOT NULL,
    id           text NOT NULL,                   -- stable; sent as Idempotency-Key
    event        text NOT NULL,
    workflow_id  text,
    run_id       bigint,
    body         text NOT NULL,                   -- the clockwf.Notification.v1 document
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX notifications_by_created ON notifications (namespace, created_at);

CREATE TABLE notification_deliveries (
    namespace        text NOT NULL,
    notification_id  text NOT NULL,
    target_index     integer NOT NULL,
    target           text NOT NULL,               -- JSON of the target as written (${env:} kept)
    target_label     text NOT NULL,               -- how messages name it (no secret)
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,            -- claimed: the end of the claim's lease
    lease_owner      text,
    last_error       text,
    finished_at      timestamptz,
    PRIMARY KEY (namespace, notification_id, target_index)
);
CREATE INDEX deliveries_due ON notification_deliveries (namespace, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_failed ON notification_deliveries (namespace, target_label)
    WHERE status = 'failed';
