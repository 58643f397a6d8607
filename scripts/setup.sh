#!/usr/bin/env bash
# Installs what leasecheck needs on a fresh Debian machine, idempotently:
#   - the Postgres 15 server binaries (Debian package postgresql), for the
#     throwaway clusters the tests and the CLI start;
#   - PgBouncer, for `--via pgbouncer`;
#   - Chromium, for scripts/screenshot.sh (the HTML report in a real browser);
#   - cargo-nextest, the test runner, and cargo-fuzz, if they are missing;
#   - the leasecheck-postgres:15 image for the testcontainers path, when a
#     Docker engine is reachable (built locally from Debian's packages).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt-get)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  # Debian starts a system cluster on install; leasecheck never uses it.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    $SUDO pg_ctlcluster 15 main stop 2>/dev/null || true
  fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest (crates.io)"
  cargo install cargo-nextest --locked
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz (crates.io), for scripts/fuzz.sh"
  cargo install cargo-fuzz --locked
fi

if docker info >/dev/null 2>&1; then
  scripts/build-postgres-image.sh
else
  echo "setup: no Docker engine reachable: the testcontainers path (LEASECHECK_POSTGRES=container) will not work here"
fi
echo "setup: done"
