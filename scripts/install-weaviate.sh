#!/usr/bin/env bash
# Build the Weaviate server from the Go module proxy into a per-version cache.
#
#   scripts/install-weaviate.sh   # prints the binary, e.g. ~/.cache/conduit/weaviate-v1.35.2/weaviate-server
#
# Weaviate's go.mod has no `replace` directives, so a plain `go install pkg@version` works.
# The build takes minutes on two cores; the binary is moved into place last, so an
# interrupted run is redone. Only the binary's path goes to stdout; Go's chatter to stderr.
set -euo pipefail

module=github.com/weaviate/weaviate
version=v1.35.2

cache="${CONDUIT_CACHE:-$HOME/.cache/conduit}"
home="$cache/weaviate-$version"
binary="$home/weaviate-server"

install() {
  if ! command -v go >/dev/null 2>&1; then
    echo "install-weaviate: 'go' is not on PATH; install Go 1.25+ (https://go.dev/dl/ or apt-get install golang)" >&2
    exit 1
  fi
  # Module downloads are shared with the Jaeger build; writable so the cache can be deleted.
  export GOPATH="$cache/go"
  export GOMODCACHE="$cache/go/pkg/mod"
  export GOFLAGS="-modcacherw"
  export GOTOOLCHAIN=local
  local staging
  staging="$(mktemp -d "$cache/.weaviate-$version.XXXXXX")"
  # A failed build must not leave a half-filled staging directory behind.
  trap 'rm -rf "$staging"' EXIT
  local ldflags="-s -w -X $module/usecases/build.Branch=$version"
  GOBIN="$staging" go install -trimpath -ldflags="$ldflags" "$module/cmd/weaviate-server@$version" >&2
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
}

mkdir -p "$cache"
# Parallel test workers may all call this at once: serialise them on a lock file.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/.weaviate-$version.lock"
  flock --timeout 1800 9
fi
if [[ ! -x "$binary" ]]; then
  install
fi
echo "$binary"
