// RowBinary: ClickHouse's binary row format — each row its values one after another, little-endian,
// strings and arrays prefixed by a LEB128 length, Nullable by a 0/1 byte
// (https://clickhouse.com/docs/interfaces/formats/RowBinary). The sink writes rows this way where every
// column's type is handled here: no number is printed as text and parsed back. Against
// JSONCompactEachRow, for the main job's two per-minute tables (72% of its rows), it halves ClickHouse's
// insert CPU and cuts what serialising costs the engine's thread (benchmarks/clickhouse/README.md,
// section 7).
//
// Built per column from the table's own types (DESCRIBE TABLE at open), like tsv.ts. Values mean what
// they mean in the JSON formats, so that a table's rows do not depend on the wire format (a test inserts
// the same records both ways and compares): times are epoch milliseconds (DateTime64 ticks are
// ms · 10^(P−3); DateTime takes seconds), null/undefined are the column's default outside Nullable, a
// non-finite float is NULL in a Nullable column and 0 outside one (JSON sends null for it), -0 is 0, named tuples
// come as objects or arrays. A value that does not fit its column (a string in a number column, a
// fraction or an out-of-range number in an integer column) throws RowValueError naming the column; the
// sink then dead-letters that row alone. A type not handled here (Enum, UUID, Map, Decimal, FixedString,
// JSON, …) makes the whole table keep a JSON format: rowBinaryEncoder returns null.

import type { BufferPool } from '../../streams/buffer-pool.ts'
import { splitArgs, unwrap } from './tsv.ts'

/**
 * Where rows are written: `buf[len…]`; reserve(n) makes room for n more bytes (may replace `buf`, and
 * then `view` with it: a DataView of `buf`, whose setFloat64 and friends the JIT inlines, where
 * Buffer#writeDoubleLE is a call with its own checks — 40% of the encoder's time).
 */
export interface ByteSink {
  buf: Buffer
  view: DataView
  len: number
  reserve(n: number): void
}

/** A DataView of the bytes of `buf`. */
export const viewOf = (buf: Buffer): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength)

/**
 * A ByteSink in one Buffer that doubles when full: taken from `pool` and the outgrown one given back
 * to it (so nothing may keep a view of `buf` across a write), or plain new Buffers without a pool.
 */
export class GrowingBytes implements ByteSink {
  len = 0
  buf: Buffer
  view: DataView
  constructor(private readonly pool: BufferPool | null, capacity: number) {
    this.buf = pool ? pool.take(capacity) : Buffer.allocUnsafe(capacity)
    this.view = viewOf(this.buf)
  }

  /** Room for n more bytes. */
  reserve(n: number): void {
    if (this.len + n > this.buf.length) this.grow(n)
  }

  private grow(n: number): void {
    const size = Math.max(this.buf.length * 2, this.len + n)
    const next = this.pool ? this.pool.take(size) : Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.len)
    this.pool?.give(this.buf)
    this.buf = next
    this.view = viewOf(next)
  }

  /** The bytes written. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

export class RowValueError extends Error {
  constructor(readonly column: string, message: string) {
    super(`column ${column}: ${message}`)
  }
}

type Enc = (v: unknown, w: ByteSink) => void
type Dec = (r: Reader) => unknown

export type RowBinaryEncoder = (values: readonly unknown[], w: ByteSink) => void

interface Reader { b: Buffer; p: number }

/** The fields of a Tuple's type arguments: "name Type" (named) or "Type". */
function tupleFields(args: string): Array<{ name: string | null; type: string }> {
  return splitArgs(args).map((f) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$/.exec(f)
    return m ? { name: m[1], type: m[2] } : { name: null, type: f }
  })
}

function writeVarUint(w: ByteSink, n: number): void {
  w.reserve(10)
  const b = w.buf
  while (n >= 0x80) {
    b[w.len++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  b[w.len++] = n
}

function readVarUint(r: Reader): number {
  let n = 0
  let mul = 1
  for (;;) {
    if (r.p >= r.b.length) throw new RangeError('RowBinary: body ends inside a length')
    const byte = r.b[r.p++]
    n += (byte & 0x7f) * mul
    if (byte < 0x80) return n
    mul *= 128
  }
}

function need(r: Reader, n: number): void {
  if (r.p + n > r.b.length) throw new RangeError('RowBinary: body ends inside a value')
}

/** A string as JSON would send it to a String column. */
function asText(v: unknown): string {
  if (typeof v === 'string') return v
  if (v === null || v === undefined) return ''
  if (typeof v === 'object') return JSON.stringify(v) ?? ''
  return String(v)
}

function writeString(w: ByteSink, s: string): void {
  const n = s.length
  // ASCII up to 127 characters: its bytes are its characters, one length byte; written here rather
  // than through Buffer#write, which costs a native call per string.
  if (n < 128) {
    w.reserve(n * 3 + 2)
    const b = w.buf
    const start = w.len
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      b[start + 1 + i] = c
    }
    if (i === n) {
      b[start] = n
      w.len = start + 1 + n
      return
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8')
  writeVarUint(w, bytes)
  w.reserve(bytes)
  w.len += w.buf.write(s, w.len, 'utf8')
}

const INT_RANGES: Record<string, [number, number, number]> = {
  // bytes, min, max
  UInt8: [1, 0, 0xff], UInt16: [2, 0, 0xffff], UInt32: [4, 0, 0xffffffff],
  Int8: [1, -0x80, 0x7f], Int16: [2, -0x8000, 0x7fff], Int32: [4, -0x80000000, 0x7fffffff],
}

function toNumber(v: unknown, column: string): number | null {
  if (typeof v === 'number') return v
  if (v === null || v === undefined) return null
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v)
  throw new RowValueError(column, `${JSON.stringify(v) ?? String(v)} is not a number`)
}

const TWO32 = 2 ** 32

/**
 * Encoder of one value of `type` (of column `column`, for errors); null when the type is not handled.
 * Nullable decides itself that a non-finite float or time is NULL; inside, it would be the default.
 */
function encoder(type: string, column: string): Enc | null {
  type = type.trim()
  const lc = unwrap(type, 'LowCardinality')
  if (lc !== null) return encoder(lc, column)
  const inner = unwrap(type, 'Nullable')
  if (inner !== null) {
    const enc = encoder(inner, column)
    if (!enc) return null
    const isFloat = /^(Float(32|64)|DateTime64\(.*\))$/.test(inner)
    return (v, w) => {
      if (v === null || v === undefined || (isFloat && typeof v === 'number' && !Number.isFinite(v))) {
        w.reserve(1)
        w.buf[w.len++] = 1
        return
      }
      w.reserve(1)
      w.buf[w.len++] = 0
      enc(v, w)
    }
  }
  const array = unwrap(type, 'Array')
  if (array !== null) {
    if (array === 'Float32') {
      return (v, w) => {
        if (v === null || v === undefined) return writeVarUint(w, 0)
        if (v instanceof Float32Array) {
          writeVarUint(w, v.length)
          w.reserve(v.byteLength)
          // little-endian machines only (checked below): the bytes are the wire form
          w.buf.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), w.len)
          w.len += v.byteLength
          return
        }
        if (!Array.isArray(v)) throw new RowValueError(column, 'not an array')
        writeVarUint(w, v.length)
        w.reserve(4 * v.length)
        for (let i = 0; i < v.length; i++) {
          const x = toNumber(v[i], column)
          w.view.setFloat32(w.len, x === null || !Number.isFinite(x) ? 0 : x, true)
          w.len += 4
        }
      }
    }
    const el = encoder(array, column)
    if (!el) return null
    return (v, w) => {
      if (v === null || v === undefined) return writeVarUint(w, 0)
      if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new RowValueError(column, 'not an array')
      const a = v as ArrayLike<unknown>
      writeVarUint(w, a.length)
      for (let i = 0; i < a.length; i++) el(a[i], w)
    }
  }
  const tuple = unwrap(type, 'Tuple')
  if (tuple !== null) {
    const fields = tupleFields(tuple)
    const encs = fields.map((f) => encoder(f.type, column))
    if (encs.some((e) => !e)) return null
    const names = fields.map((f) => f.name)
    const named = names.every((n) => n !== null)
    return (v, w) => {
      if (Array.isArray(v)) {
        for (let i = 0; i < encs.length; i++) encs[i]!(v[i], w)
      } else if (named && v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>
        for (let i = 0; i < encs.length; i++) encs[i]!(o[names[i]!], w)
      } else if (v === null || v === undefined) {
        for (let i = 0; i < encs.length; i++) encs[i]!(undefined, w)
      } else {
        throw new RowValueError(column, 'not a tuple (an array, or an object for a named tuple)')
      }
    }
  }
  if (type === 'String') return (v, w) => writeString(w, asText(v))
  if (type === 'Bool') {
    return (v, w) => {
      w.reserve(1)
      w.buf[w.len++] = v === true || (typeof v === 'number' && v !== 0) ? 1 : 0
    }
  }
  const int = INT_RANGES[type]
  if (int) {
    const [bytes, min, max] = int
    return (v, w) => {
      const x = toNumber(v, column) ?? 0
      const n = Number.isNaN(x) ? 0 : x
      if (!Number.isInteger(n) || n < min || n > max) throw new RowValueError(column, `${n} is not a ${type}`)
      w.reserve(bytes)
      if (bytes === 1) w.buf[w.len] = n & 0xff
      else if (bytes === 2) w.view.setUint16(w.len, n & 0xffff, true)
      else w.view.setUint32(w.len, n >>> 0, true)
      w.len += bytes
    }
  }
  if (type === 'UInt64' || type === 'Int64') {
    const signed = type === 'Int64'
    return (v, w) => {
      w.reserve(8)
      if (typeof v === 'bigint') {
        try {
          if (signed) w.buf.writeBigInt64LE(v, w.len)
          else w.buf.writeBigUInt64LE(v, w.len)
        } catch {
          throw new RowValueError(column, `${v} is not a ${type}`)
        }
        w.len += 8
        return
      }
      const x = toNumber(v, column) ?? 0
      const n = Number.isNaN(x) ? 0 : x
      if (!Number.isSafeInteger(n) || (!signed && n < 0)) throw new RowValueError(column, `${n} is not a ${type} a JS number holds exactly`)
      writeInt64(w, n)
    }
  }
  if (type === 'Float64' || type === 'Float32') {
    const f64 = type === 'Float64'
    return (v, w) => {
      const x = toNumber(v, column)
      // + 0: -0 is 0, as JSON writes it
      const n = x === null || !Number.isFinite(x) ? 0 : x + 0
      w.reserve(8)
      if (f64) {
        w.view.setFloat64(w.len, n, true)
        w.len += 8
      } else {
        w.view.setFloat32(w.len, n, true)
        w.len += 4
      }
    }
  }
  const dt64 = /^DateTime64\((\d+)\s*(?:,\s*'[^']*')?\)$/.exec(type)
  if (dt64) {
    const p = Number(dt64[1])
    const scale = 10 ** (p - 3)
    return (v, w) => {
      const x = toNumber(v, column)
      const ms = x === null || !Number.isFinite(x) ? 0 : x
      const ticks = Math.round(ms * scale)
      if (!Number.isSafeInteger(ticks)) throw new RowValueError(column, `${ms} ms is out of range for ${type}`)
      writeInt64(w, ticks)
    }
  }
  if (/^DateTime(\(\s*'[^']*'\s*\))?$/.test(type)) {
    // seconds, as a JSON number into DateTime is read
    return (v, w) => {
      const x = toNumber(v, column)
      const s = x === null || !Number.isFinite(x) ? 0 : Math.floor(x)
      if (s < 0 || s > 0xffffffff) throw new RowValueError(column, `${s} s is out of range for ${type}`)
      w.reserve(4)
      w.view.setUint32(w.len, s, true)
      w.len += 4
    }
  }
  return null
}

function writeInt64(w: ByteSink, n: number): void {
  w.reserve(8)
  const lo = n >= 0 ? n % TWO32 : ((n % TWO32) + TWO32) % TWO32
  const hi = Math.floor(n / TWO32)
  w.view.setUint32(w.len, lo, true)
  w.view.setInt32(w.len + 4, hi < 0x80000000 ? hi : hi - TWO32, true)
  w.len += 8
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * A RowBinary row encoder for columns of these names and types, in this order; null if any type is not
 * handled (or the machine is big-endian). A value that does not fit throws RowValueError, and the
 * row's bytes written so far stay in `w` past `w.len` — the caller resets `len` to drop them.
 */
export function rowBinaryEncoder(columns: readonly string[], types: readonly string[]): RowBinaryEncoder | null {
  if (!littleEndian) return null
  const encs: Enc[] = []
  for (let i = 0; i < types.length; i++) {
    const e = encoder(types[i], columns[i])
    if (!e) return null
    encs.push(e)
  }
  const n = encs.length
  return (values, w) => {
    for (let i = 0; i < n; i++) encs[i](values[i], w)
  }
}

// ---- decoding (dead letters of a refused chunk; tests) ----------------------------------------------

function decoder(type: string): Dec | null {
  type = type.trim()
  const lc = unwrap(type, 'LowCardinality')
  if (lc !== null) return decoder(lc)
  const inner = unwrap(type, 'Nullable')
  if (inner !== null) {
    const dec = decoder(inner)
    if (!dec) return null
    return (r) => {
      need(r, 1)
      return r.b[r.p++] === 1 ? null : dec(r)
    }
  }
  const array = unwrap(type, 'Array')
  if (array !== null) {
    const el = decoder(array)
    if (!el) return null
    return (r) => {
      const n = readVarUint(r)
      const out = new Array(n)
      for (let i = 0; i < n; i++) out[i] = el(r)
      return out
    }
  }
  const tuple = unwrap(type, 'Tuple')
  if (tuple !== null) {
    const fields = tupleFields(tuple)
    const decs = fields.map((f) => decoder(f.type))
    if (decs.some((d) => !d)) return null
    const named = fields.every((f) => f.name !== null)
    return (r) => {
      if (named) {
        const o: Record<string, unknown> = {}
        for (let i = 0; i < decs.length; i++) o[fields[i].name!] = decs[i]!(r)
        return o
      }
      return decs.map((d) => d!(r))
    }
  }
  if (type === 'String') {
    return (r) => {
      const n = readVarUint(r)
      need(r, n)
      const s = r.b.toString('utf8', r.p, r.p + n)
      r.p += n
      return s
    }
  }
  if (type === 'Bool') return (r) => { need(r, 1); return r.b[r.p++] !== 0 }
  const int = INT_RANGES[type]
  if (int) {
    const [bytes, min] = int
    const signed = min < 0
    return (r) => {
      need(r, bytes)
      const v = signed ? r.b.readIntLE(r.p, bytes) : r.b.readUIntLE(r.p, bytes)
      r.p += bytes
      return v
    }
  }
  if (type === 'UInt64' || type === 'Int64') {
    return (r) => {
      need(r, 8)
      const v = type === 'Int64' ? r.b.readBigInt64LE(r.p) : r.b.readBigUInt64LE(r.p)
      r.p += 8
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
    }
  }
  if (type === 'Float64') return (r) => { need(r, 8); const v = r.b.readDoubleLE(r.p); r.p += 8; return v }
  if (type === 'Float32') return (r) => { need(r, 4); const v = r.b.readFloatLE(r.p); r.p += 4; return v }
  const dt64 = /^DateTime64\((\d+)\s*(?:,\s*'[^']*')?\)$/.exec(type)
  if (dt64) {
    const scale = 10 ** (Number(dt64[1]) - 3)
    return (r) => { need(r, 8); const v = Number(r.b.readBigInt64LE(r.p)) / scale; r.p += 8; return v }
  }
  if (/^DateTime(\(\s*'[^']*'\s*\))?$/.test(type)) return (r) => { need(r, 4); const v = r.b.readUInt32LE(r.p); r.p += 4; return v }
  return null
}

/**
 * The rows of a RowBinary body as arrays of values (times as epoch ms, 64-bit integers as numbers, or
 * strings beyond 2^53); null when a type is not handled. Throws RangeError on a body cut short.
 */
export function decodeRowBinary(types: readonly string[], body: Uint8Array): unknown[][] | null {
  const decs: Dec[] = []
  for (const t of types) {
    const d = decoder(t)
    if (!d) return null
    decs.push(d)
  }
  const r: Reader = { b: Buffer.from(body.buffer, body.byteOffset, body.byteLength), p: 0 }
  const rows: unknown[][] = []
  while (r.p < r.b.length) {
    const row = new Array(decs.length)
    for (let i = 0; i < decs.length; i++) row[i] = decs[i](r)
    rows.push(row)
  }
  return rows
}

/** "name Type, …" for the file() table function's structure argument. */
export function structureOf(columns: readonly string[], types: readonly string[]): string {
  return columns.map((c, i) => `\`${c.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\` ${types[i]}`).join(', ')
}
