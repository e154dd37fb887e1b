-- Brand-monitoring alerts (schemas/outputs.ts BrandAlert). alert_id is deterministic (same input, same
-- id), so ReplacingMergeTree on it collapses any re-emitted alert.
CREATE TABLE IF NOT EXISTS brand_alerts
(
    alert_id    String,
    brand_id    String,
    rule        LowCardinality(String),
    entity      String,
    post_id     Nullable(String),
    severity    LowCardinality(String),
    reason      String,
    at          DateTime64(3, 'UTC'),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (brand_id, at, alert_id)
TTL toDateTime(at) + INTERVAL 365 DAY
SETTINGS non_replicated_deduplication_window = 10000;
