#!/usr/bin/env bash
# Starts a local PostgreSQL server for the registry tests and prints the URL of
# an empty-able test database on stdout (everything else goes to stderr).
# Idempotent: installs PostgreSQL only if missing, creates the cluster, role and
# database only if missing, starts the server only if it is down.
# Needs root (Debian 12: apt-get, pg_ctlcluster). Environment:
#   MUON_PG_PORT (default 5432)
set -euo pipefail
port="${MUON_PG_PORT:-5432}"
role=muonpipe_test
password=muonpipe_test
db=muonpipe_test

log() { echo "start-postgres: $*" >&2; }
if [[ $(id -u) -ne 0 ]]; then
  log "run as root (it installs and starts the server through pg_ctlcluster)"
  exit 1
fi
if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing postgresql"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  log "creating cluster $version/main on port $port"
  pg_createcluster --port "$port" "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  log "starting cluster $version/main"
  pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
# Ready within 30 s or fail.
for _ in $(seq 1 60); do
  if su postgres -c "pg_isready -q -h 127.0.0.1 -p $port"; then break; fi
  sleep 0.5
done
su postgres -c "pg_isready -q -h 127.0.0.1 -p $port" || { log "server on port $port is not ready"; exit 1; }
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -q -X -p $port -tA -c \"$1\""; }
if [[ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" ]]; then
  log "creating role $role"
  psql_admin "CREATE ROLE $role LOGIN PASSWORD '$password'" >&2
fi
if [[ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
  log "creating database $db"
  psql_admin "CREATE DATABASE $db OWNER $role" >&2
fi
# The tests drop and recreate the public schema: the role must own it.
su postgres -c "psql -v ON_ERROR_STOP=1 -q -X -p $port -d $db -c 'ALTER SCHEMA public OWNER TO $role'" >&2
echo "postgresql://$role:$password@127.0.0.1:$port/$db"
