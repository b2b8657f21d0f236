-- clockwf schema, migration 4: rrule and every triggers, bounds, calendars (issue 13).

-- What cron's columns cannot hold, as JSON (rrule, dtstart, every_s, anchor, start_at, end_at,
-- max_runs, calendar); NULL for a plain cron or one-time schedule.
ALTER TABLE schedules ADD COLUMN trigger_spec text;
-- Occurrences launched by the tick (max_runs counts them).
ALTER TABLE schedules ADD COLUMN launched integer NOT NULL DEFAULT 0;

-- A new skip reason, excluded (a calendar's day).
ALTER TABLE skipped_occurrences DROP CONSTRAINT skipped_occurrences_reason_check;
ALTER TABLE skipped_occurrences ADD CONSTRAINT skipped_occurrences_reason_check
    CHECK (reason IN ('coalesced', 'outside_window', 'missed', 'paused', 'overlap', 'dst_skip',
                      'excluded'));
