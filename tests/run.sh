#!/usr/bin/env bash
# The test command (npm test). Starts the services the tests need (idempotent), then runs every
# tests/**/*.test.ts with node's built-in test runner. Pass file paths to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
bash tests/setup/all.sh
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find tests -name '*.test.ts' -not -path '*/node_modules/*' | sort); fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
