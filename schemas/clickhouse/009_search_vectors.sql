-- Vectors of posts and trends for similarity search (sinks/search/clickhouse.ts, ClickHouseVectorIndex;
-- docs/search-and-state.md). One row per (kind, id): a post by its post id, a trend by
-- "platform:entityType:entity". ReplacingMergeTree(version): a newer vector of the same item (a trend's
-- next window or revision) replaces the older one, and a re-delivered duplicate (same version) collapses;
-- searches read FINAL or re-check candidates against FINAL, so neither is ever seen twice.
--
-- No partition key on purpose: a trend's row moves in time (time = its newest window end), and
-- ReplacingMergeTree only collapses rows inside one partition. No TTL either: replays and the synthetic
-- firehose (2024 by default) carry event times far in the past, which a TTL on `time` would delete on
-- the next merge. Add one per deployment (ALTER TABLE search_vectors MODIFY TTL …) if retention is wanted.
--
-- vector: Array(Float32) of the embedding (operators/embeddings, 256 dimensions by default; upstream
-- embeddings of the same length are stored as they are, with model = 'upstream'). Unit length, so
-- cosineDistance = 1 - dot product.
--
-- The approximate vector index (vector_similarity, HNSW, ClickHouse ≥ 25.8 / chDB ≥ 3.4) is not created
-- here, so this file applies on every ClickHouse the schema supports (≥ 23.1): ClickHouseVectorIndex.open()
-- adds it with ALTER TABLE … ADD INDEX IF NOT EXISTS when the server has it (option vectorIndex: 'auto').
CREATE TABLE IF NOT EXISTS search_vectors
(
    kind        LowCardinality(String),
    id          String,
    platform    LowCardinality(String),
    language    LowCardinality(String),
    time        DateTime64(3, 'UTC'),
    text        String CODEC(ZSTD(3)),
    model       LowCardinality(String),
    version     UInt64,
    vector      Array(Float32),
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, id)
SETTINGS non_replicated_deduplication_window = 10000;
