// Kafka sources against the mock broker (librdkafka's mock cluster, tests/helpers/kafka.ts), for
// every client: produce, consume in a group of two, rebalance hand-over with beforeRevoke awaited,
// restart from committed / checkpointed positions, a broker outage mid-stream, backpressure.
// Each test has its own topic and group prefix. Waiting is on conditions and events, with timeouts;
// the two places that check something does NOT happen use a bounded observation window, and say so.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import kafkajs from 'kafkajs'
import { ApiKey, KafkaMock, uniquePrefix } from '../helpers/kafka.ts'
import { createKafkaSource, rdkafkaAvailable, KAFKA_CHANNEL, type KafkaEvent, type KafkaMessage, type KafkaSource, type KafkaSourceOptions } from '../../streams/kafka/index.ts'
import type { DeadLetter, SourceHooks } from '../../streams/types.ts'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

interface Rec { id: number; at: number }

/** The test's own trivial JSON decoder: one {id, at} object per message; anything else is a dead letter. */
function decodeJson(messages: readonly KafkaMessage[]) {
  const values: Rec[] = []
  const times: number[] = []
  const deadLetters: DeadLetter[] = []
  for (const m of messages) {
    try {
      const v = JSON.parse(Buffer.from(m.value!).toString('utf8')) as Rec
      if (typeof v.id !== 'number' || typeof v.at !== 'number') throw new Error('not a record')
      values.push(v)
      times.push(v.at)
    } catch (e) {
      deadLetters.push({
        source: 'test', partition: `${m.topic}/${m.partition}`, position: String(m.offset), code: 'INPUT_MALFORMED',
        reason: (e as Error).message, payload: m.value ?? new Uint8Array(), at: Date.now(),
      })
    }
  }
  return { values, times, deadLetters }
}

async function produce(brokers: string[], topic: string, from: number, count: number, extra: { value: string }[] = []): Promise<void> {
  const kafka = new kafkajs.Kafka({ brokers, clientId: 'test-producer', logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 20 } })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    for (let i = from; i < from + count; i += 500) {
      const n = Math.min(500, from + count - i)
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: n }, (_, k) => ({ key: `k${i + k}`, value: JSON.stringify({ id: i + k, at: 1_700_000_000_000 + i + k }) })),
      })
    }
    if (extra.length) await producer.send({ topic, messages: extra.map((e, k) => ({ key: `bad${k}`, value: e.value })) })
  } finally {
    await producer.disconnect()
  }
}

/** Everything delivered, keyed by partition/offset-free record id, to check for loss and duplicates. */
class Collected {
  readonly seen = new Map<number, number>()
  readonly deadLetters: DeadLetter[] = []
  readonly byPartition = new Map<string, number[]>()
  get total(): number { let n = 0; for (const c of this.seen.values()) n += c; return n }
  get duplicates(): number[] { return [...this.seen].filter(([, c]) => c > 1).map(([id]) => id) }
  add(partition: string, values: readonly Rec[], dls?: DeadLetter[]): void {
    let list = this.byPartition.get(partition)
    if (!list) this.byPartition.set(partition, (list = []))
    for (const v of values) { this.seen.set(v.id, (this.seen.get(v.id) ?? 0) + 1); list.push(v.id) }
    if (dls) this.deadLetters.push(...dls)
  }
  missing(from: number, count: number): number[] {
    const out: number[] = []
    for (let i = from; i < from + count; i++) if (!this.seen.has(i)) out.push(i)
    return out
  }
}

/** Polls the sources in turn until cond() holds; every poll waits at most pollTimeoutMs, so this never spins. */
async function pollUntil(sources: KafkaSource<Rec>[], into: Collected, cond: () => boolean, timeoutMs: number, what: string, max = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${into.total})`)
    for (const s of sources) {
      const r = await s.poll(max)
      for (const b of r.batches) into.add(b.partition, b.values, b.deadLetters)
    }
  }
}

/** Resolves with the first event on the kafka diagnostics channel that matches. */
function nextEvent<E extends KafkaEvent>(pred: (e: KafkaEvent) => e is E, timeoutMs: number, what: string): Promise<E>
function nextEvent(pred: (e: KafkaEvent) => boolean, timeoutMs: number, what: string): Promise<KafkaEvent>
function nextEvent(pred: (e: KafkaEvent) => boolean, timeoutMs: number, what: string): Promise<KafkaEvent> {
  return new Promise((resolve, reject) => {
    const onMsg = (msg: unknown): void => {
      const e = msg as KafkaEvent
      if (!pred(e)) return
      done()
      resolve(e)
    }
    const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }, timeoutMs)
    const done = (): void => { clearTimeout(timer); diagnostics_channel.unsubscribe(KAFKA_CHANNEL, onMsg) }
    diagnostics_channel.subscribe(KAFKA_CHANNEL, onMsg)
  })
}

/** Hooks that act like the runner: on revoke, "checkpoint" the source's positions and commit them. */
function runnerHooks(name: string, source: () => KafkaSource<Rec>, log: string[], checkpoints: Record<string, unknown>[] = []): SourceHooks & { assigned: string[] } {
  const hooks = {
    assigned: [] as string[],
    async beforeRevoke(partitions: string[]) {
      log.push(`${name}:revoke-start`)
      const positions = source().positions()
      checkpoints.push(positions)
      // Against the mock this commit is refused (see the group test); the positions were committed before.
      await source().commit(positions).catch((e: Error) => log.push(`${name}:commit-failed:${e.message}`))
      hooks.assigned = hooks.assigned.filter((p) => !partitions.includes(p))
      log.push(`${name}:revoke-done`)
    },
    onAssign(partitions: string[]) {
      hooks.assigned = partitions
      log.push(`${name}:assign:${partitions.length}`)
    },
  }
  return hooks
}

const CLIENTS = ['kafkajs', 'node-rdkafka'] as const
const haveRdkafka = await rdkafkaAvailable()

for (const client of CLIENTS) {
  const skip = client === 'node-rdkafka' && !haveRdkafka
    ? 'node-rdkafka is not installed (optional dependency; needs librdkafka-dev to build, see docs/kafka.md)'
    : false

  describe(`kafka source (${client})`, { skip }, () => {
    let mock: KafkaMock
    const open: KafkaSource<Rec>[] = []

    before(async () => { mock = await KafkaMock.start({ brokers: 3 }) })
    after(async () => {
      for (const s of open) await s.close().catch(() => {})
      await mock?.stop()
    })

    async function source(opts: Partial<KafkaSourceOptions<Rec>> & { topics: string[]; groupId: string }, brokers = mock.bootstrap): Promise<KafkaSource<Rec>> {
      const s = await createKafkaSource<Rec>({
        client, brokers, decode: decodeJson, logLevel: 'nothing',
        sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, fetchMaxWaitMs: 200, rebalanceTimeoutMs: 20_000,
        ...opts,
      })
      open.push(s)
      return s
    }
    async function closeSource(s: KafkaSource<Rec>): Promise<void> {
      await s.close()
      open.splice(open.indexOf(s), 1)
    }

    test('consumes every message once, per partition, in offset order; dead letters pass through', async () => {
      const topic = uniquePrefix('basic')
      await mock.createTopic(topic, 4)
      await produce(mock.brokers, topic, 0, 2000, [{ value: 'not json' }, { value: '{"id":"x"}' }])
      const s = await source({ topics: [topic], groupId: `${topic}-g` })
      const log: string[] = []
      await s.open(null, runnerHooks('a', () => s, log))
      const got = new Collected()
      await pollUntil([s], got, () => got.total >= 2000 && got.deadLetters.length >= 2, 30_000, '2000 records and 2 dead letters')
      assert.deepEqual(got.missing(0, 2000), [])
      assert.deepEqual(got.duplicates, [])
      assert.equal(got.deadLetters.length, 2)
      assert.ok(got.deadLetters.every((d) => d.code === 'INPUT_MALFORMED' && d.partition.startsWith(`${topic}/`)))
      assert.deepEqual([...got.byPartition.keys()].sort(), [0, 1, 2, 3].map((p) => `${topic}/${p}`))
      // Keys hash to partitions; within one partition ids arrive in produce order.
      for (const ids of got.byPartition.values()) assert.deepEqual(ids, [...ids].sort((a, b) => a - b))
      // positions = next offset per partition: they add up to every message produced (2000 + 2 bad).
      const pos = s.positions() as Record<string, string>
      assert.equal(Object.values(pos).reduce((a, p) => a + Number(p), 0), 2002)
      await closeSource(s)
    })

    test('group of two: the second consumer joins, partitions are handed over only after beforeRevoke resolved', async () => {
      const topic = uniquePrefix('group')
      const groupId = `${topic}-g`
      await mock.createTopic(topic, 8)
      await produce(mock.brokers, topic, 0, 3000)
      const log: string[] = []
      const got = new Collected()
      const a = await source({ topics: [topic], groupId })
      const hooksA = runnerHooks('a', () => a, log)
      // A's revoke holds until the test lets it go, so we can check that B gets nothing meanwhile.
      let releaseA!: () => void
      const aHeld = new Promise<void>((r) => { releaseA = r })
      let aRevokeEntered!: () => void
      const aRevokeStarted = new Promise<void>((r) => { aRevokeEntered = r })
      const innerRevoke = hooksA.beforeRevoke
      hooksA.beforeRevoke = async (ps) => { aRevokeEntered(); await aHeld; await innerRevoke(ps) }
      await a.open(null, hooksA)
      assert.equal(hooksA.assigned.length, 8)
      await pollUntil([a], got, () => got.total >= 3000, 30_000, 'A to consume the first 3000 records')
      // A checkpoint while the group is stable. (The librdkafka mock refuses OffsetCommit while a
      // group is rebalancing, unlike Kafka, which accepts it from the current generation; so against
      // the mock the commit inside beforeRevoke fails and the hand-over relies on this one.)
      await a.commit(a.positions())

      const b = await source({ topics: [topic], groupId })
      const hooksB = runnerHooks('b', () => b, log)
      const bOpened = b.open(null, hooksB)
      // A only learns of the rebalance from a heartbeat (or fetch) response, so keep it polling.
      let revokeStarted = false
      void aRevokeStarted.then(() => { revokeStarted = true })
      await pollUntil([a], got, () => revokeStarted, 30_000, "A's beforeRevoke to start")
      // Observation window (not synchronisation): while A holds its partitions, B must not be assigned any.
      const early = await Promise.race([bOpened.then(() => 'b-assigned'), new Promise((r) => setTimeout(() => r('held'), 1500))])
      assert.equal(early, 'held', 'B was assigned partitions while A was still in beforeRevoke')
      assert.deepEqual(hooksB.assigned, [])
      releaseA()
      await bOpened
      // A rejoins too and gets its share: wait for both assignments to cover all 8 partitions.
      // (librdkafka may go through one more rebalance round before it settles.)
      await pollUntil([a, b], got, () => hooksB.assigned.length > 0 && new Set([...hooksA.assigned, ...hooksB.assigned]).size === 8 && hooksA.assigned.length + hooksB.assigned.length === 8, 30_000, 'A and B to split the partitions')
      assert.ok(hooksA.assigned.length > 0 && hooksB.assigned.length > 0, `split ${hooksA.assigned.length}/${hooksB.assigned.length}`)
      assert.deepEqual(hooksA.assigned.filter((p) => hooksB.assigned.includes(p)), [])
      assert.ok(log.indexOf('a:revoke-done') >= 0 && log.indexOf('a:revoke-done') < log.findIndex((l) => l.startsWith('b:assign')), log.join(' '))

      await produce(mock.brokers, topic, 3000, 3000)
      await pollUntil([a, b], got, () => got.total >= 6000, 60_000, 'all 6000 records across A and B')
      if (process.env.DEBUG_KAFKA_TEST) console.log({ log, dups: got.duplicates.length, missing: got.missing(0, 6000).length, a: a.positions(), b: b.positions() })
      assert.deepEqual(got.missing(0, 6000), [])
      assert.deepEqual(got.duplicates, [], 'records delivered twice across the hand-over')
      for (const p of hooksA.assigned) assert.ok(!(p in b.positions()))
      await closeSource(b)
      await closeSource(a)
    })

    test('restart: resumes from committed offsets, and from checkpoint positions when given', async () => {
      const topic = uniquePrefix('restart')
      const groupId = `${topic}-g`
      await mock.createTopic(topic, 4)
      await produce(mock.brokers, topic, 0, 2000)
      const first = new Collected()
      const s1 = await source({ topics: [topic], groupId })
      await s1.open(null, runnerHooks('s1', () => s1, []))
      await pollUntil([s1], first, () => first.total >= 1000, 30_000, '1000 records', 100)
      const committed = s1.positions() as Record<string, string>
      await s1.commit(committed)
      await closeSource(s1)

      // No checkpoint: the group's committed offsets.
      const second = new Collected()
      const s2 = await source({ topics: [topic], groupId })
      await s2.open(null, runnerHooks('s2', () => s2, []))
      await pollUntil([s2], second, () => first.total + second.total >= 2000, 30_000, 'the remaining records')
      assert.deepEqual(second.duplicates, [])
      for (const id of second.seen.keys()) assert.ok(!first.seen.has(id), `record ${id} delivered again after restart`)
      assert.deepEqual([...new Set([...first.seen.keys(), ...second.seen.keys()])].length, 2000)
      await closeSource(s2)

      // A checkpoint behind the committed offsets wins (the checkpoint owns positions): replay from it.
      const checkpoint: Record<string, string> = {}
      for (const [p, off] of Object.entries(committed)) checkpoint[p] = String(Math.max(0, Number(off) - 10))
      const third = new Collected()
      const s3 = await source({ topics: [topic], groupId })
      await s3.open(checkpoint, runnerHooks('s3', () => s3, []))
      const expected = 2000 - Object.values(checkpoint).reduce((a, o) => a + Number(o), 0)
      await pollUntil([s3], third, () => third.total >= expected, 30_000, `${expected} records from the checkpoint`)
      if (process.env.DEBUG_KAFKA_TEST) console.log({ expected, got: third.total, dups: third.duplicates.length, checkpoint, committed, per: [...third.byPartition].map(([p, ids]) => [p, ids.length, ids[0]]) })
      assert.equal(third.total, expected)
      for (const [p, ids] of third.byPartition) {
        // The first record replayed on each partition is the one at the checkpointed offset; a
        // partition the checkpoint does not cover (none of it was read in the first run) starts at
        // its committed offset, here none, so at the beginning.
        const offset = Number(checkpoint[p] ?? 0)
        const seenFirst = first.byPartition.get(p) ?? []
        const seenSecond = second.byPartition.get(p) ?? []
        assert.equal(ids[0], [...seenFirst, ...seenSecond][offset], `partition ${p} did not restart at offset ${offset}`)
      }
      await closeSource(s3)
    })

    test('positionsFor: the runner says where assigned partitions start, before onAssign and before any record', async () => {
      const topic = uniquePrefix('positions')
      await mock.createTopic(topic, 4)
      await produce(mock.brokers, topic, 0, 1000)
      // Learn which ids sit at which offsets with a first consumer (other group).
      const all = new Collected()
      const probe = await source({ topics: [topic], groupId: `${topic}-probe` })
      await probe.open(null, runnerHooks('probe', () => probe, []))
      await pollUntil([probe], all, () => all.total >= 1000, 30_000, 'the probe to read everything')
      await closeSource(probe)

      const log: string[] = []
      const asked: string[][] = []
      const s = await source({ topics: [topic], groupId: `${topic}-g` })
      const hooks = runnerHooks('s', () => s, log)
      const starts = { [`${topic}/0`]: '10', [`${topic}/1`]: '20' }
      await s.open(null, {
        ...hooks,
        positionsFor: async (parts: string[]) => {
          asked.push(parts)
          log.push('positionsFor')
          await new Promise((r) => setImmediate(r)) // answer asynchronously, like a checkpoint store read
          return starts
        },
      })
      const got = new Collected()
      await pollUntil([s], got, () => got.total >= 1000 - 30, 30_000, '970 records')
      assert.equal(asked.length, 1)
      assert.deepEqual([...asked[0]].sort(), [0, 1, 2, 3].map((p) => `${topic}/${p}`))
      assert.ok(log.indexOf('positionsFor') < log.findIndex((l) => l.startsWith('s:assign')), log.join(' '))
      assert.equal(got.total, 970)
      for (const [p, ids] of got.byPartition) {
        const offset = Number(starts[p] ?? 0)
        assert.equal(ids[0], all.byPartition.get(p)![offset], `partition ${p} did not start at ${offset}`)
      }
      await closeSource(s)
    })

    test('broker down and up mid-stream: consumption recovers, nothing lost or duplicated', async () => {
      const own = await KafkaMock.start({ brokers: 3 })
      try {
        const topic = uniquePrefix('outage')
        const groupId = `${topic}-g`
        await own.createTopic(topic, 6)
        // Keep the group coordinator on broker 3 so the outage hits fetches, not the group.
        // (A mock broker that is down may still complete TCP handshakes and then never answer, so
        // the client notices through its request timeout, kept short here.)
        await own.command(`coordinator group ${groupId} 3`)
        await produce(own.brokers, topic, 0, 3000)
        const got = new Collected()
        const log: string[] = []
        const s = await source({ topics: [topic], groupId, retries: 20, requestTimeoutMs: 3000 }, own.bootstrap)
        await s.open(null, runnerHooks('s', () => s, log))
        await pollUntil([s], got, () => got.total >= 500, 30_000, '500 records before the outage', 100)

        // Every client log line after the broker goes down, for the failure message.
        const seen: string[] = []
        const onLog = (m: unknown): void => { const e = m as KafkaEvent; if (e.type === 'log') seen.push(`${e.level}: ${e.message}`) }
        diagnostics_channel.subscribe(KAFKA_CHANNEL, onLog)
        // Any sign that a request to broker 1 failed: refused, reset or closed connections, timeouts.
        const sawError = nextEvent((e) => e.type === 'log' && /ECONNREFUSED|ECONNRESET|Connection error|Connection refused|Connection closed|Closed connection|Connect to .* failed|Disconnected|Connection timeout|timed out|timeout|REQTMOUT|TRANSPORT/i.test(e.message), 30_000, 'the client to notice the broker is down')
        await own.brokerDown(1)
        // keep consuming until the client reports trouble reaching broker 1
        let noticed = false
        void sawError.then(() => { noticed = true }, () => {})
        try {
          await pollUntil([s], got, () => noticed, 30_000, 'a connection error from the client', 100)
          await sawError
        } catch (err) {
          throw new Error(`${(err as Error).message}; client log after the broker went down: ${JSON.stringify(seen.slice(0, 20))}`, { cause: err })
        } finally {
          diagnostics_channel.unsubscribe(KAFKA_CHANNEL, onLog)
        }
        await own.brokerUp(1)
        await produce(own.brokers, topic, 3000, 1000)
        await pollUntil([s], got, () => got.total >= 4000, 60_000, 'all 4000 records after the broker came back')
        assert.deepEqual(got.missing(0, 4000), [])
        assert.deepEqual(got.duplicates, [], 'records delivered twice after the outage')
        await closeSource(s)
      } finally {
        await own.stop()
      }
    })

    test('a group protocol error before the first assignment (injected: SyncGroup INVALID_REQUEST) is survived', async () => {
      const topic = uniquePrefix('syncerr')
      const groupId = `${topic}-g`
      await mock.createTopic(topic, 2)
      await produce(mock.brokers, topic, 0, 500)
      await mock.pushErrors(ApiKey.SyncGroup, [42])
      const failed: KafkaEvent[] = []
      const onFail = (m: unknown): void => { if ((m as KafkaEvent).type === 'failed') failed.push(m as KafkaEvent) }
      diagnostics_channel.subscribe(KAFKA_CHANNEL, onFail)
      try {
        const s = await source({ topics: [topic], groupId })
        await s.open(null, runnerHooks('s', () => s, []))
        const got = new Collected()
        await pollUntil([s], got, () => got.total >= 500, 30_000, 'all 500 records after the injected error')
        assert.deepEqual(got.missing(0, 500), [])
        assert.deepEqual(got.duplicates, [])
        assert.deepEqual(failed, [])
        await closeSource(s)
      } finally {
        diagnostics_channel.unsubscribe(KAFKA_CHANNEL, onFail)
        await mock.clearErrors(ApiKey.SyncGroup)
      }
    })

    test('backpressure: without polls the source pauses fetching and the buffer stays bounded', async () => {
      const topic = uniquePrefix('backpressure')
      await mock.createTopic(topic, 4)
      await produce(mock.brokers, topic, 0, 6000)
      const max = 300
      const s = await source({ topics: [topic], groupId: `${topic}-g`, maxQueuedMessages: max, fetchMaxBytesPerPartition: 16 * 1024 })
      const paused = nextEvent((e) => e.type === 'pause' && e.source === 'kafka', 30_000, 'the source to pause fetching')
      await s.open(null, runnerHooks('s', () => s, []))
      await paused
      // Observation window (not synchronisation): nobody polls for several fetch cycles; the buffer must not grow past the bound.
      // Bound: maxQueuedMessages plus one fetched partition batch (<= fetchMaxBytesPerPartition; our messages are ~45 bytes).
      const bound = max + Math.ceil((16 * 1024) / 40)
      let peak = 0
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 100))
        peak = Math.max(peak, s.stats().queuedMessages)
      }
      assert.ok(s.stats().fetchPaused, 'fetching should stay paused while nobody polls')
      assert.ok(peak <= bound, `buffer grew to ${peak} (> ${bound})`)
      assert.ok(peak < 6000)
      // Draining resumes fetching and everything arrives exactly once.
      const resumed = nextEvent((e) => e.type === 'resume' && e.source === 'kafka', 30_000, 'resume')
      const got = new Collected()
      await pollUntil([s], got, () => got.total >= 6000, 60_000, 'all 6000 records', 100)
      await resumed
      assert.deepEqual(got.missing(0, 6000), [])
      assert.deepEqual(got.duplicates, [])
      await closeSource(s)
    })

    test('bad options fail at construction with the key and reason', async () => {
      await assert.rejects(
        createKafkaSource<Rec>({ client, brokers: 'nohostport', topics: [], groupId: '', decode: decodeJson }),
        (e: Error) => /brokers/.test(e.message) && /topics/.test(e.message) && /groupId/.test(e.message),
      )
    })
  })
}
