// A strict, allocation-free walk over Avro binary data, run before avsc decodes a message.
//
// Why: avsc's readers trust their input. An array block count read from hostile bytes (say 2^50) makes
// ArrayType._read push 2^50 items while reading past the end of the buffer (reads past the end yield
// zeros, not errors), so one 12-byte message can hang the engine or run it out of memory. avsc also
// does not say *why* a record failed. This walker checks every length and count against the bytes
// left, every enum and union index against the schema, and the record's end against the message's
// end, and names the field at fault. Once it passes, avsc's decode is safe and cannot read past the end.
//
// Avro binary encoding (https://avro.apache.org/docs/1.11.1/specification/#binary-encoding):
//   int, long       zig-zag varint, 7 bits a byte, low bits first; at most 5 / 10 bytes
//   float, double   4 / 8 bytes little-endian IEEE 754
//   boolean         one byte, 0 or 1
//   bytes, string   long length, then that many bytes (string: UTF-8)
//   fixed           `size` bytes
//   enum            int index into symbols
//   union           long branch index, then the branch's value
//   array, map      blocks: long count, then count items (map: string key + value); count 0 ends.
//                   A negative count -n means n items preceded by a long byte size of the block.
//   record          its fields in schema order, nothing between them
//
// Classification (the DeadLetter code the caller uses):
//   'malformed' -- the bytes are not well-formed Avro: truncated, trailing bytes, a varint longer than
//                  allowed, a negative length, a count that cannot fit in the bytes left.
//   'mismatch'  -- well-formed, but a value the schema does not allow: enum or union index out of
//                  range, boolean not 0/1, int beyond 32 bits, long beyond 2^53 (JavaScript numbers lose
//                  precision; avsc refuses them too), a string that is not valid UTF-8.
import avro from 'avsc'
import { isUtf8 } from 'node:buffer'

export type CheckFailure = 'malformed' | 'mismatch'

export class AvroCheckError extends Error {
  constructor(readonly kind: CheckFailure, message: string) {
    super(message)
    this.name = 'AvroCheckError'
  }
}

/** Cursor over one message. Reused across messages: no allocation per message. */
export class Cursor {
  buf: Uint8Array = new Uint8Array(0)
  pos = 0
  end = 0
  /** Where the Avro body starts, so reasons can give body-relative offsets. */
  start = 0

  reset(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf
    this.pos = start
    this.start = start
    this.end = end
    return this
  }
}

/** A compiled walker for one schema: advances the cursor past one value or throws AvroCheckError. */
export type Walker = (c: Cursor) => void

// Counts of zero-byte items (e.g. an array of nulls) cannot be bounded by the bytes left.
const MAX_ZERO_SIZE_ITEMS = 1_000_000
const TWO_POW_28 = 268_435_456

function truncated(c: Cursor, what: string, need: number): never {
  throw new AvroCheckError('malformed',
    `truncated: ${what} needs ${need} byte(s) at body offset ${c.pos - c.start} but only ${Math.max(0, c.end - c.pos)} remain`)
}

/**
 * Reads a zig-zag varint as a JS number. Exact for |n| < 2^52; beyond that, `unsafe` is set and the
 * caller decides (long: mismatch; lengths and counts: they cannot fit anyway). A module-level flag
 * rather than a returned pair keeps the hot path free of allocation.
 */
let unsafe = false
function readVarint(c: Cursor, what: string, maxBytes: number): number {
  const buf = c.buf
  const end = c.end
  let pos = c.pos
  let lo = 0
  let shift = 0
  let b: number
  // First 28 bits with integer arithmetic.
  do {
    if (pos >= end) { c.pos = pos; truncated(c, what, 1) }
    b = buf[pos++]!
    lo |= (b & 0x7f) << shift
    shift += 7
  } while (b & 0x80 && shift < 28)
  unsafe = false
  if (!(b & 0x80)) {
    c.pos = pos
    return (lo >>> 1) ^ -(lo & 1)
  }
  // More than 4 bytes: the high part in float arithmetic, exact while it stays below 2^53.
  let hi = 0
  let scale = 1
  let n = 4
  do {
    if (n >= maxBytes) {
      c.pos = pos
      throw new AvroCheckError('malformed', `invalid varint for ${what} at body offset ${pos - c.start}: longer than ${maxBytes} bytes`)
    }
    if (pos >= end) { c.pos = pos; truncated(c, what, 1) }
    b = buf[pos++]!
    hi += (b & 0x7f) * scale
    scale *= 128
    n++
  } while (b & 0x80)
  c.pos = pos
  // value = zigzag(u), u = lo + hi * 2^28: |value| = floor(u / 2) (+1 if negative). We insist on
  // u < 2^53 (|value| < 2^52): below that avsc's own float arithmetic is exact too, so the walker and
  // avsc can never disagree about a number. No trendwire field comes near 2^52 (year 144,000 in ms).
  if (hi >= 2 ** 25) unsafe = true
  const half = (lo >>> 1) + hi * (TWO_POW_28 / 2)
  return lo & 1 ? -half - 1 : half
}

function readLength(c: Cursor, what: string): number {
  const at = c.pos
  const n = readVarint(c, what, 10)
  if (n < 0) throw new AvroCheckError('malformed', `negative length ${n} for ${what} at body offset ${at - c.start}`)
  if (unsafe || n > c.end - c.pos) truncated(c, what, n)
  return n
}

function isAscii(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! > 0x7f) return false
  return true
}

/** Smallest number of bytes a value of this type can take, to bound block counts. */
function minSize(type: avro.Type, seen: Set<avro.Type> = new Set()): number {
  if (seen.has(type)) return 0 // recursive type: be conservative
  const name = type.typeName
  switch (name) {
    case 'null': return 0
    case 'boolean': case 'int': case 'long': case 'enum': case 'bytes': case 'string': case 'array': case 'map': return 1
    case 'float': return 4
    case 'double': return 8
    case 'fixed': return (type as avro.types.FixedType).size
    case 'record': case 'error': {
      seen.add(type)
      let s = 0
      for (const f of (type as avro.types.RecordType).fields) s += minSize(f.type, seen)
      seen.delete(type)
      return s
    }
    default:
      if (name.startsWith('union')) {
        seen.add(type)
        let s = Infinity
        for (const t of (type as avro.types.WrappedUnionType).types) s = Math.min(s, minSize(t, seen))
        seen.delete(type)
        return 1 + (s === Infinity ? 0 : s)
      }
      if (name.startsWith('logical')) return minSize((type as avro.types.LogicalType).underlyingType, seen)
      throw new Error(`avro-check: unsupported type ${name}`)
  }
}

/**
 * Compiles a walker for a (writer) schema. `label` names the value in reasons, e.g. "Engagement.userId".
 * Named types are compiled once; recursive schemas are supported through a late-bound indirection.
 */
export function compileWalker(type: avro.Type, label = type.name ?? type.typeName): Walker {
  return compile(type, label, new Map())
}

function compile(type: avro.Type, label: string, named: Map<avro.Type, { fn: Walker | null }>): Walker {
  const name = type.typeName
  switch (name) {
    case 'null': return () => {}
    case 'boolean': return (c) => {
      if (c.pos >= c.end) truncated(c, label, 1)
      const b = c.buf[c.pos]!
      if (b > 1) throw new AvroCheckError('mismatch', `${label}: boolean byte is ${b}, expected 0 or 1`)
      c.pos++
    }
    case 'int': return (c) => {
      const n = readVarint(c, label, 5)
      if (n > 2147483647 || n < -2147483648) throw new AvroCheckError('mismatch', `${label}: ${n} is out of the 32-bit int range`)
    }
    case 'long': return (c) => {
      readVarint(c, label, 10)
      if (unsafe) throw new AvroCheckError('mismatch', `${label}: long beyond ±2^52 is not accepted (JavaScript numbers, and avsc's decoder, lose precision near 2^53)`)
    }
    case 'float': return (c) => { if (c.end - c.pos < 4) truncated(c, label, 4); c.pos += 4 }
    case 'double': return (c) => { if (c.end - c.pos < 8) truncated(c, label, 8); c.pos += 8 }
    case 'bytes': return (c) => { const n = readLength(c, label); c.pos += n }
    case 'string': return (c) => {
      const len = readLength(c, label)
      const from = c.pos
      const to = from + len
      if (!isAscii(c.buf, from, to) && !isUtf8(c.buf.subarray(from, to))) {
        throw new AvroCheckError('mismatch', `${label}: string is not valid UTF-8`)
      }
      c.pos = to
    }
    case 'fixed': {
      const size = (type as avro.types.FixedType).size
      return (c) => { if (c.end - c.pos < size) truncated(c, label, size); c.pos += size }
    }
    case 'enum': {
      const symbols = (type as avro.types.EnumType).symbols
      return (c) => {
        const i = readVarint(c, label, 5)
        if (i < 0 || i >= symbols.length) {
          throw new AvroCheckError('mismatch', `${label}: enum index ${i} out of range (${type.name} has ${symbols.length} symbols)`)
        }
      }
    }
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType
      return blocks(label, minSize(items), compile(items, `${label}[]`, named), null)
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType as avro.Type
      const key = compile(avro.Type.forSchema('string'), `${label} key`, named)
      return blocks(label, 1 + minSize(values), compile(values, `${label}{}`, named), key)
    }
    case 'record': case 'error': {
      const existing = named.get(type)
      if (existing) return (c) => existing.fn!(c)
      const slot: { fn: Walker | null } = { fn: null }
      named.set(type, slot)
      const short = type.name!.slice(type.name!.lastIndexOf('.') + 1)
      const fields = (type as avro.types.RecordType).fields.map((f) => compile(f.type, `${short}.${f.name}`, named))
      const n = fields.length
      slot.fn = (c) => { for (let i = 0; i < n; i++) fields[i]!(c) }
      return slot.fn
    }
    default: {
      if (name.startsWith('union')) {
        const types = (type as avro.types.WrappedUnionType).types
        const branches = types.map((t) => compile(t, label, named))
        return (c) => {
          const i = readVarint(c, label, 10)
          if (unsafe || i < 0 || i >= branches.length) {
            throw new AvroCheckError('mismatch', `${label}: union branch ${i} out of range (${branches.length} branches)`)
          }
          branches[i]!(c)
        }
      }
      if (name.startsWith('logical')) return compile((type as avro.types.LogicalType).underlyingType, label, named)
      throw new Error(`avro-check: unsupported type ${name}`)
    }
  }
}

function blocks(label: string, itemMin: number, item: Walker, key: Walker | null): Walker {
  return (c) => {
    for (;;) {
      const at = c.pos
      let n = readVarint(c, `${label} block count`, 10)
      if (n === 0) return
      let blockEnd = -1
      if (n < 0) {
        n = -n
        const size = readLength(c, `${label} block size`)
        blockEnd = c.pos + size
      }
      const left = c.end - c.pos
      if (unsafe || (itemMin > 0 ? n * itemMin > left : n > MAX_ZERO_SIZE_ITEMS)) {
        throw new AvroCheckError('malformed',
          `${label}: block of ${n} item(s) at body offset ${at - c.start} cannot fit in the ${left} byte(s) left`)
      }
      for (let i = 0; i < n; i++) {
        if (key) key(c)
        item(c)
      }
      if (blockEnd >= 0 && c.pos !== blockEnd) {
        throw new AvroCheckError('malformed', `${label}: block size says it ends at body offset ${blockEnd - c.start}, items end at ${c.pos - c.start}`)
      }
    }
  }
}

/** Walks one whole value and insists it ends exactly at c.end (no trailing bytes). */
export function checkWhole(walker: Walker, c: Cursor, what: string): void {
  walker(c)
  checkEnd(c, what)
}

/** Throws unless the cursor is at the end of the message. */
export function checkEnd(c: Cursor, what: string): void {
  if (c.pos !== c.end) {
    throw new AvroCheckError('malformed', `trailing garbage: ${c.end - c.pos} byte(s) after the end of the ${what} record`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Compiled readers: the same checks as the walker, fused with decoding, in one pass.
//
// Used when a message's writer schema is the reader's own (no schema resolution needed: the common
// case). It skips avsc's per-message Tap and result objects and its record class, and builds the
// plain object the engine wants directly, with a fixed shape per record (one object literal per
// record type, generated once with new Function, like avsc and pino do, so V8 sees one hidden class).
// Differentially tested against walker + avsc (tests/schemas/reader.test.ts).

/** Reads one value at the cursor or throws AvroCheckError. */
export type Reader = (c: Cursor) => unknown

/** Reads a union branch index and checks it against `n` branches. */
export function readUnionIndex(c: Cursor, n: number, label: string): number {
  const i = readVarint(c, label, 10)
  if (unsafe || i < 0 || i >= n) throw new AvroCheckError('mismatch', `${label}: union branch ${i} out of range (${n} branches)`)
  return i
}

// Buffer#toString(enc, from, to) spends more time checking its arguments than decoding a short id
// (a third of the decode time in a profile). Node's Buffer has had latin1Slice / utf8Slice for
// years; avsc relies on them too. Feature-detected, with toString as the fallback.
type Slicer = (this: Buffer, from: number, to: number) => string
const proto = Buffer.prototype as unknown as { latin1Slice?: Slicer; utf8Slice?: Slicer }
const latin1Slice: Slicer = proto.latin1Slice ?? function (this: Buffer, from, to) { return this.toString('latin1', from, to) }
const utf8Slice: Slicer = proto.utf8Slice ?? function (this: Buffer, from, to) { return this.toString('utf8', from, to) }

function readString(c: Cursor, label: string): string {
  const len = readLength(c, label)
  const from = c.pos
  const to = from + len
  const buf = c.buf as Buffer
  c.pos = to
  // ASCII (ids, most text): a one-byte string straight from the bytes, no UTF-8 decoding.
  if (isAscii(buf, from, to)) return latin1Slice.call(buf, from, to)
  if (!isUtf8(buf.subarray(from, to))) {
    c.pos = from
    throw new AvroCheckError('mismatch', `${label}: string is not valid UTF-8`)
  }
  return utf8Slice.call(buf, from, to)
}

/**
 * Compiles a reader for `type`, producing what avsc produces with wrapUnions 'auto' for the supported
 * shapes, but as plain objects. `extra` adds constant properties first (e.g. { kind: 'engagement' }).
 * Returns undefined for shapes it does not handle (unions other than [null, T] or [T, null]): the
 * caller then uses the walker + avsc.
 * Note: cursor.buf must be a Buffer (floats, doubles and strings use Buffer's readers).
 */
export function compileReader(type: avro.Type, label = type.name ?? type.typeName, extra: Record<string, string> = {}): Reader | undefined {
  try {
    return reader(type, label, new Set(), extra)
  } catch (e) {
    if (e instanceof Unsupported) return undefined
    throw e
  }
}

class Unsupported extends Error {}

function reader(type: avro.Type, label: string, seen: Set<avro.Type>, extra: Record<string, string> = {}): Reader {
  const name = type.typeName
  switch (name) {
    case 'null': return () => null
    case 'boolean': return (c) => {
      if (c.pos >= c.end) truncated(c, label, 1)
      const b = c.buf[c.pos]!
      if (b > 1) throw new AvroCheckError('mismatch', `${label}: boolean byte is ${b}, expected 0 or 1`)
      c.pos++
      return b === 1
    }
    case 'int': return (c) => {
      const n = readVarint(c, label, 5)
      if (n > 2147483647 || n < -2147483648) throw new AvroCheckError('mismatch', `${label}: ${n} is out of the 32-bit int range`)
      return n
    }
    case 'long': return (c) => {
      const n = readVarint(c, label, 10)
      if (unsafe) throw new AvroCheckError('mismatch', `${label}: long beyond ±2^52 is not accepted (JavaScript numbers, and avsc's decoder, lose precision near 2^53)`)
      return n
    }
    case 'float': return (c) => {
      if (c.end - c.pos < 4) truncated(c, label, 4)
      const v = (c.buf as Buffer).readFloatLE(c.pos)
      c.pos += 4
      return v
    }
    case 'double': return (c) => {
      if (c.end - c.pos < 8) truncated(c, label, 8)
      const v = (c.buf as Buffer).readDoubleLE(c.pos)
      c.pos += 8
      return v
    }
    case 'string': return (c) => readString(c, label)
    case 'bytes': return (c) => {
      const n = readLength(c, label)
      const v = Buffer.from(c.buf.subarray(c.pos, c.pos + n))
      c.pos += n
      return v
    }
    case 'fixed': {
      const size = (type as avro.types.FixedType).size
      return (c) => {
        if (c.end - c.pos < size) truncated(c, label, size)
        const v = Buffer.from(c.buf.subarray(c.pos, c.pos + size))
        c.pos += size
        return v
      }
    }
    case 'enum': {
      const symbols = (type as avro.types.EnumType).symbols
      return (c) => {
        const i = readVarint(c, label, 5)
        if (i < 0 || i >= symbols.length) {
          throw new AvroCheckError('mismatch', `${label}: enum index ${i} out of range (${type.name} has ${symbols.length} symbols)`)
        }
        return symbols[i]
      }
    }
    case 'array': {
      const itemsType = (type as avro.types.ArrayType).itemsType
      const item = reader(itemsType, `${label}[]`, seen)
      const itemMin = minSize(itemsType)
      return (c) => {
        const out: unknown[] = []
        for (;;) {
          const at = c.pos
          let n = readVarint(c, `${label} block count`, 10)
          if (n === 0) return out
          let blockEnd = -1
          if (n < 0) {
            n = -n
            const size = readLength(c, `${label} block size`)
            blockEnd = c.pos + size
          }
          const left = c.end - c.pos
          if (unsafe || (itemMin > 0 ? n * itemMin > left : n > MAX_ZERO_SIZE_ITEMS)) {
            throw new AvroCheckError('malformed',
              `${label}: block of ${n} item(s) at body offset ${at - c.start} cannot fit in the ${left} byte(s) left`)
          }
          for (let i = 0; i < n; i++) out.push(item(c))
          if (blockEnd >= 0 && c.pos !== blockEnd) {
            throw new AvroCheckError('malformed', `${label}: block size says it ends at body offset ${blockEnd - c.start}, items end at ${c.pos - c.start}`)
          }
        }
      }
    }
    case 'record': case 'error': {
      if (seen.has(type)) throw new Unsupported() // recursive schema: leave it to avsc
      seen.add(type)
      const rt = type as avro.types.RecordType
      const short = type.name!.slice(type.name!.lastIndexOf('.') + 1)
      const fields = rt.fields.map((f) => reader(f.type, `${short}.${f.name}`, seen))
      seen.delete(type)
      // One object literal: constant properties first, then the fields in wire order (object literal
      // properties are evaluated left to right, which is exactly the order they are on the wire).
      const props = [
        ...Object.entries(extra).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`),
        ...rt.fields.map((f, i) => `${JSON.stringify(f.name)}: f[${i}](c)`),
      ]
      // eslint-disable-next-line no-new-func
      return new Function('f', `return function read_${short}(c) { return { ${props.join(', ')} } }`)(fields) as Reader
    }
    default: {
      if (name.startsWith('logical')) return reader((type as avro.types.LogicalType).underlyingType, label, seen)
      if (name.startsWith('union')) {
        const types = (type as avro.types.WrappedUnionType).types
        const nullAt = types.findIndex((t) => t.typeName === 'null')
        // avsc unwraps [null, T] to null | T; other unions it may wrap: leave those to avsc.
        if (types.length !== 2 || nullAt < 0 || name !== 'union:unwrapped') throw new Unsupported()
        const other = reader(types[1 - nullAt]!, label, seen)
        return (c) => (readUnionIndex(c, 2, label) === nullAt ? null : other(c))
      }
      throw new Unsupported()
    }
  }
}
