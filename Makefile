# Developer and CI entry points. `make test` is what .ci/run runs.
GO ?= go
# Connectors are the plugins/<name>/ directories holding a main.go.
PLUGINS := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
HOST := $(wildcard host/cmd/datasync/main.go)
PKGS ?= ./...
TESTFLAGS ?=

.PHONY: build test proto lint demo bench

build:
	@mkdir -p bin
ifneq ($(HOST),)
	$(GO) build -o bin/datasync ./host/cmd/datasync
endif
	@set -e; for p in $(PLUGINS); do \
		echo "$(GO) build -o bin/datasync-connector-$$p ./plugins/$$p"; \
		$(GO) build -o bin/datasync-connector-$$p ./plugins/$$p; \
	done

# Starts PostgreSQL, Radicale, slapd and Glewlwyd once, runs go test, stops them.
# Narrow with e.g. `make test PKGS=./sdk/... TESTFLAGS='-run Conformance -v'`.
test:
	PKGS='$(PKGS)' scripts/test.sh $(TESTFLAGS)

proto:
	scripts/proto.sh

lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The README's first command: the whole workflow on two SQLite files in .demo/.
demo: build
	scripts/demo.sh

# Benchmarks through the real binaries beside a raw-copy baseline (own PostgreSQL, scratch dir);
# the figures replace the results section of BENCHMARKS.md. BENCH_N=1000000 for the full size.
BENCH_N ?= 200000
bench: build
	BENCH_N=$(BENCH_N) $(GO) run ./scripts/bench -bin bin -write BENCHMARKS.md
