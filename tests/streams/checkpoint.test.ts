// The checkpoint file format: round trips (Maps, typed arrays, small and large byte arrays), large byte
// arrays kept out of the v8 body, corruption anywhere detected, and format-1 files still read.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { serialize } from 'node:v8'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import { BLOB_MIN_BYTES, decodeCheckpoint, encodeCheckpoint as encodeParts } from '../../streams/checkpoint.ts'
import type { CheckpointData } from '../../streams/types.ts'

const encodeCheckpoint = (d: CheckpointData): Buffer => Buffer.concat(encodeParts(d))

function data(sinks: Record<string, unknown>): CheckpointData {
  return {
    version: 1, id: 7, topology: 't', takenAt: 1_700_000_000_000,
    positions: { 'p-0': 41 }, watermarks: { 'p-0': 1000 },
    operators: { counts: { m: new Map([['a', 1], ['b', 2]]), f: new Float64Array([1.5, -2]), s: new Set(['x']) } },
    sinks,
  }
}

test('round trip: large byte arrays go after the body, once, and come back equal and of the same kind', () => {
  const big = randomBytes(BLOB_MIN_BYTES * 3 + 5)
  const bigU8 = new Uint8Array(randomBytes(BLOB_MIN_BYTES))
  const slice = randomBytes(BLOB_MIN_BYTES * 2).subarray(7, 7 + BLOB_MIN_BYTES + 1) // a view into a larger buffer
  const small = Buffer.from('a small tail\n')
  const d = data({ ch: { tailBody: big, other: slice, small, raw: bigU8, tail: [] }, empty: Buffer.alloc(0) })
  const parts = encodeParts(d)
  // head, body, then the three large arrays as views of the caller's memory, not copies
  assert.equal(parts.length, 5)
  assert.ok(parts[2].buffer === big.buffer && parts[3].buffer === slice.buffer && parts[4].buffer === bigU8.buffer, 'blobs are views, in order')
  const bytes = Buffer.concat(parts)
  const blobs = big.length + bigU8.length + slice.length
  // The file is the body plus each large array once: the v8 body itself stays small.
  const bodyLen = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(12)
  assert.ok(bodyLen < 1024, `v8 body ${bodyLen} bytes`)
  assert.equal(bytes.byteLength, 16 + bodyLen + blobs)
  const back = decodeCheckpoint(bytes)
  const ch = back.sinks.ch as { tailBody: Buffer; other: Buffer; small: Buffer; raw: Uint8Array }
  assert.ok(Buffer.isBuffer(ch.tailBody) && ch.tailBody.equals(big))
  assert.ok(Buffer.isBuffer(ch.other) && ch.other.equals(slice))
  assert.ok(Buffer.isBuffer(ch.small) && ch.small.equals(small))
  assert.ok(!Buffer.isBuffer(ch.raw) && ch.raw instanceof Uint8Array && Buffer.from(ch.raw).equals(Buffer.from(bigU8)))
  assert.deepEqual(back.operators, d.operators)
  assert.deepEqual(back.positions, d.positions)
  assert.equal((back.sinks.empty as Buffer).length, 0)
})

test('a flipped byte anywhere — body or blob — is a CHECKPOINT_CORRUPT error, and so is a cut file', () => {
  const bytes = Buffer.from(encodeCheckpoint(data({ ch: { tailBody: randomBytes(BLOB_MIN_BYTES + 100) } })))
  for (const at of [20, 200, bytes.length - 50]) {
    const bad = Buffer.from(bytes)
    bad[at] ^= 0x40
    assert.throws(() => decodeCheckpoint(bad), (e: Error & { code?: string }) => e.code === 'CHECKPOINT_CORRUPT' && /checksum/.test(e.message), `byte ${at}`)
  }
  assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1)), /checksum/)
  assert.throws(() => decodeCheckpoint(Buffer.from('nope, not a checkpoint')), /bad magic/)
})

test('format 1 (the body with every byte array inside it) is still read', () => {
  const d = data({ ch: { tailBody: randomBytes(BLOB_MIN_BYTES * 2) } })
  const body = serialize(d)
  const head = Buffer.alloc(12)
  head.write('TWCP', 0)
  head.writeUInt32BE(1, 4)
  head.writeUInt32BE(crc32(body) >>> 0, 8)
  const back = decodeCheckpoint(Buffer.concat([head, body]))
  assert.ok((back.sinks.ch as { tailBody: Buffer }).tailBody.equals((d.sinks.ch as { tailBody: Buffer }).tailBody))
  assert.deepEqual(back.operators, d.operators)
})
