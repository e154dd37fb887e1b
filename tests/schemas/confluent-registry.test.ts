// The @confluentinc/schemaregistry path, against a FAKE Schema Registry: a tiny in-process HTTP
// server implementing the REST calls the client makes (register, look up by schema, get by id).
// It is a fake because no Schema Registry can run here (it is a JVM service not installable from
// this machine's package sources); the REST shapes follow Confluent's API reference
// (https://docs.confluent.io/platform/current/schema-registry/develop/api.html). It does not check
// compatibility. What it lets us test: the subject naming, one lookup per unknown id per batch,
// caching, 404 -> dead letters, outage -> a retryable error rather than dead letters.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FirehoseCodec, frame } from '../../schemas/codec.ts'
import { ConfluentSchemaRegistry, loadSchemaFiles } from '../../schemas/registry.ts'
import { NOW, Rng, engagement, event } from './generators.ts'

interface Stored { id: number; schema: string; schemaType: string | undefined; subject: string; version: number }

class FakeSchemaRegistry {
  readonly schemas: Stored[] = []
  readonly log: string[] = []
  /** While set, every request fails with this HTTP status (an outage). */
  failWith: number | null = null
  private readonly server = createServer((req, res) => void this.handle(req, res))

  async start(): Promise<string> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  stop(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((ok) => this.server.close(() => ok()))
  }

  /** Stores a schema as a producer elsewhere would have; returns its id. */
  add(subject: string, schema: string, schemaType?: string): number {
    const same = this.schemas.find((s) => s.schema === schema && s.schemaType === schemaType)
    const id = same?.id ?? this.schemas.reduce((m, s) => Math.max(m, s.id), 0) + 1
    if (!this.schemas.some((s) => s.subject === subject && s.id === id)) {
      const version = this.schemas.filter((s) => s.subject === subject).length + 1
      this.schemas.push({ id, schema, schemaType, subject, version })
    }
    return id
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = ''
    for await (const chunk of req) body += chunk
    const url = new URL(req.url!, 'http://x')
    this.log.push(`${req.method} ${url.pathname}${url.search}`)
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
      res.end(JSON.stringify(json))
    }
    if (this.failWith) return send(this.failWith, { error_code: this.failWith * 100, message: 'fake outage' })
    let m: RegExpMatchArray | null
    if (req.method === 'GET' && (m = url.pathname.match(/^\/schemas\/ids\/(-?\d+)$/))) {
      const s = this.schemas.find((x) => x.id === Number(m![1]))
      if (!s) return send(404, { error_code: 40403, message: `Schema ${m[1]} not found` })
      return send(200, s.schemaType ? { schema: s.schema, schemaType: s.schemaType } : { schema: s.schema })
    }
    if (req.method === 'POST' && (m = url.pathname.match(/^\/subjects\/([^/]+)\/versions$/))) {
      const { schema, schemaType } = JSON.parse(body)
      return send(200, { id: this.add(decodeURIComponent(m[1]!), schema, schemaType === 'AVRO' ? undefined : schemaType) })
    }
    if (req.method === 'POST' && (m = url.pathname.match(/^\/subjects\/([^/]+)$/))) {
      const subject = decodeURIComponent(m[1]!)
      const { schema } = JSON.parse(body)
      const s = this.schemas.find((x) => x.subject === subject && x.schema === schema)
      if (!s) return send(404, { error_code: 40403, message: 'Schema not found' })
      return send(200, { subject, id: s.id, version: s.version, schema: s.schema })
    }
    send(404, { error_code: 404, message: `fake registry: no route ${req.method} ${url.pathname}` })
  }
}

const fake = new FakeSchemaRegistry()
const urlP = fake.start()
after(() => fake.stop())

// No retries, so the outage test does not wait on back-off.
const registry = async (extra: object = {}) => ConfluentSchemaRegistry.create({ url: await urlP, client: { maxRetries: 0 }, ...extra })
const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))

test('producer registers FirehoseEvent under <topic>-value; a consumer resolves each id once', async () => {
  const topic = 'tw-sr-1-firehose'
  const producer = await FirehoseCodec.create({ encodeTopic: topic }, { registry: await registry() })
  assert.deepEqual(fake.log.splice(0), [`POST /subjects/${topic}-value/versions?normalize=false`])
  const id = producer.schemaIdFor(topic)!
  assert.equal(fake.schemas.find((s) => s.id === id)!.schema, files.get('FirehoseEvent.avsc')!.text)

  // A consumer registers nothing (encodeTopic null): it needs no write access to the registry.
  const consumer = await FirehoseCodec.create({ encodeTopic: null }, { registry: await registry(), now: () => NOW })
  assert.deepEqual(fake.log.splice(0), [])
  const r = new Rng(1)
  const events = Array.from({ length: 100 }, () => event(r))
  const messages = events.map((e, i) => ({ value: producer.encode(e), topic, partition: 0, offset: i }))
  const out = await consumer.decodeBatch(messages)
  assert.deepEqual(out.values, events)
  assert.deepEqual(out.deadLetters, [])
  assert.deepEqual(fake.log.splice(0), [`GET /schemas/ids/${id}?subject=${topic}-value`])
  // Cached: the next batch asks nothing.
  assert.equal((await consumer.decodeBatch(messages)).values.length, 100)
  assert.deepEqual(fake.log.splice(0), [])
})

test('records written by an older producer (Engagement v1) are read with defaults', async () => {
  const topic = 'tw-sr-2-firehose'
  const v1 = files.get('history/Engagement.v1.avsc')!
  const oldId = fake.add(`${topic}-value`, v1.text)
  const consumer = await FirehoseCodec.create({ encodeTopic: null }, { registry: await registry(), now: () => NOW })
  fake.log.splice(0)
  const r = new Rng(2)
  const events = Array.from({ length: 50 }, () => engagement(r))
  const out = await consumer.decodeBatch(events.map((e, i) => ({ value: frame(oldId, v1.type.toBuffer(e)), topic, partition: 0, offset: i })))
  assert.deepEqual(out.values, events.map((e) => ({ ...e, commentText: null })))
  assert.deepEqual(fake.log.splice(0), [`GET /schemas/ids/${oldId}?subject=${topic}-value`])
})

test('unknown ids and non-Avro schemas are dead letters; unknown ids are not asked for again at once', async () => {
  const topic = 'tw-sr-3-firehose'
  const jsonId = fake.add(`${topic}-value`, '{"type":"object"}', 'JSON')
  const consumer = await FirehoseCodec.create({ encodeTopic: topic }, { registry: await registry(), now: () => NOW })
  const good = consumer.encode(engagement(new Rng(3)))
  const unknown = frame(99_999, good.subarray(5))
  const json = frame(jsonId, good.subarray(5))
  fake.log.splice(0)
  const batch = [unknown, good, unknown, json].map((value, i) => ({ value, topic, partition: 2, offset: i }))
  const out = await consumer.decodeBatch(batch)
  assert.equal(out.values.length, 1)
  assert.deepEqual(out.deadLetters.map((d) => [d.position, d.code]), [
    ['0', 'INPUT_UNKNOWN_SCHEMA'], ['2', 'INPUT_UNKNOWN_SCHEMA'], ['3', 'INPUT_SCHEMA_MISMATCH'],
  ])
  assert.match(out.deadLetters[0]!.reason, /schema id 99999 is not known to the confluent schema registry/)
  assert.match(out.deadLetters[2]!.reason, /is a JSON schema, not Avro/)
  assert.deepEqual(fake.log.splice(0).sort(), [`GET /schemas/ids/${jsonId}?subject=${topic}-value`, `GET /schemas/ids/99999?subject=${topic}-value`].sort())
  await consumer.decodeBatch(batch)
  assert.deepEqual(fake.log.splice(0), [], 'unknown id asked for again within unknownIdTtlMs')
})

test('a registry outage fails the batch with a retryable error instead of dead-lettering good data', async () => {
  const topic = 'tw-sr-4-firehose'
  const producer = await FirehoseCodec.create({ encodeTopic: topic }, { registry: await registry() })
  const consumer = await FirehoseCodec.create({ encodeTopic: null }, { registry: await registry(), now: () => NOW })
  const batch = [{ value: producer.encode(engagement(new Rng(4))), topic, partition: 0, offset: 0 }]
  fake.failWith = 503
  try {
    await assert.rejects(consumer.decodeBatch(batch), (e: any) => e.code === 'SOURCE_FAILED' && e.retryable === true && /HTTP 503/.test(e.message))
  } finally {
    fake.failWith = null
  }
  // Once it is back, the same batch decodes.
  assert.equal((await consumer.decodeBatch(batch)).values.length, 1)
})

test('autoRegister off: looks the schema up, and says so when it is missing', async () => {
  const topic = 'tw-sr-5-firehose'
  await assert.rejects(
    FirehoseCodec.create({ encodeTopic: topic }, { registry: await registry({ autoRegister: false }) }),
    (e: any) => e.code === 'CONFIG_INVALID' && /subject tw-sr-5-firehose-value has no such schema/.test(e.message),
  )
  const id = fake.add(`${topic}-value`, files.get('FirehoseEvent.avsc')!.text)
  fake.log.splice(0)
  const codec = await FirehoseCodec.create({ encodeTopic: topic }, { registry: await registry({ autoRegister: false }) })
  assert.equal(codec.schemaIdFor(topic), id)
  assert.deepEqual(fake.log.splice(0), [`POST /subjects/${topic}-value?normalize=false`])
})
