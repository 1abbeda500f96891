#!/usr/bin/env bash
# Install the Apache Kafka broker's jars from Maven Central into a per-version cache.
#
#   scripts/install-kafka.sh   # prints the libs directory, e.g. ~/.cache/conduit/kafka-4.1.1/libs
#
# Idempotent: a marker holding the checksum of scripts/kafka/ is written last, so an
# interrupted run is redone and an edited pom or log config triggers a reinstall.
# Only the libs directory goes to stdout; Maven's chatter goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/kafka/pom.xml"
log_config="$here/kafka/log4j2.properties"

version="$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$pom" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "install-kafka: no <kafka.version> in $pom" >&2
  exit 1
fi

cache="${CONDUIT_CACHE:-$HOME/.cache/conduit}"
home="$cache/kafka-$version"
marker="$home/.installed"
checksum="$(cat "$pom" "$log_config" | sha256sum | cut -d ' ' -f 1)"

is_installed() {
  [[ -f "$marker" && "$(cat "$marker")" == "$checksum" ]]
}

require() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "install-kafka: '$1' is not on PATH; $2" >&2
    exit 1
  fi
}

install() {
  require java "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
  require mvn "install Maven 3.8+ (e.g. apt-get install maven)"
  local staging
  staging="$(mktemp -d "$cache/.kafka-$version.XXXXXX")"
  # A failed download must not leave a half-filled staging directory behind.
  trap 'rm -rf "$staging"' EXIT
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging/libs" >&2
  mkdir -p "$staging/config"
  cp "$log_config" "$staging/config/log4j2.properties"
  echo "$checksum" >"$staging/.installed"
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
}

mkdir -p "$cache"
# Parallel test workers may all call this at once: serialise them on a lock file.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/.kafka-$version.lock"
  flock --timeout 600 9
fi
if ! is_installed; then
  install
fi
echo "$home/libs"
