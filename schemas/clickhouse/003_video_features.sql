-- Per-post features over event-time windows (schemas/outputs.ts VideoFeatures). Rates are per minute
-- of window length. Corrections from late data carry revision + 1: ReplacingMergeTree(revision).
CREATE TABLE IF NOT EXISTS video_features
(
    post_id                   String,
    platform                  LowCardinality(String),
    window_start              DateTime64(3, 'UTC'),
    window_end                DateTime64(3, 'UTC'),
    revision                  UInt32,
    views_per_min             Float64,
    likes_per_min             Float64,
    shares_per_min            Float64,
    comments_per_min          Float64,
    saves_per_min             Float64,
    velocity                  Float64,
    acceleration              Float64,
    engagement_rate           Float64,
    share_rate                Float64,
    avg_watch_time_sec        Nullable(Float64),
    completion_rate           Nullable(Float64),
    ratio_to_creator_baseline Nullable(Float64),
    minutes_since_posting     Float64,
    creator_followers         UInt64,
    hashtags                  Array(LowCardinality(String)),
    sound_id                  Nullable(String),
    language                  LowCardinality(String),
    caption_length            UInt32,
    views_since_posting       Nullable(UInt64),  -- optional in VideoFeatures (v2): null when not computed
    engagements_since_posting Nullable(UInt64),
    inserted_at               DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (platform, post_id, window_start)
TTL toDateTime(window_start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;
