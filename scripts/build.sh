#!/usr/bin/env bash
# Compiles jetport for each target triple given into dist/, stamps the git commit into the binary,
# and writes dist/SHA256SUMS. Offline: set DENORT_BIN to a denort binary for the target.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO="$PWD/.tools/node_modules/.bin/deno"
PERMS=$(sed -n 's/.*"jetport": "deno run \(.*\) main.ts".*/\1/p' deno.json)
VERSION=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' deno.json | head -n 1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p dist
cp src/build_info.ts /tmp/jetport_build_info.ts.bak
trap 'cp /tmp/jetport_build_info.ts.bak src/build_info.ts' EXIT
sed -i "s/BUILD_COMMIT: string = \".*\"/BUILD_COMMIT: string = \"$COMMIT\"/" src/build_info.ts
built=()
for target in "$@"; do
  ext=""; [[ "$target" == *windows* ]] && ext=".exe"
  out="dist/jetport-$VERSION-$target$ext"
  echo "compiling $out"
  # shellcheck disable=SC2086
  "$DENO" compile --quiet --target "$target" $PERMS --output "$out" main.ts
  built+=("$out")
done
(cd dist && sha256sum "${built[@]#dist/}" > SHA256SUMS)
echo "wrote dist/SHA256SUMS"
