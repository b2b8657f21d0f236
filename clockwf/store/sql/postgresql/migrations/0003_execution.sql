-- clockwf schema, migration 3: step attempts of runs (docs/design.md §8).

CREATE TABLE run_steps (
    run_id        bigint NOT NULL,
    step_index    integer NOT NULL,
    attempt       integer NOT NULL,
    namespace     text NOT NULL,
    step_id       text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('run', 'http')),
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out',
                                                  'cancelled', 'interrupted')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    duration_ms   bigint,
    exit_code     integer,
    http_status   integer,
    output        text,                        -- bounded tail of stdout+stderr / response body
    error         text,
    PRIMARY KEY (run_id, step_index, attempt)
);
