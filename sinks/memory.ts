// Collects records in memory (tests, the status page's recent results). Keeps at most `limit`
// records (oldest dropped) when a limit is given; with no limit it keeps all.
import type { Batch, Sink } from '../streams/types.ts'

export class CollectSink<T> implements Sink<T> {
  values: T[] = []
  times: number[] = []
  batches = 0
  constructor(readonly name: string, private readonly limit = 0) {}
  write(batch: Batch<T>): void {
    this.batches++
    for (let i = 0; i < batch.values.length; i++) {
      this.values.push(batch.values[i])
      this.times.push(batch.times[i])
    }
    if (this.limit > 0 && this.values.length > this.limit) {
      const drop = this.values.length - this.limit
      this.values.splice(0, drop)
      this.times.splice(0, drop)
    }
  }
}

/**
 * Keeps the top N rows of the most recently closed window (by windowEnd), for the status page and
 * the console. Corrections (higher revisions) replace earlier rows of the same key.
 */
export class TopNByWindowSink<T extends { windowEnd: number; revision: number }> implements Sink<T> {
  private current = -Infinity
  private rows = new Map<string, T>()
  top: T[] = []
  constructor(readonly name: string, private readonly keyOf: (r: T) => string, private readonly score: (r: T) => number, private readonly n = 10, private readonly onWindow?: (top: T[]) => void) {}
  write(batch: Batch<T>): void {
    for (const r of batch.values) {
      if (r.windowEnd > this.current) {
        this.publish()
        this.current = r.windowEnd
        this.rows = new Map()
      }
      if (r.windowEnd === this.current) this.rows.set(this.keyOf(r), r)
    }
    this.publish()
  }
  private publish(): void {
    if (this.rows.size === 0) return
    const before = this.top[0]?.windowEnd
    this.top = [...this.rows.values()].sort((a, b) => this.score(b) - this.score(a)).slice(0, this.n)
    if (this.onWindow && before !== this.current) this.onWindow(this.top)
  }
}
