-- clockwf schema, migration 3: step attempts of runs (docs/design.md §8).

CREATE TABLE run_steps (
    run_id        INTEGER NOT NULL,
    step_index    INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    namespace     TEXT NOT NULL,
    step_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('run', 'http')),
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out',
                                                  'cancelled', 'interrupted')),
    started_at    UTCTIME NOT NULL,
    finished_at   UTCTIME,
    duration_ms   INTEGER,
    exit_code     INTEGER,
    http_status   INTEGER,
    output        TEXT,                        -- bounded tail of stdout+stderr / response body
    error         TEXT,
    PRIMARY KEY (run_id, step_index, attempt)
);
