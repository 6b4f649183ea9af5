# Purplebook. The two commands: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CGO_ENABLED := 0
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/purplebook/purplebook/app/diag.Version=$(VERSION)
BIN     := bin/purplebook
BIN_PG  := bin/purplebook-pg
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
HAVE_NPM := $(shell command -v npm >/dev/null 2>&1 && echo yes)
RUN_ARGS ?=

.PHONY: help run build build-pg ui ui-if-changed test deps system-deps node-modules go-modules notices check-notices vet test-go test-pg fuzz test-ui check-dist e2e cross cross-windows bench bench-load bench-faults clean

help:
	@echo "make run      build and start the server (SQLite in the default data dir)"
	@echo "make test     every test: vet, Go tests on SQLite and PostgreSQL, frontend unit tests, browser e2e;"
	@echo "              installs what it needs first (make deps) and prints each stage's time"
	@echo "make deps     system packages (scripts/deps.sh), npm ci when needed, Go modules"
	@echo "make notices  regenerate THIRD_PARTY_NOTICES.md after changing dependencies"
	@echo "make build    build $(BIN) (pure Go, SQLite)"
	@echo "make build-pg build $(BIN_PG) with PostgreSQL support (-tags postgres)"
	@echo "make ui       rebuild the web app into assets/dist"
	@echo "make e2e      browser end-to-end tests only"
	@echo "make cross    cross-build windows/amd64, linux/amd64, linux/arm64, darwin/arm64 into bin/"
	@echo "make bench    performance figures: every bench, one table (BENCH_QUICK=1: a quick check)"
	@echo "make dist     release files into dist/: binaries, .deb/.rpm, tar.gz, Windows installer, SHA256SUMS"
	@echo "make test-packaging  build and install the .deb, check the NSIS installer (as root)"

## run: build the SPA when its sources changed (and npm is there), build, start.
run: ui-if-changed build
	./$(BIN) serve $(RUN_ARGS)

build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN) .

build-pg:
	$(GO) build $(GOFLAGS_BUILD) -tags postgres -o $(BIN_PG) .

ui: node-modules
	cd assets && npm run build

ui-if-changed:
	@scripts/ui-if-changed.sh

## test: everything, from a fresh clone: first the set-up (system packages,
## npm ci, Go modules), then the checks, one stage at a time with its wall
## time printed at the end (scripts/stages.sh). PostgreSQL: uses
## $$PURPLEBOOK_TEST_PG_DSN, else starts a throwaway cluster with
## scripts/pg-test-server.sh and stops it afterwards.
# Packaging tests install the .deb, so they run only as root (CI is root).
IS_ROOT := $(filter 0,$(shell id -u))
TEST_STAGES := system-deps node-modules go-modules vet check-notices check-dist test-go test-pg fuzz \
  cross-windows test-ui e2e $(if $(IS_ROOT),test-packaging)
test:
	@scripts/stages.sh "$(MAKE) --no-print-directory" $(TEST_STAGES)

## deps: what make test needs besides the sources.
deps: system-deps node-modules go-modules

# As root on Debian/Ubuntu it installs missing packages; otherwise it names them.
system-deps:
	@scripts/deps.sh

# npm ci when node_modules is missing or older than the lock file (npm ci
# replaces node_modules, stamp included).
NPM_STAMP := assets/node_modules/.npm-ci.stamp
node-modules: $(NPM_STAMP)
$(NPM_STAMP): assets/package-lock.json assets/package.json
	cd assets && npm ci --no-audit --no-fund --no-update-notifier
	@touch $@

go-modules:
	$(GO) mod download
	$(GO) -C packaging/tools mod download

vet:
	$(GO) vet ./...
	$(GO) vet -tags postgres ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './assets/node_modules/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# The race detector needs cgo (gcc); the product itself is built with CGO_ENABLED=0.
test-go:
	@if command -v gcc >/dev/null 2>&1; then \
	  echo "CGO_ENABLED=1 go test -race -count=1 ./..."; CGO_ENABLED=1 $(GO) test -race -count=1 ./...; \
	else \
	  echo "gcc missing: running without -race"; $(GO) test -count=1 ./...; \
	fi

test-pg:
	@if [ -n "$${PURPLEBOOK_TEST_PG_DSN:-}" ]; then \
	  echo "PostgreSQL: $${PURPLEBOOK_TEST_PG_DSN%%\?*}"; \
	  $(GO) test -count=1 -tags postgres ./...; \
	else \
	  dsn=$$(scripts/pg-test-server.sh start); \
	  trap 'scripts/pg-test-server.sh stop' EXIT; \
	  echo "PostgreSQL: started a throwaway cluster"; \
	  PURPLEBOOK_TEST_PG_DSN=$$dsn $(GO) test -count=1 -tags postgres ./...; \
	fi

## fuzz: a few seconds per fuzz target (the corpus seeds run in test-go too).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 8s ./app/mitre
	$(GO) test -run '^$$' -fuzz '^FuzzAtomicYAML$$' -fuzztime 8s ./app/templates
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime 8s ./app/bundle

## notices: THIRD_PARTY_NOTICES.md from go.mod (the modules linked into the
## binaries) and assets/package-lock.json (the npm packages in the bundle).
notices: node-modules
	$(GO) run ./scripts/notices

check-notices: node-modules
	$(GO) run ./scripts/notices -check

check-dist: node-modules
	bash assets/scripts/check-dist.sh

test-ui: node-modules
	cd assets && npm test

e2e: node-modules build
	cd assets && PURPLEBOOK_BIN=$(CURDIR)/$(BIN) npm run e2e

cross-windows:
	GOOS=windows GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o bin/purplebook-windows-amd64.exe .

cross:
	GOOS=windows GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o bin/purplebook-windows-amd64.exe .
	GOOS=linux   GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o bin/purplebook-linux-amd64 .
	GOOS=linux   GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o bin/purplebook-linux-arm64 .
	GOOS=darwin  GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o bin/purplebook-darwin-arm64 .

## cover: per-package statement coverage of app/..., reached from any test
## binary (API tests count for the packages they exercise); fails when a test
## fails or a package is under 70%. Exempt: app/service (drives the OS service
## managers: systemctl, sc.exe, launchd) and app/db/dbtest (test helper whose
## PostgreSQL half runs only under -tags postgres).
.PHONY: cover
cover:
	@mkdir -p bin
	@status=0; $(GO) test -count=1 -coverpkg=./app/... -coverprofile=bin/cover.out ./... || status=$$?; \
	  $(GO) run ./scripts/cover -min 70 -exclude app/service,app/db/dbtest bin/cover.out && exit $$status

## bench: every bench under bench/, then one table (figure, goal, measured,
## floor, ratio, met/not met); never fails on a figure. BENCH_QUICK=1 for
## a few-minute check that every bench runs (bench/README.md).
bench: build
	bash bench/all.sh

# Issue 14's figures, long: wrk on the hot reads and a soak (SOAK, default
# 10m); kill -9 during sync, import and upload N times (default 20).
bench-load:
	bash bench/hotreads.sh $(or $(SOAK),10m)

bench-faults:
	bash bench/faults.sh $(or $(N),20)

clean:
	rm -rf bin dist

include packaging/dist.mk
