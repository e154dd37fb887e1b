// The firehose codec: Kafka message values <-> FirehoseEvent, with every bad message turned into a
// DeadLetter and none into a crash.
//
// Confluent wire format (https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format):
//
//   byte 0      magic byte, always 0
//   bytes 1-4   schema id, 32-bit big-endian, as given by the schema registry
//   bytes 5..   Avro binary encoding of the value, written with that schema (no container header)
//
// The firehose's value schema is FirehoseEvent.avsc, a union [PostPublished, Engagement,
// CreatorUpdated], so one subject (`<topic>-value`, Confluent's TopicNameStrategy) carries all three
// kinds and evolves under the registry's compatibility checks; the union branch index (byte 5, a
// zig-zag varint: 0, 2, 4) is what makes `kind` implied by the schema. A writer schema that is one of
// the three records on its own (e.g. a producer using RecordNameStrategy) is read too.
//
// Topics with format 'json' carry plain UTF-8 JSON of the FirehoseEvent objects, `kind` included, no
// framing; they are validated with the zod schemas in json.ts.
//
// Hot path: decodeBatch() awaits at most once per batch (ids it has not seen, all at once), then
// decodes synchronously. A plan is compiled once per writer schema id: when the writer record is the
// reader's own, a single-pass reader that checks and decodes (avro-check.ts compileReader); otherwise
// the bounds-checking walker, then avsc with a resolver, then a copy into a plain object.
// See schemas/README.md, "Bad input" and "Performance".
import avro from 'avsc'
import { z } from 'zod'
import type { DeadLetter } from '../streams/types.ts'
import { TrendwireError, type ErrorCode } from '../streams/errors.ts'
import { parseOptions } from '../streams/config.ts'
import { eventTime, type CreatorUpdated, type Engagement, type FirehoseEvent, type PostPublished } from './events.ts'
import { FirehoseEventJson } from './json.ts'
import { AvroCheckError, Cursor, checkEnd, checkWhole, compileReader, compileWalker, readUnionIndex, type Reader, type Walker } from './avro-check.ts'
import { LocalSchemaRegistry, loadSchemaFiles, parseAvro, valueSubject, type SchemaRegistry } from './registry.ts'

export const MAGIC_BYTE = 0
export const HEADER_BYTES = 5

/** A message as a Kafka client hands it over (kafkajs: batch.topic, batch.partition, message.offset/value). */
export interface InputMessage {
  readonly value: Uint8Array | null
  readonly topic: string
  readonly partition: number
  /** Kafka offsets are 64-bit: kafkajs gives strings. */
  readonly offset: string | number | bigint
}

export interface DecodedBatch {
  /** The good events, in input order. */
  values: FirehoseEvent[]
  /** Event time of each value (epoch ms). */
  times: number[]
  /** One per bad message, in input order, with the original bytes. */
  deadLetters: DeadLetter[]
}

const Format = z.enum(['avro', 'json'])
export type Format = z.infer<typeof Format>

export const FirehoseCodecOptions = z.object({
  /** Per-topic settings; a topic not listed uses defaultFormat. */
  topics: z.record(z.string(), z.object({ format: Format }).strict()).default({}),
  defaultFormat: Format.default('avro'),
  /**
   * Topic encode() writes for when none is given; its schema id is looked up (or registered) at
   * create(). null: decode only -- nothing is registered (a consumer needs no write access to the
   * Schema Registry).
   */
  encodeTopic: z.string().min(1).nullable().default('firehose'),
  /** Larger message values are dead-lettered unread (INPUT_OVERSIZED). */
  maxMessageBytes: z.number().int().positive().default(1_048_576),
  /** Event times further than this ahead of processing time are dead-lettered (INPUT_BAD_TIMESTAMP). */
  maxFutureSkewMs: z.number().int().nonnegative().default(3_600_000),
  /** Event times before this are dead-lettered (INPUT_BAD_TIMESTAMP). Default 2005-01-01T00:00:00Z. */
  minTimestamp: z.number().int().default(Date.UTC(2005, 0, 1)),
  /** DeadLetter.source; default: the message's topic. */
  source: z.string().min(1).optional(),
}).strict()

export type FirehoseCodecInput = z.input<typeof FirehoseCodecOptions>

export interface CodecDeps {
  /** Default: the local registry (schemas/avro/ with ids.json). */
  registry?: SchemaRegistry
  /** Processing-time clock, read once per batch, for the future-skew check and DeadLetter.at. */
  now?: () => number
  /**
   * Use compiled single-pass readers when the writer schema is the reader's (default true). false:
   * always walker + avsc. For the differential test and the benchmark (old vs new).
   */
  compiledReaders?: boolean
}

type Kind = FirehoseEvent['kind']

/** How to read one writer record (a union branch, or the whole value). */
interface BranchPlan {
  readonly problem: string | undefined
  /** Compiled single-pass reader, when the writer record is the reader's own (no resolution). */
  readonly fast: Reader | undefined
  readonly reader: avro.Type | undefined
  readonly resolver: avro.Resolver | undefined
  readonly convert: ((r: any) => FirehoseEvent) | undefined
}

/** Everything needed to read messages written with one schema id, compiled once. */
interface WriterPlan {
  readonly id: number
  readonly problem: string | undefined
  readonly walker: Walker | undefined
  readonly union: boolean
  readonly branches: readonly BranchPlan[]
  readonly label: string
}

const FIREHOSE_RECORDS: Record<string, { kind: Kind; file: string }> = {
  'io.trendwire.PostPublished': { kind: 'post', file: 'PostPublished.avsc' },
  'io.trendwire.Engagement': { kind: 'engagement', file: 'Engagement.avsc' },
  'io.trendwire.CreatorUpdated': { kind: 'creator', file: 'CreatorUpdated.avsc' },
}

// avsc decodes records into instances of a generated class; the engine wants plain objects with `kind`
// (structured-clone friendly, one hidden class per kind). One literal per kind, field by field, in the
// current schema's wire order: the same shape the compiled readers and the JSON path produce.
const CONVERT: Record<Kind, (r: any) => FirehoseEvent> = {
  post: (r): PostPublished => ({
    kind: 'post', postId: r.postId, platform: r.platform, creatorId: r.creatorId, creatorFollowers: r.creatorFollowers,
    postedAt: r.postedAt, caption: r.caption, hashtags: r.hashtags, soundId: r.soundId, durationSec: r.durationSec,
    language: r.language, embedding: r.embedding,
  }),
  engagement: (r): Engagement => ({
    kind: 'engagement', postId: r.postId, platform: r.platform, type: r.type, at: r.at,
    watchTimeSec: r.watchTimeSec, userId: r.userId, commentText: r.commentText,
  }),
  creator: (r): CreatorUpdated => ({
    kind: 'creator', creatorId: r.creatorId, platform: r.platform, followers: r.followers, at: r.at, displayName: r.displayName,
  }),
}

let sharedLocal: LocalSchemaRegistry | undefined
/** One local registry per process: its files never change while running. */
export function localRegistry(): LocalSchemaRegistry {
  return (sharedLocal ??= new LocalSchemaRegistry())
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
}

function iso(t: number): string {
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString()
}

/** Writes the 5-byte Confluent header for `id` at the start of `out`. */
export function writeHeader(out: Uint8Array, id: number): void {
  out[0] = MAGIC_BYTE
  out[1] = (id >>> 24) & 0xff
  out[2] = (id >>> 16) & 0xff
  out[3] = (id >>> 8) & 0xff
  out[4] = id & 0xff
}

/** The schema id of a framed message, or -1 when it has no valid header. */
export function readSchemaId(v: Uint8Array): number {
  if (v.length < HEADER_BYTES || v[0] !== MAGIC_BYTE) return -1
  // Signed, as Confluent's Java serdes read it: negative ids are never assigned, so they stay unknown.
  return (v[1]! << 24) | (v[2]! << 16) | (v[3]! << 8) | v[4]!
}

/** Frames an Avro body: header + body, one allocation. */
export function frame(id: number, body: Uint8Array, prefix?: number): Buffer {
  const extra = prefix === undefined ? 0 : 1
  const out = Buffer.allocUnsafe(HEADER_BYTES + extra + body.length)
  writeHeader(out, id)
  if (prefix !== undefined) out[HEADER_BYTES] = prefix
  out.set(body, HEADER_BYTES + extra)
  return out
}

export class FirehoseCodec {
  readonly options: z.output<typeof FirehoseCodecOptions>
  readonly registry: SchemaRegistry
  private readonly now: () => number
  private readonly readers: Record<Kind, avro.Type>
  private readonly union: avro.Type
  private readonly unionText: string
  /** Union branch index of each kind in FirehoseEvent.avsc, as the zig-zag byte written after the header. */
  private readonly branchByte: Record<Kind, number>
  private readonly plans = new Map<number, WriterPlan>()
  private readonly encodeIds = new Map<string, number>()
  private readonly cursor = new Cursor()
  private readonly compiled: boolean

  private constructor(options: z.output<typeof FirehoseCodecOptions>, deps: CodecDeps) {
    this.options = options
    this.registry = deps.registry ?? localRegistry()
    this.now = deps.now ?? Date.now
    this.compiled = deps.compiledReaders ?? true
    const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))
    const file = (name: string) => files.get(name) ?? (() => { throw new TrendwireError('CONFIG_INVALID', `missing schema file ${name}`) })()
    this.readers = {
      post: file('PostPublished.avsc').type,
      engagement: file('Engagement.avsc').type,
      creator: file('CreatorUpdated.avsc').type,
    }
    this.union = file('FirehoseEvent.avsc').type
    this.unionText = file('FirehoseEvent.avsc').text
    const branches = (this.union as avro.types.WrappedUnionType).types
    const byte = (kind: Kind) => {
      const name = Object.keys(FIREHOSE_RECORDS).find((n) => FIREHOSE_RECORDS[n]!.kind === kind)!
      const i = branches.findIndex((t) => t.name === name)
      if (i < 0 || i > 63) throw new TrendwireError('CONFIG_INVALID', `FirehoseEvent.avsc has no branch ${name}`)
      return i * 2
    }
    this.branchByte = { post: byte('post'), engagement: byte('engagement'), creator: byte('creator') }
    // The local registry knows every id up front: compile all plans now, not on the first message.
    if (this.registry instanceof LocalSchemaRegistry) for (const f of this.registry.files) this.planFor(f.id)
  }

  /**
   * Validates options, compiles the reader types, and looks up (or registers) the schema id encode()
   * uses for encodeTopic when that topic is Avro. Bad options fail here with CONFIG_INVALID.
   */
  static async create(options: FirehoseCodecInput = {}, deps: CodecDeps = {}): Promise<FirehoseCodec> {
    const codec = new FirehoseCodec(parseOptions('FirehoseCodec', FirehoseCodecOptions, options), deps)
    if (codec.options.encodeTopic !== null) await codec.prepareTopic(codec.options.encodeTopic)
    return codec
  }

  /** Makes encode(event, topic) possible for an Avro topic: finds the id of FirehoseEvent under `<topic>-value`. */
  async prepareTopic(topic: string): Promise<void> {
    if (this.formatOf(topic) !== 'avro' || this.encodeIds.has(topic)) return
    const id = await this.registry.register(valueSubject(topic), this.unionText)
    this.encodeIds.set(topic, id)
    this.planFor(id)
  }

  formatOf(topic: string): Format {
    return this.options.topics[topic]?.format ?? this.options.defaultFormat
  }

  /** The schema id encode() frames `topic`'s messages with (after create()/prepareTopic()). */
  schemaIdFor(topic: string | null = this.options.encodeTopic): number | undefined {
    return topic === null ? undefined : this.encodeIds.get(topic)
  }

  /**
   * One event to a message value for `topic`. Throws INPUT_SCHEMA_MISMATCH when the event does not fit
   * the schema (a producer bug), CONFIG_INVALID when the topic was not prepared.
   */
  encode(event: FirehoseEvent, topic: string | null = this.options.encodeTopic): Buffer {
    if (topic === null) throw new TrendwireError('CONFIG_INVALID', 'FirehoseCodec: encode() needs a topic (encodeTopic is null)')
    if (this.formatOf(topic) === 'json') return Buffer.from(JSON.stringify(event), 'utf8')
    const id = this.encodeIds.get(topic)
    if (id === undefined) throw new TrendwireError('CONFIG_INVALID', `FirehoseCodec: topic ${topic} has no schema id; await codec.prepareTopic('${topic}') first`)
    const reader = this.readers[event.kind]
    if (!reader) throw new TrendwireError('INPUT_SCHEMA_MISMATCH', `cannot encode an event of kind ${String((event as { kind?: unknown }).kind)}`)
    let body: Buffer
    try {
      body = reader.toBuffer(event)
    } catch (e) {
      throw new TrendwireError('INPUT_SCHEMA_MISMATCH', `cannot encode ${event.kind} event: ${(e as Error).message}`, { cause: e })
    }
    return frame(id, body, this.branchByte[event.kind])
  }

  /**
   * Decodes a fetch's worth of messages (call it per partition: the values become one SourceBatch).
   * Awaits the registry at most once, for schema ids not seen before; never rejects for bad input.
   * Rejects with SOURCE_FAILED only when the schema registry cannot be reached.
   */
  async decodeBatch(messages: readonly InputMessage[]): Promise<DecodedBatch> {
    const missing = this.unknownIds(messages)
    if (missing) for (const [topic, ids] of missing) await this.registry.resolve(ids, valueSubject(topic))
    return this.decodeBatchSync(messages)
  }

  /** Schema ids in the batch without a compiled plan, grouped by topic; null when there are none. */
  private unknownIds(messages: readonly InputMessage[]): Map<string, number[]> | null {
    let out: Map<string, number[]> | null = null
    let lastTopic = ''
    let avroTopic = false
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      if (m.topic !== lastTopic) { lastTopic = m.topic; avroTopic = this.formatOf(m.topic) === 'avro' }
      const v = m.value
      if (!avroTopic || v === null || v.length > this.options.maxMessageBytes) continue
      const id = readSchemaId(v)
      if (id < 0 || this.plans.has(id) || this.registry.get(id)) continue
      out ??= new Map()
      const ids = out.get(m.topic) ?? []
      if (!ids.includes(id)) ids.push(id)
      out.set(m.topic, ids)
    }
    return out
  }

  /** The synchronous part of decodeBatch: ids the registry has not resolved count as unknown. */
  decodeBatchSync(messages: readonly InputMessage[]): DecodedBatch {
    const values: FirehoseEvent[] = []
    const times: number[] = []
    const deadLetters: DeadLetter[] = []
    const now = this.now()
    const minTs = this.options.minTimestamp
    const maxTs = now + this.options.maxFutureSkewMs
    const maxBytes = this.options.maxMessageBytes
    let lastTopic = ''
    let avroTopic = false
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      const v = m.value
      if (v === null) {
        deadLetters.push(this.deadLetter(m, 'INPUT_MALFORMED', 'null value (a tombstone?): firehose messages must carry an event', now))
        continue
      }
      if (v.length > maxBytes) {
        deadLetters.push(this.deadLetter(m, 'INPUT_OVERSIZED', `message value is ${v.length} bytes, more than maxMessageBytes (${maxBytes})`, now))
        continue
      }
      if (m.topic !== lastTopic) { lastTopic = m.topic; avroTopic = this.formatOf(m.topic) === 'avro' }
      const e = avroTopic ? this.decodeAvro(v) : this.decodeJson(v)
      if (typeof e === 'string') {
        // decodeAvro/decodeJson return "CODE|reason" on failure: no exception objects on the way out.
        const bar = e.indexOf('|')
        deadLetters.push(this.deadLetter(m, e.slice(0, bar) as ErrorCode, e.slice(bar + 1), now))
        continue
      }
      const t = eventTime(e)
      if (t < minTs || t > maxTs) {
        const why = t < minTs
          ? `is before the earliest accepted time ${iso(minTs)}`
          : `is more than maxFutureSkewMs (${this.options.maxFutureSkewMs}) ahead of processing time ${iso(now)}`
        deadLetters.push(this.deadLetter(m, 'INPUT_BAD_TIMESTAMP', `${e.kind} event time ${t} (${iso(t)}) ${why}`, now))
        continue
      }
      values.push(e)
      times.push(t)
    }
    return { values, times, deadLetters }
  }

  private decodeAvro(v: Uint8Array): FirehoseEvent | string {
    if (v.length < HEADER_BYTES) {
      return `INPUT_MALFORMED|${v.length} byte(s) is too short for the Confluent wire header (magic byte + 4-byte schema id)`
    }
    if (v[0] !== MAGIC_BYTE) {
      const hint = v[0] === 0x7b ? ' (looks like JSON on an Avro topic)' : ''
      return `INPUT_MALFORMED|bad magic byte 0x${v[0]!.toString(16).padStart(2, '0')}, expected 0x00${hint}`
    }
    const id = readSchemaId(v)
    const plan = this.plans.get(id) ?? this.planFor(id)
    if (!plan) return `INPUT_UNKNOWN_SCHEMA|schema id ${id} is not known to the ${this.registry.kind} schema registry`
    if (plan.problem) return `INPUT_SCHEMA_MISMATCH|${plan.problem}`
    const buf = asBuffer(v)
    const c = this.cursor.reset(buf, HEADER_BYTES, buf.length)
    let branch: BranchPlan
    let pos: number
    try {
      branch = plan.union ? plan.branches[readUnionIndex(c, plan.branches.length, plan.label)]! : plan.branches[0]!
      pos = c.pos
      // Fast path: one compiled pass that checks and decodes (writer schema = reader schema).
      if (branch.fast) {
        const e = branch.fast(c) as FirehoseEvent
        checkEnd(c, plan.label)
        return e
      }
      // Slow path: walk everything first (bounds, indices, end), then let avsc resolve and decode.
      c.reset(buf, HEADER_BYTES, buf.length)
      checkWhole(plan.walker!, c, plan.label)
    } catch (err) {
      if (err instanceof AvroCheckError) {
        return `${err.kind === 'malformed' ? 'INPUT_MALFORMED' : 'INPUT_SCHEMA_MISMATCH'}|schema id ${id}: ${err.message}`
      }
      // Not expected (the readers check bounds before reading); still the message's problem to report, not a crash.
      return `INPUT_SCHEMA_MISMATCH|schema id ${id}: unexpected decoder error: ${(err as Error)?.message ?? err}`
    }
    if (branch.problem) return `INPUT_SCHEMA_MISMATCH|${branch.problem}`
    try {
      const r = branch.reader!.decode(buf, pos, branch.resolver)
      if (r.offset !== buf.length) return `INPUT_MALFORMED|schema id ${id}: record ends at byte ${r.offset} of ${buf.length}`
      return branch.convert!(r.value)
    } catch (err) {
      // The walker should have caught everything avsc can object to; this is the safety net.
      return `INPUT_SCHEMA_MISMATCH|schema id ${id}: ${(err as Error).message}`
    }
  }

  private decodeJson(v: Uint8Array): FirehoseEvent | string {
    let raw: unknown
    try {
      raw = JSON.parse(asBuffer(v).toString('utf8'))
    } catch (err) {
      return `INPUT_MALFORMED|not valid JSON: ${(err as Error).message}`
    }
    const r = FirehoseEventJson.safeParse(raw)
    if (r.success) return r.data
    const issues = r.error.issues.slice(0, 8).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    const more = r.error.issues.length > 8 ? `; and ${r.error.issues.length - 8} more` : ''
    return `INPUT_SCHEMA_MISMATCH|JSON does not match the FirehoseEvent schema: ${issues.join('; ')}${more}`
  }

  private deadLetter(m: InputMessage, code: ErrorCode, reason: string, at: number): DeadLetter {
    return {
      source: this.options.source ?? m.topic,
      partition: `${m.topic}/${m.partition}`,
      position: String(m.offset),
      code,
      reason,
      // A copy: the client may reuse its fetch buffer, and a dead letter must keep the bytes as they were.
      payload: m.value === null ? new Uint8Array(0) : Buffer.from(m.value),
      at,
    }
  }

  /** Compiles (and caches) the plan for a writer schema id; undefined when the registry does not know it. */
  private planFor(id: number): WriterPlan | undefined {
    const cached = this.plans.get(id)
    if (cached) return cached
    const s = this.registry.get(id)
    if (!s) return undefined
    const plan = this.compilePlan(id, s.type, s.problem)
    this.plans.set(id, plan)
    return plan
  }

  private compilePlan(id: number, type: avro.Type | undefined, problem: string | undefined): WriterPlan {
    const bad = (p: string): WriterPlan => ({ id, problem: p, walker: undefined, union: false, branches: [], label: '' })
    if (!type) return bad(problem ?? `schema id ${id} is not an Avro schema`)
    const union = type.typeName.startsWith('union')
    const writers = union ? (type as avro.types.WrappedUnionType).types : [type]
    const branches = writers.map((w) => this.branchPlan(id, w))
    if (!union && branches[0]!.problem) return bad(branches[0]!.problem)
    const label = union ? 'FirehoseEvent' : type.name!.slice(type.name!.lastIndexOf('.') + 1)
    return { id, problem: undefined, walker: compileWalker(type, label), union, branches, label }
  }

  private branchPlan(id: number, writer: avro.Type): BranchPlan {
    const known = writer.name ? FIREHOSE_RECORDS[writer.name] : undefined
    const none = { reader: undefined, resolver: undefined, convert: undefined, fast: undefined }
    if (!known || writer.typeName !== 'record') {
      return { ...none, problem: `schema id ${id}: ${writer.name ?? writer.typeName} is not a firehose event this version of trendwire reads` }
    }
    const reader = this.readers[known.kind]
    try {
      // Same canonical form: read directly, no resolver (a little faster, and the common case).
      const resolver = reader.equals(writer) ? undefined : reader.createResolver(writer)
      const fast = resolver === undefined && this.compiled ? compileReader(reader, undefined, { kind: known.kind }) : undefined
      return { problem: undefined, reader, resolver, convert: CONVERT[known.kind], fast }
    } catch (e) {
      return { ...none, problem: `schema id ${id}: its ${writer.name} cannot be read as the current one: ${(e as Error).message}` }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Output records and dead letters: the same framing, one record schema per codec. Not a hot path.

/**
 * Encodes and decodes one record schema from schemas/avro/ (VideoFeatures, ViralityScore, TrendSignal,
 * BrandAlert, DeadLetter) in the Confluent wire format, for `<topic>-value`.
 */
export class RecordCodec<T> {
  private constructor(
    readonly registry: SchemaRegistry,
    readonly topic: string,
    readonly type: avro.Type,
    readonly id: number,
    private readonly fromAvro: (r: any) => T,
  ) {}

  static async create<T>(file: string, topic: string, deps: { registry?: SchemaRegistry; fromAvro?: (r: any) => T } = {}): Promise<RecordCodec<T>> {
    const registry = deps.registry ?? localRegistry()
    const f = loadSchemaFiles().find((x) => x.file === file)
    if (!f) throw new TrendwireError('CONFIG_INVALID', `RecordCodec: no schema file ${file} in schemas/avro/`)
    const id = await registry.register(valueSubject(topic), f.text)
    return new RecordCodec<T>(registry, topic, f.type, id, deps.fromAvro ?? ((r) => plain(r) as T))
  }

  encode(value: T): Buffer {
    try {
      return frame(this.id, this.type.toBuffer(value))
    } catch (e) {
      throw new TrendwireError('INPUT_SCHEMA_MISMATCH', `cannot encode ${this.type.name}: ${(e as Error).message}`, { cause: e })
    }
  }

  /** Walker and resolver per writer schema id, compiled on first use. */
  private readonly writers = new Map<number, { walker: Walker; resolver: avro.Resolver | undefined; label: string }>()

  /** Decodes one framed value written with any known version of this schema. Throws TrendwireError on bad input. */
  async decode(v: Uint8Array): Promise<T> {
    if (v.length < HEADER_BYTES || v[0] !== MAGIC_BYTE) {
      throw new TrendwireError('INPUT_MALFORMED', `not a Confluent wire-format message (${v.length} bytes, first byte ${v[0]})`)
    }
    const id = readSchemaId(v)
    if (!this.registry.get(id)) await this.registry.resolve([id], valueSubject(this.topic))
    const s = this.registry.get(id)
    if (!s) throw new TrendwireError('INPUT_UNKNOWN_SCHEMA', `schema id ${id} is not known to the ${this.registry.kind} schema registry`)
    if (!s.type) throw new TrendwireError('INPUT_SCHEMA_MISMATCH', s.problem ?? `schema id ${id} is not Avro`)
    const buf = asBuffer(v)
    try {
      let w = this.writers.get(id)
      if (!w) {
        const label = s.type.name ?? 'value'
        w = { walker: compileWalker(s.type, label), resolver: this.type.equals(s.type) ? undefined : this.type.createResolver(s.type), label }
        this.writers.set(id, w)
      }
      checkWhole(w.walker, new Cursor().reset(buf, HEADER_BYTES, buf.length), w.label)
      return this.fromAvro(this.type.decode(buf, HEADER_BYTES, w.resolver).value)
    } catch (e) {
      const code = e instanceof AvroCheckError && e.kind === 'malformed' ? 'INPUT_MALFORMED' : 'INPUT_SCHEMA_MISMATCH'
      throw new TrendwireError(code, `schema id ${id}: ${(e as Error).message}`, { cause: e })
    }
  }
}

/** avsc records are instances of generated classes; outputs are compared and cloned as plain objects. */
function plain(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v
  if (Array.isArray(v)) return v.map(plain)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) out[k] = plain((v as Record<string, unknown>)[k])
  return out
}

/** The dead-letter topic's codec (DeadLetter.avsc): payload travels as Avro bytes. */
export function deadLetterCodec(topic = 'trendwire-dead-letters', registry?: SchemaRegistry): Promise<RecordCodec<DeadLetter>> {
  return RecordCodec.create<DeadLetter>('DeadLetter.avsc', topic, {
    registry,
    fromAvro: (r): DeadLetter => ({
      source: r.source, partition: r.partition, position: r.position, code: r.code, reason: r.reason, payload: r.payload, at: r.at,
    }),
  })
}

export { parseAvro }
