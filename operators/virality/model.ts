// The learned virality model: a logistic regression over transformed, standardised VideoFeatures,
// predicting the probability that a post ends in the top 1% of its platform by engagement at 24 h.
//
// The model is kept in two files (operators/virality/model/virality-v<N>.{onnx,json}): the ONNX
// graph the stream scores with (onnxruntime-node), and a JSON spec with everything needed to
// reproduce it — feature names, transforms, imputation, normalisation, weights, the training seeds
// and the measured metrics. This file is the spec's schema, the feature vector the scorer feeds the
// graph, and a float64 reference implementation of the same arithmetic (tests check ONNX agrees).
//
// For feature i with raw value x (nulls replaced by impute[i] before anything else):
//   y = log(1 + max(x, 0))   for transform 'log1p'     (counts and rates: heavy-tailed)
//     = asinh(x)             for transform 'asinh'     (signed and heavy-tailed: acceleration)
//     = x                    for transform 'identity'  (fractions)
//   z = (y − mean[i]) / std[i]
//   contribution[i] = weight[i] · z,   logit = bias + Σ contribution,   probability = σ(logit)
// A contribution is in log-odds and is 0 for a feature at its training mean, so the largest |w·z| are
// the features that moved this post's score away from the average post's.
import { z } from 'zod'
import type { VideoFeatures } from '../../schemas/outputs.ts'
import { TrendwireError } from '../../streams/errors.ts'

export const TRANSFORMS = ['log1p', 'asinh', 'identity'] as const
export type Transform = (typeof TRANSFORMS)[number]

/** VideoFeatures fields the model may use: the numeric ones. */
export type NumericFeature = {
  [K in keyof VideoFeatures]-?: NonNullable<VideoFeatures[K]> extends number ? K : never
}[keyof VideoFeatures]

const featureSchema = z.strictObject({
  name: z.string().min(1),
  transform: z.enum(TRANSFORMS),
  /** value used when the feature is null (missing) */
  impute: z.number().finite(),
  mean: z.number().finite(),
  std: z.number().positive().finite(),
  weight: z.number().finite(),
})

export const modelSpecSchema = z.strictObject({
  name: z.literal('virality'),
  /** N of virality-v<N>: bumped by hand when the model changes meaning (features, label, horizon) */
  version: z.number().int().positive(),
  /** what every score carries: `virality-v<N>:` + the first 12 hex digits of the ONNX file's SHA-256 */
  modelVersion: z.string().min(1),
  kind: z.literal('logistic-regression'),
  target: z.string(),
  features: z.array(featureSchema).min(1),
  bias: z.number().finite(),
  onnx: z.strictObject({
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    opset: z.number().int().positive(),
    input: z.string(),
    outputs: z.strictObject({ probability: z.string(), contributions: z.string() }),
  }),
  /** PointProcessOptions for the point-process estimate scored next to it (e.g. a calibration fitted with the model) */
  pointProcess: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
})
export type ModelSpec = z.output<typeof modelSpecSchema>
export type FeatureSpec = ModelSpec['features'][number]

export function parseModelSpec(raw: unknown, where = 'virality model spec'): ModelSpec {
  const r = modelSpecSchema.safeParse(raw)
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new TrendwireError('CONFIG_INVALID', `${where}: ${problems}`, { cause: r.error })
  }
  return r.data
}

/** The raw value of a named feature, or null when missing (nullable fields, optional fields absent). */
export function featureValue(f: VideoFeatures, name: string): number | null {
  const v = (f as unknown as Record<string, unknown>)[name]
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** Writes the model's input row for f into out[offset .. offset + features): raw values, nulls imputed. */
export function writeInputRow(spec: ModelSpec, f: VideoFeatures, out: Float32Array | Float64Array, offset: number): void {
  const fs = spec.features
  for (let i = 0; i < fs.length; i++) {
    const v = featureValue(f, fs[i].name)
    out[offset + i] = v === null ? fs[i].impute : v
  }
}

export function transform(t: Transform, x: number): number {
  return t === 'log1p' ? Math.log1p(x > 0 ? x : 0) : t === 'asinh' ? Math.asinh(x) : x
}

export interface Prediction {
  probability: number
  logit: number
  /** weight · standardised value, per feature, in spec order */
  contributions: Float64Array
}

/** The model in float64, from an input row as writeInputRow builds it. The ONNX graph computes the same in float32. */
export function predictReference(spec: ModelSpec, row: ArrayLike<number>): Prediction {
  const fs = spec.features
  const contributions = new Float64Array(fs.length)
  let logit = spec.bias
  for (let i = 0; i < fs.length; i++) {
    const c = fs[i].weight * ((transform(fs[i].transform, row[i]) - fs[i].mean) / fs[i].std)
    contributions[i] = c
    logit += c
  }
  return { probability: 1 / (1 + Math.exp(-logit)), logit, contributions }
}

/** Indices of the k largest |contributions|, largest first (ties: spec order). Insertion into a k-list: k is small. */
export function topContributions(contributions: ArrayLike<number>, k: number): number[] {
  const top: number[] = []
  if (k <= 0) return top
  for (let i = 0; i < contributions.length; i++) {
    const m = Math.abs(contributions[i])
    if (top.length === k && !(m > Math.abs(contributions[top[k - 1]]))) continue
    let j = top.length < k ? top.length : k - 1
    while (j > 0 && m > Math.abs(contributions[top[j - 1]])) { top[j] = top[j - 1]; j-- }
    top[j] = i
  }
  return top
}
