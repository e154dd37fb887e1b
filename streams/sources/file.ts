// File replay sources: NDJSON firehose events and NAB-style CSV series.
//
// One partition per file. A partition's position is { byte, line }: the byte offset just after the
// last line handed out and the number of lines consumed, so a restart re-opens the file at exactly
// that byte. Files are read incrementally through a reused buffer (never whole), split on '\n';
// a line that does not decode becomes a DeadLetter, never an exception: position = its 1-based line
// number, payload = its bytes without the '\n' (a '\r' stays), code INPUT_MALFORMED (not JSON, not
// UTF-8, bad CSV value), INPUT_SCHEMA_MISMATCH (JSON but not an event), INPUT_BAD_TIMESTAMP or
// INPUT_OVERSIZED (longer than maxLineBytes; payload truncated to that).
//
// Wire formats:
//   NDJSON  one JSON object per line, a FirehoseEvent validated by schemas/json.ts (FirehoseEventJson:
//           unknown fields dropped, missing nullable fields null). Blank lines are skipped. A final
//           line without '\n' is still a line.
//   NAB CSV `timestamp,value` header, then `YYYY-MM-DD HH:MM:SS,<number>` rows; timestamps are UTC
//           (NAB's own convention, see /work/shared/data/nab/README.md). Extra columns are ignored.
import { open as openFile, stat, type FileHandle } from 'node:fs/promises'
import { basename, relative, resolve, sep } from 'node:path'
import { z } from 'zod'
import { parseOptions } from '../config.ts'
import { TrendwireError, type ErrorCode } from '../errors.ts'
import type { DeadLetter, PollResult, Source, SourceBatch, SourceHooks } from '../types.ts'
import { eventTime, type FirehoseEvent } from '../../schemas/events.ts'
import { FirehoseEventJson } from '../../schemas/json.ts'

// ---------------------------------------------------------------------------------------------
// Options and positions

export const fileSourceOptionsSchema = z.strictObject({
  /** Files to replay; one partition each. */
  files: z.array(z.string().min(1)).min(1),
  name: z.string().min(1).default('file'),
  /** Partition id = path relative to root (e.g. "realKnownCause/nyc_taxi.csv"); default: the file name. */
  root: z.string().optional(),
  /** Longer lines become INPUT_OVERSIZED dead letters (payload: their first maxLineBytes bytes). */
  maxLineBytes: z.number().int().min(16).default(4 * 1024 * 1024),
  readChunkBytes: z.number().int().min(16).default(1024 * 1024),
})
export type FileSourceOptionsInput = z.input<typeof fileSourceOptionsSchema>
export type FileSourceOptions = z.output<typeof fileSourceOptionsSchema>

/** Position of a file partition: byte offset just after the last consumed line, and lines consumed. */
export interface FilePosition {
  byte: number
  line: number
  /**
   * The file was exhausted by then. Kept in the position so that a restored source leaves a finished
   * file out of poll()'s budget split exactly as the uninterrupted run did (same batches after restore).
   */
  done?: boolean
}

// ---------------------------------------------------------------------------------------------
// Incremental line reader with exact byte offsets

type LineSink = (buf: Buffer, start: number, end: number, lineNo: number, oversized: boolean) => void

class LineReader {
  private buf: Buffer
  private start = 0 // first unconsumed byte in buf
  private scan = 0 // no '\n' in [start, scan)
  private end = 0 // end of valid data in buf
  private filePos: number // file offset of buf[end]
  private eof = false
  private discarding = false // inside an oversized line, dropping bytes until its '\n'
  line: number

  constructor(private readonly fh: FileHandle, pos: FilePosition, chunk: number, private readonly maxLineBytes: number) {
    this.filePos = pos.byte
    this.line = pos.line
    this.buf = Buffer.allocUnsafe(Math.max(64, Math.min(chunk, maxLineBytes + 1)))
  }

  /** Byte offset just after the last consumed line. */
  get byte(): number { return this.filePos - (this.end - this.start) }

  get exhausted(): boolean { return this.eof && this.start === this.end && !this.discarding }

  /** Hands up to maxLines lines to sink (synchronously between reads); returns how many. */
  async read(maxLines: number, sink: LineSink): Promise<number> {
    let n = 0
    while (n < maxLines || this.discarding) {
      const nl = this.buf.indexOf(10, this.scan)
      if (nl !== -1 && nl < this.end) {
        if (this.discarding) this.discarding = false
        else { sink(this.buf, this.start, nl, this.line + 1, false); n++ }
        this.line++
        this.start = this.scan = nl + 1
        continue
      }
      this.scan = this.end
      if (this.discarding) { this.start = this.scan = this.end = 0 }
      else if (this.end - this.start > this.maxLineBytes) {
        sink(this.buf, this.start, this.start + this.maxLineBytes, this.line + 1, true)
        n++
        this.discarding = true
        this.start = this.scan = this.end = 0
      }
      if (this.eof) {
        if (this.discarding) { this.discarding = false; this.line++; break }
        if (this.start < this.end) {
          // Last line without a trailing newline.
          sink(this.buf, this.start, this.end, this.line + 1, false)
          n++
          this.line++
          this.start = this.scan = this.end
        }
        break
      }
      await this.fill()
    }
    return n
  }

  private async fill(): Promise<void> {
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end)
      this.end -= this.start
      this.scan -= this.start
      this.start = 0
    }
    if (this.end === this.buf.length) {
      // A line longer than the buffer: grow up to maxLineBytes + 1, enough to detect oversize.
      const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxLineBytes + 1))
      this.buf.copy(bigger, 0, 0, this.end)
      this.buf = bigger
    }
    const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.filePos)
    if (bytesRead === 0) this.eof = true
    this.end += bytesRead
    this.filePos += bytesRead
  }
}

// ---------------------------------------------------------------------------------------------
// The generic file source

/** What decode() returns for a line that is not a record. */
export class Rejection {
  constructor(readonly code: ErrorCode, readonly reason: string) {}
}
/** What decode() returns for a line to skip silently (a header). */
export const SKIP: unique symbol = Symbol('skip')

interface PartitionState {
  id: string
  path: string
  fh: FileHandle | null
  reader: LineReader | null
  pos: FilePosition
  finished: boolean
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/**
 * A Source over line-oriented files. Subclasses say how a line decodes (decode) and what a record's
 * event time is (timeOf). poll() shares its budget between the unfinished files so their event times
 * advance together.
 */
export abstract class LineFileSource<T> implements Source<T> {
  readonly name: string
  readonly options: FileSourceOptions
  private readonly parts: PartitionState[]
  private paused = false

  constructor(component: string, input: FileSourceOptionsInput) {
    this.options = parseOptions(component, fileSourceOptionsSchema, input)
    this.name = this.options.name
    const seen = new Set<string>()
    this.parts = this.options.files.map((f) => {
      const path = resolve(f)
      const id = this.options.root !== undefined ? relative(resolve(this.options.root), path).split(sep).join('/') : basename(path)
      if (seen.has(id)) throw new TrendwireError('CONFIG_INVALID', `${component}: invalid options: files: two files map to partition "${id}" (set root to use relative paths)`)
      seen.add(id)
      return { id, path, fh: null, reader: null, pos: { byte: 0, line: 0 }, finished: false }
    })
  }

  get partitionIds(): string[] { return this.parts.map((p) => p.id) }

  /** Decode one line (without its '\n'). lineNo is 1-based. */
  protected abstract decode(text: string, lineNo: number, partition: string): T | Rejection | typeof SKIP
  protected abstract timeOf(value: T): number

  async open(positions: Record<string, unknown> | null, hooks?: SourceHooks): Promise<void> {
    await this.close()
    try {
      for (const p of this.parts) await this.openPartition(p, positions?.[p.id])
    } catch (err) {
      await this.close()
      throw err
    }
    hooks?.onAssign(this.partitionIds)
  }

  private async openPartition(p: PartitionState, raw: unknown): Promise<void> {
    let pos: FilePosition = { byte: 0, line: 0 }
    if (raw !== undefined) {
      const r = raw as Partial<FilePosition> | null
      if (!r || !Number.isInteger(r.byte) || !Number.isInteger(r.line) || r.byte! < 0 || r.line! < 0) {
        throw new TrendwireError('CHECKPOINT_CORRUPT', `${this.name}: position of ${p.id} must be { byte, line } non-negative integers, got ${JSON.stringify(raw)}`)
      }
      pos = { byte: r.byte!, line: r.line! }
    }
    let size: number
    try {
      size = (await stat(p.path)).size
    } catch (cause) {
      throw new TrendwireError('CONFIG_INVALID', `${this.name}: cannot open ${p.path}: ${(cause as Error).message}`, { cause })
    }
    if (pos.byte > size) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', `${this.name}: position ${pos.byte} of ${p.id} is past the end of the file (${size} bytes): was it truncated?`)
    }
    try {
      p.fh = await openFile(p.path, 'r')
    } catch (cause) {
      throw new TrendwireError('CONFIG_INVALID', `${this.name}: cannot open ${p.path}: ${(cause as Error).message}`, { cause })
    }
    p.pos = pos
    p.reader = new LineReader(p.fh, pos, this.options.readChunkBytes, this.options.maxLineBytes)
    p.finished = false
    if ((raw as Partial<FilePosition> | undefined)?.done === true) {
      p.finished = true
      p.pos = { ...pos, done: true }
      await p.fh.close()
      p.fh = null
    }
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    const active = this.parts.filter((p) => !p.finished)
    const batches: SourceBatch<T>[] = []
    const finished: string[] = []
    if (this.paused || active.length === 0) return { batches, done: active.length === 0 }
    const quota = Math.max(1, Math.ceil(maxRecords / active.length))
    for (const p of active) {
      if (!p.reader) throw new TrendwireError('SOURCE_FAILED', `${this.name}: poll before open`)
      const values: T[] = []
      const times: number[] = []
      const deadLetters: DeadLetter[] = []
      const reject = (buf: Buffer, s: number, e: number, lineNo: number, code: ErrorCode, reason: string): void => {
        deadLetters.push({
          source: this.name, partition: p.id, position: String(lineNo), code,
          reason: `${p.id} line ${lineNo}: ${reason}`, payload: new Uint8Array(buf.subarray(s, e)), at: Date.now(),
        })
      }
      try {
        await p.reader.read(quota, (buf, s, e, lineNo, oversized) => {
          if (oversized) return reject(buf, s, e, lineNo, 'INPUT_OVERSIZED', `line longer than ${this.options.maxLineBytes} bytes (payload truncated to that)`)
          const text = buf.toString('utf8', s, e)
          if (text.includes('\uFFFD')) {
            try { utf8Strict.decode(buf.subarray(s, e)) } catch { return reject(buf, s, e, lineNo, 'INPUT_MALFORMED', 'invalid UTF-8') }
          }
          let r: T | Rejection | typeof SKIP
          try {
            r = this.decode(text, lineNo, p.id)
          } catch (err) {
            r = new Rejection('INPUT_MALFORMED', err instanceof Error ? err.message : String(err))
          }
          if (r === SKIP) return
          if (r instanceof Rejection) return reject(buf, s, e, lineNo, r.code, r.reason)
          values.push(r)
          times.push(this.timeOf(r))
        })
      } catch (cause) {
        throw new TrendwireError('SOURCE_FAILED', `${this.name}: reading ${p.path} failed: ${(cause as Error).message}`, { cause })
      }
      p.pos = { byte: p.reader.byte, line: p.reader.line }
      if (values.length > 0 || deadLetters.length > 0) {
        batches.push(deadLetters.length > 0 ? { partition: p.id, values, times, deadLetters } : { partition: p.id, values, times })
      }
      if (p.reader.exhausted) {
        p.finished = true
        p.pos = { ...p.pos, done: true }
        finished.push(p.id)
        await p.fh?.close()
        p.fh = null
      }
    }
    const done = this.parts.every((p) => p.finished)
    return finished.length > 0 ? { batches, finished, done } : { batches, done }
  }

  positions(): Record<string, unknown> {
    const out: Record<string, FilePosition> = {}
    for (const p of this.parts) out[p.id] = p.pos.done ? { byte: p.pos.byte, line: p.pos.line, done: true } : { byte: p.pos.byte, line: p.pos.line }
    return out
  }

  pause(): void { this.paused = true }
  resume(): void { this.paused = false }

  async close(): Promise<void> {
    for (const p of this.parts) {
      await p.fh?.close()
      p.fh = null
      p.reader = null
    }
  }
}

// ---------------------------------------------------------------------------------------------
// NDJSON firehose events

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
  return shown.join('; ') + (error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '')
}

/** Replays NDJSON files of FirehoseEvents (e.g. written by `trendwire generate`). */
export class NdjsonEventSource extends LineFileSource<FirehoseEvent> {
  constructor(input: FileSourceOptionsInput) {
    super('ndjson source', { name: 'ndjson', ...input })
  }

  protected decode(text: string): FirehoseEvent | Rejection | typeof SKIP {
    if (text.trim() === '') return SKIP
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      return new Rejection('INPUT_MALFORMED', `not valid JSON: ${(err as Error).message}`)
    }
    const r = FirehoseEventJson.safeParse(json)
    if (!r.success) return new Rejection('INPUT_SCHEMA_MISMATCH', `not a firehose event: ${describeIssues(r.error)}`)
    return r.data
  }

  protected timeOf(e: FirehoseEvent): number {
    return eventTime(e)
  }
}

// ---------------------------------------------------------------------------------------------
// NAB CSV series

/** One row of a NAB-style series. */
export interface SeriesPoint {
  /** The partition id of its file (e.g. "nyc_taxi.csv", or "realKnownCause/nyc_taxi.csv" with root). */
  series: string
  /** Epoch ms (UTC). */
  timestamp: number
  value: number
}

const NAB_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$/

/** `YYYY-MM-DD HH:MM[:SS[.mmm]]` as UTC epoch ms; NaN if it is not one (or not a real date). */
export function parseNabTimestamp(s: string): number {
  const m = NAB_TIME.exec(s)
  if (!m) return NaN
  const [y, mo, d, h, mi, se] = [+m[1], +m[2], +m[3], +m[4], +m[5], m[6] ? +m[6] : 0]
  const ms = m[7] ? +m[7].padEnd(3, '0') : 0
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms)
  const back = new Date(t)
  // Date.UTC rolls over (Feb 30 → Mar 2): reject instead.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return NaN
  return t
}

/** Replays NAB-style `timestamp,value` CSV files as SeriesPoints, event time = the row's timestamp. */
export class NabCsvSource extends LineFileSource<SeriesPoint> {
  constructor(input: FileSourceOptionsInput) {
    super('nab csv source', { name: 'nab', ...input })
  }

  protected decode(raw: string, lineNo: number, partition: string): SeriesPoint | Rejection | typeof SKIP {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (text.trim() === '') return SKIP
    if (lineNo === 1 && /^\s*"?timestamp"?\s*,/i.test(text)) return SKIP
    const comma = text.indexOf(',')
    if (comma < 0) return new Rejection('INPUT_MALFORMED', 'expected "timestamp,value"')
    const next = text.indexOf(',', comma + 1)
    const ts = text.slice(0, comma).trim()
    const v = text.slice(comma + 1, next < 0 ? undefined : next).trim()
    const timestamp = parseNabTimestamp(ts)
    if (Number.isNaN(timestamp)) return new Rejection('INPUT_BAD_TIMESTAMP', `bad timestamp ${JSON.stringify(ts)} (want YYYY-MM-DD HH:MM:SS, UTC)`)
    const value = v === '' ? NaN : Number(v)
    if (!Number.isFinite(value)) return new Rejection('INPUT_MALFORMED', `bad value ${JSON.stringify(v)}`)
    return { series: partition, timestamp, value }
  }

  protected timeOf(p: SeriesPoint): number {
    return p.timestamp
  }
}
