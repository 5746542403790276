-- Scoring's own tables: the inputs of the risk model per provider, and each provider's
-- score with its history.

CREATE TABLE providers (
    provider_id text PRIMARY KEY,
    name text NOT NULL,
    kvk text,
    municipalities text[] NOT NULL,
    active boolean NOT NULL,
    registry_version integer NOT NULL
);
CREATE INDEX providers_municipalities ON providers USING gin (municipalities);

-- Indicator values per report; the newest report per indicator counts.
CREATE TABLE indicator_readings (
    provider_id text NOT NULL,
    code text NOT NULL,
    report_id uuid NOT NULL,
    source text NOT NULL,
    period_year integer NOT NULL,
    reported_at timestamptz NOT NULL,
    value jsonb NOT NULL,
    PRIMARY KEY (provider_id, code, report_id)
);

-- The latest assessment of each signal (a re-assessment replaces it).
CREATE TABLE signals (
    signal_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    assessment_id uuid NOT NULL,
    outcome text NOT NULL,
    category text NOT NULL,
    severity text NOT NULL,
    occurred_at timestamptz NOT NULL,
    assessed_at timestamptz NOT NULL
);
CREATE INDEX signals_provider ON signals (provider_id, occurred_at);

-- Closed investigations with their decision and the signals they held.
CREATE TABLE investigations (
    investigation_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    decision text NOT NULL,
    closed_at timestamptz NOT NULL,
    signal_ids uuid[] NOT NULL
);
CREATE INDEX investigations_provider ON investigations (provider_id);

-- Each provider's current risk: the last evaluation published.
CREATE TABLE risk (
    provider_id text PRIMARY KEY,
    evaluation_id uuid NOT NULL,
    score numeric(4, 1) NOT NULL,
    level text NOT NULL,
    model_version text NOT NULL,
    evaluated_at timestamptz NOT NULL,
    contributions jsonb NOT NULL,
    unknown_indicators jsonb NOT NULL,
    has_decaying_points boolean NOT NULL DEFAULT false
);
CREATE INDEX risk_level ON risk (level, score DESC);
CREATE INDEX risk_decaying ON risk (provider_id) WHERE has_decaying_points;

-- Every published change, for a provider's story.
CREATE TABLE risk_history (
    evaluation_id uuid PRIMARY KEY,
    provider_id text NOT NULL,
    score numeric(4, 1) NOT NULL,
    level text NOT NULL,
    previous_score numeric(4, 1),
    previous_level text,
    model_version text NOT NULL,
    evaluated_at timestamptz NOT NULL,
    reason text NOT NULL,
    cause_event_id uuid,
    contributions jsonb NOT NULL
);
CREATE INDEX risk_history_provider ON risk_history (provider_id, evaluated_at DESC);
