// One search interface over post and trend vectors (docs/search-and-state.md): VectorIndex with an
// embedded ClickHouse/chDB implementation (default) and a Weaviate one, and a Sink that feeds either.
export type { VectorIndex, VectorItem, VectorKind, SearchFilter, SearchOptions, SearchHit } from './types.ts'
export { ClickHouseVectorIndex, clickHouseVectorIndexOptionsSchema, type ClickHouseVectorIndexOptions } from './clickhouse.ts'
export { WeaviateVectorIndex, weaviateVectorIndexOptionsSchema, weaviateObjectId, whereFilter, type WeaviateVectorIndexOptions } from './weaviate.ts'
export { VectorIndexSink, vectorIndexSinkOptionsSchema, type VectorIndexSinkOptions } from './sink.ts'
export { postItem, trendItem, trendItemId, trendVersion, hasDirection } from './items.ts'
