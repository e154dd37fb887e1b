// NDJSON file sink with exactly-once output across crashes.
// Rows are buffered and appended; preCommit(id) flushes and fsyncs and returns the file length,
// which the runner stores in the checkpoint. restore(state) truncates the file back to that length,
// discarding whatever a crashed run wrote after its last durable checkpoint; the replay from the
// checkpoint's source positions then writes those rows again, identically.
import { mkdirSync } from 'node:fs'
import { open, stat, truncate, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Batch, Sink } from '../streams/types.ts'

export interface FileSinkOptions {
  /** Serialise a record to one line (no newline). Default: JSON.stringify. */
  format?: (v: unknown, t: number) => string
  /** Flush to the OS when this many bytes are buffered. */
  flushBytes?: number
}

export class NdjsonFileSink<T> implements Sink<T> {
  private fh: FileHandle | null = null
  private buf: string[] = []
  private bufBytes = 0
  private length = 0
  private readonly format: (v: unknown, t: number) => string
  private readonly flushBytes: number
  rows = 0

  constructor(readonly name: string, readonly path: string, opts: FileSinkOptions = {}) {
    this.format = opts.format ?? ((v) => JSON.stringify(v))
    this.flushBytes = opts.flushBytes ?? 1 << 20
  }

  async open(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true })
    this.fh = await open(this.path, 'a')
    this.length = (await stat(this.path)).size
  }

  async restore(state: unknown): Promise<void> {
    const s = state as { length: number } | undefined
    const keep = s?.length ?? 0
    await this.fh?.close()
    await truncate(this.path, keep).catch(async (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    })
    this.fh = await open(this.path, 'a')
    this.length = keep
    this.buf = []
    this.bufBytes = 0
  }

  write(batch: Batch<T>): void | Promise<void> {
    const { values, times } = batch
    for (let i = 0; i < values.length; i++) {
      const line = this.format(values[i], times[i]) + '\n'
      this.buf.push(line)
      this.bufBytes += line.length
    }
    this.rows += values.length
    if (this.bufBytes >= this.flushBytes) return this.flush()
  }

  private async flush(): Promise<void> {
    if (this.buf.length === 0) return
    const data = Buffer.from(this.buf.join(''))
    this.buf = []
    this.bufBytes = 0
    await this.fh!.write(data)
    this.length += data.length
  }

  async preCommit(): Promise<unknown> {
    await this.flush()
    await this.fh!.sync()
    return { length: this.length }
  }

  async close(): Promise<void> {
    await this.flush()
    await this.fh?.close()
    this.fh = null
  }
}
