# Sourced by the install scripts that build a Go server (or Helm) into conduit's cache.
#
#   use_go_cache <script name> <minimum Go version> [extra GOFLAGS]
#
# Fails with a clear message when Go is missing; otherwise points Go at one module cache
# shared by every build under $cache (writable, so the cache can be deleted) and pins the
# local toolchain, so a build never downloads another Go.
use_go_cache() {
  local name=$1 minimum=$2 flags=${3:-}
  if ! command -v go >/dev/null 2>&1; then
    echo "$name: 'go' is not on PATH; install Go $minimum+ (https://go.dev/dl/ or apt-get install golang)" >&2
    exit 1
  fi
  export GOPATH="$cache/go"
  export GOMODCACHE="$cache/go/pkg/mod"
  export GOFLAGS="${flags:+$flags }-modcacherw"
  export GOTOOLCHAIN=local
}

#   install_once <name> <version> <binary>
#
# Runs the script's `install` function unless <binary> is already there, then prints it.
# Parallel test workers may all call a script at once: they are serialised on a lock file
# per tool and version under $cache.
install_once() {
  local name=$1 version=$2 binary=$3
  mkdir -p "$cache"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/.$name-$version.lock"
    flock --timeout 1800 9
  fi
  if [[ ! -x "$binary" ]]; then
    install
  fi
  echo "$binary"
}
