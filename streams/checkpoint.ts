// Checkpoint stores. A checkpoint is one v8-serialised CheckpointData (structured clone: Maps,
// Sets and typed arrays survive as they are), framed as
//   "TWCP" | u32 format 2 | u32 crc32 of the rest | u32 body length | body | blobs
// so a torn or foreign file is detected instead of restored. Byte arrays of 64 KiB or more (a
// ClickHouse sink's open chunk, up to tens of MB per checkpoint) are not copied into the v8 body: the
// body holds their place and length, and their bytes follow it as they are. v8.serialize would copy
// each into its growing buffer and Buffer.concat copy it again, and every such copy is external memory
// that V8 counts towards a full GC (benchmarks/clickhouse/README.md, section 6). encodeCheckpoint
// returns the file's parts and the store writes them with writev: those bytes are not copied at all.
// Format 1 ("TWCP" | u32 1 | u32 crc32 of body | body) is still read.
// The file store writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
// directory: a reader (or a restart after kill -9) sees the old checkpoint or the new, never half.
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { DefaultDeserializer, DefaultSerializer, deserialize } from 'node:v8'
import { crc32 } from 'node:zlib'
import { TrendwireError } from './errors.ts'
import type { CheckpointData, CheckpointStore } from './types.ts'

const MAGIC = Buffer.from('TWCP')
const FORMAT = 2
const HEAD = 16
/** Byte arrays at least this long are written after the body, not into it. */
export const BLOB_MIN_BYTES = 64 * 1024
/** Host-object tag of a blob; Node's own tags (typed array kinds) are small integers. */
const BLOB_TAG = 0xb10b
// Node documents these two as the hooks to override (node:v8, "class v8.Serializer"); @types/node lacks them.
const defaultWrite = (DefaultSerializer.prototype as unknown as { _writeHostObject(v: unknown): void })._writeHostObject
const defaultRead = (DefaultDeserializer.prototype as unknown as { _readHostObject(): unknown })._readHostObject

class BlobSerializer extends DefaultSerializer {
  readonly blobs: Uint8Array[] = []
  blobBytes = 0
  _writeHostObject(v: NodeJS.TypedArray | DataView): void {
    if (v.byteLength >= BLOB_MIN_BYTES && (v.constructor === Buffer || v.constructor === Uint8Array)) {
      this.writeUint32(BLOB_TAG)
      this.writeUint32(v.constructor === Buffer ? 1 : 0)
      this.writeUint32(v.byteLength)
      this.blobs.push(v as Uint8Array)
      this.blobBytes += v.byteLength
      return
    }
    defaultWrite.call(this, v)
  }
}

class BlobDeserializer extends DefaultDeserializer {
  private pushback = -1
  private at = 0
  constructor(body: Buffer, private readonly blobs: Buffer) {
    super(body)
  }
  override readUint32(): number {
    if (this.pushback >= 0) {
      const v = this.pushback
      this.pushback = -1
      return v
    }
    return super.readUint32()
  }
  _readHostObject(): unknown {
    const tag = this.readUint32()
    if (tag !== BLOB_TAG) {
      // Not a blob: the default reads the same u32 (the typed array's kind) first, so hand it back.
      this.pushback = tag
      return defaultRead.call(this)
    }
    const isBuffer = this.readUint32() === 1
    const len = this.readUint32()
    if (this.at + len > this.blobs.length) throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: a blob runs past the end of the file')
    const view = this.blobs.subarray(this.at, this.at + len)
    this.at += len
    return isBuffer ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
  }
}

/**
 * The checkpoint as the parts of one file: head, v8 body, then each large byte array as it is — views,
 * not copies, so the caller saves them before anything they view changes (the runner does so before
 * it writes to a sink again). A copy of the whole into one buffer was, per checkpoint, as much new
 * external memory as the state is large.
 */
export function encodeCheckpoint(data: CheckpointData): Buffer[] {
  const ser = new BlobSerializer()
  ser.writeHeader()
  ser.writeValue(data)
  const body = ser.releaseBuffer()
  const head = Buffer.allocUnsafe(HEAD)
  MAGIC.copy(head, 0)
  head.writeUInt32BE(FORMAT, 4)
  head.writeUInt32BE(body.length, 12)
  let crc = crc32(head.subarray(12))
  crc = crc32(body, crc)
  const parts: Buffer[] = [head, body]
  for (const b of ser.blobs) {
    const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    crc = crc32(v, crc)
    parts.push(v)
  }
  head.writeUInt32BE(crc >>> 0, 8)
  return parts
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointData {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < 12 || !buf.subarray(0, 4).equals(MAGIC)) {
    throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: not a trendwire checkpoint (bad magic)')
  }
  const format = buf.readUInt32BE(4)
  if (format === 1) {
    const body = buf.subarray(12)
    if ((crc32(body) >>> 0) !== buf.readUInt32BE(8)) throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: checksum mismatch (torn or corrupted file)')
    return deserialize(body) as CheckpointData
  }
  if (format !== FORMAT) throw new TrendwireError('CHECKPOINT_CORRUPT', `checkpoint: unsupported format ${format}`)
  if (buf.length < HEAD || (crc32(buf.subarray(12)) >>> 0) !== buf.readUInt32BE(8)) {
    throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: checksum mismatch (torn or corrupted file)')
  }
  const bodyLen = buf.readUInt32BE(12)
  if (HEAD + bodyLen > buf.length) throw new TrendwireError('CHECKPOINT_CORRUPT', 'checkpoint: body runs past the end of the file')
  const de = new BlobDeserializer(buf.subarray(HEAD, HEAD + bodyLen), buf.subarray(HEAD + bodyLen))
  de.readHeader()
  return de.readValue() as CheckpointData
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

  async save(parts: readonly Uint8Array[], id: number): Promise<void> {
    const dir = dirname(this.path)
    await mkdir(dir, { recursive: true })
    const tmp = `${this.path}.${id}.tmp`
    const fh = await open(tmp, 'w')
    try {
      await fh.writev(parts as Uint8Array[])
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
  async save(parts: readonly Uint8Array[]): Promise<void> {
    this.bytes = Buffer.concat(parts) // a copy: the parts view buffers their owners go on using
    this.saves++
  }
}
