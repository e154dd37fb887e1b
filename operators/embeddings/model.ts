// The co-occurrence model: token statistics learnt from the synthetic firehose by train-cooc.ts and
// shipped as model/cooc-v1.json (well under 2 MB).
//
// File format (JSON, one object):
//   version   1
//   trainedOn the generator options and counts it was trained from (provenance only)
//   docs      number of posts counted
//   vocab     tokens (normalised as in features.ts), most frequent first
//   df        posts containing each token (same order as vocab)
//   ctx       per token, its strongest contexts as a flat [contextIndex, ppmi×100, …] list
//             (positive pointwise mutual information with context-distribution smoothing α = 0.75,
//             Levy, Goldberg & Dagan 2015, "Improving distributional similarity…", §3.1)
//
// At load, each token's sparse PPMI row is mapped to a dense vector by a random projection whose
// ±1 entries come from hashing the context token (Achlioptas 2003: sparse random projections keep
// inner products in expectation), so the file carries no dense matrix and the projection needs no
// stored seed state. Deterministic: same file, same vectors, on every machine.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { murmur3 } from '../sketches/hash.ts'

export interface CoocModelFile {
  version: 1
  trainedOn: Record<string, unknown>
  docs: number
  vocab: string[]
  df: number[]
  ctx: number[][]
}

export interface CoocModel {
  readonly docs: number
  /** token → index */
  readonly index: ReadonlyMap<string, number>
  readonly df: Int32Array
  /** Projected, L2-normalised PPMI row of every token: vocab.length × dim. Rows of tokens without contexts are 0. */
  readonly vectors: Float32Array
  readonly dim: number
  /** Short identity of the file, part of the embedding model id. */
  readonly id: string
}

export const DEFAULT_MODEL_PATH = join(dirname(fileURLToPath(import.meta.url)), 'model', 'cooc-v1.json')

/** ±1 pattern of a context token over `dim` coordinates, 32 coordinates per hash. */
function signs(token: string, dim: number, out: Int8Array): void {
  for (let b = 0; b < dim; b += 32) {
    const h = murmur3(token, 0x5eed0000 + b)
    for (let j = 0; j < 32 && b + j < dim; j++) out[b + j] = (h >>> j) & 1 ? 1 : -1
  }
}

export function buildCoocModel(file: CoocModelFile, dim: number): CoocModel {
  const n = file.vocab.length
  const index = new Map<string, number>()
  for (let i = 0; i < n; i++) index.set(file.vocab[i], i)
  const sign = new Int8Array(n * dim)
  const tmp = new Int8Array(dim)
  for (let i = 0; i < n; i++) {
    signs(file.vocab[i], dim, tmp)
    sign.set(tmp, i * dim)
  }
  const vectors = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const row = file.ctx[i]
    const o = i * dim
    for (let k = 0; k + 1 < row.length; k += 2) {
      const c = row[k]
      const w = row[k + 1] / 100
      const so = c * dim
      for (let j = 0; j < dim; j++) vectors[o + j] += w * sign[so + j]
    }
    let norm = 0
    for (let j = 0; j < dim; j++) norm += vectors[o + j] * vectors[o + j]
    if (norm > 0) {
      const s = 1 / Math.sqrt(norm)
      for (let j = 0; j < dim; j++) vectors[o + j] *= s
    }
  }
  const id = `cooc${file.version}-${(murmur3(JSON.stringify(file.trainedOn) + ':' + n + ':' + file.docs) >>> 0).toString(36)}`
  return { docs: file.docs, index, df: Int32Array.from(file.df), vectors, dim, id }
}

const cache = new Map<string, CoocModel>()

/** Loads (once per path and dim) the shipped model, or another file in the same format. */
export function loadCoocModel(dim: number, path = DEFAULT_MODEL_PATH): CoocModel {
  const key = `${path}#${dim}`
  let m = cache.get(key)
  if (!m) {
    const file = JSON.parse(readFileSync(path, 'utf8')) as CoocModelFile
    if (file.version !== 1) throw new Error(`${path}: unsupported co-occurrence model version ${String(file.version)}`)
    m = buildCoocModel(file, dim)
    cache.set(key, m)
  }
  return m
}
