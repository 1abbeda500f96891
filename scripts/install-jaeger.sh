#!/usr/bin/env bash
# Build the Jaeger v2 all-in-one binary from the Go module proxy into a per-version cache.
#
#   scripts/install-jaeger.sh   # prints the binary, e.g. ~/.cache/conduit/jaeger-v1.76.0/jaeger
#
# `go install github.com/jaegertracing/jaeger/cmd/jaeger@v2.x` cannot work: Jaeger v2 is
# published under the v1 module path (v1.76.0 is Jaeger v2.13.0), and its go.mod carries
# `replace` directives, which `go install pkg@version` refuses. So a throwaway module in
# the cache requires Jaeger, copies its replacements and go.sum, and builds cmd/jaeger.
# The build takes minutes on two cores; the binary is moved into place last, so an
# interrupted run is redone. Only the binary's path goes to stdout; Go's chatter to stderr.
set -euo pipefail

module=github.com/jaegertracing/jaeger
version=v1.76.0 # the last tag under the module path without /v2 ...
release=v2.13.0 # ... is this Jaeger release (what `jaeger version` reports)

cache="${CONDUIT_CACHE:-$HOME/.cache/conduit}"
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
home="$cache/jaeger-$version"
binary="$home/jaeger"

install() {
  use_go_cache install-jaeger 1.24 -mod=mod
  local download jaeger_dir staging
  # -json reports a failed download on stdout, so show it rather than lose it.
  if ! download="$(go mod download -json "$module@$version")"; then
    echo "install-jaeger: downloading $module@$version failed: $download" >&2
    exit 1
  fi
  jaeger_dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$download")"
  if [[ ! -f "$jaeger_dir/go.mod" ]]; then
    echo "install-jaeger: downloading $module@$version gave no source directory" >&2
    exit 1
  fi
  staging="$(mktemp -d "$cache/.jaeger-$version.XXXXXX")"
  # A failed build must not leave a half-filled staging directory behind.
  trap 'rm -rf "$staging"' EXIT
  {
    echo "module conduit.local/jaeger-build"
    echo
    grep -m 1 '^go ' "$jaeger_dir/go.mod"
    echo
    echo "require $module $version"
    echo
    # Replacements are only honoured in the main module: copy single lines and blocks.
    awk '/^replace \($/ {block = 1} block || /^replace / {print} block && /^\)$/ {block = 0}' \
      "$jaeger_dir/go.mod"
  } >"$staging/go.mod"
  cp "$jaeger_dir/go.sum" "$staging/go.sum"
  local ldflags="-s -w -X $module/internal/version.latestVersion=$release"
  (cd "$staging" && go build -trimpath -ldflags="$ldflags" -o jaeger "$module/cmd/jaeger") >&2
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
}

install_once jaeger "$version" "$binary"
