// The replay buffer of one stream: the last `capacity` messages as sent (serialised once), with what
// the filters need, in sequence order. A reconnecting client names the last seq it saw; what is
// still here is replayed, what fell off is reported as a gap.
import type { StreamName } from '../../schemas/api/ws.ts'

export interface FeedEntry {
  stream: StreamName
  seq: number
  /** the client message (UTF-8 JSON), serialised once for every client and every batch it goes into */
  frame: Buffer
  /** frame.length */
  bytes: number
  platform: string | null
  entityType: string | null
  /** normalised entity (trends) */
  entityKey: string | null
  /** trend score, or score probability */
  score: number
  brandId: string | null
  /** owner of the alert's brand (alerts only) */
  tenantId: string | null
  /** latest-per-key when coalescing a slow client: trends per entity and platform, scores per post */
  coalesceKey: string
}

export class ReplayBuffer {
  private ring: Array<FeedEntry | undefined>
  private start = 0
  private size = 0
  epoch = ''
  /** last seq received (0: none) */
  last = 0

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity)
  }

  /** oldest seq still held (0: none) */
  get first(): number {
    return this.size === 0 ? 0 : this.ring[this.start]!.seq
  }

  get length(): number {
    return this.size
  }

  push(e: FeedEntry): void {
    const i = (this.start + this.size) % this.capacity
    this.ring[i] = e
    if (this.size < this.capacity) this.size++
    else this.start = (this.start + 1) % this.capacity
    this.last = e.seq
  }

  /** Forget everything (new epoch, or a hole in the sequence). */
  reset(epoch: string): void {
    this.ring = new Array(this.capacity)
    this.start = 0
    this.size = 0
    this.epoch = epoch
    this.last = 0
  }

  /** Entries with seq > after, oldest first. */
  *after(after: number): Generator<FeedEntry> {
    for (let k = 0; k < this.size; k++) {
      const e = this.ring[(this.start + k) % this.capacity]!
      if (e.seq > after) yield e
    }
  }
}
