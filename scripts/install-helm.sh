#!/usr/bin/env bash
# Build Helm v3 from the Go module proxy into a per-version cache.
#
#   scripts/install-helm.sh   # prints the binary, e.g. ~/.cache/conduit/helm-v3.21.4/helm
#
# The chart tests render and lint charts/conduit with this binary (no cluster needed).
# `go install` builds without Helm's Makefile, so the linker flags that Makefile passes are
# repeated here: the version Helm reports, and the Kubernetes version it assumes without
# --kube-version (the Makefile derives it from client-go v0.36 -> 1.36; unset it would be
# 1.20). Callers still pass --kube-version, so a render does not depend on this default. The
# build takes minutes on two cores; the binary is moved into place last, so an interrupted
# run is redone. Only the binary's path goes to stdout; Go's chatter to stderr.
set -euo pipefail

module=helm.sh/helm/v3
version=v3.21.4
kube_major=1 # client-go v0.36.2 in helm v3.21.4's go.mod
kube_minor=36

cache="${CONDUIT_CACHE:-$HOME/.cache/conduit}"
# shellcheck source=lib/go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
home="$cache/helm-$version"
binary="$home/helm"

install() {
  use_go_cache install-helm 1.26
  local staging
  staging="$(mktemp -d "$cache/.helm-$version.XXXXXX")"
  # A failed build must not leave a half-filled staging directory behind.
  trap 'rm -rf "$staging"' EXIT
  local ldflags="-s -w -X $module/internal/version.version=$version" package
  for package in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X $module/$package.k8sVersionMajor=$kube_major"
    ldflags+=" -X $module/$package.k8sVersionMinor=$kube_minor"
  done
  CGO_ENABLED=0 GOBIN="$staging" go install -trimpath -ldflags="$ldflags" "$module/cmd/helm@$version" >&2
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
}

install_once helm "$version" "$binary"
