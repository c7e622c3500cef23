#!/usr/bin/env bash
# Start PostgreSQL for the tests that need it (database layer, usrloc db_mode on PostgreSQL) and
# create their role and database: user ksr, password ksr, database ksr_test on 127.0.0.1:5432,
# the default of KSR_TEST_PG_URL (postgres://ksr:ksr@127.0.0.1:5432/ksr_test). Idempotent: run
# it as often as you like. Installs the Debian package when PostgreSQL is missing (root only).
# The test credentials are not a secret: the server listens on loopback only.
set -euo pipefail

PGPORT="${KSR_TEST_PG_PORT:-5432}"
export DEBIAN_FRONTEND=noninteractive

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test-postgres: installing postgresql"
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
fi

ready() { pg_isready -q -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1; }

if ! ready; then
  if command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    # the Debian cluster (15 main on a fresh bookworm): start the first one listed
    read -r ver name _ < <(pg_lsclusters -h | head -1)
    echo "test-postgres: starting cluster $ver/$name"
    pg_ctlcluster "$ver" "$name" start || true
  fi
fi
if ! ready; then
  # no Debian cluster (or it would not start): initdb into a temporary directory
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  data="${TMPDIR:-/tmp}/ksr-pg-data"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    as_postgres "$bindir/initdb" -D "$data" -A trust -U postgres >/dev/null
  fi
  echo "test-postgres: starting $bindir/postgres on $data"
  as_postgres "$bindir/pg_ctl" -D "$data" -l "$data/log" -w -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
fi
for _ in $(seq 1 50); do ready && break; sleep 0.2; done
ready || { echo "test-postgres: PostgreSQL does not answer on 127.0.0.1:$PGPORT" >&2; exit 1; }

psql_admin() {
  # the postgres superuser over the local socket (peer auth on the Debian cluster, trust on initdb)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PGPORT" "$@" 2>/dev/null \
      || runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PGPORT" "$@"
  else
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"
  fi
}

psql_admin -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ksr') THEN
    CREATE ROLE ksr LOGIN PASSWORD 'ksr' CREATEDB;
  END IF;
END $$;
SQL
if [ "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ksr_test'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE DATABASE ksr_test OWNER ksr"
fi
echo "test-postgres: ready (postgres://ksr:***@127.0.0.1:$PGPORT/ksr_test)"
