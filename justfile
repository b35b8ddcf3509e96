# INFLIQ backend recipes. `just` comes from npm: `npx rust-just@1.57.0 <recipe>` works without installing it.
set shell := ["bash", "-uc"]

# List recipes.
default:
    @just --list

# Start the whole stack on :3000 with embedded defaults (PostgreSQL, Redis, S3, dev SMS).
dev *ARGS:
    go run ./backend/cmd/infliq all {{ARGS}}

# Run every test suite (the README's test command).
test:
    ./scripts/test.sh

# Regenerate Go and TypeScript code from schema/ (offline, local plugins).
gen:
    ./scripts/gen.sh

# gofmt, go vet, buf lint and format.
lint:
    test -z "$(git ls-files '*.go' | grep -v -E '(^|/)gen/' | xargs gofmt -l)"
    go vet ./...
    clients/ts/node_modules/.bin/buf lint
    clients/ts/node_modules/.bin/buf format --diff --exit-code

# Smoke checks against a running gateway (SMOKE_BASE_URL, default http://localhost:3000).
smoke:
    go run ./backend/cmd/infliq smoke

# Contract checks against a running gateway (CONTRACT_BASE_URL, default http://localhost:3000).
contracts:
    go run ./backend/cmd/infliq contracts

# Load harness: starts the stack on free ports, drives every scenario, prints throughput, latency, errors and RSS.
bench *ARGS:
    go run ./backend/cmd/infliq-bench {{ARGS}}
