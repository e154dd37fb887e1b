-- Bookkeeping for ClickHouseSink's exactly-once restore (sinks/clickhouse/sink.ts, docs/clickhouse.md):
-- every row the engine writes says which sink lineage wrote it (_tw_writer, random per lineage) and in
-- which chunk (_tw_chunk = checkpoint epoch · 2^20 + chunk index). After a crash the sink deletes the
-- rows its lineage wrote after the restored checkpoint and writes them again from the replay, the way
-- the file sink truncates — exact even when ClickHouse itself died with the job (embedded chDB), which
-- insert deduplication tokens alone are not: a non-replicated table's token log is buffered in memory.
-- Rows written before this migration, or by other writers, keep 0 and 0. The minmax index lets those
-- deletes skip the old parts.
ALTER TABLE posts
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE engagements
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE hashtag_uses_1m
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE hashtag_engagement_10m
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE video_features
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE virality_scores
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE trend_signals
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE brand_alerts
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

ALTER TABLE late_records
    ADD COLUMN IF NOT EXISTS _tw_writer UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS _tw_chunk UInt64 DEFAULT 0,
    ADD INDEX IF NOT EXISTS _tw_chunk_minmax _tw_chunk TYPE minmax GRANULARITY 1;

-- Each sink lineage's progress: 'open' when it starts, 'committed' with the checkpoint id at each
-- durable checkpoint, 'closed' when it stopped cleanly, 'aborted' once a later start removed what it
-- wrote after its last checkpoint. The sink creates this table itself when missing (same definition,
-- plain SQL that older servers accept too).
CREATE TABLE IF NOT EXISTS trendwire_sink_writers
(
    table_name    String,
    sink          String,
    writer        UInt32,
    state         String,
    checkpoint_id UInt64,
    seq           UInt64,
    at            DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (table_name, sink, writer, seq);
