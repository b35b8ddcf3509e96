#!/usr/bin/env bash
# Runs every test suite and ends with one summary line.
# Needs only Go 1.26+ and Node 20+/npm; installs the rest itself. PostgreSQL
# and Redis are used when they listen on 127.0.0.1 (PG_TEST_DSN / REDIS_TEST_URL
# override); without a PostgreSQL server the Go tests start a private cluster
# from the machine's PostgreSQL binaries.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export GOFLAGS=${GOFLAGS:--buildvcs=false}

passed=0; failed=0; failures=()
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed+1)); echo "--- ok   $name ($((SECONDS-start))s)"
  else
    failed=$((failed+1)); failures+=("$name"); echo "--- FAIL $name ($((SECONDS-start))s)"
  fi
}

npm_install() {
  (cd clients/ts && npm ci --no-audit --no-fund --loglevel=error)
}
# The console's packages; playwright-core drives the system chromium, so no
# browser is ever downloaded.
admin_npm_install() {
  (cd web/admin && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}
# The console's built assets are committed (the gateway embeds them): a
# rebuild must give the same bytes, like the codegen drift check.
admin_build_drift() {
  (cd web/admin && npx tsc -p tsconfig.json --noEmit) || return 1
  local tmp; tmp=$(mktemp -d)
  node web/admin/build.mjs "$tmp/dist" >/dev/null || { rm -rf "$tmp"; return 1; }
  local rc=0
  diff -rq "$tmp/dist" backend/gateway/adminui/dist ||
    { echo "backend/gateway/adminui/dist is stale: run node web/admin/build.mjs"; rc=1; }
  rm -rf "$tmp"
  return $rc
}
chromium_install() {
  # The console's browser tests drive Debian's chromium.
  command -v chromium >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
  else
    echo "chromium missing: install it (apt-get install -y chromium); the console's browser tests fail without it"
    return 1
  fi
}
# One browser, one `infliq all`: the moderation scenario end to end.
admin_browser_tests() { (cd web/admin && node --test --test-reporter=spec test/console.test.mjs); }
gofmt_check() {
  local out; out=$(git ls-files '*.go' | grep -v -E '(^|/)gen/' | xargs gofmt -l)
  [ -z "$out" ] || { echo "gofmt would change:"; echo "$out"; return 1; }
}
buf_checks() {
  local BUF=clients/ts/node_modules/.bin/buf
  "$BUF" lint && "$BUF" format --diff --exit-code || return 1
  if git rev-parse --verify -q main >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then
    "$BUF" breaking --against '.git#branch=main'
  else
    echo "buf breaking: no main branch with a schema yet, nothing to compare"
  fi
}
codegen_drift() {
  local tmp; tmp=$(mktemp -d)
  cp -r backend/gen "$tmp/go" && cp -r clients/ts/gen "$tmp/ts"
  bash scripts/gen.sh >/dev/null || return 1
  local rc=0
  diff -r "$tmp/go" backend/gen >/dev/null || { echo "backend/gen is stale: run just gen"; rc=1; }
  diff -r "$tmp/ts" clients/ts/gen >/dev/null || { echo "clients/ts/gen is stale: run just gen"; rc=1; }
  rm -rf "$tmp"
  return $rc
}
pgbouncer_install() {
  # The PgBouncer tests (transaction pooling) start it from the machine.
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }
  else
    echo "pgbouncer missing: install it (apt-get install -y pgbouncer); its tests are skipped"
  fi
}
go_vet() { go vet ./...; }
go_test() { go test -race -count=1 -timeout 20m ./...; }
# deploy/k8s is its own module (kustomize and the Kubernetes API types stay
# out of the binary's module graph); it replaces the root module to read the
# Go config, so a dependency change at the root needs a tidy here first.
k8s_manifests() { (cd deploy/k8s && go mod tidy && go vet ./... && go test -count=1 ./...); }
ts_tests() { (cd clients/ts && npx tsc -p tsconfig.json --noEmit && npm test --silent); }

step "npm ci (clients/ts)" npm_install
step "npm ci (web/admin)" admin_npm_install
step "pgbouncer" pgbouncer_install
step "chromium" chromium_install
step "gofmt" gofmt_check
step "buf lint/format/breaking" buf_checks
step "codegen drift" codegen_drift
step "admin console build drift" admin_build_drift
step "go vet" go_vet
step "go test -race" go_test
step "k8s manifests" k8s_manifests
step "typescript sdk" ts_tests
step "admin console (browser)" admin_browser_tests

echo
if [ "$failed" -gt 0 ]; then echo "failed suites: ${failures[*]}"; fi
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
