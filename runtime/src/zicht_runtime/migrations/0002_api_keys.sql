-- API keys of the parties that call this service's HTTP API (partners, supervisors,
-- municipalities, operators). Only a SHA-256 digest of each key is kept: keys are 256-bit
-- random strings, so a plain digest cannot be reversed, and a leaked table lets no one in.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    key_digest bytea NOT NULL UNIQUE,
    party_id text NOT NULL,
    scopes text[] NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_party ON api_keys (party_id);
