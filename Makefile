# evhost: two commands matter. `make demo` builds everything and runs the demo;
# `make test` builds everything and runs every test (Rust and Go units; end to end with C, C++, Rust and Go plugins).

CARGO   ?= cargo
PLUGINS := $(abspath target/plugins)
# Test and benchmark fixtures (tests/fixtures/{c,rust,go}): plugins that misbehave or measure
# on purpose, kept apart from the plugins the project ships.
FIXTURES := $(abspath target/fixtures)
EVHOST  := target/release/evhost

# First-party plugins, each a Rust crate plugins/<name> built into target/plugins/libevh_<name>.so.
SOURCES := http schedule objects file webhook postgres nats

.PHONY: all build host rust-plugins c-plugins go-plugins demo test lint test-go bench fuzz clean services services-stop

all: build

# The host (release) and every plugin library the project ships, in target/plugins/, and
# the fixture libraries the tests and the benchmark load, in target/fixtures/.
build: host rust-plugins c-plugins go-plugins

host:
	$(CARGO) build --release -p evhost

# --remove-destination: a new file, not a rewrite in place, which would kill a running host
# that has the old one loaded (SIGBUS).
rust-plugins:
	$(CARGO) build --release -p evhost-example-rust -p evhost-fixture-rust $(addprefix -p evhost-plugin-,$(SOURCES))
	@mkdir -p $(PLUGINS) $(FIXTURES)
	cp --remove-destination target/release/libevh_example_rust.so $(addprefix target/release/libevh_,$(addsuffix .so,$(SOURCES))) $(PLUGINS)/
	cp --remove-destination target/release/libevh_fixture_rust.so $(FIXTURES)/

c-plugins:
	$(MAKE) -C plugins/examples/c OUT=$(PLUGINS)
	$(MAKE) -C plugins/examples/cpp OUT=$(PLUGINS)
	$(MAKE) -C tests/fixtures/c OUT=$(FIXTURES)

go-plugins:
	$(MAKE) -C plugins/examples/go OUT=$(PLUGINS)
	$(MAKE) -C tests/fixtures/go OUT=$(FIXTURES)

# The objects producer watches ./demo-bucket; the file consumer writes ./demo-events.jsonl.
demo: build
	@mkdir -p demo-bucket
	$(EVHOST) run --config examples/demo.toml

# The servers the plugins talk to (tests/services/*.sh: PostgreSQL, NATS), installed when
# missing and run for this checkout on their default ports, data under target/services/.
# The tests start their own on free ports; these are for trying the plugins by hand.
services:
	@for s in tests/services/*.sh; do sh $$s start || exit 1; done

services-stop:
	@for s in tests/services/*.sh; do sh $$s stop || exit 1; done

# Release mode, so the tests reuse what `build` compiled and run the same binary users get.
test: build lint test-go
	$(CARGO) test --workspace --release

# One format and no lint warnings, checked like the tests; the second clippy also checks the
# benchmark, which needs the host's feature `bench`.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release -p evhost --all-targets --features bench -- -D warnings

test-go:
	$(MAKE) -C plugins/examples/go test
	$(MAKE) -C tests/fixtures/go vet

# Every scenario of the performance issue in one run: a table, and target/bench/results.json.
# The feature `bench` adds the in-process baselines to the host library; cargo then rebuilds
# the host binary with it too, so the scenarios that run the binary take a copy of the
# product's, made before. BENCH="evhost_c evhost_c_claim latency" runs only those scenarios.
BENCH ?=
bench: build
	@mkdir -p target/bench
	cp --remove-destination $(EVHOST) target/bench/evhost
	$(CARGO) bench -p evhost --bench bench --features bench -- $(BENCH)

# The fuzz targets (docs/fuzzing.md) for longer than `make test` runs them: FUZZ_CASES
# cases per property, from a new seed each run (FUZZ_SEED=<number> repeats one).
FUZZ_CASES ?= 300000
FUZZ_SEED  ?= random
fuzz:
	EVHOST_FUZZ_CASES=$(FUZZ_CASES) EVHOST_FUZZ_SEED=$(FUZZ_SEED) \
	  $(CARGO) test --release --no-fail-fast --lib -p evhost -p evhost-plugin-http -p evhost-plugin-objects props \
	  || { echo; echo "fuzz: a property failed. Above is the smallest input proptest found; its seed is saved in"; \
	       echo "<crate>/proptest-regressions/. Commit that file, add the input to <crate>/fuzz-corpus/<target>/"; \
	       echo "and fix the code: docs/fuzzing.md says how."; exit 1; }

clean:
	$(CARGO) clean
