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
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
home="$cache/weaviate-$version"
binary="$home/weaviate-server"

install() {
  use_go_cache install-weaviate 1.25
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

install_once weaviate "$version" "$binary"
