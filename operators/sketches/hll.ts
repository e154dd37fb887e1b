// HyperLogLog distinct counter (Flajolet, Fusy, Gandouet & Meunier 2007) with a sparse start and
// Ertl's improved estimator (O. Ertl, "New cardinality estimation algorithms for HyperLogLog
// sketches", 2017, arXiv:1702.01284, §3 "improved raw estimator"), which is accurate from 0 to
// ~2^32 without the empirical bias tables of HLL++ or the linear-counting switch-over.
//
// Why a sparse start: the trend topology keeps one of these per (entity, window), and nearly all of
// them see a handful of creators. Until it holds m/8 distinct hashes the sketch is the exact sorted
// set of 32-bit hashes (so small counts are exact, and memory is 8 bytes per distinct value); past
// that it switches to the m one-byte registers (HLL++'s idea, Heule, Nunkesser & Hall 2013).
//
// Hash: 32 bits (murmur3, hash.ts). The top p bits pick the register; the rank is the position of
// the first 1 in the remaining q = 32 - p bits (q + 1 when they are all zero). 32 bits are enough for
// cardinalities well below 2^32, far beyond anything one window sees.
//
// Wire format (hllToBytes / hllFromBytes): the dense register array, m = 2^p bytes, one register
// per byte, register j at offset j; p is log2 of the length. A sparse sketch is converted first.
//
// State is plain data ({ p, sparse, regs }), so it can live inside window accumulators and
// checkpoints (structured clone) as it is.
import { TrendwireError } from '../../streams/errors.ts'
import { murmur3 } from './hash.ts'

export interface Hll {
  /** Precision: m = 2^p registers; standard error ≈ 1.04 / √m (p = 12: 1.6 %, p = 14: 0.8 %). */
  readonly p: number
  /** Sorted distinct 32-bit hashes while small; null once dense. */
  sparse: number[] | null
  /** m registers once dense; null while sparse. */
  regs: Uint8Array | null
}

export const HLL_MIN_P = 4
export const HLL_MAX_P = 16
const HASH_SEED = 0x5f3759df

function checkP(p: number): void {
  if (!Number.isInteger(p) || p < HLL_MIN_P || p > HLL_MAX_P) {
    throw new TrendwireError('CONFIG_INVALID', `hyperloglog: precision p must be an integer in [${HLL_MIN_P}, ${HLL_MAX_P}], got ${p}`)
  }
}

export function hllCreate(p = 12): Hll {
  checkP(p)
  return { p, sparse: [], regs: null }
}

/** Largest sparse size before switching to registers: m/8 hashes (8 bytes each) ≈ m bytes. */
function sparseLimit(p: number): number {
  return Math.max(4, (1 << p) >>> 3)
}

function setRegister(regs: Uint8Array, p: number, hash: number): void {
  const j = hash >>> (32 - p)
  const q = 32 - p
  const rest = (hash << p) >>> 0
  const rank = rest === 0 ? q + 1 : Math.clz32(rest) + 1
  if (rank > regs[j]) regs[j] = rank
}

function densify(h: Hll): Uint8Array {
  const regs = new Uint8Array(1 << h.p)
  for (const x of h.sparse!) setRegister(regs, h.p, x)
  h.sparse = null
  h.regs = regs
  return regs
}

/** Adds a precomputed 32-bit hash. Mutates h. */
export function hllAddHash(h: Hll, hash: number): void {
  hash >>>= 0
  if (h.regs !== null) {
    setRegister(h.regs, h.p, hash)
    return
  }
  const s = h.sparse!
  // binary search for the insertion point; the sparse list is kept sorted and distinct
  let lo = 0
  let hi = s.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (s[mid] < hash) lo = mid + 1
    else hi = mid
  }
  if (lo < s.length && s[lo] === hash) return
  s.splice(lo, 0, hash)
  if (s.length > sparseLimit(h.p)) densify(h)
}

/** Adds a value (hashed with murmur3). Mutates h. */
export function hllAdd(h: Hll, value: string): void {
  hllAddHash(h, murmur3(value, HASH_SEED))
}

/** A copy of h. */
export function hllClone(h: Hll): Hll {
  return { p: h.p, sparse: h.sparse ? h.sparse.slice() : null, regs: h.regs ? h.regs.slice() : null }
}

/** Folds b into a (mutates a, not b). Both must have the same precision. */
export function hllMergeInto(a: Hll, b: Hll): Hll {
  if (a.p !== b.p) throw new TrendwireError('CONFIG_INVALID', `hyperloglog: cannot merge precision ${a.p} with ${b.p}`)
  if (b.regs === null) {
    for (const x of b.sparse!) hllAddHash(a, x)
    return a
  }
  const ra = a.regs ?? densify(a)
  const rb = b.regs
  for (let j = 0; j < ra.length; j++) if (rb[j] > ra[j]) ra[j] = rb[j]
  return a
}

/** The union of a and b as a new sketch; mutates neither. */
export function hllMerge(a: Hll, b: Hll): Hll {
  // start from the larger one so that sparse + dense copies the registers once
  return a.regs !== null || b.regs === null ? hllMergeInto(hllClone(a), b) : hllMergeInto(hllClone(b), a)
}

/** σ(x) of Ertl (2017), eq. (29). */
function sigma(x: number): number {
  if (x === 1) return Infinity
  let y = 1
  let z = x
  for (;;) {
    x *= x
    const zPrev = z
    z += x * y
    y += y
    if (z === zPrev) return z
  }
}

/** τ(x) of Ertl (2017), eq. (31). */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  for (;;) {
    x = Math.sqrt(x)
    const zPrev = z
    y *= 0.5
    z -= (1 - x) * (1 - x) * y
    if (z === zPrev) return z / 3
  }
}

/** Estimated number of distinct values added. Exact while sparse. */
export function hllCount(h: Hll): number {
  if (h.regs === null) return h.sparse!.length
  return estimateRegisters(h.regs, h.p)
}

function estimateRegisters(regs: Uint8Array, p: number): number {
  const m = 1 << p
  const q = 32 - p
  const c = new Float64Array(q + 2)
  for (let j = 0; j < m; j++) c[regs[j]]++
  let z = m * tau(1 - c[q + 1] / m)
  for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k])
  z += m * sigma(c[0] / m)
  const alphaInf = 0.5 / Math.LN2
  return Math.round((alphaInf * m * m) / z)
}

/** Dense register array (the wire format above). */
export function hllToBytes(h: Hll): Uint8Array {
  if (h.regs !== null) return h.regs.slice()
  const regs = new Uint8Array(1 << h.p)
  for (const x of h.sparse!) setRegister(regs, h.p, x)
  return regs
}

/** A dense sketch from its register array; throws INPUT_MALFORMED on a bad length or register. */
export function hllFromBytes(bytes: Uint8Array): Hll {
  const p = Math.log2(bytes.length)
  if (!Number.isInteger(p) || p < HLL_MIN_P || p > HLL_MAX_P) {
    throw new TrendwireError('INPUT_MALFORMED', `hyperloglog: register array length ${bytes.length} is not 2^p with p in [${HLL_MIN_P}, ${HLL_MAX_P}]`)
  }
  const q = 32 - p
  for (let j = 0; j < bytes.length; j++) {
    if (bytes[j] > q + 1) throw new TrendwireError('INPUT_MALFORMED', `hyperloglog: register ${j} = ${bytes[j]} exceeds ${q + 1} for p = ${p}`)
  }
  return { p, sparse: null, regs: bytes.slice() }
}

/** Bytes held by the sketch (payload only; object headers not counted). */
export function hllBytes(h: Hll): number {
  return h.regs !== null ? h.regs.length : 8 * h.sparse!.length
}
