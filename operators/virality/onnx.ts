// Writes the virality model (model.ts) as an ONNX graph, encoded with protobufjs from the subset of
// onnx.proto kept next to this file. Used by training (benchmarks/virality/train.ts); the stream only
// reads the file (scorer.ts).
//
// Graph (opset 13, IR version 8), input `features` float32 [batch, F] of raw values, nulls imputed:
//   y = mLog·Log(Relu(x) + 1) + mAsinh·Asinh(x) + mId·x        per-column transform by 0/1 masks
//   z = (y − mean) / std
//   contributions = z · w            [batch, F]   (Mul, broadcast over rows)
//   probability = Sigmoid(z ⋅ W + b) [batch, 1]   (MatMul with W = w as a column, Add)
// Masks rather than column gathers keep it to elementwise ops every runtime has; all three transforms
// are finite for every finite input, so a masked-out one never leaks NaN into the sum.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import type { ModelSpec } from './model.ts'

export const ONNX_OPSET = 13
export const ONNX_IR_VERSION = 8
export const ONNX_INPUT = 'features'
export const ONNX_OUTPUTS = { probability: 'probability', contributions: 'contributions' } as const

const FLOAT = 1

let root: protobuf.Root | null = null
function proto(): protobuf.Root {
  if (!root) root = protobuf.parse(readFileSync(fileURLToPath(new URL('./onnx.proto', import.meta.url)), 'utf8'), { keepCase: true }).root
  return root
}

interface Tensor { name: string; dims: number[]; data_type: number; float_data: number[] }

const tensor = (name: string, dims: number[], values: ArrayLike<number>): Tensor =>
  ({ name, dims, data_type: FLOAT, float_data: Array.from(values) })

const node = (op_type: string, input: string[], output: string, name = output) => ({ op_type, input, output: [output], name })

const valueInfo = (name: string, dims: Array<number | string>) => ({
  name,
  type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
})

/** The ModelProto bytes of spec's logistic regression. */
export function encodeViralityOnnx(spec: ModelSpec): Uint8Array {
  const fs = spec.features
  const F = fs.length
  const mask = (t: string) => fs.map((f) => (f.transform === t ? 1 : 0))
  const initializer = [
    tensor('one', [], [1]),
    tensor('mask_log1p', [F], mask('log1p')),
    tensor('mask_asinh', [F], mask('asinh')),
    tensor('mask_identity', [F], mask('identity')),
    tensor('mean', [F], fs.map((f) => f.mean)),
    tensor('std', [F], fs.map((f) => f.std)),
    tensor('weight', [F], fs.map((f) => f.weight)),
    tensor('weight_column', [F, 1], fs.map((f) => f.weight)),
    tensor('bias', [1], [spec.bias]),
  ]
  const x = ONNX_INPUT
  const nodes = [
    node('Relu', [x], 'x_pos'),
    node('Add', ['x_pos', 'one'], 'x_pos_plus_1'),
    node('Log', ['x_pos_plus_1'], 'x_log1p'),
    node('Asinh', [x], 'x_asinh'),
    node('Mul', ['x_log1p', 'mask_log1p'], 'y_log1p'),
    node('Mul', ['x_asinh', 'mask_asinh'], 'y_asinh'),
    node('Mul', [x, 'mask_identity'], 'y_identity'),
    node('Add', ['y_log1p', 'y_asinh'], 'y_partial'),
    node('Add', ['y_partial', 'y_identity'], 'y'),
    node('Sub', ['y', 'mean'], 'y_centred'),
    node('Div', ['y_centred', 'std'], 'z'),
    node('Mul', ['z', 'weight'], ONNX_OUTPUTS.contributions),
    node('MatMul', ['z', 'weight_column'], 'z_dot_w'),
    node('Add', ['z_dot_w', 'bias'], 'logit'),
    node('Sigmoid', ['logit'], ONNX_OUTPUTS.probability),
  ]
  const model = {
    ir_version: ONNX_IR_VERSION,
    producer_name: 'trendwire',
    producer_version: '1',
    model_version: spec.version,
    doc_string: `virality-v${spec.version}: P(top 1% of platform by engagement at 24 h) from VideoFeatures; features: ${fs.map((f) => f.name).join(', ')}`,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: `virality_v${spec.version}`,
      node: nodes,
      initializer,
      input: [valueInfo(x, ['batch', F])],
      output: [valueInfo(ONNX_OUTPUTS.probability, ['batch', 1]), valueInfo(ONNX_OUTPUTS.contributions, ['batch', F])],
    },
  }
  const Model = proto().lookupType('onnx.ModelProto')
  const err = Model.verify(model)
  if (err) throw new Error(`virality ONNX export: ${err}`)
  return Model.encode(Model.fromObject(model)).finish()
}
