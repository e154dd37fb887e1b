#!/usr/bin/env bash
# Installs Debian's chromium for the browser end-to-end tests (tests/e2e/), driven by playwright-core
# with executablePath /usr/bin/chromium — never `npx playwright install` (no downloads but apt), plus
# fonts so screenshots show text and emoji. Idempotent: installs only what is missing. Root on Debian.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
for p in fonts-dejavu-core fonts-noto-color-emoji; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
# refresh the package lists only when they do not know the packages yet
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get update -qq; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
/usr/bin/chromium --version 2>/dev/null | grep -i chromium
