-- Intake's own tables: raw submissions, their items, signals, the provider registry,
-- what became of each signal downstream, and the processing log.

-- Every authenticated submission, stored raw before it is validated, also when refused.
-- raw holds personal data (BSNs in clear): it stays in intake and is purged after retention.
CREATE TABLE submissions (
    submission_id uuid PRIMARY KEY,
    partner_id text NOT NULL,
    key_id text,
    source text NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL,
    partner_reference text,
    idempotency_key text,
    content_digest bytea NOT NULL,
    content_type text NOT NULL DEFAULT '',
    raw bytea,
    received_at timestamptz NOT NULL,
    status text NOT NULL,
    rejections jsonb NOT NULL DEFAULT '[]'::jsonb,
    kafka_topic text,
    kafka_partition integer,
    kafka_offset bigint,
    trace_id text,
    purged_at timestamptz
);
-- A refused submission does not hold its reference: the partner may send it corrected.
CREATE UNIQUE INDEX submissions_reference
    ON submissions (partner_id, kind, partner_reference)
    WHERE partner_reference IS NOT NULL AND status <> 'rejected';
CREATE UNIQUE INDEX submissions_idempotency_key
    ON submissions (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX submissions_partner ON submissions (partner_id, received_at DESC);
CREATE INDEX submissions_received ON submissions (received_at);

-- One result per signal, CSV row, registry provider or indicator report of a submission.
CREATE TABLE submission_items (
    submission_id uuid NOT NULL REFERENCES submissions ON DELETE CASCADE,
    item_no integer NOT NULL,
    partner_reference text,
    status text NOT NULL,
    signal_id uuid,
    provider_id text,
    rejections jsonb NOT NULL DEFAULT '[]'::jsonb,
    warnings jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (submission_id, item_no)
);
CREATE INDEX submission_items_reference ON submission_items (partner_reference)
    WHERE partner_reference IS NOT NULL;

-- Signals: the normalised (pseudonymised, masked) record; waits as needs_provider until
-- the provider is known, then is published as signal.received.
CREATE TABLE signals (
    signal_id uuid PRIMARY KEY,
    submission_id uuid NOT NULL REFERENCES submissions,
    item_no integer NOT NULL,
    partner_id text NOT NULL,
    source text NOT NULL,
    partner_reference text NOT NULL,
    received_at timestamptz NOT NULL,
    occurred_at timestamptz NOT NULL,
    status text NOT NULL,
    provider_id text,
    matched_by text,
    draft jsonb NOT NULL,
    free_text text,
    content_digest bytea NOT NULL,
    event_id text,
    resolved_by text,
    resolved_at timestamptz,
    UNIQUE (submission_id, item_no),
    UNIQUE (partner_id, source, partner_reference)
);
CREATE INDEX signals_needs_provider ON signals (received_at) WHERE status = 'needs_provider';
CREATE INDEX signals_provider ON signals (provider_id);

-- What became of a signal after intake (from triage's events), for the signaller.
CREATE TABLE signal_outcomes (
    signal_id uuid PRIMARY KEY,
    assessment_id uuid NOT NULL,
    outcome text NOT NULL,
    strategy text,
    priority text NOT NULL,
    framework_version text NOT NULL,
    assessed_at timestamptz NOT NULL,
    reasons jsonb NOT NULL,
    investigation_id uuid,
    investigation_relation text
);
CREATE INDEX signal_outcomes_investigation ON signal_outcomes (investigation_id);

CREATE TABLE investigations (
    investigation_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    state text NOT NULL,
    decision text,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    changed_at timestamptz NOT NULL
);

-- The provider registry (contract management), published as provider.registered.
CREATE TABLE providers (
    provider_id text PRIMARY KEY,
    name text NOT NULL,
    name_key text NOT NULL,
    kvk text,
    agb text,
    entry jsonb NOT NULL,
    entry_digest bytea NOT NULL,
    registry_version integer NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX providers_kvk ON providers (kvk) WHERE kvk IS NOT NULL;
CREATE INDEX providers_agb ON providers (agb) WHERE agb IS NOT NULL;

CREATE TABLE provider_locations (
    provider_id text NOT NULL REFERENCES providers ON DELETE CASCADE,
    location_id text NOT NULL,
    postcode text NOT NULL,
    house_number integer,
    house_number_addition text,
    municipality_code text NOT NULL,
    services text[] NOT NULL,
    PRIMARY KEY (provider_id, location_id)
);
CREATE INDEX provider_locations_postcode ON provider_locations (postcode);

-- Processing log (in the spirit of Logboek Dataverwerkingen): every step that touches
-- personal data: who, what, why, and the trace it happened in. Never the data itself.
CREATE TABLE processing_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    purpose text NOT NULL,
    submission_id uuid,
    signal_id uuid,
    trace_id text
);
CREATE INDEX processing_log_submission ON processing_log (submission_id);
