import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { LookupAddress } from 'node:dns'
import type { RoutedAlert } from '../../operators/alerts/types.ts'
import type { BrandAlert } from '../../schemas/outputs.ts'
import { noMetrics } from '../../streams/metrics.ts'
import { blockedReason, checkAddress, checkUrl, egressPolicySchema, guardedLookup } from '../../sinks/webhooks/ssrf.ts'
import { signPayload, verifySignature } from '../../sinks/webhooks/signature.ts'
import { WebhookSink, type WebhookDeadLetter, type WebhookSinkOptionsInput, type WebhookTarget } from '../../sinks/webhooks/sink.ts'
import { TokenBuckets } from '../../sinks/webhooks/token-bucket.ts'
import { waitEvent, WebhookReceiver, within } from './webhook-receiver.ts'

const SECRET = 'whsec_test_secret'
const policy = (o = {}) => egressPolicySchema.parse(o)

test('ssrf: loopback, private, link-local and reserved addresses are blocked in every spelling; public ones pass', () => {
  const blocked = [
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '198.18.0.1', '192.0.2.10',
    '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1', '2001::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:10.0.0.1', '::ffff:169.254.169.254', '::127.0.0.1',
    '64:ff9b::a00:1', '64:ff9b::127.0.0.1', '2002:7f00:1::', '2002:c0a8:101::1',
  ]
  for (const ip of blocked) assert.ok(blockedReason(ip), `${ip} should be blocked`)
  const open = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']
  for (const ip of open) assert.equal(blockedReason(ip), null, `${ip} should pass`)
  assert.match(blockedReason('::ffff:127.0.0.1')!, /IPv4-mapped .*loopback/)

  const allow = policy({ allowCidrs: ['127.0.0.1/32'] })
  assert.equal(checkAddress('127.0.0.1', allow), null)
  assert.equal(checkAddress('::ffff:127.0.0.1', allow), null, 'the mapped form of an allowed IPv4 address')
  assert.ok(checkAddress('127.0.0.2', allow))
  assert.ok(checkAddress('::1', allow))
  assert.equal(checkAddress('10.1.2.3', policy({ allowPrivate: true })), null)
  assert.throws(() => egressPolicySchema.parse({ allowCidrs: ['10.0.0.0/33'] }), /allowCidrs/)

  assert.throws(() => checkUrl('http://127.0.0.1:9/x', policy()), /loopback/)
  assert.throws(() => checkUrl('http://[::ffff:a9fe:a9fe]/latest/meta-data', policy()), /link-local/)
  assert.throws(() => checkUrl('ftp://example.com/', policy()), /http or https/)
  assert.throws(() => checkUrl('https://user:pw@example.com/', policy()), /credentials/)
  assert.equal(checkUrl('https://hooks.example.com/a?b=1', policy()).hostname, 'hooks.example.com')
})

test('ssrf: the connection lookup checks every resolved address', async () => {
  const fake = (answers: LookupAddress[]) => ((_h: string, _o: unknown, cb: (e: null, a: LookupAddress[]) => void) => cb(null, answers)) as never
  const run = (answers: LookupAddress[], all: boolean) => new Promise<{ err: Error | null; addr: unknown }>((resolve) => {
    guardedLookup(policy(), fake(answers))('hooks.example.com', { all }, (err, addr) => resolve({ err, addr }))
  })
  const mixed = await run([{ address: '93.184.216.34', family: 4 }, { address: '::ffff:10.0.0.1', family: 6 }], false)
  assert.match(String(mixed.err), /refused.*IPv4-mapped.*private/)
  const ok = await run([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }], true)
  assert.equal(ok.err, null)
  assert.equal((ok.addr as LookupAddress[]).length, 2)
  const single = await run([{ address: '93.184.216.34', family: 4 }], false)
  assert.equal(single.addr, '93.184.216.34')
})

test('signature: HMAC over timestamp.body, constant-time compare, replay window', () => {
  const body = '{"id":"a.b","alert":{}}'
  const now = 1_717_200_000
  const h = signPayload(SECRET, now, body)
  assert.match(h, /^t=1717200000,v1=[0-9a-f]{64}$/)
  assert.deepEqual(verifySignature({ secret: SECRET, header: h, body, nowSec: now + 10 }), { ok: true, timestampSec: now })
  assert.equal(verifySignature({ secret: SECRET, header: h, body: body + ' ', nowSec: now }).ok, false)
  assert.equal(verifySignature({ secret: 'other', header: h, body, nowSec: now }).ok, false)
  assert.deepEqual(verifySignature({ secret: SECRET, header: h, body, nowSec: now + 301 }), { ok: false, reason: 'timestamp outside the replay window' })
  const rotated = `${signPayload('old', now, body)},v1=${h.split('v1=')[1]}`
  assert.equal(verifySignature({ secret: SECRET, header: rotated, body, nowSec: now }).ok, true, 'any v1 entry may match')
  assert.equal(verifySignature({ secret: SECRET, header: undefined, body }).ok, false)
})

test('token buckets: burst, refill, headers arithmetic', () => {
  const b = new TokenBuckets({ capacity: 3, refillPerSec: 1 })
  assert.deepEqual([0, 0, 0].map(() => b.take('k', 1000).allowed), [true, true, true])
  const r = b.take('k', 1000)
  assert.equal(r.allowed, false)
  assert.equal(r.remaining, 0)
  assert.equal(r.retryAfterSec, 1)
  assert.equal(r.resetSec, 3)
  assert.equal(b.take('k', 2000).allowed, true, 'one token after a second')
  assert.equal(b.waitMs('k', 2000), 1000)
  assert.equal(b.take('other', 2000).remaining, 2, 'keys are independent')
})

function alert(id: string, brandId = 'b1'): BrandAlert {
  return { alertId: id, brandId, rule: 'crisis', entity: 'Nimbus Cola', postId: null, severity: 'warning', reason: 'test', at: 1_717_200_000_000 }
}
function routed(id: string, subs: string[], brandId = 'b1'): RoutedAlert {
  return { alert: alert(id, brandId), tenantId: 't1', subscriptionIds: subs, platform: null }
}
const ctx = { checkpointId: 0, metrics: noMetrics }

function targets(map: Record<string, string>) {
  return { webhookTarget: (id: string): WebhookTarget | null => (map[id] ? { url: map[id], secret: SECRET } : null) }
}

const fast: WebhookSinkOptionsInput = {
  initialBackoffMs: 10, maxBackoffMs: 80, timeoutMs: 300, maxAttempts: 12, brandBurst: 1000, brandRatePerMin: 600_000,
  egress: { allowCidrs: ['127.0.0.1/32'] },
}

test('webhooks: a receiver that fails, times out and recovers gets every alert exactly once by idempotency key', async () => {
  // Requests 0..14 meet trouble (500, a hang past the timeout, 503 with Retry-After, 429, processed
  // but the answer lost), then it recovers. The receiver de-duplicates on Idempotency-Key.
  const rx = await new WebhookReceiver(SECRET, ({ n }) => {
    if (n >= 15) return { kind: 'accept' }
    return ([{ kind: 'fail', status: 500 }, { kind: 'hang' }, { kind: 'fail', status: 503, retryAfter: '0' }, { kind: 'fail', status: 429 }, { kind: 'processThenHang' }] as const)[n % 5]
  }).start()
  const sink = new WebhookSink('webhooks', targets({ s1: `${rx.url}/hooks/a`, s2: `${rx.url}/hooks/b?token=x`, s3: '' }), { ...fast, concurrency: 4 })
  await sink.open(ctx)
  try {
    const expected = new Set<string>()
    for (let batch = 0; batch < 4; batch++) {
      const values: RoutedAlert[] = []
      for (let i = 0; i < 10; i++) {
        const id = `a${batch}-${i}`
        values.push(routed(id, ['s1', 's2', 's3']))
        expected.add(`${id}.s1`).add(`${id}.s2`)
      }
      // The rules repeat an alert (same id, same subscriptions): it must not be sent again.
      if (batch > 0) values.push(routed(`a${batch - 1}-0`, ['s1', 's2']))
      await sink.write({ values, times: values.map(() => 0) })
    }
    await within(sink.idle(), 20_000, 'all deliveries settled')
    await rx.waitFor(() => rx.processed.length === expected.size, 5_000, 'every alert processed')
    assert.deepEqual(new Set(rx.processed), expected, 'every alert arrived')
    assert.equal(rx.processed.length, expected.size, 'each processed once')
    // A lost answer makes the sender retry a delivery that had succeeded: the only duplicates, and
    // the receiver's idempotency check absorbs them.
    const lost = rx.requests.filter((r) => r.answered === 'hang' && r.accepted).map((r) => r.key)
    for (const [k, n] of rx.acceptedCount) assert.equal(n, lost.includes(k) ? 2 : 1, `${k} accepted ${n} times`)
    assert.ok(rx.requests.every((r) => r.verified), 'every request carried a valid signature')
    assert.ok(rx.requests.some((r) => r.attempt > 1), 'some were retries')
    assert.equal(rx.requests.filter((r) => r.answered === 'hang').length, 6, 'six attempts timed out (three of them processed)')
    assert.equal(sink.deadLetters.length, 0)
    const body = JSON.parse(rx.requests.find((r) => r.answered === 200)!.body)
    assert.equal(body.type, 'brand_alert')
    assert.equal(body.id, `${body.alert.alertId}.${body.subscriptionId}`)
    // Same body bytes on every attempt of a key (so a receiver can compare).
    const byKey = new Map<string, Set<string>>()
    for (const r of rx.requests) { if (!byKey.has(r.key)) byKey.set(r.key, new Set()); byKey.get(r.key)!.add(r.body) }
    for (const [k, bodies] of byKey) assert.equal(bodies.size, 1, `${k}: body changed between attempts`)
  } finally {
    await sink.close()
    await rx.close()
  }
})

test('webhooks: the last failed attempt leaves a dead letter; a 4xx is final at once', async () => {
  const rx = await new WebhookReceiver(SECRET, ({ path }) => path.startsWith('/gone') ? { kind: 'fail', status: 410 } : { kind: 'fail', status: 500 }).start()
  const dead: WebhookDeadLetter[] = []
  const sink = new WebhookSink('webhooks', targets({ s1: `${rx.url}/down`, s2: `${rx.url}/gone` }), { ...fast, maxAttempts: 3 }, { onDeadLetter: (d) => dead.push(d) })
  await sink.open(ctx)
  try {
    await sink.write({ values: [routed('x1', ['s1', 's2'])], times: [0] })
    await within(sink.idle(), 10_000, 'settled')
    const down = dead.find((d) => d.subscriptionId === 's1')!
    const gone = dead.find((d) => d.subscriptionId === 's2')!
    assert.equal(down.attempts, 3)
    assert.equal(down.lastStatus, 500)
    assert.equal(down.idempotencyKey, 'x1.s1')
    assert.equal(gone.attempts, 1)
    assert.equal(gone.lastStatus, 410)
    assert.equal(rx.requests.filter((r) => r.path === '/down').length, 3)
    assert.equal(JSON.parse(down.body).alert.alertId, 'x1')
  } finally {
    await sink.close()
    await rx.close()
  }
})

test('webhooks: a private-address webhook is refused without the allowance, by IP and by name', async () => {
  const rx = await new WebhookReceiver(SECRET, () => ({ kind: 'accept' })).start()
  const port = new URL(rx.url).port
  const dead: WebhookDeadLetter[] = []
  const sink = new WebhookSink('webhooks', targets({ s1: `${rx.url}/x`, s2: `http://localhost:${port}/x`, s3: `http://[::ffff:127.0.0.1]:${port}/x` }), { ...fast, egress: {} }, { onDeadLetter: (d) => dead.push(d) })
  await sink.open(ctx)
  try {
    await sink.write({ values: [routed('p1', ['s1', 's2', 's3'])], times: [0] })
    await within(sink.idle(), 10_000, 'settled')
    assert.equal(rx.requests.length, 0, 'nothing reached the receiver')
    assert.equal(dead.length, 3)
    for (const d of dead) {
      assert.equal(d.attempts, 1, 'refusal is final')
      assert.match(d.lastError!, /refused.*loopback/)
    }
  } finally {
    await sink.close()
    await rx.close()
  }
})

test('webhooks: pending deliveries survive a checkpoint; replayed alerts are not sent twice', async () => {
  let up = false
  const rx = await new WebhookReceiver(SECRET, () => (up ? { kind: 'accept' } : { kind: 'fail', status: 503 })).start()
  const tg = targets({ s1: `${rx.url}/h` })
  const a = new WebhookSink('webhooks', tg, { ...fast, initialBackoffMs: 5_000, maxBackoffMs: 5_000, closeGraceMs: 0 })
  await a.open(ctx)
  await a.write({ values: [routed('c1', ['s1']), routed('c2', ['s1'])], times: [0, 0] })
  await rx.waitFor(() => rx.requests.length >= 2, 5_000, 'first attempts')
  const state = await a.preCommit()
  await a.close()
  up = true
  const b = new WebhookSink('webhooks', tg, fast)
  await b.open(ctx)
  try {
    await b.restore(structuredClone(state))
    // The engine replays from the checkpoint: the same alerts come again.
    await b.write({ values: [routed('c1', ['s1']), routed('c2', ['s1'])], times: [0, 0] })
    await within(b.idle(), 10_000, 'delivered after restore')
    assert.deepEqual([...rx.processed].sort(), ['c1.s1', 'c2.s1'])
    assert.equal(rx.requests.filter((r) => r.answered === 200).length, 2, 'no duplicate deliveries')
  } finally {
    await b.close()
    await rx.close()
  }
})

test('webhooks: per-brand rate limit spaces deliveries out without dropping them; other brands are not held up', async () => {
  const rx = await new WebhookReceiver(SECRET, () => ({ kind: 'accept' })).start()
  const sink = new WebhookSink('webhooks', targets({ s1: `${rx.url}/h` }), { ...fast, brandBurst: 2, brandRatePerMin: 600 })
  await sink.open(ctx)
  try {
    const t0 = Date.now()
    const other = waitEvent<{ key: string }>(sink, 'delivered', (e) => e.key === 'o1.s1')
    await sink.write({ values: [1, 2, 3, 4, 5].map((i) => routed(`r${i}`, ['s1'], 'loud')).concat([routed('o1', ['s1'], 'quiet')]), times: [0, 0, 0, 0, 0, 0] })
    await within(other, 2_000, 'the other brand')
    const otherMs = Date.now() - t0
    await within(sink.idle(), 10_000, 'settled')
    const ms = Date.now() - t0
    assert.equal(rx.processed.length, 6)
    // 2 at once, then one per 100 ms: the fifth waits for 3 refills.
    assert.ok(ms >= 250, `5 deliveries of one brand took ${ms} ms`)
    assert.ok(otherMs < ms, 'the quiet brand was not queued behind the loud one')
  } finally {
    await sink.close()
    await rx.close()
  }
})

test('webhooks: close() keeps delivering what is queued for closeGraceMs, then leaves the rest to the checkpoint', async () => {
  let n = 0
  const rx = await new WebhookReceiver(SECRET, () => (n++ < 2 ? { kind: 'fail', status: 503 } : { kind: 'accept' })).start()
  const sink = new WebhookSink('webhooks', targets({ s1: `${rx.url}/h` }), { ...fast, initialBackoffMs: 20, maxBackoffMs: 20, closeGraceMs: 5_000 })
  await sink.open(ctx)
  await sink.write({ values: [routed('g1', ['s1'])], times: [0] })
  await within(sink.close(), 6_000, 'close')
  assert.deepEqual(rx.processed, ['g1.s1'], 'delivered during the grace period, after two retries')
  await rx.close()
})

test('webhooks: one sink shared by two runners — states merge on restore, it stays open until the last runner closes', async () => {
  let up = false
  const rx = await new WebhookReceiver(SECRET, () => (up ? { kind: 'accept' } : { kind: 'fail', status: 503 })).start()
  const tg = targets({ s1: `${rx.url}/h` })
  const slowRetry = { ...fast, initialBackoffMs: 60_000, maxBackoffMs: 60_000, closeGraceMs: 0 }
  // Before the "crash": runner 1 queued r1, runner 2 queued r2; each checkpoint holds the sink's state then.
  const before = new WebhookSink('webhooks', tg, slowRetry)
  await before.open(ctx)
  await before.write({ values: [routed('r1', ['s1'])], times: [0] })
  await rx.waitFor(() => rx.requests.length >= 1, 5_000, 'r1 attempted')
  const state1 = structuredClone(await before.preCommit())
  await before.write({ values: [routed('r2', ['s1'])], times: [0] })
  await rx.waitFor(() => rx.requests.length >= 2, 5_000, 'r2 attempted')
  const state2 = structuredClone(await before.preCommit())
  await before.close()
  up = true
  const after = new WebhookSink('webhooks', tg, fast)
  await after.open(ctx)
  await after.open(ctx)
  await after.restore(state2)
  await after.restore(state1)
  await within(after.idle(), 10_000, 'restored deliveries')
  assert.deepEqual([...rx.processed].sort(), ['r1.s1', 'r2.s1'], 'each pending delivery once, whichever runner restored it')
  await after.close()
  await after.write({ values: [routed('r3', ['s1'])], times: [0] })
  await within(after.idle(), 10_000, 'still open for the other runner')
  assert.ok(rx.processed.includes('r3.s1'))
  await after.close()
  await rx.close()
})
