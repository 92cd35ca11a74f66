#!/usr/bin/env bash
# Installs the pinned tools jetport needs into ./.tools, from nothing:
#   - Deno (npm package "deno", pinned below)
#   - nats-server 2.9 (Debian bookworm) and a current one (Debian sid, 2.15.x), as static binaries
#   - promtool (Debian bookworm's prometheus package): tests check /metrics and the alert rules
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
