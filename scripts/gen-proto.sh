#!/usr/bin/env bash
# Generate src/host/gen/ from proto/ (buf.gen.yaml: protoc-gen-es, TypeScript for @bufbuild/protobuf). The output is
# committed, so that building needs no protobuf compiler; test/unit/cri.test.ts fails when it is not fresh.
# Usage: scripts/gen-proto.sh [OUTPUT_BASE]  (default: this checkout; the test generates into a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
exec buf generate ${1:+--output "$1"}
