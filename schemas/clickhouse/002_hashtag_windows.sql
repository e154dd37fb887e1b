-- Window results of topologies/hashtag-activity.ts (HashtagWindowCount): hashtag uses per 1-minute
-- tumbling window, and hashtag engagement over 10-minute windows sliding by 1 minute.
--
-- A window is emitted with revision 0 when it fires and re-emitted with revision + 1 when late data
-- within the allowed lateness corrects it. ReplacingMergeTree(revision) keyed on (hashtag, window)
-- keeps the highest revision: the corrected count wins, and a replayed duplicate (same revision)
-- collapses too. Read with FINAL, or argMax(count, revision) (the *_latest views in 008).
-- Hashtags are Zipf-distributed: a few thousand distinct values per part, so LowCardinality pays.

CREATE TABLE IF NOT EXISTS hashtag_uses_1m
(
    hashtag      LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_end   DateTime64(3, 'UTC'),
    count        UInt64,
    revision     UInt32,
    inserted_at  DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (hashtag, window_start)
TTL toDateTime(window_start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS hashtag_engagement_10m
(
    hashtag      LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_end   DateTime64(3, 'UTC'),
    count        UInt64,
    revision     UInt32,
    inserted_at  DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (hashtag, window_start)
TTL toDateTime(window_start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 10000;
