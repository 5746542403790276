-- Notify's own tables: relations of providers, subscriptions, who was told of a rise, and
-- every alert with its delivery state (pending -> delivered | retrying -> failed).

CREATE TABLE providers (
    provider_id text PRIMARY KEY,
    name text NOT NULL,
    kvk text,
    location_municipalities text[] NOT NULL,
    contracting_municipalities text[] NOT NULL,
    active boolean NOT NULL,
    registry_version integer NOT NULL
);

CREATE TABLE subscriptions (
    subscription_id uuid PRIMARY KEY,
    subscriber_kind text NOT NULL,
    subscriber_id text NOT NULL,
    url text NOT NULL,
    secrets text[] NOT NULL,
    previous_secret_expires_at timestamptz,
    event_types text[],
    min_level text,
    categories text[],
    providers text[],
    paused boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX subscriptions_subscriber ON subscriptions (subscriber_kind, subscriber_id)
    WHERE deleted_at IS NULL;

-- Who was told that a provider's risk rose, so a fall reaches exactly them.
CREATE TABLE told_of_rise (
    provider_id text NOT NULL,
    recipient_kind text NOT NULL,
    recipient_id text NOT NULL,
    level text NOT NULL,
    told_at timestamptz NOT NULL,
    PRIMARY KEY (provider_id, recipient_kind, recipient_id)
);

-- One alert per recipient per source event; its body is fixed when it is made, so every
-- retry sends the same bytes with the same webhook-id.
CREATE TABLE alerts (
    alert_id uuid PRIMARY KEY,
    webhook_id text NOT NULL,
    subscription_id uuid,
    subscriber_kind text NOT NULL,
    subscriber_id text NOT NULL,
    provider_id text NOT NULL,
    source_event_id uuid NOT NULL,
    source_event_type text NOT NULL,
    rule_id text NOT NULL,
    body bytea NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status integer,
    last_error text,
    failure_reason text,
    traceparent text,
    created_at timestamptz NOT NULL,
    delivered_at timestamptz,
    failed_at timestamptz,
    UNIQUE (source_event_id, subscriber_kind, subscriber_id)
);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE state IN ('pending', 'retrying');
CREATE INDEX alerts_state ON alerts (state, created_at);

-- Wake the delivery worker as soon as an alert is committed.
CREATE FUNCTION alerts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zicht_alerts_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER alerts_inserted AFTER INSERT OR UPDATE OF state ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alerts_notify();
