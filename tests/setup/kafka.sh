#!/usr/bin/env bash
# The Kafka-protocol broker for tests and dev: librdkafka's mock cluster behind a small C helper
# (tests/kafka-mock/kafka-mock.c). Apache Kafka itself cannot be installed here.
# Idempotent: installs librdkafka-dev and a C compiler only when missing, rebuilds the helper only
# when it is missing or older than its source. Tests start the helper themselves (tests/helpers/kafka.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || need+=(librdkafka-dev)
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v make >/dev/null 2>&1 || need+=(make)   # node-gyp (node-rdkafka) needs it
command -v g++ >/dev/null 2>&1 || need+=(g++)
if [ "${#need[@]}" -gt 0 ]; then
  echo "kafka setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
    || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

src=kafka-mock/kafka-mock.c
bin=.services/kafka-mock
mkdir -p .services
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
  echo "kafka setup: building $bin"
  # shellcheck disable=SC2046
  cc -O2 -Wall -Wextra -o "$bin.tmp" "$src" $(pkg-config --cflags --libs rdkafka 2>/dev/null || echo -lrdkafka)
  mv "$bin.tmp" "$bin"
fi

# node-rdkafka is an optional dependency: when npm skipped or could not run its native build (e.g.
# `npm ci --ignore-scripts`), build it now against the system librdkafka installed above. When npm
# dropped it altogether (its build failed), the node-rdkafka tests skip themselves with a message.
rdk=../node_modules/node-rdkafka
if [ -f "$rdk/package.json" ] && [ ! -f "$rdk/build/Release/node-librdkafka.node" ]; then
  echo "kafka setup: building node-rdkafka against the system librdkafka"
  (cd .. && BUILD_LIBRDKAFKA=0 npm rebuild node-rdkafka >/dev/null) || echo "kafka setup: node-rdkafka did not build; its tests will be skipped"
fi
