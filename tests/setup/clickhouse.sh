#!/usr/bin/env bash
# A real ClickHouse server for the sink's server tests: Debian's clickhouse-server package (18.16 on
# bookworm — old, no insert_deduplication_token, but a real HTTP interface to fail and restart),
# with a private config and data folder under tests/.services/clickhouse, on loopback only, HTTP on
# 18123 and native on 19000 (not 8123/9000: a system ClickHouse may own those).
# Idempotent: installs only when missing, (re)writes the config, starts the server only when /ping
# does not answer, and waits — bounded — until it does. Tests restart it by running this again.
# If the package cannot be installed the script says so and exits 0: the server tests then skip,
# naming the reason. A server that is installed but does not start is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

HTTP_PORT="${TRENDWIRE_CH_HTTP_PORT:-18123}"
TCP_PORT="${TRENDWIRE_CH_TCP_PORT:-19000}"
dir="$PWD/.services/clickhouse"
ping_url="http://127.0.0.1:${HTTP_PORT}/ping"

need=()
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  echo "clickhouse setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d (containers) keeps the package's own service from starting on 8123.
  if ! { $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
      || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }; }; then
    mkdir -p "$dir"
    echo "apt-get install ${need[*]} failed" > "$dir/unavailable"
    echo "clickhouse setup: could not install ${need[*]}; ClickHouse server tests will be skipped" >&2
    exit 0
  fi
fi
rm -f "$dir/unavailable"

if curl -sf "$ping_url" >/dev/null 2>&1; then
  exit 0
fi

mkdir -p "$dir/data" "$dir/tmp" "$dir/log" "$dir/user_files"
cat > "$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/log/server.log</log>
    <errorlog>$dir/log/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <http_port>${HTTP_PORT}</http_port>
  <tcp_port>${TCP_PORT}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>32</max_concurrent_queries>
</yandex>
EOF
cat > "$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF

# A pid file left by a killed server: that process is gone, or still shutting down — wait for it.
if [ -f "$dir/clickhouse.pid" ]; then
  old=$(cat "$dir/clickhouse.pid" 2>/dev/null || true)
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && grep -q clickhouse "/proc/$old/cmdline" 2>/dev/null; then
    for _ in $(seq 1 80); do kill -0 "$old" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$dir/clickhouse.pid"
fi

echo "clickhouse setup: starting clickhouse-server on 127.0.0.1:${HTTP_PORT}"
# setsid: its own session, so it outlives this script and the test process that ran it.
setsid clickhouse-server --config-file="$dir/config.xml" >>"$dir/log/stdout.log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$dir/clickhouse.pid"
for _ in $(seq 1 240); do
  if curl -sf "$ping_url" >/dev/null 2>&1; then exit 0; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "clickhouse setup: clickhouse-server exited during start-up; last log lines:" >&2
    tail -n 20 "$dir/log/server.err.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.25
done
echo "clickhouse setup: no answer on $ping_url after 60 s" >&2
exit 1
