-- clockwf schema, migration 4: each daemon's or worker's connection pool, as its heartbeat
-- reports it (`clockwf status`): the bound, and how often and how long it waited for one.
-- (SQLite has no pool: the columns stay null.)

ALTER TABLE daemons ADD COLUMN pool_size INTEGER;
ALTER TABLE daemons ADD COLUMN pool_waits INTEGER;
ALTER TABLE daemons ADD COLUMN pool_wait_s REAL;
