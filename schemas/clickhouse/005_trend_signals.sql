-- How a hashtag, sound or term trends on a platform over a window, against its baseline
-- (schemas/outputs.ts TrendSignal). Corrections carry revision + 1: ReplacingMergeTree(revision).
-- Keyed platform → entity so "a trend's history" is one range and "emerging on a platform" one prefix.
CREATE TABLE IF NOT EXISTS trend_signals
(
    entity_type           LowCardinality(String),
    entity                String,
    platform              LowCardinality(String),
    window_start          DateTime64(3, 'UTC'),
    window_end            DateTime64(3, 'UTC'),
    uses                  UInt64,
    unique_creators       UInt64,
    total_engagement      UInt64,
    growth                Float64,
    baseline              Float64,
    observed              Float64,
    deviation             Float64,
    score                 Float64,
    stage                 LowCardinality(String),
    contributing_post_ids Array(String),
    revision              UInt32,
    inserted_at           DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (platform, entity_type, entity, window_start)
TTL toDateTime(window_start) + INTERVAL 180 DAY
SETTINGS non_replicated_deduplication_window = 10000;
