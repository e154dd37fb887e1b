// The bounded buffer between a Kafka client's fetch loop and Source.poll(), shared by both client
// implementations. The client pushes one chunk per fetched partition batch (arrays, never a Promise
// per message); poll() drains chunks, decodes them and tracks the next offset per partition.
// When the buffer is above its bound the client stops fetching (pause), and resumes below half of
// it: the hysteresis keeps pause/resume from flapping on every poll (platformatic/kafka's
// messages-stream does the same with its highWaterMark).
import type { SourceBatch } from '../types.ts'
import type { Decoded, DecodeFn, KafkaMessage } from './options.ts'

/** One fetched run of consecutive messages of one partition. */
export interface Chunk {
  messages: KafkaMessage[]
  /** Sum of the value sizes, for the byte bound. */
  bytes: number
}

interface QueuedChunk extends Chunk {
  /** Index of the first message not yet handed out by poll. */
  start: number
}

interface PartitionState {
  readonly id: string
  chunks: QueuedChunk[]
  messages: number
  bytes: number
  /** Next offset after the last record handed out by poll (or where the partition was seeked to). */
  position: string | undefined
  /** Being revoked: nothing more is handed out, so the checkpoint taken in beforeRevoke covers exactly what was delivered. */
  revoking: boolean
  /** Assigned, but where it starts is still being looked up (hooks.positionsFor): nothing is accepted yet. */
  held: boolean
}

export interface FetchBufferOptions<T> {
  source: string
  maxMessages: number
  maxBytes: number
  decode: DecodeFn<T>
}

export class FetchBuffer<T> {
  private readonly parts = new Map<string, PartitionState>()
  private order: string[] = []
  private cursor = 0
  private waiter: (() => void) | null = null
  /** Decoded values per message, a moving average: lets poll(max) take about max values when a message holds many events. */
  private valuesPerMessage = 1
  queuedMessages = 0
  queuedBytes = 0

  constructor(private readonly opts: FetchBufferOptions<T>) {}

  get full(): boolean {
    return this.queuedMessages >= this.opts.maxMessages || this.queuedBytes >= this.opts.maxBytes
  }

  get belowLowWater(): boolean {
    return this.queuedMessages <= this.opts.maxMessages / 2 && this.queuedBytes <= this.opts.maxBytes / 2
  }

  /** Partitions currently owned (including ones being revoked). */
  partitions(): string[] {
    return this.order.slice()
  }

  owns(id: string): boolean {
    return this.parts.has(id)
  }

  accepting(id: string): boolean {
    const p = this.parts.get(id)
    return p !== undefined && !p.revoking && !p.held
  }

  /** Starts owning a partition; held ones accept nothing until release(). */
  assign(id: string, position: string | undefined, held = false): void {
    const p = this.parts.get(id)
    if (p) {
      if (!held && p.held) this.release(id, position)
      return
    }
    this.parts.set(id, { id, chunks: [], messages: 0, bytes: 0, position, revoking: false, held })
    this.order.push(id)
  }

  release(id: string, position: string | undefined): void {
    const p = this.parts.get(id)
    if (!p) return
    p.held = false
    p.position = position
  }

  isHeld(id: string): boolean {
    return this.parts.get(id)?.held === true
  }

  markRevoking(ids: readonly string[]): void {
    for (const id of ids) {
      const p = this.parts.get(id)
      if (p) p.revoking = true
    }
  }

  /** Forgets these partitions and their queued records; returns their last positions. */
  revoke(ids: readonly string[]): Map<string, string> {
    const last = new Map<string, string>()
    for (const id of ids) {
      const p = this.parts.get(id)
      if (!p) continue
      if (p.position !== undefined) last.set(id, p.position)
      this.queuedMessages -= p.messages
      this.queuedBytes -= p.bytes
      this.parts.delete(id)
    }
    this.order = this.order.filter((id) => this.parts.has(id))
    this.cursor = 0
    return last
  }

  /** Drops queued (not yet polled) records of a partition and sets where it continues (after a seek). */
  reset(id: string, position: string | undefined): void {
    const p = this.parts.get(id)
    if (!p) return
    this.queuedMessages -= p.messages
    this.queuedBytes -= p.bytes
    p.chunks = []
    p.messages = 0
    p.bytes = 0
    p.position = position
  }

  /** Queues a fetched chunk. Returns false when the partition is not (or no longer) ours. */
  push(id: string, chunk: Chunk): boolean {
    const p = this.parts.get(id)
    if (!p || p.revoking || chunk.messages.length === 0) return false
    p.chunks.push({ messages: chunk.messages, bytes: chunk.bytes, start: 0 })
    p.messages += chunk.messages.length
    p.bytes += chunk.bytes
    this.queuedMessages += chunk.messages.length
    this.queuedBytes += chunk.bytes
    this.wake()
    return true
  }

  hasDeliverable(): boolean {
    for (const p of this.parts.values()) if (p.messages > 0 && !p.revoking) return true
    return false
  }

  /** Resolves when data arrives, wake() is called, or after ms. */
  waitForData(ms: number): Promise<void> {
    if (ms <= 0 || this.hasDeliverable()) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        if (this.waiter === done) this.waiter = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.waiter?.()
      this.waiter = done
    })
  }

  wake(): void {
    this.waiter?.()
  }

  positions(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const p of this.parts.values()) if (p.position !== undefined) out[p.id] = p.position
    return out
  }

  /**
   * Hands out up to about maxRecords decoded values (at most maxRecords messages), one SourceBatch
   * per partition, rotating the starting partition so one busy partition cannot starve the others.
   * A message is never split: with many events per message the total may exceed maxRecords by less
   * than one message's worth. Awaits only when the decode function returns a Promise.
   */
  async take(maxRecords: number): Promise<SourceBatch<T>[]> {
    const batches: SourceBatch<T>[] = []
    const n = this.order.length
    if (n === 0 || maxRecords <= 0) return batches
    const decode = this.opts.decode
    const order = this.order
    let values = 0
    let messages = 0
    const first = this.cursor % n
    this.cursor = (first + 1) % n
    for (let k = 0; k < n && values < maxRecords && messages < maxRecords; k++) {
      const p = this.parts.get(order[(first + k) % n])
      if (p === undefined || p.revoking || p.messages === 0) continue
      let batch: SourceBatch<T> | undefined
      while (p.chunks.length > 0 && values < maxRecords && messages < maxRecords) {
        const c = p.chunks[0]
        const available = c.messages.length - c.start
        const wanted = Math.max(1, Math.floor((maxRecords - values) / this.valuesPerMessage))
        const count = Math.min(available, wanted, maxRecords - messages)
        const end = c.start + count
        const slice = c.start === 0 && end === c.messages.length ? c.messages : c.messages.slice(c.start, end)
        let r = decode(slice)
        if (isPromise(r)) {
          r = await r
          // Revoked while we awaited: these records belong to the next owner now, drop them.
          if (p.revoking || this.parts.get(p.id) !== p || p.chunks[0] !== c) break
        }
        const d = r as Decoded<T>
        this.valuesPerMessage = 0.8 * this.valuesPerMessage + 0.2 * Math.max(d.values.length / count, 0.001)
        values += d.values.length
        messages += count
        if (batch === undefined) {
          batch = { partition: p.id, values: d.values, times: d.times, deadLetters: d.deadLetters.length > 0 ? d.deadLetters : undefined }
          batches.push(batch)
        } else {
          append(batch.values, d.values)
          append(batch.times, d.times)
          if (d.deadLetters.length > 0) {
            if (batch.deadLetters) append(batch.deadLetters, d.deadLetters)
            else (batch as { deadLetters?: typeof d.deadLetters }).deadLetters = d.deadLetters
          }
        }
        p.position = (BigInt(c.messages[end - 1].offset) + 1n).toString()
        p.messages -= count
        this.queuedMessages -= count
        if (end === c.messages.length) {
          p.chunks.shift()
          p.bytes -= c.bytes
          this.queuedBytes -= c.bytes
        } else {
          c.start = end
        }
      }
    }
    return batches
  }
}

function isPromise<X>(v: X | Promise<X>): v is Promise<X> {
  return typeof (v as { then?: unknown }).then === 'function'
}

/** push(...src) overflows the stack for big arrays; a loop does not. */
function append<X>(dst: X[], src: readonly X[]): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i])
}
