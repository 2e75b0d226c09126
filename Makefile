# Rampart: one command per chore. `make help` lists them.
export GOTOOLCHAIN := local
GO      ?= go
BIN     := bin/rampart
PKGS    := ./...
FUZZTIME ?= 20s

.PHONY: help build test lint fuzz bench eval check demo clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build the static binary into bin/rampart
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/rampart

test: ## run the whole test suite (installs what the end-to-end tests need)
	bash scripts/test.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fuzz: ## run every native fuzz target for FUZZTIME each
	bash scripts/fuzz.sh $(FUZZTIME)

bench: build ## benchmarks: gateway (vs nginx), scanner, data profiling (vs pandas); writes bench/results/
	bash bench/gateway.sh
	bash bench/scan.sh
	bash bench/data.sh

eval: build ## data-guard detection evaluation on scikit-learn and Fashion-MNIST data
	RAMPART_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -run 'TestDataEval|TestDataAuditPlanted' -timeout 30m ./test/e2e

check: lint test ## what CI runs

demo: build ## the guided tour
	$(BIN) demo

clean:
	rm -rf bin
