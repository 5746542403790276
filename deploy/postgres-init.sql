-- Local development only (deploy/compose.yaml): one login role per service in the one
-- database `zicht`. Each service creates its own schema at start-up and owns it, so a
-- service can read and write only its own tables. The passwords are for this machine alone;
-- a deployment gives each service its own secret database URL (see deploy/k8s).

CREATE ROLE intake LOGIN PASSWORD 'intake-local-dev-only';
CREATE ROLE triage LOGIN PASSWORD 'triage-local-dev-only';
CREATE ROLE scoring LOGIN PASSWORD 'scoring-local-dev-only';
CREATE ROLE notify LOGIN PASSWORD 'notify-local-dev-only';

-- CREATE on the database lets a service create its schema (CREATE SCHEMA IF NOT EXISTS
-- needs it even when the schema exists); no role gets USAGE on another's schema.
GRANT CONNECT, CREATE ON DATABASE zicht TO intake, triage, scoring, notify;
