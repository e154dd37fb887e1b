// The feed bus: how the engine's outputs reach the API's read side (LiveState) and the WebSocket
// feed, in this process or in every API process.
//
// A FeedRecord is one output record with its stream, the stream's epoch and a sequence number. The
// publisher numbers them: +1 per record of a stream, starting again (with a new epoch) when the
// publisher starts fresh. Two implementations:
//   - InProcessBus: the embedded default. LiveSink (server/api/live-state.ts) publishes; epoch is
//     random per process; subscribers are called synchronously.
//   - RedisFanoutBus: several processes. The engine writes through RedisStateSink (sinks/redis), whose
//     fan-out stream ids are `${base}-${seq}` (dense, deterministic across crash replays); every API
//     process reads the streams with RedisFanoutSubscriber. epoch = base, seq = seq: every process
//     numbers every record the same, so a WebSocket client can resume on any of them.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { StreamName } from '../../schemas/api/ws.ts'
import { STREAMS } from '../../schemas/api/ws.ts'
import { parseStreamId, RedisFanoutSubscriber } from '../../sinks/redis/fanout.ts'

export interface FeedRecord {
  stream: StreamName
  epoch: string
  seq: number
  /** TrendSignal (trends), ViralityScore (scores) or BrandAlert (alerts) */
  data: unknown
}

export type FeedListener = (records: FeedRecord[]) => void

/** Lost records the subscriber could not get back (a Redis backlog trimmed past its position). */
export interface FeedGap {
  stream: StreamName
  /** first missed seq, when known */
  from: number | null
  /** last missed seq, when known */
  to: number | null
}

export interface FeedBus {
  subscribe(listener: FeedListener, onGap?: (gap: FeedGap) => void): () => void
  /** true when the bus can deliver (its connection is up) */
  ready(): Promise<boolean>
  close(): Promise<void>
}

export class InProcessBus implements FeedBus {
  readonly epoch = randomBytes(6).toString('hex')
  private readonly seq: Record<StreamName, number> = { trends: 0, scores: 0, alerts: 0 }
  private listeners: FeedListener[] = []

  subscribe(listener: FeedListener): () => void {
    this.listeners.push(listener)
    return () => { this.listeners = this.listeners.filter((l) => l !== listener) }
  }

  /** Numbers the records and hands them to every listener, synchronously. */
  publish(stream: StreamName, values: readonly unknown[]): void {
    if (values.length === 0) return
    const out: FeedRecord[] = new Array(values.length)
    for (let i = 0; i < values.length; i++) out[i] = { stream, epoch: this.epoch, seq: ++this.seq[stream], data: values[i] }
    for (const l of this.listeners) l(out)
  }

  async ready(): Promise<boolean> {
    return true
  }

  async close(): Promise<void> {
    this.listeners = []
  }
}

export interface RedisFanoutBusOptions {
  prefix?: string
  /** fan-out channel of each stream (the RedisStateSink's channel, by default its sink name) */
  channels?: Partial<Record<StreamName, string>>
  /** '0': start with everything the streams retain (fills the replay buffer and LiveState); '$': only new records */
  from?: '0' | '$'
  blockMs?: number
  logger?: Logger
}

/** Feeds from the Redis Streams fan-out that RedisStateSink writes. */
export class RedisFanoutBus implements FeedBus {
  private readonly sub: RedisFanoutSubscriber
  private readonly streamOf = new Map<string, StreamName>()
  private listeners: FeedListener[] = []
  private gapListeners: Array<(g: FeedGap) => void> = []
  private running: Promise<void> | null = null

  constructor(private readonly redis: Redis, o: RedisFanoutBusOptions = {}) {
    const channels: Record<StreamName, string> = { trends: 'trends', scores: 'scores', alerts: 'alerts', ...o.channels }
    for (const s of STREAMS) this.streamOf.set(channels[s], s)
    this.sub = new RedisFanoutSubscriber(redis, { prefix: o.prefix, channels: STREAMS.map((s) => channels[s]), from: o.from ?? '0', blockMs: o.blockMs }, { logger: o.logger })
  }

  subscribe(listener: FeedListener, onGap?: (gap: FeedGap) => void): () => void {
    this.listeners.push(listener)
    if (onGap) this.gapListeners.push(onGap)
    if (!this.running) {
      this.running = this.sub.subscribe((msgs) => {
        const out: FeedRecord[] = []
        for (const m of msgs) {
          const stream = this.streamOf.get(m.channel)
          if (!stream) continue
          const id = parseStreamId(m.id)
          out.push({ stream, epoch: String(id.ms), seq: Number(id.seq), data: m.data })
        }
        if (out.length > 0) for (const l of this.listeners) l(out)
      }, {
        onGap: (g) => {
          const stream = this.streamOf.get(g.channel)
          if (!stream) return
          const after = parseStreamId(g.after)
          const resumed = parseStreamId(g.resumedAt)
          const gap: FeedGap = after.ms === resumed.ms
            ? { stream, from: Number(after.seq) + 1, to: Number(resumed.seq) - 1 }
            : { stream, from: null, to: null }
          for (const l of this.gapListeners) l(gap)
        },
      })
    }
    return () => { this.listeners = this.listeners.filter((l) => l !== listener) }
  }

  async ready(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG'
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    await this.sub.close()
    await this.running?.catch(() => {})
  }
}
