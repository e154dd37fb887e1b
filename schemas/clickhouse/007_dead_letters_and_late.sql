-- What the engine could not use, kept with the reason so nothing disappears silently.

-- Undecodable input (streams/types.ts DeadLetter, from sources) and rows ClickHouse refused
-- (code SINK_REJECTED, source "clickhouse:<sink>", position "<chunk token>#<row>", payload = the row's
-- JSON line). payload holds the original bytes as text when they are UTF-8, else base64.
CREATE TABLE IF NOT EXISTS dead_letters
(
    source           LowCardinality(String),
    partition        String,
    position         String,
    code             LowCardinality(String),
    reason           String,
    payload          String CODEC(ZSTD(3)),
    payload_encoding LowCardinality(String),
    at               DateTime64(3, 'UTC'),
    inserted_at      DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (source, code, at)
TTL toDateTime(at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

-- Records beyond a window's allowed lateness (streams/windows.ts LateRecord): the operator, why, the
-- record's event time and the watermark it arrived behind (reasons carry numbers: plain String);
-- value is the record as JSON.
CREATE TABLE IF NOT EXISTS late_records
(
    operator    LowCardinality(String),
    reason      String,
    time        DateTime64(3, 'UTC'),
    watermark   Nullable(DateTime64(3, 'UTC')),
    value       String CODEC(ZSTD(3)),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (operator, time)
TTL toDateTime(time) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
