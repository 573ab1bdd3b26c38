#!/usr/bin/env bash
# PostgreSQL server binaries from Debian's package, for the tests of Dagster's PostgreSQL
# storage (they start a throwaway server of their own; nothing runs as a service).
# Installs the package when missing and running as root; otherwise says what to do.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_postgres: no PostgreSQL server binaries under /usr/lib/postgresql, and this" \
         "is not root on a Debian-based machine; install them (apt-get install postgresql)" \
         "or the PostgreSQL storage tests will be skipped." >&2
    exit 1
fi
echo "ensure_postgres: installing postgresql (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
