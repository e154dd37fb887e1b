export { murmur3, fmix32 } from './hash.ts'
export {
  type Hll, hllCreate, hllAdd, hllAddHash, hllClone, hllMerge, hllMergeInto, hllCount, hllToBytes, hllFromBytes, hllBytes,
} from './hll.ts'
export { CountMinSketch, type CountMinState } from './countmin.ts'
export { SpaceSaving, type SpaceSavingState, type HeavyHitter } from './spacesaving.ts'
export { AdmissionFilter, admissionOptionsSchema, type AdmissionOptions, type AdmissionOptionsInput, type AdmissionState } from './admission.ts'
