import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { BrandAlertSchema, TrendSignalSchema, ViralityScoreSchema } from '../../schemas/api/common.ts'
import { renderWsSchema, WS_SCHEMA_FILE } from '../../schemas/api/generate.ts'
import { ClientMessageSchema, ServerMessageSchema } from '../../schemas/api/ws.ts'

test('the checked-in WebSocket JSON Schema is what the zod schemas generate (run: node --import tsx schemas/api/generate.ts)', () => {
  assert.equal(readFileSync(WS_SCHEMA_FILE, 'utf8'), renderWsSchema())
})

test('the API schemas of the engine outputs have exactly the Avro fields, in order', () => {
  const avro = (name: string) => (JSON.parse(readFileSync(new URL(`../../schemas/avro/${name}.avsc`, import.meta.url), 'utf8')) as { fields: Array<{ name: string }> }).fields.map((f) => f.name)
  assert.deepEqual(Object.keys(TrendSignalSchema.shape), avro('TrendSignal'))
  assert.deepEqual(Object.keys(ViralityScoreSchema.shape), avro('ViralityScore'))
  assert.deepEqual(Object.keys(BrandAlertSchema.shape), avro('BrandAlert'))
})

test('feed messages: examples from docs/api.md parse; wrong ones are refused', () => {
  for (const m of [
    { type: 'subscribe' },
    { type: 'subscribe', streams: ['trends'], filter: { platforms: ['tiktok'], minScore: 3, brandId: 'brd_x' }, resume: { trends: { epoch: '1717200000000', seq: 41 } } },
    { type: 'unsubscribe' },
    { type: 'ping', id: '7' },
    { type: 'subscribe', streams: ['trends'], batch: true },
  ]) assert.ok(ClientMessageSchema.safeParse(m).success, JSON.stringify(m))
  for (const m of [
    { type: 'subscribe', streams: [] },
    { type: 'subscribe', streams: ['gossip'] },
    { type: 'subscribe', filter: { colour: 'red' } },
    { type: 'subscribe', resume: { trends: { seq: 1 } } },
    { type: 'subscribe', batch: 'yes' },
    { type: 'hello' },
  ]) assert.equal(ClientMessageSchema.safeParse(m).success, false, JSON.stringify(m))
  const gap = { type: 'gap', stream: 'alerts', reason: 'evicted', from: 6, to: 10, epoch: 'e' }
  assert.ok(ServerMessageSchema.safeParse(gap).success)
  assert.equal(ServerMessageSchema.safeParse({ ...gap, reason: 'because' }).success, false)
  const alert = { type: 'alert', stream: 'alerts', seq: 3, data: { alertId: 'a', brandId: 'b', rule: 'crisis', entity: 'x', postId: null, severity: 'warning', reason: 'r', at: 0 } }
  assert.ok(ServerMessageSchema.safeParse({ type: 'batch', messages: [alert] }).success)
  assert.equal(ServerMessageSchema.safeParse({ type: 'batch', messages: [] }).success, false, 'never empty')
  assert.equal(ServerMessageSchema.safeParse({ type: 'batch', messages: [gap] }).success, false, 'data messages only')
})
