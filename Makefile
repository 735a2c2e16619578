# Thin wrappers over cargo and `cargo xtask` (see xtask/src/main.rs).

CARGO ?= cargo

.PHONY: all test demo demo-offline bench bench-e2e bench-compare check fmt fmt-check clippy deps fuzz fuzz-seeds

all: check

## make test: what CI runs: deps, fmt check, clippy, all tests, doc tests
test:
	$(CARGO) xtask test

## make demo: build, testbed up, mspicd with docs/examples/testbed.conf, real traffic
## (curl, dig, ping, FTP through the ALG), then the PIC's sessions, ALG conversations and
## NAT pool; the testbed is removed after.
## make demo-offline: the same configuration on a generated capture, no root needed.
demo:
	$(CARGO) xtask deps
	$(CARGO) xtask demo

demo-offline:
	$(CARGO) xtask demo --offline

## make bench: criterion benchmarks of every crate (docs/performance.md)
## make bench-e2e: packets/s through mspicd and through Linux NAT, side by side (root)
bench:
	$(CARGO) bench --workspace

bench-e2e:
	$(CARGO) xtask bench e2e --runs 3

## make bench-compare BASE=REV: the flow shard bench at REV and at the working tree, run
## alternately (ROUNDS, default 3; FILTER: a criterion regex), side by side
ROUNDS ?= 3
FILTER ?=
bench-compare:
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=REV [ROUNDS=N] [FILTER=REGEX]"; exit 2; }
	$(CARGO) xtask bench compare --base '$(BASE)' --rounds $(ROUNDS) $(if $(FILTER),--filter '$(FILTER)')

## make fuzz: every fuzz target of tests/fuzz for FUZZ_SECONDS each (default 300), seeded
## from tests/fuzz/seeds; corpora grow in target/fuzz/corpus (needs nightly and cargo-fuzz;
## `make test` runs them 20 s each). make fuzz-seeds: write the seed corpus again.
FUZZ_SECONDS ?= 300
fuzz:
	$(CARGO) xtask deps
	$(CARGO) xtask fuzz --seconds $(FUZZ_SECONDS)

fuzz-seeds:
	$(CARGO) xtask fuzz-seeds

## make check: type-check everything, tests and benches included
check:
	$(CARGO) check --workspace --all-targets

## make fmt: format the code; make fmt-check: only check it
fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

## make clippy: lint, warnings are errors
clippy:
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## make deps: install the apt packages and cargo tools the tests need
deps:
	$(CARGO) xtask deps
