-- clockwf schema, migration 11: when a daemon last reported a tick, on the database's clock
-- (docs/design.md §9). A daemon heartbeats while its ticks fail (it backs off and keeps its
-- row alive), so a fresh heartbeat does not say that it ticks; last_tick_at is the daemon's
-- own clock, which another host cannot compare with its own. ticked_at is stamped by the
-- heartbeat that first reports a new last_tick_at; rows from before take their heartbeat.

ALTER TABLE daemons ADD COLUMN ticked_at timestamptz;
UPDATE daemons SET ticked_at = heartbeat_at WHERE last_tick_at IS NOT NULL;
