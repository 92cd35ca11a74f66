#!/usr/bin/env bash
# Makes sure a JetStream-enabled nats-server answers on 127.0.0.1:$1 (default 4222) for `make run`.
# Uses a running one if present; else starts nats-server from PATH or .tools/ (installing
# Debian's package when root), with its store under ./data/nats.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-4222}"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "nats-server already answers on 127.0.0.1:$port"
  exit 0
fi
bin=$(command -v nats-server || true)
for c in .tools/nats-current/nats-server .tools/nats-2.9/nats-server; do
  [ -z "$bin" ] && [ -x "$c" ] && bin="$PWD/$c"
done
if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq nats-server >/dev/null && bin=$(command -v nats-server || echo /usr/sbin/nats-server)
fi
if [ -z "$bin" ]; then
  echo "no nats-server found and nothing answers on port $port." >&2
  echo "Start one with: docker compose up -d nats   (or install nats-server and run make run again)" >&2
  exit 1
fi
mkdir -p data/nats
nohup "$bin" -js -a 127.0.0.1 -p "$port" -m 8222 -sd "$PWD/data/nats" -l "$PWD/data/nats/nats.log" \
  >/dev/null 2>&1 &
echo $! > data/nats/nats.pid
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "started $("$bin" --version) on 127.0.0.1:$port (pid $(cat data/nats/nats.pid), store data/nats, log data/nats/nats.log)"
    exit 0
  fi
  sleep 0.1
done
echo "nats-server did not start; see data/nats/nats.log" >&2
exit 1
