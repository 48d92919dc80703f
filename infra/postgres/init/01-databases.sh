#!/usr/bin/env bash
# Creates the application role "yiwang" and one database per service and
# region, all owned by yiwang.
#
# The postgres image runs this once, on first start with an empty data
# directory (files in /docker-entrypoint-initdb.d), as the postgres OS user,
# against a temporary server reachable only on its Unix socket, with
# POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD in the environment.
#
# Role yiwang gets the password in $POSTGRES_PASSWORD: compose.yaml builds
# every YIWANG_DATABASE_URL as postgresql://yiwang:<that password>@postgres:5432/<db>,
# so the password must not contain characters that need escaping in a URL.
#
# Safe to run again by hand: an existing role or database is kept (the role's
# password is set again).  The image executes this file when it is executable
# and sources it otherwise; the body runs in a subshell either way, so its
# shell options and variables never leak into the image's entrypoint.

yiwang_create_databases() (
  set -euo pipefail

  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"

  # One database per service and region, plus the gateway's own.  Keep in
  # step with the YIWANG_DATABASE_URL values in compose.yaml
  # (tests/unit/infra/test_compose.py checks that they match).
  local databases=(
    gateway
    enrolment_36
    enrolment_44
    transfer_36
    transfer_44
    arrears_36
    arrears_44
    injury_36
    injury_44
  )

  local admin=(
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet
    --username "${POSTGRES_USER:-postgres}"
    --dbname "${POSTGRES_DB:-postgres}"
  )

  # The password goes in as a psql variable (:'app_password' quotes it as a
  # SQL literal); the shell never splices it into SQL text.
  "${admin[@]}" -v app_password="$POSTGRES_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE yiwang LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'yiwang')
\gexec
ALTER ROLE yiwang WITH LOGIN PASSWORD :'app_password';
SQL

  local db
  for db in "${databases[@]}"; do
    # CREATE DATABASE cannot run in a transaction block or a DO body, so the
    # statement is generated only when missing and run with \gexec.  As owner,
    # yiwang may create tables in the public schema (owned by
    # pg_database_owner since PostgreSQL 15); other roles may not connect.
    "${admin[@]}" -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER yiwang', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db')
\gexec
SQL
  done
)

yiwang_create_databases
