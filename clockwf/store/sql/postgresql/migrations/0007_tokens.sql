-- clockwf schema, migration 4: API tokens of `clockwf serve`, per namespace. Only a SHA-256
-- hash of each token is stored; the token itself is shown once, by `clockwf token create`.

CREATE TABLE api_tokens (
    namespace    text NOT NULL,
    name         text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (namespace, name)
);
