-- A test service's state: how often each event's effect was applied.
CREATE TABLE effects (
    event_id text PRIMARY KEY,
    provider_id text NOT NULL,
    applied integer NOT NULL DEFAULT 1
);
