// WeaviateVectorIndex: the VectorIndex on Weaviate, through weaviate-ts-client 2.x (REST + GraphQL).
//
// Classes (created by open() if missing; one per kind):
//   `${classPrefix}Post`, `${classPrefix}Trend`   vectorizer: none (vectors supplied), cosine distance
//   properties: itemId (text, tokenization field: exact match), platform (text, field),
//               language (text, field), time (date, RFC 3339), text (text), model (text, field),
//               version (number)
// Weaviate reserves `id`, hence `itemId`; the object's UUID is UUIDv5 of `${kind}:${itemId}`
// (weaviate-ts-client generateUuid5), so re-sending an item addresses the same object.
//
// Upserts: POST /v1/batch/objects in batches of `batchSize`; Weaviate replaces an object sent again
// with the same UUID, so a re-delivered batch is idempotent. Caveat: Weaviate has no conditional
// write, so a stale trend vector re-sent after a newer one wins until the newer one comes again; a
// replay after a crash re-sends the items in their original order and ends in the same state.
// Objects the batch refuses (e.g. wrong vector length) fail the call with SINK_REJECTED.
// Search: GraphQL Get with nearVector, a where filter (And of platform / language / time / model) and
// limit; _additional { id distance } gives the cosine distance.
// Retries: exponential backoff with jitter on 408/429/5xx and connection errors, for every call.
import pino, { type Logger } from 'pino'
import * as weaviateModule from 'weaviate-ts-client'
import { ApiKey, generateUuid5, type ConnectionParams, type WeaviateClass, type WeaviateClient, type WhereFilter } from 'weaviate-ts-client'
import { z } from 'zod'
import { parseOptions, retryOptionsSchema } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { defaultEmbedder, EMBEDDING_DIM, type TextEmbedder } from '../../operators/embeddings/embed.ts'
import type { Platform } from '../../schemas/events.ts'
import { retrying } from '../retry.ts'
import { hasDirection, prepareQuery } from './items.ts'
import type { SearchFilter, SearchHit, SearchOptions, VectorIndex, VectorItem, VectorKind } from './types.ts'

export const weaviateVectorIndexOptionsSchema = z.object({
  /** e.g. http://127.0.0.1:8080 (the REST root without /v1). */
  url: z.url(),
  apiKey: z.string().min(1).optional(),
  /** Class names are `${classPrefix}Post` and `${classPrefix}Trend`. */
  classPrefix: z.string().regex(/^[A-Z][_0-9A-Za-z]*$/, 'a Weaviate class name start: capital letter, then letters, digits, _').default('Trendwire'),
  dim: z.number().int().min(2).max(65_536).default(EMBEDDING_DIM),
  batchSize: z.number().int().min(1).max(10_000).default(200),
  retry: retryOptionsSchema({ initialDelayMs: 100, maxDelayMs: 5_000 }).prefault({}),
}).strict()
export type WeaviateVectorIndexOptions = z.input<typeof weaviateVectorIndexOptionsSchema>

// The package ships ESM (index.mjs: `export default app`) with CJS-style typings, which NodeNext reads
// as a namespace whose `default` is the app: take whichever the runtime gives.
const weaviate = ((weaviateModule as { default?: unknown }).default ?? weaviateModule) as { client(p: ConnectionParams): WeaviateClient }

const FIELDS = 'itemId platform language time text model version _additional { id distance }'

/** The deterministic object UUID of an item. */
export function weaviateObjectId(kind: VectorKind, id: string): string {
  return generateUuid5(`${kind}:${id}`, 'trendwire')
}

/** HTTP status of a weaviate-ts-client error: REST "usage error (503): …", graphql-request ClientError.response.status. */
function statusOf(err: unknown): number | null {
  const e = err as { response?: { status?: number }; message?: string } | null
  if (typeof e?.response?.status === 'number') return e.response.status
  const m = /usage error \((\d{3})\)/.exec(e?.message ?? '')
  return m ? Number(m[1]) : null
}

export function isRetryableWeaviateError(err: unknown): boolean {
  if (err instanceof TrendwireError) return err.retryable
  const s = statusOf(err)
  if (s !== null) return s === 408 || s === 429 || s >= 500
  const e = err as { message?: string; cause?: { code?: string } } | null
  const code = e?.cause?.code
  if (code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|ENOTFOUND|UND_ERR_\w+)$/.test(code)) return true
  return /fetch failed|socket hang up|network/i.test(e?.message ?? '')
}

export class WeaviateVectorIndex implements VectorIndex {
  readonly opts: z.output<typeof weaviateVectorIndexOptionsSchema>
  readonly dim: number
  readonly embedder: TextEmbedder
  readonly client: WeaviateClient
  readonly classOf: Record<VectorKind, string>
  private readonly log: Logger
  private schemaReady = false
  readonly stats = { upserted: 0, skippedZero: 0, batches: 0, retries: 0, classesCreated: 0 }

  constructor(readonly name: string, options: WeaviateVectorIndexOptions, deps: { embedder?: TextEmbedder; logger?: Logger; client?: WeaviateClient } = {}) {
    this.opts = parseOptions(`weaviate vector index "${name}"`, weaviateVectorIndexOptionsSchema, options)
    this.dim = this.opts.dim
    this.embedder = deps.embedder ?? defaultEmbedder()
    if (this.embedder.dim !== this.dim) throw new TrendwireError('CONFIG_INVALID', `weaviate vector index "${name}": embedder dimension ${this.embedder.dim} ≠ dim ${this.dim}`)
    const u = new URL(this.opts.url)
    this.client = deps.client ?? weaviate.client({
      scheme: u.protocol.replace(':', ''),
      host: u.host + (u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')),
      ...(this.opts.apiKey ? { apiKey: new ApiKey(this.opts.apiKey) } : {}),
    })
    this.classOf = { post: `${this.opts.classPrefix}Post`, trend: `${this.opts.classPrefix}Trend` }
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  }

  /** The class definition for a kind (vectorizer none, cosine distance, filterable properties). */
  classDefinition(kind: VectorKind): WeaviateClass {
    return {
      class: this.classOf[kind],
      description: `trendwire ${kind} vectors (${this.embedder.modelId} or upstream; ${this.dim} dimensions)`,
      vectorizer: 'none',
      vectorIndexType: 'hnsw',
      vectorIndexConfig: { distance: 'cosine' },
      properties: [
        { name: 'itemId', dataType: ['text'], tokenization: 'field', description: 'post id, or platform:entityType:entity' },
        { name: 'platform', dataType: ['text'], tokenization: 'field' },
        { name: 'language', dataType: ['text'], tokenization: 'field' },
        { name: 'time', dataType: ['date'], description: 'postedAt, or the trend window end' },
        { name: 'text', dataType: ['text'] },
        { name: 'model', dataType: ['text'], tokenization: 'field' },
        { name: 'version', dataType: ['number'] },
      ],
    }
  }

  async open(): Promise<void> {
    if (this.schemaReady) return
    const schema = await this.retrying('read schema', () => this.client.schema.getter().do())
    const have = new Set((schema.classes ?? []).map((c) => c.class))
    for (const kind of ['post', 'trend'] as const) {
      if (have.has(this.classOf[kind])) continue
      try {
        await this.retrying(`create class ${this.classOf[kind]}`, () => this.client.schema.classCreator().withClass(this.classDefinition(kind)).do())
        this.stats.classesCreated++
      } catch (err) {
        // another process created it between our read and our write
        if (!/already exists/i.test((err as Error).message)) throw err
      }
    }
    this.schemaReady = true
  }

  async upsert(items: readonly VectorItem[]): Promise<void> {
    const objs: Array<{ class: string; id: string; properties: Record<string, unknown>; vector: number[] }> = []
    for (const it of items) {
      if (it.vector.length !== this.dim) throw new TrendwireError('SINK_REJECTED', `weaviate vector index "${this.name}": ${it.kind} ${it.id} has a ${it.vector.length}-dimensional vector, the index has ${this.dim}`)
      if (!hasDirection(it.vector)) { this.stats.skippedZero++; continue }
      objs.push({
        class: this.classOf[it.kind],
        id: weaviateObjectId(it.kind, it.id),
        properties: { itemId: it.id, platform: it.platform, language: it.language, time: new Date(it.time).toISOString(), text: it.text, model: it.model, version: it.version },
        vector: Array.from(it.vector),
      })
    }
    if (objs.length > 0) await this.open()
    for (let i = 0; i < objs.length; i += this.opts.batchSize) {
      const chunk = objs.slice(i, i + this.opts.batchSize)
      const res = await this.retrying(`batch of ${chunk.length} objects`, () => this.client.batch.objectsBatcher().withObjects(...chunk).do())
      const failed: string[] = []
      for (const r of res) {
        const errs = r.result?.errors?.error
        if (errs && errs.length > 0) failed.push(`${String(r.properties?.itemId ?? r.id)}: ${errs.map((e) => e.message).join('; ')}`)
      }
      if (failed.length > 0) {
        throw new TrendwireError('SINK_REJECTED', `weaviate vector index "${this.name}": ${failed.length} of ${chunk.length} objects refused: ${failed.slice(0, 3).join(' | ')}`, { details: { failed: failed.length } })
      }
      this.stats.batches++
      this.stats.upserted += chunk.length
    }
  }

  async search(query: ArrayLike<number> | string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const q = prepareQuery(`weaviate vector index "${this.name}"`, query, opts, this.embedder, this.dim)
    if (!q) return []
    const { vec, k, kind, filter } = q
    const cls = this.classOf[kind]
    const where = whereFilter(filter)
    const vector = Array.from(vec)
    const res = await this.retrying('search', () => {
      let q = this.client.graphql.get().withClassName(cls).withFields(FIELDS).withNearVector({ vector }).withLimit(k)
      if (where) q = q.withWhere(where)
      return q.do()
    })
    const rows = (res?.data?.Get?.[cls] ?? []) as Array<{ itemId: string; platform: Platform; language: string; time: string; text: string; model: string; version: number; _additional: { id: string; distance: number } }>
    // Weaviate's HNSW is approximate too (ef, dynamic by default); `exact` has no per-query switch there.
    return rows.map((r) => ({
      kind, id: r.itemId, distance: Number(r._additional.distance), platform: r.platform, language: r.language ?? '',
      time: Date.parse(r.time), text: r.text ?? '', model: r.model ?? '', version: Number(r.version ?? 0),
    }))
  }

  async close(): Promise<void> {
    // the client holds no connection of its own (fetch per call)
  }

  private retrying<R>(what: string, fn: () => Promise<R>): Promise<R> {
    const ctx = `weaviate vector index "${this.name}" at ${this.opts.url}: ${what}`
    return retrying(fn, {
      policy: this.opts.retry,
      fatal: (err) => (isRetryableWeaviateError(err) ? undefined : new TrendwireError('SINK_REJECTED', `${ctx}: ${(err as Error).message}`, { cause: err, details: { status: statusOf(err) } })),
      exhausted: (err, failing, attempts) => new TrendwireError('SINK_UNAVAILABLE', `${ctx}: still failing after ${failing} ms and ${attempts} attempts: ${(err as Error).message}`, { cause: err }),
      onRetry: (err, attempt) => {
        this.stats.retries++
        this.log.warn({ index: this.name, what, attempt, status: statusOf(err), err: (err as Error).message }, 'weaviate call failed, retrying')
      },
    })
  }

}

/** Weaviate where filter for a SearchFilter (And of the parts; lists become Or of Equal). */
export function whereFilter(f: SearchFilter): WhereFilter | null {
  const parts: WhereFilter[] = []
  const anyOf = (path: string, v: string | readonly string[]): WhereFilter => {
    const list = typeof v === 'string' ? [v] : [...v]
    const eq = list.map((x): WhereFilter => ({ path: [path], operator: 'Equal', valueText: x }))
    return eq.length === 1 ? eq[0] : { operator: 'Or', operands: eq }
  }
  if (f.platform !== undefined) parts.push(anyOf('platform', f.platform))
  if (f.language !== undefined) parts.push(anyOf('language', f.language))
  if (f.from !== undefined) parts.push({ path: ['time'], operator: 'GreaterThanEqual', valueDate: new Date(f.from).toISOString() })
  if (f.to !== undefined) parts.push({ path: ['time'], operator: 'LessThan', valueDate: new Date(f.to).toISOString() })
  if (f.model !== undefined) parts.push({ path: ['model'], operator: 'Equal', valueText: f.model })
  if (parts.length === 0) return null
  return parts.length === 1 ? parts[0] : { operator: 'And', operands: parts }
}
