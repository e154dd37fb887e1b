// ClickHouse output: a server over HTTP or chDB in process, through @clickhouse/client only.
// See docs/clickhouse.md (design, exactly-once) and docs/sql-cookbook.md (queries).
export { createClickHouse, clickHouseOptionsSchema, type ClickHouse, type ClickHouseCapabilities, type ClickHouseOptions } from './client.ts'
export { classifyClickHouseError, clickHouseFailure, RETRYABLE_CODES } from './errors.ts'
export { callChannel, insertChannel, type CallEvent, type InsertEvent } from './insert.ts'
export { ClickHouseSink, clickHouseSinkOptionsSchema, type ClickHouseSinkOptions, type ClickHouseSinkState, type DedupMode } from './sink.ts'
export { ClickHouseDeadLetterTable, sinkDeadLetters, rejectedToDeadLetters, type DeadLetterTarget, type RejectedChunk } from './dead-letters.ts'
export * from './rows.ts'
export { migrate, migrationStatus, loadMigrations, splitStatements, MIGRATIONS_DIR } from './migrate.ts'
export { clickhouseSinksForHashtagActivity, type HashtagActivityClickHouseSinks } from './hashtag-activity.ts'
