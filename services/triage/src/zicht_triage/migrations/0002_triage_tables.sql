-- Triage's own tables: what it knows of providers, the signals it assessed with the
-- context it used, its decisions, and the investigations they opened or joined.

-- The provider registry as far as triage needs it (from provider.registered).
CREATE TABLE providers (
    provider_id text PRIMARY KEY,
    name text NOT NULL,
    municipalities text[] NOT NULL,
    related_to_region boolean NOT NULL,
    active boolean NOT NULL,
    registry_version integer NOT NULL
);
CREATE INDEX providers_municipalities ON providers USING gin (municipalities);

-- Each signal received, kept so it can be re-assessed under a later framework version.
CREATE TABLE signals (
    signal_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    event_id text NOT NULL,
    data jsonb NOT NULL
);

-- Every decision; exactly one per signal is current. The context is what the framework was
-- given (relation to the region, open investigation, earlier signals), so re-assessing
-- under a new version changes only what the version changes.
CREATE TABLE assessments (
    assessment_id uuid PRIMARY KEY,
    signal_id uuid NOT NULL REFERENCES signals,
    provider_id text NOT NULL,
    framework_version text NOT NULL,
    outcome text NOT NULL,
    strategy text,
    priority text NOT NULL,
    occurred_at timestamptz NOT NULL,
    assessed_at timestamptz NOT NULL,
    context jsonb NOT NULL,
    decision jsonb NOT NULL,
    current boolean NOT NULL DEFAULT true,
    replaced_by uuid
);
CREATE UNIQUE INDEX assessments_current ON assessments (signal_id) WHERE current;
CREATE INDEX assessments_provider_time ON assessments (provider_id, occurred_at) WHERE current;
CREATE INDEX assessments_version ON assessments (framework_version) WHERE current;

CREATE TABLE investigations (
    investigation_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    state text NOT NULL,
    decision text,
    note text,
    opened_at timestamptz NOT NULL,
    opened_by_signal uuid NOT NULL,
    closed_at timestamptz,
    closed_by text,
    framework_version text NOT NULL
);
-- At most one open investigation per provider.
CREATE UNIQUE INDEX investigations_open ON investigations (provider_id) WHERE state = 'open';

CREATE TABLE investigation_signals (
    investigation_id uuid NOT NULL REFERENCES investigations,
    signal_id uuid NOT NULL,
    relation text NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (investigation_id, signal_id)
);
