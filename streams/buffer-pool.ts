// Large byte buffers kept for reuse. Every new Buffer is external memory, and V8 starts a full
// (mark-compact) GC each time external memory has grown by 64 MB since the last one, however little
// of the JS heap is garbage: a sink that took a fresh 10–40 MB buffer per INSERT body made most of the
// main job's major GCs (benchmarks/clickhouse/README.md, section 6). The owner gives a buffer back
// only once nothing reads it any more (its INSERT acknowledged, its file written).

export class BufferPool {
  private readonly spares: Buffer[] = []
  allocated = 0
  reused = 0

  /**
   * @param max spares kept; more given back are left to the GC (the smallest first).
   * @param headroom a new buffer is this many times the size asked for: room for what grows.
   */
  constructor(private readonly max = 3, private readonly headroom = 1.25) {}

  /** The smallest spare that holds `min` bytes, else a new buffer with `headroom`. */
  take(min: number): Buffer {
    let best = -1
    for (let i = 0; i < this.spares.length; i++) {
      if (this.spares[i].length >= min && (best < 0 || this.spares[i].length < this.spares[best].length)) best = i
    }
    if (best >= 0) {
      const b = this.spares[best]
      this.spares[best] = this.spares[this.spares.length - 1]
      this.spares.pop()
      this.reused++
      return b
    }
    this.allocated++
    return Buffer.allocUnsafeSlow(Math.max(64 * 1024, Math.ceil(min * this.headroom)))
  }

  /** b (a whole buffer from take(), not a view into one) is free: keep it if it is among the largest. */
  give(b: Buffer): void {
    if (this.spares.length < this.max) {
      this.spares.push(b)
      return
    }
    let small = 0
    for (let i = 1; i < this.spares.length; i++) if (this.spares[i].length < this.spares[small].length) small = i
    if (this.spares[small].length < b.length) this.spares[small] = b
  }

  /** Bytes held by spares. */
  get spareBytes(): number {
    let n = 0
    for (const b of this.spares) n += b.length
    return n
  }

  clear(): void {
    this.spares.length = 0
  }
}
