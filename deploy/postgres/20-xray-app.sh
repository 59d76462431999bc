#!/bin/bash
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d): the sync
# servers' own login, apart from the schema's owner ($POSTGRES_USER, DATABASE_OWNER_URL). It owns
# nothing; at each start the servers' owner connection grants it what it needs — on audit_events
# INSERT and SELECT only — so it cannot alter, empty or unprotect the audit trail.
# An existing volume: run the CREATE ROLE below once by hand (docs/operations.md, "Database roles").
set -euo pipefail
: "${XRAY_DB_APP_PASSWORD:?XRAY_DB_APP_PASSWORD is not set (deploy/gen-keys.sh)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$XRAY_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE xray_app LOGIN PASSWORD :'app_password';
SQL
