-- Model predictions (schemas/outputs.ts ViralityScore), one per (post, event time, model version).
-- top_features keeps the model's explanation, largest |contribution| first.
CREATE TABLE IF NOT EXISTS virality_scores
(
    post_id                    String,
    platform                   LowCardinality(String),
    at                         DateTime64(3, 'UTC'),
    predicted_final_engagement Float64,
    prob_top1pct               Float64,
    model_version              LowCardinality(String),
    top_features               Array(Tuple(name String, value Float64, contribution Float64)),
    inserted_at                DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (platform, post_id, at, model_version)
TTL toDateTime(at) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;
