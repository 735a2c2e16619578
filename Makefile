# Thin wrappers over cargo and `cargo xtask` (see xtask/src/main.rs).

CARGO ?= cargo

.PHONY: all test demo bench check fmt fmt-check clippy deps

all: check

## make test: what CI runs: deps, fmt check, clippy, all tests, doc tests
test:
	$(CARGO) xtask test

## make demo: build release, generate a sample capture, replay it through `mspic replay`
demo:
	$(CARGO) xtask demo

## make bench: criterion benchmarks of every crate
bench:
	$(CARGO) bench --workspace

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
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## make deps: install the apt packages and cargo tools the tests need
deps:
	$(CARGO) xtask deps
