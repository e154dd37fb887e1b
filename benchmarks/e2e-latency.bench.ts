// End-to-end latency and throughput: an event entering the source → the trend update it completes
// reaching WebSocket clients of the live feed (server/ws/feed.ts), with 1,000 connected clients of
// which 10% read slowly. Figures and method: benchmarks/e2e/README.md.
//   npx tsx benchmarks/e2e-latency.bench.ts [--source auto|kafka|inprocess] [--rates 10000,50000]
//     [--clients 1000] [--slow 0.1] [--duration-sec 20] [--warmup-sec 5] [--throughput-events 4000000] [--runs 2]
//
// Pipeline (one process, the embedded default): source → flatMap hashtags → keyBy (platform, tag)
// → tumbling 1 s count → count ≥ minCount → TrendSignal → LiveSink → InProcessBus → LiveFeed →
// clients (their own process, benchmarks/e2e/clients.ts). The trend logic is a windowed count, not
// the product's trend detector (not landed when this was written): the point is the path's latency.
//
// Latency: the source stamps each event with its scheduled wall-clock time, so window [s, e) fires
// when the first event with time ≥ e + bound enters the source; a client's latency for an update is
// receive time − (e + bound), i.e. the delay beyond the window's firing time. Engine latency is the
// same measured where the update leaves the topology (LiveSink), before the bus and WebSocket.
// Throughput: the engine unpaced over N pre-timed events (event time advancing at 50k events/s),
// with the same 1,000 clients, without and with slow clients, alternating runs.
import { fork, type ChildProcess } from 'node:child_process'
import { setPriority } from 'node:os'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { TrendSignal } from '../schemas/outputs.ts'
import { LiveSink } from '../server/api/live-state.ts'
import { InProcessBus } from '../server/ws/bus.ts'
import { LiveFeed, type FeedMetrics } from '../server/ws/feed.ts'
import type { StreamName } from '../schemas/api/ws.ts'
import { TeeSink } from '../sinks/tee.ts'
import { createKafkaSource, rdkafkaAvailable, type KafkaMessage } from '../streams/kafka/index.ts'
import { Runner } from '../streams/runner.ts'
import { Topology } from '../streams/topology.ts'
import type { Batch, DeadLetter, PollResult, Sink, Source, SourceBatch } from '../streams/types.ts'
import { count, tumbling, type WindowResult } from '../streams/windows.ts'
import { KafkaMock } from '../tests/helpers/kafka.ts'
import { eventPool, type BenchEvent } from './e2e/events.ts'

const { values: a } = parseArgs({ options: {
  source: { type: 'string', default: 'auto' }, rates: { type: 'string', default: '10000,50000' }, clients: { type: 'string', default: '1000' },
  slow: { type: 'string', default: '0.1' }, 'duration-sec': { type: 'string', default: '20' }, 'warmup-sec': { type: 'string', default: '5' },
  'throughput-events': { type: 'string', default: '4000000' }, runs: { type: 'string', default: '2' }, 'skip-throughput': { type: 'boolean', default: false },
  'skip-latency': { type: 'boolean', default: false },
  /** also cork every client socket around each fan-out, from outside the feed (see benchmarks/e2e/README.md) */
  cork: { type: 'boolean', default: false },
  /** clients subscribe with batch: true (one frame per client per window; benchmarks/e2e/README.md) */
  batch: { type: 'boolean', default: false },
  /** the Kafka producer's linger.ms (benchmarks/e2e/README.md: the mock broker returns one producer batch per partition per fetch) */
  'linger-ms': { type: 'string', default: '5' },
  'load-nice': { type: 'string', default: '10' },
} })
const RATES = a.rates!.split(',').map(Number)
const CLIENTS = Number(a.clients)
const SLOW = Number(a.slow)
const DURATION = Number(a['duration-sec']) * 1000
const WARMUP = Number(a['warmup-sec']) * 1000
const TP_EVENTS = Number(a['throughput-events'])
const RUNS = Number(a.runs)
const BOUND = 20
const WINDOW = 1000
const PARTITIONS = 4
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))
const now = (): number => performance.timeOrigin + performance.now()
const log = pino({ level: 'silent' })
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

// ---------------------------------------------------------------------------------------------
// sources

/**
 * In-process source: events at `rate` per second of event time. Paced: event i is released at its
 * scheduled wall time start + i/rate and stamped with it. Unpaced: as fast as polled, times still
 * start + i/rate (throughput runs). `total` events, then done.
 */
class RateSource implements Source<BenchEvent> {
  readonly name = 'bench'
  private i = 0
  private start = 0
  private readonly pool = eventPool()
  constructor(private readonly rate: number, private readonly total: number, private readonly paced: boolean) {}
  async open(): Promise<void> { this.start = this.paced ? now() : 1_700_000_000_000 }
  async poll(max: number): Promise<PollResult<BenchEvent>> {
    let due = this.total
    if (this.paced) {
      due = Math.min(this.total, Math.floor(((now() - this.start) * this.rate) / 1000) + 1)
      if (due <= this.i) {
        await new Promise((r) => setTimeout(r, 1))
        due = Math.min(this.total, Math.floor(((now() - this.start) * this.rate) / 1000) + 1)
      }
    }
    const n = Math.min(max, due - this.i)
    const parts: SourceBatch<BenchEvent>[] = []
    for (let p = 0; p < PARTITIONS; p++) parts.push({ partition: `bench/${p}`, values: [], times: [] })
    for (let k = 0; k < n; k++, this.i++) {
      const e = this.pool[this.i % this.pool.length]
      const t = Math.floor(this.start + (this.i * 1000) / this.rate)
      const b = parts[this.i % PARTITIONS]
      b.values.push({ p: e.p, h: e.h, t })
      b.times.push(t)
    }
    const done = this.i >= this.total
    return { batches: parts.filter((b) => b.values.length > 0), done, finished: done ? parts.map((b) => b.partition) : undefined }
  }
  positions(): Record<string, unknown> { return { i: this.i } }
  async close(): Promise<void> {}
}

function decode(messages: readonly KafkaMessage[]): { values: BenchEvent[]; times: number[]; deadLetters: DeadLetter[] } {
  const values: BenchEvent[] = []
  const times: number[] = []
  const deadLetters: DeadLetter[] = []
  for (const m of messages) {
    try {
      const e = JSON.parse(Buffer.from(m.value!).toString('utf8')) as BenchEvent
      values.push(e)
      times.push(e.t)
    } catch (err) {
      deadLetters.push({ source: 'bench', partition: `${m.topic}/${m.partition}`, position: String(m.offset), code: 'INPUT_MALFORMED', reason: (err as Error).message, payload: m.value ?? new Uint8Array(), at: Date.now() })
    }
  }
  return { values, times, deadLetters }
}

// ---------------------------------------------------------------------------------------------
// the stack

/** Where updates leave the topology: counts them, and times those the filtered clients receive. */
class LatencyProbe implements Sink<TrendSignal> {
  readonly name = 'latency-probe'
  xs: number[] = []
  measuring = false
  signals = 0
  constructor(private readonly minScore = 0) {}
  write(b: Batch<TrendSignal>): void {
    this.signals += b.values.length
    if (!this.measuring) return
    const t = now()
    for (const s of b.values) if (s.score >= this.minScore) this.xs.push(t - (s.windowEnd + BOUND))
  }
}

function topology(source: Source<BenchEvent>, minCount: number, out: Sink<TrendSignal>): Topology {
  const t = new Topology('e2e-bench')
  t.from(source, { outOfOrdernessMs: BOUND, idleTimeoutMs: 0 })
    .flatMap<string>('tags', (e, time, o) => { for (const h of e.h) o.emit(`${e.p}|${h}`, time) })
    .keyBy((k) => k)
    .window(tumbling(WINDOW))
    .aggregate('tag-count-1s', count(), { allowedLatenessMs: 0 })
    .filter('trending', (r) => r.value >= minCount)
    .map<TrendSignal>('trend-signal', (r: WindowResult<string, number>) => {
      const i = r.key.indexOf('|')
      return {
        entityType: 'hashtag', entity: r.key.slice(i + 1), platform: r.key.slice(0, i) as TrendSignal['platform'], windowStart: r.start, windowEnd: r.end,
        uses: r.value, uniqueCreators: r.value, totalEngagement: 0, growth: 0, baseline: 0, observed: r.value, deviation: 0, score: r.value, stage: 'rising',
        contributingPostIds: [], revision: r.revision,
      }
    })
    .to(out)
  return t
}

interface Stack { server: Server; feed: LiveFeed; bus: InProcessBus; url: string; counts: FeedCounts; close(): Promise<void> }

/** The feed's own view of its clients (FeedMetrics): messages sent, clients turned slow or closed. */
class FeedCounts implements FeedMetrics {
  sentTrends = 0
  coalesced = 0
  closed = 0
  clients(): void {}
  sent(stream: StreamName, n: number): void { if (stream === 'trends') this.sentTrends += n }
  slow(action: 'coalesced' | 'closed'): void { if (action === 'coalesced') this.coalesced++; else this.closed++ }
  dead(): void {}
  replayed(): void {}
  gap(): void {}
  rateLimited(): void {}
}

async function startFeed(feedOptions: { softBufferBytes?: number } = {}): Promise<Stack> {
  const bus = new InProcessBus()
  const counts = new FeedCounts()
  const feed = new LiveFeed({ path: '/api/stream', maxConnectionsPerTenant: 100_000, ...feedOptions }, {
    authenticate: () => ({ tenantId: 'bench', keyId: 'bench' }), rateLimit: () => null, keyActive: () => true,
    brandTenant: () => null, ownsBrand: () => false, watchTerms: () => ({ hashtags: [], keywords: [] }), watchVersion: () => 0, log, metrics: counts,
  }, { trends: bus.epoch, scores: bus.epoch, alerts: bus.epoch })
  // --cork: every message of one fan-out to one client goes out in one write instead of one per
  // message (socket.cork() before, uncork() after); done from outside the feed, on the upgraded sockets
  const sockets = new Set<import('node:stream').Duplex & { cork(): void; uncork(): void }>()
  const unsubscribe = bus.subscribe(a.cork
    ? (records) => { for (const so of sockets) so.cork(); try { feed.receive(records) } finally { for (const so of sockets) so.uncork() } }
    : (records) => feed.receive(records))
  const server = createServer((_req, res) => { res.writeHead(404).end() })
  server.on('upgrade', (req, socket, head) => {
    if (!feed.handleUpgrade(req, socket, head)) { socket.destroy(); return }
    const so = socket as typeof socket & { cork(): void; uncork(): void }
    sockets.add(so)
    socket.once('close', () => sockets.delete(so))
  })
  await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r))
  const { port } = server.address() as AddressInfo
  return {
    server, feed, bus, counts, url: `ws://127.0.0.1:${port}/api/stream`,
    async close() {
      unsubscribe()
      await feed.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

interface ClientReport { latency: { n: number; p50: number; p90: number; p99: number; max: number; min: number }; normalMessages: number; slow: { messages: number; coalesced: number; closedByServer: number; reconnects: number } }

class Clients {
  private readonly child: ChildProcess
  private waiters: Array<(m: { event: string } & Record<string, unknown>) => void> = []
  readonly closedNormal: number[] = []
  constructor(url: string, niceness = 0, slowPauseMs = 3000) {
    this.child = fork(here('./e2e/clients.ts'), ['--url', url, '--bound', String(BOUND), '--slow-pause-ms', String(slowPauseMs), ...(a.batch ? ['--batch'] : [])], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    if (niceness) setPriority(this.child.pid!, niceness)
    this.child.on('message', (m: { event: string; code?: number }) => {
      if (m.event === 'normal-closed') this.closedNormal.push(m.code ?? 0)
      const w = this.waiters
      this.waiters = []
      for (const f of w) f(m as { event: string })
    })
  }
  private next(event: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`clients: no ${event} in ${timeoutMs} ms`)), timeoutMs)
      const wait = (m: { event: string }): void => { if (m.event === event) { clearTimeout(timer); resolve(m) } else this.waiters.push(wait) }
      this.waiters.push(wait)
    })
  }
  async open(n: number, slow: boolean, filter: Record<string, unknown> = {}): Promise<void> {
    if (n <= 0) return
    const p = this.next('opened')
    this.child.send({ cmd: 'open', n, slow, filter })
    await p
  }
  measure(): void { this.child.send({ cmd: 'measure' }) }
  async report(): Promise<ClientReport> { const p = this.next('report'); this.child.send({ cmd: 'report' }); return (await p) as unknown as ClientReport }
  async stop(): Promise<void> { const exited = new Promise((r) => this.child.once('exit', r)); this.child.send({ cmd: 'stop' }); await exited }
}

const PROBES = 20

interface Layout {
  /** fraction of clients subscribed to every trend update (no filter): the "firehose" dashboards */
  heavy: number
  /** whether those read slowly (latency runs: 0.1 s in every 3 s; throughput runs: not at all) */
  heavySlow: boolean
  slowPauseMs: number
  /** the others' filter: only updates with score (= the window's count) ≥ minScore */
  minScore: number
}

/**
 * CLIENTS connections: PROBES filtered clients in a process of their own (the latency a client
 * sees) and the rest in a load process — filtered ones, and `heavy` unfiltered ones that receive
 * every update (about ten times as many: the ones that can fall behind) — opened in ten interleaved
 * waves so the probes sit all along the feed's send order.
 */
async function connectClients(url: string, l: Layout): Promise<{ load: Clients; probes: Clients; all: Clients[] }> {
  // The load clients stand for other machines: on this shared 2-core box they run at a lower CPU
  // priority so that parsing their frames does not delay the engine or the probes.
  const load = new Clients(url, Number(a['load-nice']), l.slowPauseMs)
  const probes = new Clients(url)
  const heavyN = Math.round(CLIENTS * l.heavy)
  const normalN = CLIENTS - heavyN - PROBES
  const filter = { minScore: l.minScore }
  for (let w = 0; w < 10; w++) {
    const part = (n: number) => Math.floor((n * (w + 1)) / 10) - Math.floor((n * w) / 10)
    await load.open(part(normalN), false, filter)
    await load.open(part(heavyN), l.heavySlow, {})
    await probes.open(part(PROBES), false, filter)
  }
  return { load, probes, all: [load, probes] }
}

const q = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—')
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

// ---------------------------------------------------------------------------------------------
// latency runs

/** The topology emits (platform, tag) windows with ≥ 0.1% of the events: ~400 updates per window. */
const minCountFor = (rate: number): number => Math.max(2, Math.round(rate * 0.001))
/** Filtered clients take those with ≥ 1%: ~33 per window. */
const minScoreFor = (rate: number): number => Math.max(2, Math.round(rate * 0.01))

async function kafkaWorks(): Promise<{ ok: true; mock: KafkaMock } | { ok: false; why: string }> {
  if (!(await rdkafkaAvailable())) return { ok: false, why: 'node-rdkafka is not available' }
  try {
    const mock = await KafkaMock.start({ brokers: 1 })
    return { ok: true, mock }
  } catch (e) {
    return { ok: false, why: `the mock broker did not start: ${(e as Error).message}` }
  }
}

async function latencyRun(rate: number, kind: 'kafka' | 'inprocess', mock: KafkaMock | null): Promise<Record<string, string | number>> {
  const stack = await startFeed()
  const clients = await connectClients(stack.url, { heavy: SLOW, heavySlow: true, slowPauseMs: 3000, minScore: minScoreFor(rate) })
  const probe = new LatencyProbe(minScoreFor(rate))
  const total = Math.floor((rate * (WARMUP + DURATION + 2000)) / 1000)
  let source: Source<BenchEvent>
  let producer: ChildProcess | null = null
  let producerDone: Promise<{ produced: number; maxLagMs: number; batches: number }> | null = null
  if (kind === 'kafka') {
    const topic = `e2e-bench-${rate}-${Date.now()}`
    await mock!.createTopic(topic, PARTITIONS)
    source = await createKafkaSource<BenchEvent>({
      client: 'node-rdkafka', brokers: mock!.bootstrap, topics: [topic], groupId: `${topic}-g`, decode, fromBeginning: true,
      fetchMaxWaitMs: 5, pollTimeoutMs: 5, logLevel: 'error', rdkafka: { 'fetch.min.bytes': 1, 'fetch.error.backoff.ms': 5 },
    })
    producer = fork(here('./e2e/producer.ts'), ['--brokers', mock!.bootstrap, '--topic', topic, '--partitions', String(PARTITIONS), '--rate', String(rate), '--duration-ms', String(WARMUP + DURATION + 2000), '--linger-ms', a['linger-ms']!], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await new Promise<void>((resolve, reject) => { producer!.once('message', () => resolve()); producer!.once('exit', (c) => reject(new Error(`producer exited ${c}`))) })
    producerDone = new Promise((resolve) => producer!.on('message', (m: { event: string; produced: number; maxLagMs: number; batches: number }) => { if (m.event === 'done') resolve(m) }))
  } else {
    source = new RateSource(rate, total, true)
  }
  const runner = new Runner(topology(source, minCountFor(rate), new TeeSink('out', [probe, new LiveSink('feed-trends', 'trends', stack.bus)])), { maxBatchRecords: 2048, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: log })
  const done = runner.run()
  // the producer starts once the consumer has joined its group (the runner has opened the source),
  // so the measurement does not include catching up with a backlog
  while (runner.status().state === 'starting') await new Promise((r) => setTimeout(r, 10))
  if (producer) producer.send({ cmd: 'go' })
  await new Promise((r) => setTimeout(r, WARMUP))
  probe.measuring = true
  for (const c of clients.all) c.measure()
  const c0 = cpu()
  const rec0 = runner.status().recordsIn
  const frames0 = stack.feed.stats.frames
  const load1 = (await import('node:os')).loadavg()[0]
  const t0 = now()
  await new Promise((r) => setTimeout(r, DURATION))
  const elapsed = now() - t0
  const frames = stack.feed.stats.frames - frames0
  const records = runner.status().recordsIn - rec0
  const cpuMs = cpu() - c0
  probe.measuring = false
  const rep = await clients.probes.report()
  const loadRep = await clients.load.report()
  runner.stop()
  await done
  const prod = producerDone ? await producerDone : null
  await source.close().catch(() => {})
  for (const c of clients.all) await c.stop()
  await stack.close()
  return {
    source: kind, rate, 'events/s in': Math.round((records * 1000) / elapsed), 'updates/window (all/filtered)': `${Math.round(probe.signals / ((elapsed + WARMUP) / WINDOW))}/${Math.round(probe.xs.length / (elapsed / WINDOW))}`,
    'engine p50 ms': f1(q(probe.xs, 0.5)), 'engine p99 ms': f1(q(probe.xs, 0.99)),
    'client p50 ms': f1(rep.latency.p50), 'client p99 ms': f1(rep.latency.p99), 'client max ms': f1(rep.latency.max), samples: rep.latency.n,
    'load clients p99 ms': f1(loadRep.latency.p99),
    'turned slow': stack.counts.coalesced, 'closed slow': stack.counts.closed, 'normal closed': clients.load.closedNormal.length + clients.probes.closedNormal.length,
    'engine CPU %': Math.round((cpuMs / elapsed) * 100), 'frames/window': Math.round(frames / (elapsed / WINDOW)), load: +load1.toFixed(1),
    ...(prod ? { 'producer max lag ms': f1(prod.maxLagMs), 'producer msgs/batch': +(prod.produced / Math.max(1, prod.batches)).toFixed(1) } : {}),
  }
}

// ---------------------------------------------------------------------------------------------
// throughput runs

interface ThroughputCase { name: string; heavySlow: boolean; softBufferBytes?: number }

/**
 * The engine unpaced over TP_EVENTS events with the clients connected; the heavy (unfiltered) 10%
 * read normally in the first case and nothing at all in the others. A client that stops reading
 * becomes "slow" to the feed only once the kernel's TCP buffers (several MB on this loopback) and
 * then the feed's soft limit (1 MB default; 64 KB in the third case) are full.
 * Throughput is reported per wall second and per CPU second of the engine process (the machine is
 * shared: CPU time is the steadier measure; the ratio is taken on it).
 */
async function throughputRun(c: ThroughputCase): Promise<Record<string, string | number>> {
  const stack = await startFeed(c.softBufferBytes ? { softBufferBytes: c.softBufferBytes } : {})
  const clients = await connectClients(stack.url, { heavy: SLOW, heavySlow: c.heavySlow, slowPauseMs: 3_600_000, minScore: minScoreFor(50_000) })
  for (const x of clients.all) x.measure()
  const probe = new LatencyProbe()
  const source = new RateSource(50_000, TP_EVENTS, false)
  const runner = new Runner(topology(source, minCountFor(50_000), new TeeSink('out', [probe, new LiveSink('feed-trends', 'trends', stack.bus)])), { maxBatchRecords: 2048, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: log })
  const c0 = cpu()
  const t0 = now()
  await runner.run()
  const secs = (now() - t0) / 1000
  const cpuSecs = (cpu() - c0) / 1000
  for (const x of clients.all) await x.stop()
  await stack.close()
  return {
    case: c.name, 'events/s (wall)': Math.round(TP_EVENTS / secs), 'events per CPU-s': Math.round(TP_EVENTS / cpuSecs), 'wall s': +secs.toFixed(2), 'CPU s': +cpuSecs.toFixed(2),
    updates: probe.signals, 'messages sent': stack.counts.sentTrends, 'turned slow': stack.counts.coalesced, 'closed slow': stack.counts.closed,
  }
}

// ---------------------------------------------------------------------------------------------

const load = (await import('node:os')).loadavg()[0]
console.log(`e2e latency benchmark: ${CLIENTS} clients (${Math.round(SLOW * 100)}% slow), 1 s windows, bound ${BOUND} ms${a.cork ? ', corked fan-out' : ''}${a.batch ? ', batch subscriptions' : ''}, producer linger ${a['linger-ms']} ms; load average ${load.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`)
if (!a['skip-latency']) {
  let kind: 'kafka' | 'inprocess' = a.source === 'inprocess' ? 'inprocess' : 'kafka'
  let mock: KafkaMock | null = null
  if (kind === 'kafka') {
    const k = await kafkaWorks()
    if (k.ok) mock = k.mock
    else if (a.source === 'kafka') throw new Error(`kafka source requested but ${k.why}`)
    else { console.log(`Kafka not usable (${k.why}): in-process source`); kind = 'inprocess' }
  }
  const rows: Array<Record<string, string | number>> = []
  for (const rate of RATES) {
    try {
      rows.push(await latencyRun(rate, kind, mock))
    } catch (e) {
      console.log(`rate ${rate} (${kind}) failed: ${(e as Error).message}`)
    }
    console.table(rows.slice(-1))
  }
  await mock?.stop()
  console.log('\nlatency beyond the window firing time:')
  console.table(rows)
}
if (!a['skip-throughput']) {
  const cases: ThroughputCase[] = [
    { name: 'no slow clients', heavySlow: false },
    { name: `${Math.round(SLOW * 100)}% not reading`, heavySlow: true },
    { name: `${Math.round(SLOW * 100)}% not reading, 64 KB soft limit`, heavySlow: true, softBufferBytes: 64 * 1024 },
  ]
  const runs: Array<Record<string, string | number>> = []
  for (let r = 0; r < RUNS; r++) for (const c of cases) { runs.push(await throughputRun(c)); console.table(runs.slice(-1)) }
  console.log(`\nengine throughput, unpaced, ${CLIENTS} clients connected${a.cork ? ', corked fan-out' : ''}${a.batch ? ', batch subscriptions' : ''}:`)
  console.table(runs)
  const med = (xs: number[]): number => { const s2 = [...xs].sort((x, y) => x - y); const m = s2.length >> 1; return s2.length % 2 ? s2[m] : (s2[m - 1] + s2[m]) / 2 }
  const base = med(runs.filter((r) => r.case === cases[0].name).map((r) => r['events per CPU-s'] as number))
  for (const c of cases.slice(1)) {
    const v = med(runs.filter((r) => r.case === c.name).map((r) => r['events per CPU-s'] as number))
    console.log(`${c.name}: median ${Math.round(v)} events per CPU-s vs ${Math.round(base)} without slow clients: ratio ${(v / base).toFixed(3)}`)
  }
}
process.exit(0)
