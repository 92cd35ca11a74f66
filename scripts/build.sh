#!/usr/bin/env bash
# Compiles jetport with `deno compile` for each target triple given (default: this machine's) into
# $OUT_DIR (default dist/) as jetport-<target>, jetport-<target>.exe for Windows (names without the
# version, so a download link or install script need not change per release; `jetport version`
# and the commit stamp tell the version), stamps the git commit into the binary, and writes
# SHA256SUMS. `build.sh --list [targets]` prints "target file" per target and compiles nothing.
#
# Permissions are exactly those of the "jetport" task in deno.json, baked into the binary:
#   --allow-read / --allow-write  config, secret files, watched dirs, state_dir, logs, downloads
#   --allow-net                   NATS, S3, the HTTP endpoint, the http upload handler
#   --allow-env                   ${VAR} interpolation reads variables the user names in the YAML,
#                                 so the list cannot be known at build time
#   --allow-sys                   host name in file events; OS facts the Node-compat NATS transport
#                                 asks for
#   --allow-run                   the upload processor's exec handler (argv, never a shell)
#
# `deno compile` needs `denort` (the runtime the program is appended to) for each target and
# downloads it unless it is cached in $DENO_DIR/dl. Offline: set DENORT_BIN to a denort binary of
# the one target you build (make build TARGETS=x86_64-unknown-linux-gnu DENORT_BIN=...), or copy
# $DENO_DIR/dl/release/v<deno version>/denort-<target>.zip from a machine that has built once.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO="${DENO:-$PWD/.tools/node_modules/deno/deno}"
# The targets `deno compile --target` accepts.
SUPPORTED=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-pc-windows-msvc
  x86_64-apple-darwin aarch64-apple-darwin)

# The file name of the binary for target $1.
artifact() {
  if [[ "$1" == *-windows-* ]]; then echo "jetport-$1.exe"; else echo "jetport-$1"; fi
}

list=false
if [[ "${1:-}" == "--list" ]]; then list=true; shift; fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("$("$DENO" eval -p 'Deno.build.target')")
for target in "${targets[@]}"; do
  if [[ " ${SUPPORTED[*]} " != *" $target "* ]]; then
    echo "build.sh: unknown target \"$target\"; deno compile builds: ${SUPPORTED[*]}" >&2
    exit 2
  fi
done
if $list; then
  for target in "${targets[@]}"; do echo "$target $(artifact "$target")"; done
  exit 0
fi

OUT_DIR="${OUT_DIR:-dist}"
PERMS=$(sed -n 's/.*"jetport": "deno run \(.*\) main.ts".*/\1/p' deno.json)
VERSION=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' deno.json | head -n 1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- src main.ts deno.json 2>/dev/null; then COMMIT="$COMMIT-dirty"; fi
[[ -n "$PERMS" ]] || { echo "build.sh: no \"jetport\" task in deno.json" >&2; exit 1; }
if [[ -n "${DENORT_BIN:-}" && ${#targets[@]} -gt 1 ]]; then
  echo "build.sh: DENORT_BIN is one runtime for one target; give that target only" >&2
  exit 2
fi

mkdir -p "$OUT_DIR"
# The stamp is restored whatever happens, so a build never leaves a modified source tree.
backup=$(mktemp)
cp src/build_info.ts "$backup"
trap 'cp "$backup" src/build_info.ts; rm -f "$backup"' EXIT
sed -i "s/BUILD_COMMIT: string = \".*\"/BUILD_COMMIT: string = \"$COMMIT\"/" src/build_info.ts

built=()
for target in "${targets[@]}"; do
  out="$OUT_DIR/$(artifact "$target")"
  echo "compiling $out (jetport $VERSION, commit $COMMIT)"
  # shellcheck disable=SC2086
  if ! "$DENO" compile --quiet --frozen --target "$target" $PERMS --output "$out" main.ts; then
    echo "build.sh: deno compile failed for $target. Without internet access it needs" >&2
    echo "  DENORT_BIN=<denort for $target>, or denort-$target.zip in \$DENO_DIR/dl (docs/operations.md: Build)" >&2
    exit 1
  fi
  built+=("$(basename "$out")")
done
(cd "$OUT_DIR" && sha256sum "${built[@]}" > SHA256SUMS)
echo "wrote $OUT_DIR/SHA256SUMS"
