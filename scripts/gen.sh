#!/usr/bin/env bash
# Regenerates the Go (buf.gen.yaml) and TypeScript (buf.gen.ts.yaml) code from
# schema/ with local plugins only:
# the Go plugins pinned as `tool` directives in go.mod, protoc-gen-es and buf
# from clients/ts's npm lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x clients/ts/node_modules/.bin/buf ]; then
  (cd clients/ts && npm ci --no-audit --no-fund --loglevel=error)
fi
BUF=clients/ts/node_modules/.bin/buf
"$BUF" format -w
"$BUF" generate
"$BUF" generate --template buf.gen.ts.yaml
gofmt -w backend/gen
echo "generated: backend/gen clients/ts/gen"
