-- clockwf schema, migration 4: each daemon's or worker's connection pool, as its heartbeat
-- reports it (`clockwf status`): the bound, and how often and how long it waited for one.

ALTER TABLE daemons ADD COLUMN pool_size integer;
ALTER TABLE daemons ADD COLUMN pool_waits bigint;
ALTER TABLE daemons ADD COLUMN pool_wait_s double precision;
