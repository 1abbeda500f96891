#!/usr/bin/env bash
# Make sure a Redis server binary is here: Debian's redis-server package (Redis 7), which the
# gateway's shared rate limits are tested against. Prints the binary's path last.
#
#   scripts/install-redis.sh   # e.g. /usr/bin/redis-server
#
# Installing needs root and Debian's package index (CI runs as root); the package's service
# is not started: the tests run their own server on a free loopback port.
set -euo pipefail

if ! binary="$(command -v redis-server)"; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "install-redis: redis-server is missing; install Debian's redis-server package" >&2
    exit 1
  fi
  echo "install-redis: installing Debian's redis-server package" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
  binary="$(command -v redis-server)"
fi
echo "$binary"
