# jetport — make run | test | bench | build | fmt | lint
# Tools are pinned and installed into .tools/ by scripts/install-tools.sh.
SHELL := /bin/bash
DENO := $(CURDIR)/.tools/node_modules/deno/deno
CONFIG ?= config/jetport.example.yaml
NATS_PORT ?= 4222
# Deno should trust the system's CA store too (corporate proxies re-sign TLS).
export DENO_TLS_CA_STORE ?= mozilla,system
# The permission set lives in one place: the "jetport" task in deno.json.
PERMS := $(shell sed -n 's/.*"jetport": "deno run \(.*\) main.ts".*/\1/p' deno.json)
TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-pc-windows-msvc x86_64-apple-darwin aarch64-apple-darwin

.PHONY: run test test-one bench build fmt lint check tools clean nats

$(DENO):
	bash scripts/install-tools.sh deno

tools:
	bash scripts/install-tools.sh

## run: start a local nats-server if none answers, then the daemon with $(CONFIG)
run: $(DENO) nats
	@# the example config watches ./test/storage, which must exist (untracked: test/ is ignored)
	@[ "$(CONFIG)" != config/jetport.example.yaml ] || mkdir -p test/storage
	$(DENO) run $(PERMS) main.ts run --config $(CONFIG)

nats:
	@bash scripts/local-nats.sh $(NATS_PORT)

## test: the whole suite against nats-server 2.9 and a current server
test: tools
	bash scripts/test.sh

## bench: benchmarks in tests/bench, printed as tables; every headline figure beside a Go baseline
bench: tools
	bash scripts/install-tools.sh bench
	NATS_SERVER_BIN=$(CURDIR)/.tools/nats-current/nats-server $(DENO) task bench

## build: single binaries for every platform into dist/, with SHA256SUMS
build: $(DENO)
	bash scripts/build.sh $(TARGETS)

fmt: $(DENO)
	$(DENO) fmt

lint: $(DENO)
	$(DENO) lint
	$(DENO) task check
	$(DENO) task check-imports

clean:
	rm -rf dist data
