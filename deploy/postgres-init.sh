#!/usr/bin/env bash
# compose only (deploy/compose.yaml), run once by the postgres image on an empty volume:
# one login role per service in the database `zicht`, each owning its own schema and
# nothing else. The passwords come from the environment (ZICHT_<SERVICE>_DB_PASSWORD), never
# from this repository. The same roles on any other server: docs/operations.md, "Database
# roles"; `make run` makes them with zicht_runtime.roles.
#
# A role may connect to `zicht` and use its own schema: no CREATE on the database (no new
# schemas), no TEMP, no superuser, CREATEDB or CREATEROLE. Each service migrates its own
# schema at start-up as its own role, and is refused any other service's tables.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v intake_password="$ZICHT_INTAKE_DB_PASSWORD" \
    -v triage_password="$ZICHT_TRIAGE_DB_PASSWORD" \
    -v scoring_password="$ZICHT_SCORING_DB_PASSWORD" \
    -v notify_password="$ZICHT_NOTIFY_DB_PASSWORD" <<'SQL'
\set options 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT'
CREATE ROLE zicht_intake :options PASSWORD :'intake_password';
CREATE ROLE zicht_triage :options PASSWORD :'triage_password';
CREATE ROLE zicht_scoring :options PASSWORD :'scoring_password';
CREATE ROLE zicht_notify :options PASSWORD :'notify_password';

REVOKE ALL ON DATABASE zicht FROM PUBLIC;
GRANT CONNECT ON DATABASE zicht TO zicht_intake, zicht_triage, zicht_scoring, zicht_notify;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA intake AUTHORIZATION zicht_intake;
CREATE SCHEMA triage AUTHORIZATION zicht_triage;
CREATE SCHEMA scoring AUTHORIZATION zicht_scoring;
CREATE SCHEMA notify AUTHORIZATION zicht_notify;
SQL
