#!/usr/bin/env bash
# Installs the pinned tools jetport needs into ./.tools, from nothing:
#   - Deno (npm package "deno", pinned below)
#   - nats-server 2.9 (Debian bookworm) and a current one (Debian sid, 2.15.x), as static binaries
#   - promtool (Debian bookworm's prometheus package): tests check /metrics and the alert rules
#   - `install-tools.sh bench` only: Debian's Go toolchain and nats.go (golang-go,
#     golang-github-nats-io-go-nats-dev), for the Go baselines of `make bench`; make test does
#     not need them
# Idempotent: a tool already in place is kept. Needs npm; the nats-server part needs apt (root).
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION="2.9.6"
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

if [ ! -x "$TOOLS/node_modules/deno/deno" ] || ! "$TOOLS/node_modules/deno/deno" --version | grep -q "deno $DENO_VERSION"; then
  echo "installing deno $DENO_VERSION into .tools/" >&2
  (cd "$TOOLS" && [ -f package.json ] || echo '{"private":true}' > "$TOOLS/package.json")
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" >&2
fi

want_nats="${1:-all}"
[ "$want_nats" = "deno" ] && exit 0

if [ "$want_nats" = "bench" ]; then
  # System packages (the Go toolchain and nats.go's source tree under /usr/share/gocode, built in
  # GOPATH mode by tests/bench/go/go.ts): too many dependencies to unpack into .tools/ by hand.
  if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/nats-io/nats.go ]; then
    exit 0
  fi
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "make bench needs golang-go and golang-github-nats-io-go-nats-dev: install them (apt, as root)" >&2
    exit 1
  fi
  echo "installing golang-go and golang-github-nats-io-go-nats-dev (apt) for the Go baselines" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    golang-go golang-github-nats-io-go-nats-dev >&2
  go version >&2
  exit 0
fi

fetch_deb() { # $1 = suite, $2 = package, $3 = binary in it, $4 = target dir
  local suite="$1" pkg="$2" bin="$3" dir="$4"
  [ -x "$dir/$bin" ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "apt-get not found: put $bin in $dir by hand" >&2
    return 1
  fi
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb http://deb.debian.org/debian $suite main" > "$tmp/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Get::List-Cleanup=0" -qq)
  echo "fetching $pkg from Debian $suite" >&2
  apt-get "${opts[@]}" -o APT::Sandbox::User=root update >&2
  (cd "$tmp" && apt-get "${opts[@]}" -o APT::Sandbox::User=root download "$pkg" >&2)
  dpkg -x "$tmp/${pkg}"_*.deb "$tmp/x"
  mkdir -p "$dir"
  cp "$(find "$tmp/x" -name "$bin" -type f | head -n 1)" "$dir/$bin"
  rm -rf "$tmp"
  "$dir/$bin" --version >&2
}

fetch_deb bookworm nats-server nats-server "$TOOLS/nats-2.9"
fetch_deb sid nats-server nats-server "$TOOLS/nats-current"
fetch_deb bookworm prometheus promtool "$TOOLS/prometheus"
