#!/usr/bin/env bash
# Redis for the tests: Debian's redis-server on a loopback port of its own (default 6390, override
# with TRENDWIRE_TEST_REDIS_PORT), data and logs in tests/.services/redis/, never the system instance.
# Idempotent: installs redis-server only when missing, starts it only when nothing answers PING on
# the port, and returns once PING answers (bounded poll on that condition, no fixed sleeps).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${TRENDWIRE_TEST_REDIS_PORT:-6390}"
dir="$PWD/.services/redis"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "redis setup: installing redis-server"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The package's postinst may try to start the system service; we never use it (policy-rc.d not touched).
  $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null \
    || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends redis-server >/dev/null; }
fi

ping() { [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; }

if ping; then exit 0; fi

mkdir -p "$dir"
# No persistence: test data is throwaway. protected-mode off is safe because it binds loopback only.
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
  --save '' --appendonly no --protected-mode no --maxmemory 256mb --maxmemory-policy noeviction

for _ in $(seq 1 200); do   # up to ~10 s
  if ping; then echo "redis setup: redis-server answering on 127.0.0.1:$port"; exit 0; fi
  sleep 0.05
done
echo "redis setup: redis-server did not answer PING on 127.0.0.1:$port; see $dir/redis.log" >&2
exit 1
