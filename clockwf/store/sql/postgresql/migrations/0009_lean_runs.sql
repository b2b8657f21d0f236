-- clockwf schema, migration 9: a leaner run row for the tick, which creates thousands at once.
-- runs_by_created served no query (run lists walk run_id, per workflow runs_by_workflow), and
-- each index is one more B-tree entry written per run. A time-triggered run now stores an empty
-- payload: its WorkflowClockTrigger.v1 payload is derived from the run's fields and provenance
-- when it is read (clockwf.launcher.run_payload); runs stored before keep theirs whole.

DROP INDEX runs_by_created;
