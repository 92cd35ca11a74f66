#!/usr/bin/env bash
# Runs the whole test suite against nats-server 2.9 and a current server, then prints one
# summary line "N passed, N failed" (the sum of both runs).
set -uo pipefail
cd "$(dirname "$0")/.."
DENO="$PWD/.tools/node_modules/deno/deno"
export NO_COLOR=1
export DENO_TLS_CA_STORE="${DENO_TLS_CA_STORE:-mozilla,system}"
servers=()
for s in .tools/nats-2.9/nats-server .tools/nats-current/nats-server; do
  [ -x "$s" ] && servers+=("$PWD/$s")
done
if [ -n "${NATS_SERVER_BIN:-}" ]; then servers=("$NATS_SERVER_BIN"); fi
if [ ${#servers[@]} -eq 0 ]; then
  echo "no nats-server found: run scripts/install-tools.sh or set NATS_SERVER_BIN" >&2
  exit 1
fi
passed=0; failed=0; status=0
for bin in "${servers[@]}"; do
  echo "=== tests against $("$bin" --version) ($bin)"
  # Everything in parallel, except the cluster tests: three servers each plus daemons, killed
  # and restarted, starve each other on two cores; they run one file at a time.
  for part in parallel cluster; do
    if [ "$part" = parallel ]; then args=(--parallel --ignore=tests/cluster "$@"); else args=(tests/cluster); fi
    [ "$part" = cluster ] && [ $# -gt 0 ] && continue
    log=$(mktemp)
    NATS_SERVER_BIN="$bin" "$DENO" test --allow-all "${args[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -ne 0 ] && status=1
    line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
    p=$(sed -n 's/.*| \([0-9]*\) passed.*/\1/p' <<<"$line"); f=$(sed -n 's/.*| \([0-9]*\) failed.*/\1/p' <<<"$line")
    if [ -z "$p" ]; then status=1; f=$((f + 1)); fi
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    rm -f "$log"
  done
done
echo "${passed} passed, ${failed} failed"
exit $status
