// Schema registries: where a Confluent wire-format schema id gets its schema, and where an encoder
// gets the id to frame its messages with. Two behind one interface:
//
//  - LocalSchemaRegistry (the default, no server): serves the .avsc files in schemas/avro/ with the
//    fixed ids in schemas/avro/ids.json. Read-only: "registering" a schema finds its id by content.
//  - ConfluentSchemaRegistry: @confluentinc/schemaregistry's SchemaRegistryClient against a Schema
//    Registry URL. Subjects follow the TopicNameStrategy, `<topic>-value`, like Confluent's own serdes.
//
// The decoder never awaits per message: it collects the ids of a batch it has not seen, calls
// resolve() once, then reads get() synchronously (codec.ts).
import avro from 'avsc'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join, relative } from 'node:path'
import { z } from 'zod'
import { TrendwireError } from '../streams/errors.ts'
import { parseOptions } from '../streams/config.ts'
import type { Client, ClientConfig } from '@confluentinc/schemaregistry'

/** A schema the registry knows, parsed once. */
export interface ResolvedSchema {
  readonly id: number
  /** The schema text, as registered. */
  readonly schema: string
  /** 'AVRO' (the registry's default), 'JSON' or 'PROTOBUF'. */
  readonly schemaType: string
  /** The parsed Avro type; undefined when schemaType is not AVRO or the text does not parse. */
  readonly type: avro.Type | undefined
  /** Why `type` is undefined, for dead-letter reasons. */
  readonly problem: string | undefined
}

export interface SchemaRegistry {
  readonly kind: 'local' | 'confluent'
  /** A schema resolved before (always, for the local registry); undefined if not (yet) known. */
  get(id: number): ResolvedSchema | undefined
  /**
   * Looks up ids that get() does not know, all at once. Ids the registry does not have stay unknown
   * (the codec dead-letters their messages). Throws TrendwireError SOURCE_FAILED (retryable) when the
   * registry cannot be reached: an outage must stall the source, not dead-letter good data.
   */
  resolve(ids: readonly number[], subject: string): Promise<void>
  /** The id of `schema` under `subject`, registering it first if the registry allows. */
  register(subject: string, schema: string): Promise<number>
  close(): Promise<void>
}

/** Confluent's TopicNameStrategy for message values. */
export function valueSubject(topic: string): string {
  return `${topic}-value`
}

export function parseAvro(schema: string | object): avro.Type {
  // No logicalTypes option: timestamp-millis stays a plain long, decoded to a number of epoch ms.
  return avro.Type.forSchema(typeof schema === 'string' ? JSON.parse(schema) : schema, { wrapUnions: 'auto' })
}

function resolved(id: number, schema: string, schemaType = 'AVRO'): ResolvedSchema {
  if (schemaType !== 'AVRO') {
    return { id, schema, schemaType, type: undefined, problem: `schema id ${id} is a ${schemaType} schema, not Avro` }
  }
  try {
    return { id, schema, schemaType, type: parseAvro(schema), problem: undefined }
  } catch (e) {
    return { id, schema, schemaType, type: undefined, problem: `schema id ${id} does not parse as Avro: ${(e as Error).message}` }
  }
}

// ---------------------------------------------------------------------------------------------------
// Local registry

/** schemas/avro/, next to this file. */
export const AVRO_DIR = fileURLToPath(new URL('./avro/', import.meta.url))

export interface SchemaFile {
  /** Path relative to the schema directory, e.g. "Engagement.avsc" or "history/Engagement.v1.avsc". */
  readonly file: string
  readonly id: number
  readonly text: string
  readonly type: avro.Type
}

function listAvsc(dir: string, root = dir): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...listAvsc(p, root))
    else if (name.endsWith('.avsc')) out.push(relative(root, p).split('\\').join('/'))
  }
  return out
}

/**
 * Reads every .avsc under `dir` with its id from `dir`/ids.json. Fails (CONFIG_INVALID) when a file has
 * no id, an id has no file, two files share an id, or a file does not parse: the id table is part of the
 * wire format and must never drift.
 */
export function loadSchemaFiles(dir: string = AVRO_DIR): SchemaFile[] {
  const table = JSON.parse(readFileSync(join(dir, 'ids.json'), 'utf8')) as { ids: Record<string, number> }
  const files = listAvsc(dir)
  const problems: string[] = []
  const seen = new Map<number, string>()
  for (const [file, id] of Object.entries(table.ids)) {
    if (!Number.isInteger(id) || id < 1 || id > 0x7fffffff) problems.push(`${file}: id ${id} is not a positive 32-bit integer`)
    const other = seen.get(id)
    if (other) problems.push(`${file} and ${other} share id ${id}`)
    seen.set(id, file)
    if (!files.includes(file)) problems.push(`ids.json names ${file}, which does not exist`)
  }
  const out: SchemaFile[] = []
  for (const file of files) {
    const id = table.ids[file]
    if (id === undefined) { problems.push(`${file} has no id in ids.json`); continue }
    const text = readFileSync(join(dir, file), 'utf8')
    try {
      out.push({ file, id, text, type: parseAvro(text) })
    } catch (e) {
      problems.push(`${file} does not parse: ${(e as Error).message}`)
    }
  }
  if (problems.length) throw new TrendwireError('CONFIG_INVALID', `schema files in ${dir}: ${problems.join('; ')}`)
  return out
}

export const LocalRegistryOptions = z.object({
  /** Directory of .avsc files and ids.json. */
  dir: z.string().default(AVRO_DIR),
}).strict()

export class LocalSchemaRegistry implements SchemaRegistry {
  readonly kind = 'local'
  readonly files: readonly SchemaFile[]
  private readonly byId = new Map<number, ResolvedSchema>()
  /** Canonical-form fingerprint (hex) to id: "register" finds a schema by content, ignoring docs. */
  private readonly byFingerprint = new Map<string, number>()

  constructor(options: z.input<typeof LocalRegistryOptions> = {}) {
    const o = parseOptions('LocalSchemaRegistry', LocalRegistryOptions, options)
    this.files = loadSchemaFiles(o.dir)
    for (const f of this.files) {
      this.byId.set(f.id, { id: f.id, schema: f.text, schemaType: 'AVRO', type: f.type, problem: undefined })
      this.byFingerprint.set(f.type.fingerprint().toString('hex'), f.id)
    }
  }

  /** The id of a schema file, e.g. idOf('FirehoseEvent.avsc'). */
  idOf(file: string): number {
    const f = this.files.find((x) => x.file === file)
    if (!f) throw new TrendwireError('CONFIG_INVALID', `local schema registry: no schema file ${file}`)
    return f.id
  }

  get(id: number): ResolvedSchema | undefined {
    return this.byId.get(id)
  }

  async resolve(): Promise<void> {
    // Everything the local registry will ever know is known from the start.
  }

  async register(subject: string, schema: string): Promise<number> {
    const fp = parseAvro(schema).fingerprint().toString('hex')
    const id = this.byFingerprint.get(fp)
    if (id === undefined) {
      throw new TrendwireError('CONFIG_INVALID',
        `local schema registry: the schema for subject ${subject} is not one of the files in schemas/avro/ (ids are fixed in ids.json; add the file and an id there)`)
    }
    return id
  }

  async close(): Promise<void> {}
}

// ---------------------------------------------------------------------------------------------------
// Confluent Schema Registry

export const ConfluentRegistryOptions = z.object({
  /** Schema Registry URL(s); the client tries them in order. */
  url: z.union([z.url(), z.array(z.url()).min(1)]),
  /** register() registers schemas (POST /subjects/{subject}/versions); when false it only looks them up. */
  autoRegister: z.boolean().default(true),
  /** How long an id the registry said does not exist is not asked for again. */
  unknownIdTtlMs: z.number().int().nonnegative().default(60_000),
  /** Extra client settings (auth, retries, timeouts): @confluentinc/schemaregistry's ClientConfig. */
  client: z.record(z.string(), z.unknown()).default({}),
}).strict()

export class ConfluentSchemaRegistry implements SchemaRegistry {
  readonly kind = 'confluent'
  private readonly byId = new Map<number, ResolvedSchema>()
  /** id -> time until which it is known not to exist. */
  private readonly unknownUntil = new Map<number, number>()

  private constructor(private readonly client: Client, private readonly options: z.output<typeof ConfluentRegistryOptions>) {}

  /** Creates the client. The package is imported here, lazily: it is big and the local registry does not need it. */
  static async create(options: z.input<typeof ConfluentRegistryOptions>): Promise<ConfluentSchemaRegistry> {
    const o = parseOptions('ConfluentSchemaRegistry', ConfluentRegistryOptions, options)
    const { SchemaRegistryClient } = await import('@confluentinc/schemaregistry')
    const config: ClientConfig = { ...(o.client as Partial<ClientConfig>), baseURLs: Array.isArray(o.url) ? o.url : [o.url] }
    return new ConfluentSchemaRegistry(new SchemaRegistryClient(config), o)
  }

  get(id: number): ResolvedSchema | undefined {
    return this.byId.get(id)
  }

  async resolve(ids: readonly number[], subject: string): Promise<void> {
    const now = Date.now()
    const todo = ids.filter((id) => !this.byId.has(id) && !((this.unknownUntil.get(id) ?? 0) > now))
    await Promise.all(todo.map(async (id) => {
      try {
        const info = await this.client.getBySubjectAndId(subject, id)
        this.byId.set(id, resolved(id, info.schema, info.schemaType ?? 'AVRO'))
        this.unknownUntil.delete(id)
      } catch (e) {
        if (isNotFound(e)) { this.rememberUnknown(id, now); return }
        throw registryError(`looking up schema id ${id} (subject ${subject})`, e)
      }
    }))
  }

  /** Negative cache; pruned of expired entries when it grows, so a flood of garbage ids cannot grow it without bound. */
  private rememberUnknown(id: number, now: number): void {
    if (this.unknownUntil.size >= 10_000) {
      for (const [k, until] of this.unknownUntil) if (until <= now) this.unknownUntil.delete(k)
    }
    if (this.unknownUntil.size < 100_000) this.unknownUntil.set(id, now + this.options.unknownIdTtlMs)
  }

  async register(subject: string, schema: string): Promise<number> {
    const info = { schema, schemaType: 'AVRO' }
    try {
      const id = this.options.autoRegister ? await this.client.register(subject, info, false) : await this.client.getId(subject, info, false)
      if (!this.byId.has(id)) this.byId.set(id, resolved(id, schema))
      return id
    } catch (e) {
      if (isNotFound(e)) {
        throw new TrendwireError('CONFIG_INVALID', `schema registry: subject ${subject} has no such schema and autoRegister is off`, { cause: e })
      }
      if (status(e) === 409 || status(e) === 422) {
        throw new TrendwireError('CONFIG_INVALID', `schema registry rejected the schema for subject ${subject}: ${(e as Error).message}`, { cause: e })
      }
      throw registryError(`registering a schema under subject ${subject}`, e)
    }
  }

  async close(): Promise<void> {
    this.client.close()
  }
}

function status(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | null)?.status
  return typeof s === 'number' ? s : undefined
}

/** 404 with Schema Registry error code 40403 (schema not found), 40401 (subject not found), 40402 (version). */
function isNotFound(e: unknown): boolean {
  return status(e) === 404
}

function registryError(what: string, e: unknown): TrendwireError {
  const s = status(e)
  return new TrendwireError('SOURCE_FAILED', `schema registry failed ${what}: ${s ? `HTTP ${s}: ` : ''}${(e as Error)?.message ?? e}`, {
    cause: e,
    // 4xx other than the ones handled above are our fault (or the registry's config): retrying won't help.
    retryable: s === undefined || s >= 500 || s === 408 || s === 429,
  })
}
