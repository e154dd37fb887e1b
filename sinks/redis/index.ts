// Redis: the state the API serves, and the fan-out to API / WebSocket processes (docs/search-and-state.md).
export { createRedis, ensureConnected, isRetryableRedisError, type RedisClientOptions } from './client.ts'
export { RedisKeys } from './keys.ts'
export { RedisStateSink, redisStateSinkOptionsSchema, type RedisStateSinkOptions, type RedisStateSinkState } from './state-sink.ts'
export { trendStateFormat, scoreStateFormat, alertStateFormat, type RedisStateFormat, type RedisTtls } from './formats.ts'
export { RedisFanoutSubscriber, compareStreamIds, parseStreamId, streamInfo, type FanoutMessage, type FanoutGap, type FanoutHandler, type FanoutHooks, type FanoutSubscriberOptions } from './fanout.ts'
export { RedisStateReader, type TopTrend, type TrendLifecycle } from './reader.ts'
