-- clockwf schema, migration 10: CHECK constraints without IN lists (docs/design.md §5).
--
-- A SQLite-only change (see that dialect's 0010): there, a CHECK with an IN list of more than
-- two values builds a temporary B-tree for every row written. PostgreSQL evaluates the same
-- constraint as one array comparison, so its tables stay as they are; this file keeps the two
-- chains numbered alike. Being a version of its own, it also makes a clockwf from before it
-- refuse this store (a newer schema than it knows), rather than read the lean provenance that
-- runs are stored with from here on (docs/design.md §3.2) as if it were whole.
SELECT 1;
