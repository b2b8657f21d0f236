-- clockwf schema, migration 4: rrule and every triggers, bounds, calendars (issue 13).

-- What cron's columns cannot hold, as JSON (rrule, dtstart, every_s, anchor, start_at, end_at,
-- max_runs, calendar); NULL for a plain cron or one-time schedule.
ALTER TABLE schedules ADD COLUMN trigger_spec TEXT;
-- Occurrences launched by the tick (max_runs counts them).
ALTER TABLE schedules ADD COLUMN launched INTEGER NOT NULL DEFAULT 0;

-- A new skip reason, excluded (a calendar's day). SQLite cannot alter a CHECK: the table is
-- rebuilt with its rows and ids (its index goes with the old table and is made again).
ALTER TABLE skipped_occurrences RENAME TO skipped_occurrences_old;
CREATE TABLE skipped_occurrences (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace        TEXT NOT NULL,
    workflow_id      TEXT NOT NULL,
    fire_key         TEXT NOT NULL,            -- key of the first occurrence
    scheduled_for    UTCTIME NOT NULL,
    scheduled_until  UTCTIME NOT NULL,
    occurrences      INTEGER NOT NULL DEFAULT 1,
    reason           TEXT NOT NULL CHECK (reason IN ('coalesced', 'outside_window', 'missed',
                                                     'paused', 'overlap', 'dst_skip',
                                                     'excluded')),
    detail           TEXT,
    recorded_at      UTCTIME NOT NULL,
    UNIQUE (namespace, fire_key, reason)
);
INSERT INTO skipped_occurrences (id, namespace, workflow_id, fire_key, scheduled_for,
                                 scheduled_until, occurrences, reason, detail, recorded_at)
SELECT id, namespace, workflow_id, fire_key, scheduled_for, scheduled_until, occurrences, reason,
       detail, recorded_at
FROM skipped_occurrences_old;
DROP TABLE skipped_occurrences_old;
CREATE INDEX skipped_by_workflow ON skipped_occurrences (namespace, workflow_id, scheduled_for);
