#!/usr/bin/env bash
# Installs and starts every service the tests need. Idempotent: safe to run again and again.
# Each service has its own tests/setup/<service>.sh; this runs them all in order.
set -euo pipefail
cd "$(dirname "$0")"
for s in *.sh; do
  [ "$s" = all.sh ] && continue
  bash "$s"
done
