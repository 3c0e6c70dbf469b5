# Tessera's two commands:
#   make run    install what is missing, build (release), launch Cluster/local.yaml:
#               train BPR-MF on the built-in synthetic data, evaluate, answer a query
#   make test   install what is missing, build, fuzz the parsers for a bounded time
#               (FUZZ_SECONDS per target; `make fuzz` alone), run every test
SWIFT ?= swift
CONFIG ?= Cluster/local.yaml
ARGS ?=

.PHONY: run test fuzz deps venv build release protos check-protos clean

run: deps release
	.build/release/tessera launch $(CONFIG) $(ARGS)

# The pure-logic tests run first and on their own: several train models for seconds at a time
# on Swift's cooperative threads (two on a two-core machine), which would starve the
# in-process gRPC servers of the RPC tests if both ran at once.
test: deps venv
	$(SWIFT) build --build-tests
	$(MAKE) fuzz
	$(SWIFT) test --skip-build --filter '^TesseraCoreTests\.'
	$(SWIFT) test --skip-build --skip '^TesseraCoreTests\.'

# libFuzzer over the config, data and wire parsers (fuzz/run.sh; its own build in .build/fuzz).
fuzz:
	SWIFT=$(SWIFT) fuzz/run.sh

deps:
	@scripts/install-deps.sh

venv:
	@scripts/python-venv.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product tessera

# Regenerate Sources/TesseraRPC/Generated from Protos/ (needs protobuf-compiler).
protos:
	scripts/generate-protos.sh

check-protos:
	scripts/generate-protos.sh --check

clean:
	rm -rf .build .venv runs
