-- The broker cluster this schema's outbox was published to. A service that starts against
-- another cluster (a local broker started afresh keeps nothing: its log is empty) publishes
-- again every event its outbox still holds; the consumers' inboxes make the copies no-ops.
CREATE TABLE broker_cluster (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    cluster_id text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
