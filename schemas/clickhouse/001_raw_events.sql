-- Raw firehose events as the engine decoded them (schemas/events.ts), one table per kind.
-- Written by ClickHouseSink with postRows / engagementRows (sinks/clickhouse/rows.ts).
--
-- Every table written by the engine keeps insert hashes (non_replicated_deduplication_window): the sink
-- inserts each chunk under a deterministic insert_deduplication_token, and a replay after a crash that
-- re-sends a chunk is dropped by ClickHouse (docs/clickhouse.md). 10000 blocks per table is far more than
-- the chunks a replay can re-send (those since the last checkpoint).

-- One row per post. ReplacingMergeTree on the post's identity as a second line of defence: where tokens
-- are unavailable a replayed post is a physical duplicate until the next merge, and FINAL hides it.
CREATE TABLE IF NOT EXISTS posts
(
    post_id           String,
    platform          LowCardinality(String),
    creator_id        String,
    creator_followers UInt64,
    posted_at         DateTime64(3, 'UTC'),
    caption           String CODEC(ZSTD(3)),
    hashtags          Array(LowCardinality(String)),
    sound_id          Nullable(String),
    duration_sec      Float32,
    language          LowCardinality(String),
    embedding         Array(Float32) CODEC(ZSTD(1)),
    inserted_at       DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(posted_at)
-- creator first: "a creator's posts" and per-creator baselines read one range
ORDER BY (platform, creator_id, posted_at, post_id)
TTL toDateTime(posted_at) + INTERVAL 180 DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- The highest-volume table and the only one without a natural key (a user may view a post twice in
-- the same millisecond), so plain MergeTree: exactness comes from the insert tokens alone.
-- Daily partitions so the 30-day TTL drops whole parts (ttl_only_drop_parts) instead of rewriting them.
CREATE TABLE IF NOT EXISTS engagements
(
    post_id        String,
    platform       LowCardinality(String),
    type           LowCardinality(String),
    at             DateTime64(3, 'UTC'),
    watch_time_sec Nullable(Float32),
    comment_text   Nullable(String) CODEC(ZSTD(3)),
    user_id        String,
    inserted_at    DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (platform, post_id, at)
TTL toDateTime(at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;
