#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end tests (tests/e2e/), driven by playwright-core
# with executablePath /usr/bin/chromium — never `npx playwright install` (no downloads but apt).
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root on Debian.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package lists do not know chromium yet
if ! apt-cache show chromium >/dev/null 2>&1; then apt-get update -qq; fi
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
