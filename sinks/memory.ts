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
