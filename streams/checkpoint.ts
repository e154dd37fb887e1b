// Checkpoint stores. A checkpoint is one v8-serialised CheckpointData (structured clone: Maps,
// Sets and typed arrays survive as they are), framed as
//   "TWCP" | u32 format version | u32 crc32 of body | body
// so a torn or foreign file is detected instead of restored.
// The file store writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
// directory: a reader (or a restart after kill -9) sees the old checkpoint or the new, never half.
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import { crc32 } from 'node:zlib'
import { TrendwireError } from './errors.ts'
import type { CheckpointData, CheckpointStore } from './types.ts'

const MAGIC = Buffer.from('TWCP')
const FORMAT = 1

export function encodeCheckpoint(data: CheckpointData): Uint8Array {
  const body = serialize(data)
  const head = Buffer.alloc(12)
  MAGIC.copy(head, 0)
  head.writeUInt32BE(FORMAT, 4)
  head.writeUInt32BE(crc32(body) >>> 0, 8)
  return Buffer.concat([head, body])
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointData {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < 12 || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: not a trendwire checkpoint (bad magic)')
  }
  const format = buf.readUInt32BE(4)
  if (format !== FORMAT) throw new TrendwireError('CHECKPOINT_CORRUPT', `checkpoint: unsupported format ${format}`)
  const body = buf.subarray(12)
  if ((crc32(body) >>> 0) !== buf.readUInt32BE(8)) throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: checksum mismatch (torn or corrupted file)')
  return deserialize(body) as CheckpointData
}

export class FileCheckpointStore implements CheckpointStore {
  readonly path: string
  constructor(dir: string, name = 'checkpoint') {
    this.path = join(dir, `${name}.twcp`)
  }

  async load(): Promise<Uint8Array | null> {
    try {
      return await readFile(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw new TrendwireError('CHECKPOINT_FAILED', `checkpoint: cannot read ${this.path}`, { cause: err })
    }
  }

  async save(bytes: Uint8Array, id: number): Promise<void> {
    const dir = dirname(this.path)
    await mkdir(dir, { recursive: true })
    const tmp = `${this.path}.${id}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, this.path)
    const d = await open(dir, 'r')
    try {
      await d.sync()
    } finally {
      await d.close()
    }
  }
}

/** Keeps checkpoints in memory: for tests and runs that need no recovery. */
export class MemoryCheckpointStore implements CheckpointStore {
  bytes: Uint8Array | null = null
  saves = 0
  async load(): Promise<Uint8Array | null> {
    return this.bytes
  }
  async save(bytes: Uint8Array): Promise<void> {
    this.bytes = bytes
    this.saves++
  }
}
