// Fan-out of results to every API / WebSocket process, over Redis Streams.
//
// Why Streams and not pub/sub: PUBLISH is fire-and-forget — a subscriber that is disconnected for a
// moment (deploy, network blip, GC pause past the socket timeout) silently loses whatever was
// published meanwhile and cannot tell. A Stream keeps a bounded backlog (XADD MAXLEN ~ N, trimmed
// whole macro-nodes at a time, so trimming is O(1) amortised) and every entry has an id, so a process
// that reconnects asks for "everything after the last id I saw" (XREAD … STREAMS key lastId) and gets
// exactly the missed entries, in order, as long as it was gone for less than N entries; when it was
// gone for longer it is told (a gap: its last id fell off the retained range) and can resynchronise
// from the state keys. Every process must see every message, so each reads
// the stream on its own with XREAD (no consumer group: a group would split the messages among them).
//
// Wire format of an entry (stream `${prefix}fanout:${channel}`, written by RedisStateSink):
//   id  `${base}-${seq}`, seq + 1 per entry (state-sink.ts: deterministic, so a replay after a crash
//       is not re-appended; dense, so a reader knows the id that must come next)
//   t   message type: 'trend' | 'score' | 'alert' | …
//   d   the record as JSON (schemas/outputs.ts)
import pino, { type Logger } from 'pino'
import type { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { RedisKeys } from './keys.ts'

export interface StreamId { ms: bigint; seq: bigint }

/** Parses "<ms>-<seq>" (the seq part optional, as Redis accepts). */
export function parseStreamId(id: string): StreamId {
  const dash = id.indexOf('-')
  if (dash < 0) return { ms: BigInt(id), seq: 0n }
  return { ms: BigInt(id.slice(0, dash)), seq: BigInt(id.slice(dash + 1)) }
}

/** Orders stream ids the way Redis does: by ms, then seq. */
export function compareStreamIds(a: string, b: string): number {
  const x = parseStreamId(a)
  const y = parseStreamId(b)
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1
}

export interface StreamInfo {
  length: number
  lastGeneratedId: string
  /** Entries ever added (Redis ≥ 7.0); more than `length` means some were trimmed or deleted. */
  entriesAdded: number | null
  firstEntryId: string | null
}

/** XINFO STREAM, or null when the stream does not exist. */
export async function streamInfo(redis: Redis, key: string): Promise<StreamInfo | null> {
  let raw: unknown[]
  try {
    raw = (await redis.xinfo('STREAM', key)) as unknown[]
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return null
    throw err
  }
  const m = new Map<string, unknown>()
  for (let i = 0; i + 1 < raw.length; i += 2) m.set(String(raw[i]), raw[i + 1])
  const first = m.get('first-entry') as [string, unknown] | null | undefined
  return {
    length: Number(m.get('length') ?? 0),
    lastGeneratedId: String(m.get('last-generated-id') ?? '0-0'),
    entriesAdded: m.has('entries-added') ? Number(m.get('entries-added')) : null,
    firstEntryId: first ? String(first[0]) : null,
  }
}

export interface FanoutMessage {
  channel: string
  /** Stream id: pass the last one seen back as `from` to resume after it. */
  id: string
  type: string
  /** The record (parsed JSON), or the raw JSON text with `parse: false`. */
  data: unknown
}

/** Entries after `after` and before `resumedAt` were trimmed before this subscriber read them. */
export interface FanoutGap {
  channel: string
  after: string
  /** The oldest entry still retained, where reading carries on. */
  resumedAt: string
}

export const fanoutSubscriberOptionsSchema = z.object({
  prefix: z.string().regex(/^[^\s]*$/, 'no whitespace').default('tw:'),
  /** Channels to read (the sinks' channel names, by default their sink names). */
  channels: z.array(z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : -')).min(1),
  /**
   * Where to start: '$' only entries added after start(), '0' everything still retained, or per
   * channel the last id already seen (resume; channels not listed start at '$').
   */
  from: z.union([z.enum(['$', '0']), z.record(z.string(), z.string().regex(/^\d+(-\d+)?$/, 'a stream id'))]).default('$'),
  /** XREAD BLOCK timeout; also how long close() may take at most. */
  blockMs: z.number().int().positive().default(5_000),
  /** Entries per XREAD per channel. */
  count: z.number().int().positive().default(500),
  /** Parse `d` as JSON. */
  parse: z.boolean().default(true),
  retry: z.object({
    initialDelayMs: z.number().int().positive().default(50),
    maxDelayMs: z.number().int().positive().default(2_000),
  }).strict().prefault({}),
}).strict()
export type FanoutSubscriberOptions = z.input<typeof fanoutSubscriberOptionsSchema>

export type FanoutHandler = (messages: FanoutMessage[]) => void | Promise<void>

export interface FanoutHooks {
  /** Entries were trimmed before this subscriber could read them: resynchronise from the state keys. */
  onGap?(gap: FanoutGap): void
  /** A Redis call failed; the subscriber retries with backoff. */
  onError?(err: Error): void
}

type XReadReply = Array<[string, Array<[string, string[]]>]> | null

/**
 * Reads fan-out channels on a dedicated connection (XREAD BLOCK holds it), in order, from where it
 * is told to start, and keeps `position()` — the last id handed to the handler per channel — for a
 * process to persist and pass back as `from` after a restart. Reconnects by itself and resumes from
 * that position.
 *
 *   const sub = new RedisFanoutSubscriber(redis, { channels: ['trends', 'scores'], from: saved })
 *   const done = sub.subscribe((msgs) => { for (const m of msgs) ws.broadcast(m) }, { onGap: resync })
 *   … await sub.close(); await done
 */
export class RedisFanoutSubscriber {
  readonly opts: z.output<typeof fanoutSubscriberOptionsSchema>
  private readonly conn: Redis
  private readonly keys: RedisKeys
  private readonly streamOf = new Map<string, string>()
  private readonly channelOf = new Map<string, string>()
  private readonly last = new Map<string, string>()
  private readonly log: Logger
  private closed = false
  private running: Promise<void> | null = null

  constructor(redis: Redis, options: FanoutSubscriberOptions, deps: { logger?: Logger } = {}) {
    this.opts = parseOptions('redis fan-out subscriber', fanoutSubscriberOptionsSchema, options)
    this.keys = new RedisKeys(this.opts.prefix)
    for (const c of this.opts.channels) {
      const k = this.keys.fanout(c)
      this.streamOf.set(c, k)
      this.channelOf.set(k, c)
    }
    // A connection of its own: XREAD BLOCK occupies it. The command timeout must outlast the block.
    this.conn = redis.duplicate({ commandTimeout: this.opts.blockMs + 10_000, maxRetriesPerRequest: 1, lazyConnect: true, connectionName: 'trendwire-fanout' })
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  }

  /** Last id handed to the handler per channel (or where reading starts); pass as `from` to resume. */
  position(): Record<string, string> {
    return Object.fromEntries(this.last)
  }

  /**
   * Starts reading. The handler gets each XREAD's entries (in stream order per channel) and is
   * awaited before the next read, so a slow handler slows reading rather than piling up messages.
   * Resolves after close(); rejects if the handler throws (the position stays before that batch).
   */
  subscribe(handler: FanoutHandler, hooks: FanoutHooks = {}): Promise<void> {
    if (this.running) throw new TrendwireError('CONFIG_INVALID', 'redis fan-out subscriber: subscribe() called twice')
    this.running = this.loop(handler, hooks)
    return this.running
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.conn.disconnect()
    await this.running?.catch(() => {})
  }

  private async resolveStart(): Promise<void> {
    const from = this.opts.from
    for (const [c, key] of this.streamOf) {
      const given = typeof from === 'object' ? from[c] : from === '0' ? '0-0' : undefined
      if (given !== undefined) {
        this.last.set(c, given.includes('-') ? given : `${given}-0`)
        continue
      }
      // '$': pin it to the current last id now, so nothing added between two reads is skipped
      const info = await streamInfo(this.conn, key)
      this.last.set(c, info ? info.lastGeneratedId : '0-0')
    }
  }

  /**
   * Reports channels where entries after our position were trimmed before we read them: our position
   * is older than the oldest retained entry and the stream has dropped entries. Called only when a
   * read's first entry is not the direct successor of our position (RedisStateSink's ids are dense,
   * seq + 1 per entry, so in steady state this costs nothing; otherwise one XINFO STREAM).
   */
  private async reportGaps(channels: Iterable<string>, hooks: FanoutHooks): Promise<void> {
    for (const c of channels) {
      const info = await streamInfo(this.conn, this.streamOf.get(c)!)
      if (!info) continue
      const after = this.last.get(c)!
      const trimmed = info.entriesAdded === null || info.entriesAdded > info.length
      if (after !== '0-0' && trimmed && info.firstEntryId !== null && compareStreamIds(info.firstEntryId, after) > 0) {
        const gap = { channel: c, after, resumedAt: info.firstEntryId }
        this.log.warn(gap, 'fan-out subscriber fell behind the stream backlog: messages lost')
        hooks.onGap?.(gap)
      }
    }
  }

  private async loop(handler: FanoutHandler, hooks: FanoutHooks): Promise<void> {
    let attempt = 0
    let started = false
    while (!this.closed) {
      let reply: XReadReply
      let suspicious: string[] | null = null
      try {
        if (this.conn.status === 'wait') await this.conn.connect()
        if (!started) {
          await this.resolveStart()
          started = true
        }
        const keys = [...this.streamOf.values()]
        const ids = [...this.streamOf.keys()].map((c) => this.last.get(c)!)
        reply = (await this.conn.xread('COUNT', this.opts.count, 'BLOCK', this.opts.blockMs, 'STREAMS', ...keys, ...ids)) as XReadReply
        if (reply) {
          for (const [key, entries] of reply) {
            const c = this.channelOf.get(key)!
            if (entries.length > 0 && !isSuccessor(this.last.get(c)!, entries[0][0])) (suspicious ??= []).push(c)
          }
          if (suspicious) await this.reportGaps(suspicious, hooks)
        }
        attempt = 0
      } catch (err) {
        if (this.closed) break
        attempt++
        const cap = Math.min(this.opts.retry.maxDelayMs, this.opts.retry.initialDelayMs * 2 ** Math.min(attempt - 1, 20))
        hooks.onError?.(err as Error)
        this.log.warn({ err: (err as Error).message, attempt }, 'fan-out subscriber: read failed, retrying')
        await sleep(cap / 2 + Math.random() * (cap / 2))
        continue
      }
      if (!reply || this.closed) continue
      const batch: FanoutMessage[] = []
      for (const [key, entries] of reply) {
        const channel = this.channelOf.get(key)!
        for (const [id, fields] of entries) {
          let type = ''
          let d = ''
          for (let i = 0; i + 1 < fields.length; i += 2) {
            if (fields[i] === 't') type = fields[i + 1]
            else if (fields[i] === 'd') d = fields[i + 1]
          }
          batch.push({ channel, id, type, data: this.opts.parse ? JSON.parse(d) : d })
        }
      }
      await handler(batch)
      for (const m of batch) this.last.set(m.channel, m.id)
    }
  }
}

/** b is the entry right after a (same ms, seq + 1): nothing can be missing between them. */
function isSuccessor(a: string, b: string): boolean {
  const x = parseStreamId(a)
  const y = parseStreamId(b)
  return x.ms === y.ms && y.seq === x.seq + 1n
}
