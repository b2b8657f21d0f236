-- clockwf schema, migration 4: where a definition came from (`publish --source`, or the git
-- remote and path of a published directory). Recorded on each version; the workflow row keeps
-- its current version's, so that `publish --prune` touches only what the same source published.

ALTER TABLE workflow_versions ADD COLUMN published_from TEXT;
ALTER TABLE workflows ADD COLUMN published_from TEXT;
CREATE INDEX workflows_by_source ON workflows (namespace, published_from)
    WHERE published_from IS NOT NULL;
