// End to end: the synthetic firehose (with injected crises) → the crisis rule reading the brands
// that tenants subscribed over the API → the live feed, the read API and signed webhooks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { brandAlertsTopology, type RoutedAlert } from '../../operators/alerts/index.ts'
import { TeeSink } from '../../sinks/tee.ts'
import { Runner } from '../../streams/runner.ts'
import { BRANDS, SyntheticSource } from '../../streams/sources/synthetic.ts'
import { WebhookReceiver, within } from '../sinks/webhook-receiver.ts'
import { call, FeedClient, quiet, startServer, tenant, until } from './helpers.ts'

test('crises in the firehose reach the owning tenant only: live feed, /api/alerts and one signed webhook per alert', async () => {
  const secrets = new Map<string, string>()
  // One receiver per tenant; each subscription signs with its own secret, checked below.
  const rxA = await new WebhookReceiver('', () => ({ kind: 'accept' })).start()
  const rxB = await new WebhookReceiver('', () => ({ kind: 'accept' })).start()
  const s = await startServer({ egress: { allowCidrs: ['127.0.0.1/32'] } })
  try {
    const a = await tenant(s, 'A')
    const b = await tenant(s, 'B')
    const owner = new Map<string, string>()
    for (const [i, name] of BRANDS.entries()) {
      const t = i < 6 ? a : b
      const rx = i < 6 ? rxA : rxB
      const brand = (await call(s.url, 'POST', '/api/brands', t.key, { name })).body
      const sub = (await call(s.url, 'POST', `/api/brands/${brand.id}/subscriptions`, t.key, { categories: ['crisis'], webhookUrl: `${rx.url}/hooks/${t.id}` })).body
      owner.set(brand.id, t.id)
      secrets.set(sub.id, sub.webhookSecret)
    }
    const wa = new FeedClient(s.wsUrl, a.key)
    const wb = new FeedClient(s.wsUrl, b.key)
    for (const c of [wa, wb]) {
      await c.next((m) => m.type === 'welcome')
      c.send({ type: 'subscribe', streams: ['alerts'] })
      await c.next((m) => m.type === 'subscribed')
    }

    // The synthetic source never waits, so the engine keeps this process's event loop busy until the
    // run ends and responses wait with it: a generous timeout keeps that from looking like a failure.
    const webhooks = s.api.webhooks({ initialBackoffMs: 10, maxBackoffMs: 50, timeoutMs: 30_000 })
    const source = new SyntheticSource({ seed: 3, eventsPerSecond: 50, durationMs: 3 * 3600_000, partitions: 2, completeLabels: false })
    const topology = brandAlertsTopology(source, { alerts: new TeeSink<RoutedAlert>('alerts', [s.api.sinks.alerts, webhooks]) }, s.api.watchlist)
    const runner = new Runner(topology, { checkpointIntervalMs: 0, maxBatchRecords: 8192 }, { logger: quiet })
    const idle = new Promise<void>((resolve) => webhooks.once('idle', resolve))
    await within(runner.run(), 60_000, 'the alerts job')
    const labels = source.labels()
    const alertsA = (await call(s.url, 'GET', '/api/alerts', a.key)).body.alerts
    const alertsB = (await call(s.url, 'GET', '/api/alerts', b.key)).body.alerts
    const all = [...alertsA, ...alertsB]
    assert.ok(labels.crises.length >= 2 && all.length >= 2, `${labels.crises.length} crises, ${all.length} alerts`)
    assert.deepEqual(new Set(all.map((x: { entity: string }) => x.entity)), new Set(labels.crises.map((c) => c.brand)), 'every labelled crisis, nothing else')
    for (const x of alertsA) assert.equal(owner.get(x.brandId), a.id)
    for (const x of alertsB) assert.equal(owner.get(x.brandId), b.id)

    // Live feed: each tenant got exactly its own alerts.
    const ids = (xs: Array<{ alertId: string }>) => xs.map((x) => x.alertId).sort()
    // (the feed is fed by the same bus as /api/alerts, synchronously: the frames are on their way)
    const alertFrames = (c: FeedClient) => c.messages.filter((m) => m.type === 'alert')
    await until(() => alertFrames(wa).length >= alertsA.length && alertFrames(wb).length >= alertsB.length, 5_000, 'alert frames')
    assert.deepEqual(ids(wa.messages.filter((m) => m.type === 'alert').map((m) => m.data)), ids(alertsA))
    assert.deepEqual(ids(wb.messages.filter((m) => m.type === 'alert').map((m) => m.data)), ids(alertsB))

    // Webhooks: one delivery per alert, to the owner's receiver, correctly signed.
    await within(idle, 20_000, 'webhook deliveries settled')
    const { verifySignature } = await import('../../sinks/webhooks/signature.ts')
    for (const [rx, list, t] of [[rxA, alertsA, a], [rxB, alertsB, b]] as const) {
      await rx.waitFor(() => rx.requests.length >= list.length, 5_000, 'deliveries')
      assert.equal(rx.requests.length, list.length)
      for (const r of rx.requests) {
        const body = JSON.parse(r.body)
        assert.equal(r.path, `/hooks/${t.id}`)
        assert.equal(body.tenantId, t.id)
        assert.equal(r.key, `${body.alert.alertId}.${body.subscriptionId}`)
        assert.ok(verifySignature({ secret: secrets.get(body.subscriptionId)!, header: r.signature, body: r.body }).ok, 'signed with the subscription secret')
      }
      assert.deepEqual(rx.requests.map((r) => JSON.parse(r.body).alert.alertId).sort(), ids(list))
    }
    await within(webhooks.close(), 10_000, 'webhook sink closed')
    wa.close()
    wb.close()
  } finally {
    await within(s.close(), 10_000, 'API server closed')
    await within(rxA.close(), 5_000, 'receiver A closed')
    await within(rxB.close(), 5_000, 'receiver B closed')
  }
})
