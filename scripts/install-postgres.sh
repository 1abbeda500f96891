#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are here: Debian's postgresql package, which the
# memory stores are tested against. Prints the directory holding initdb and postgres last.
#
#   scripts/install-postgres.sh   # e.g. /usr/lib/postgresql/15/bin
#
# Installing needs root and Debian's package index (CI runs as root); the package's cluster
# and service are not used: the tests run their own server on a free loopback port.
set -euo pipefail

find_bindir() {
  local candidate
  if command -v pg_config >/dev/null && candidate="$(pg_config --bindir 2>/dev/null)" \
    && [[ -x "$candidate/initdb" && -x "$candidate/postgres" ]]; then
    echo "$candidate"
    return 0
  fi
  # Debian keeps the server out of PATH, one directory per major version: take the newest.
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$candidate/initdb" && -x "$candidate/postgres" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! bindir="$(find_bindir)"; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "install-postgres: initdb is missing; install Debian's postgresql package" >&2
    exit 1
  fi
  echo "install-postgres: installing Debian's postgresql package" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  bindir="$(find_bindir)"
fi
echo "$bindir"
